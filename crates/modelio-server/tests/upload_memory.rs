//! Streaming uploads on a `file://` store: a 1 GiB upload raises the process's peak RSS (VmHWM, the
//! server and the streaming client both live in this test process, which runs this one test) by far
//! less than 100 MiB; the version's files are the uploaded bytes renamed into place; a failed upload
//! and the leftovers of a crashed server leave no temporary folder.

mod support;

use bytes::Bytes;
use reqwest::{header, StatusCode};

/// Peak resident set size of this process, in KiB (`/proc/self/status`, Linux).
fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const BOUNDARY: &str = "----modelio-stream-test";

/// A TF.js-shaped multipart body of one float32 weight of `n` elements, streamed in 1 MiB chunks of
/// the byte `fill` (one buffer shared by every chunk: the client holds 1 MiB).
fn streamed_body(n: u64, fill: u8) -> (String, reqwest::Body) {
    let json = serde_json::json!({
        "modelTopology": {"class_name": "Sequential"},
        "format": "layers-model",
        "weightsManifest": [{"paths": ["./model.weights.bin"], "weights": [{"name": "w", "shape": [n], "dtype": "float32"}]}],
    });
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.json\"; filename=\"model.json\"\r\nContent-Type: application/json\r\n\r\n{json}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.weights.bin\"; filename=\"model.weights.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let chunk = Bytes::from(vec![fill; 1 << 20]);
    let total = n * 4;
    let mut pieces = vec![Bytes::from(head)];
    let mut left = total;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        pieces.push(chunk.slice(..k));
        left -= k as u64;
    }
    pieces.push(Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")));
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    (format!("multipart/form-data; boundary={BOUNDARY}"), reqwest::Body::wrap_stream(stream))
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

    let before = vm_hwm_kib();
    let n: u64 = 1 << 28; // 1 GiB of float32
    let (ct, body) = streamed_body(n, 7);
    let t = std::time::Instant::now();
    let r =
        reqwest::Client::new().post(s.model("big")).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{text}");
    let after = vm_hwm_kib();
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
