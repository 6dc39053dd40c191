//! Streaming uploads of string weights on a `file://` store: their layout (4-byte lengths, then the
//! bytes) is checked from the files on disk, so a 256 MiB string upload raises the process's peak RSS
//! (VmHWM; server and client both live in this test process, which runs this one test) by far less
//! than the upload, and a string whose length runs past the end is still refused naming the weight.

mod support;

use reqwest::{header, StatusCode};

/// A multipart body of a float32 weight `f` of 2 elements, then a string weight `s` of 2 elements:
/// "ab" and `len` bytes (declared as `declared`), streamed in 1 MiB chunks from one shared buffer.
fn streamed_body(len: u64, declared: u32) -> (String, reqwest::Body) {
    let json = serde_json::json!({
        "modelTopology": {"class_name": "Sequential"},
        "format": "graph-model",
        "weightsManifest": [{"paths": ["./model.weights.bin"], "weights": [
            {"name": "f", "shape": [2], "dtype": "float32"},
            {"name": "s", "shape": [2], "dtype": "string"},
        ]}],
    });
    let mut first = vec![0u8; 8];
    first.extend_from_slice(&2u32.to_le_bytes());
    first.extend_from_slice(b"ab");
    first.extend_from_slice(&declared.to_le_bytes());
    support::streamed_upload(&json, &first, len, b'x')
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_upload_is_checked_on_disk_not_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}/models", dir.path().display());
    let s = support::start("", |c| c.store = store.clone()).await;
    let c = reqwest::Client::new();

    // A string length past the end: refused, naming the weight, nothing stored.
    let (ct, body) = streamed_body(1000, 1001);
    let r = c.post(s.model("bad")).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let text = r.text().await.unwrap();
    assert!(text.contains("weight 's'") && text.contains("string element 1 of 2"), "{text}");
    assert_eq!(c.get(s.model("bad")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // A byte left over after the last weight: refused.
    let (ct, body) = streamed_body(1000, 999);
    let r = c.post(s.model("bad")).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{}", r.text().await.unwrap());

    let before = support::vm_hwm_kib();
    let len: u32 = 256 << 20;
    let (ct, body) = streamed_body(len as u64, len);
    let r = c.post(s.model("big")).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let after = support::vm_hwm_kib();
    if let (Some(b), Some(a)) = (before, after) {
        let grew = a.saturating_sub(b) / 1024;
        eprintln!("256 MiB string upload: peak RSS {} MiB -> {} MiB (+{grew} MiB)", b / 1024, a / 1024);
        assert!(grew < 100, "peak RSS grew by {grew} MiB while receiving 256 MiB of strings");
    }
    let w = support::weights_url(&s, "big").await;
    let r = c.get(&w).header(header::RANGE, "bytes=0-17").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await.unwrap()[8..], &[2, 0, 0, 0, b'a', b'b', 0, 0, 0, 16, b'x', b'x'][..10]);
}
