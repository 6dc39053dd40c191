//! Uploads of many parts: a manifest of 60,000 paths (each part one string weight, the case where
//! checking the layout reads the data) is assembled in linear time, accepted when complete and
//! refused when a part is missing, doubled or short; and a real server takes such an upload.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use io_core::files::ModelFiles;
use io_core::WeightData;
use io_http::multipart::MultipartBody;

/// model.json of one group of `n` paths `p{i}.bin`, each holding one string weight `w{i}` of shape
/// [1], and the `n` parts (each: a 4-byte length 1, then one byte).
fn upload(n: usize) -> (Vec<u8>, Vec<(String, Bytes)>) {
    let paths: Vec<String> = (0..n).map(|i| format!("p{i}.bin")).collect();
    let weights: Vec<serde_json::Value> =
        (0..n).map(|i| serde_json::json!({"name": format!("w{i}"), "shape": [1], "dtype": "string"})).collect();
    let doc = serde_json::json!({
        "modelTopology": {"class_name": "Sequential"},
        "format": "layers-model",
        "weightsManifest": [{"paths": paths, "weights": weights}],
    });
    let parts = (0..n).map(|i| (format!("p{i}.bin"), Bytes::from(vec![1, 0, 0, 0, b'a' + (i % 26) as u8]))).collect();
    (serde_json::to_vec(&doc).unwrap(), parts)
}

/// The best of three wall times of assembling an upload of `n` parts (asserted accepted).
async fn best_assemble_time(n: usize) -> Duration {
    let (json, parts) = upload(n);
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        let m = modelio_server::assemble(&json, &parts).await.expect("a complete upload is accepted");
        best = best.min(t.elapsed());
        assert_eq!((m.weight_specs.len(), m.weight_data.len(), m.weight_data.chunks().len()), (n, 5 * n, n));
    }
    best
}

#[tokio::test]
async fn sixty_thousand_paths_assemble_in_linear_time() {
    let small = best_assemble_time(6_000).await;
    let big = best_assemble_time(60_000).await;
    let ratio = big.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("assemble: 6,000 parts {small:?}, 60,000 parts {big:?}, ratio {ratio:.1} (linear: 10)");
    // Linear work gives ~10x; the quadratic scan this guards against (every string weight located
    // by walking all buffers before it) gave > 100x and seconds.
    assert!(ratio < 30.0, "60,000 parts took {ratio:.1}x the time of 6,000 ({big:?} vs {small:?})");
    assert!(big < Duration::from_secs(5), "60,000 parts took {big:?}");
}

#[tokio::test]
async fn sixty_thousand_path_uploads_are_refused_when_a_part_is_missing_doubled_or_short() {
    let n = 60_000;
    let (json, parts) = upload(n);
    let mut missing = parts.clone();
    missing.remove(54_321);
    let e = modelio_server::assemble(&json, &missing).await.unwrap_err();
    assert_eq!(e.status, 400);
    assert!(e.message.contains("no file 'p54321.bin' was given"), "{}", e.message);

    let mut doubled = parts.clone();
    doubled.push(("dir/p7.bin".into(), parts[7].1.clone()));
    let e = modelio_server::assemble(&json, &doubled).await.unwrap_err();
    assert!(e.message.contains("two files are named 'p7.bin'"), "{}", e.message);

    let mut short = parts.clone();
    short[59_999].1 = Bytes::from_static(&[1, 0, 0, 0]);
    let e = modelio_server::assemble(&json, &short).await.unwrap_err();
    let says = "weight 'w59999' in file 'p59999.bin': expected 300000 bytes, found 299999";
    assert!(e.message.contains(says), "{}", e.message);
    assert!(e.message.len() < 4_000, "the error lists a few files, not 60,000: {} bytes", e.message.len());

    // A manifest naming one path twice is refused before any part is looked at.
    let mut doc: serde_json::Value = serde_json::from_slice(&json).unwrap();
    doc["weightsManifest"][0]["paths"][59_999] = "p3.bin".into();
    let e = modelio_server::assemble(&serde_json::to_vec(&doc).unwrap(), &parts).await.unwrap_err();
    assert!(e.message.contains("duplicate file basename 'p3.bin'"), "{}", e.message);
}

#[tokio::test]
async fn a_real_server_stores_a_sixty_thousand_part_upload() {
    let s = support::start("scale", |c| {
        c.max_upload_bytes = 64 << 20;
        c.max_upload_parts = 60_001;
        c.max_manifest_paths = 60_000;
    })
    .await;
    let (json, parts) = upload(60_000);
    let files = ModelFiles {
        model_json: Bytes::from(json),
        weights: parts.into_iter().map(|(name, b)| (name, WeightData::single(b))).collect(),
    };
    let body = MultipartBody::for_files(&files, "sc4le");
    let t = Instant::now();
    let r = reqwest::Client::new()
        .post(s.model("many"))
        .header(reqwest::header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    eprintln!("POST of 60,000 parts answered in {:?}", t.elapsed());
    let info: serde_json::Value = reqwest::get(format!("{}/models/many", s.base)).await.unwrap().json().await.unwrap();
    assert_eq!(info["weightDataBytes"], 300_000, "{info}");
    // Stored in the memory store's 4 MiB shards: one file.
    let weights = reqwest::get(support::weights_url(&s, "many").await).await.unwrap();
    let bytes = weights.bytes().await.unwrap();
    assert_eq!(bytes.len(), 300_000);
    assert_eq!(&bytes[..10], &[1, 0, 0, 0, b'a', 1, 0, 0, 0, b'b']);
}
