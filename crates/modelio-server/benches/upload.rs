//! Uploads of many parts (issue 11): assembling a TF.js upload whose manifest names 6,000 and
//! 60,000 weight files (each part one string weight, so checking the layout reads every part), and
//! the whole `POST` of the 60,000-part upload to a running server over loopback (multipart parsing,
//! assembly, saving to the `memory://` example store). Linear work: 60,000 costs ~10x 6,000.
use std::time::Duration;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use io_core::files::ModelFiles;
use io_core::WeightData;
use io_http::multipart::MultipartBody;
use modelio_example_memory as _;
use modelio_server::{ServeConfig, Server};

/// model.json naming `n` files `p{i}.bin`, each one string weight of shape [1], and the parts.
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

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut g = c.benchmark_group("upload-assemble");
    g.sample_size(10);
    for n in [6_000usize, 60_000] {
        let (json, parts) = upload(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("parts", n), |b| {
            b.iter(|| black_box(rt.block_on(modelio_server::assemble(&json, &parts)).unwrap()))
        });
    }
    g.finish();

    let base = rt.block_on(async {
        let mut cfg = ServeConfig {
            store: "memory://bench".into(),
            addr: "127.0.0.1:0".parse().unwrap(),
            max_upload_bytes: 64 << 20,
            ..ServeConfig::default()
        };
        cfg.access.allow_anonymous_writes = true;
        let server = Server::bind(cfg).await.expect("bind");
        let base = server.url();
        tokio::spawn(server.run(std::future::pending()));
        base
    });
    let client = reqwest::Client::new();
    let mut g = c.benchmark_group("upload-post");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    for n in [6_000usize, 60_000] {
        let (json, parts) = upload(n);
        let files = ModelFiles {
            model_json: Bytes::from(json),
            weights: parts.into_iter().map(|(name, b)| (name, WeightData::single(b))).collect(),
        };
        let body = MultipartBody::for_files(&files, "b3nch");
        let (ct, bytes) = (body.content_type(), body.to_bytes());
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::new("parts", n), |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = client
                        .post(format!("{base}/models/many"))
                        .header(reqwest::header::CONTENT_TYPE, &ct)
                        .body(bytes.clone())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    black_box(r.bytes().await.unwrap())
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
