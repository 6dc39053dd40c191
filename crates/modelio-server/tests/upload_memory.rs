//! Streaming uploads on a `file://` store: a 1 GiB upload raises the process's peak RSS (VmHWM, the
//! server and the streaming client both live in this test process, which runs this one test) by far
//! less than 100 MiB; the version's files are the uploaded bytes renamed into place; a failed upload
//! and the leftovers of a crashed server leave no temporary folder.

mod support;

use reqwest::{header, StatusCode};

const BOUNDARY: &str = "----modelio-stream-test";

/// A TF.js-shaped multipart body of one float32 weight of `n` elements, streamed in 1 MiB chunks of
/// the byte `fill`.
fn streamed_body(n: u64, fill: u8) -> (String, reqwest::Body) {
    let json = serde_json::json!({
        "modelTopology": {"class_name": "Sequential"},
        "format": "layers-model",
        "weightsManifest": [{"paths": ["./model.weights.bin"], "weights": [{"name": "w", "shape": [n], "dtype": "float32"}]}],
    });
    support::streamed_upload(&json, &[], n * 4, fill)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_upload_streams_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    // A leftover of a crashed server (a pid that cannot be running) is removed at start.
    let leftover = dir.path().join("models/.modelio/tmp/upload-4294967-crashed");
    std::fs::create_dir_all(&leftover).unwrap();
    std::fs::write(leftover.join("group1-shard1of1.bin"), b"partial").unwrap();
    let store = format!("file://{}/models", dir.path().display());
    let s = support::start("", |c| c.store = store.clone()).await;
    assert!(!leftover.exists(), "the crashed upload's folder was removed at start");

    let before = support::vm_hwm_kib();
    let n: u64 = 1 << 28; // 1 GiB of float32
    let (ct, body) = streamed_body(n, 7);
    let t = std::time::Instant::now();
    let r =
        reqwest::Client::new().post(s.model("big")).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let after = support::vm_hwm_kib();
    if let (Some(b), Some(a)) = (before, after) {
        let grew = a.saturating_sub(b) / 1024;
        eprintln!("1 GiB upload in {:?}: peak RSS {} MiB -> {} MiB (+{grew} MiB)", t.elapsed(), b / 1024, a / 1024);
        assert!(grew < 100, "peak RSS grew by {grew} MiB while receiving 1 GiB");
    }
    let versions = dir.path().join("models/.modelio/versions/big");
    let v = std::fs::read_dir(&versions).unwrap().next().unwrap().unwrap().path();
    assert_eq!(std::fs::metadata(v.join("group1-shard1of1.bin")).unwrap().len(), 1 << 30);
    let tmp = dir.path().join("models/.modelio/tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "no temporary folder is left");

    // The weights stream back, a range of them too.
    let w = support::weights_url(&s, "big").await;
    let r = reqwest::Client::new().get(&w).header(header::RANGE, "bytes=1073741820-").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await.unwrap()[..], &[7, 7, 7, 7]);

    // A failed upload (shorter than declared) stores nothing and leaves no temporary folder.
    let (ct, _) = streamed_body(4, 1);
    let short = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.json\"\r\n\r\n{}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.weights.bin\"; filename=\"model.weights.bin\"\r\n\r\nabc\r\n--{BOUNDARY}--\r\n",
        serde_json::json!({"modelTopology": {}, "weightsManifest": [{"paths": ["./model.weights.bin"], "weights": [{"name": "w", "shape": [4], "dtype": "float32"}]}]})
    );
    let r =
        reqwest::Client::new().post(s.model("big")).header(header::CONTENT_TYPE, ct).body(short).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "no temporary folder is left");
    assert_eq!(std::fs::read_dir(&versions).unwrap().count(), 1);
}
