//! `/healthz`, `/metrics` after real requests, and HTTPS with a self-signed certificate made here.

mod support;

use io_core::testkit::{assert_same_model, fixtures};
use io_core::SaveHandler;
use io_http::multipart::MultipartBody;
use io_http::HttpHandler;
use modelio_server::tls::TlsFiles;
use modelio_server::{ServeConfig, Server};
use reqwest::header;

#[tokio::test]
async fn healthz_and_metrics_after_some_requests() {
    let s = support::start("metrics", |_| {}).await;
    let c = reqwest::Client::new();
    let h = c.get(format!("{}/healthz", s.base)).send().await.unwrap();
    assert_eq!(h.status(), 200);
    assert_eq!(h.json::<serde_json::Value>().await.unwrap(), serde_json::json!({"status": "ok"}));
    HttpHandler::new(s.model("m")).save(&fixtures::model("a"), &Default::default()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(c.get(format!("{}/model.json", s.model("m"))).send().await.unwrap().status(), 200);
    }
    assert_eq!(c.get(format!("{}/model.json", s.model("none"))).send().await.unwrap().status(), 404);
    // The request line is recorded once the answer is sent: give the last one a moment.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = c.get(format!("{}/metrics", s.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = r.text().await.unwrap();
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("no {prefix} in:\n{text}"))
    };
    assert!(value("modelio_http_requests_total{route=\"model.json\",method=\"GET\",status=\"200\"}") >= 3.0);
    assert!(value("modelio_http_requests_total{route=\"model.json\",method=\"GET\",status=\"404\"}") >= 1.0);
    assert!(value("modelio_http_requests_total{route=\"model\",method=\"POST\",status=\"200\"}") >= 1.0);
    assert!(value("modelio_http_received_bytes_total{route=\"model\"}") > 92.0, "the upload's bytes");
    assert!(value("modelio_http_sent_bytes_total{route=\"model.json\"}") > 0.0);
    assert!(value("modelio_http_request_duration_seconds_count{route=\"model.json\"}") >= 4.0);
    assert!(value("modelio_cache_lookups_total{result=\"hit\"}") >= 2.0);
    assert!(value("modelio_cache_lookups_total{result=\"miss\"}") >= 1.0);
    assert!(value("modelio_connections_open") >= 1.0);
    assert_eq!(value("modelio_models_stored"), 1.0);
    assert!(text.ends_with("# EOF\n"));
}

#[tokio::test]
async fn https_round_trip_with_a_self_signed_certificate() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();
    let mut cfg = ServeConfig {
        store: "memory://tls".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsFiles { cert: cert_path, key: key_path }),
        ..ServeConfig::default()
    };
    cfg.access.allowed_hosts = vec!["localhost".into()];
    let server = Server::bind(cfg).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(server.url(), format!("https://{addr}"));
    let token = server.generated_token().unwrap().to_string();
    tokio::spawn(server.run(std::future::pending()));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let body = MultipartBody::for_artifacts(&fixtures::model("b"), "b0undary").unwrap();
    let saved = client
        .post(format!("{base}/models/secure"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let version = saved.headers()["modelio-version"].to_str().unwrap().to_string();
    let json: serde_json::Value =
        client.get(format!("{base}/models/secure/model.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(json["format"], "layers-model");
    let file = json["weightsManifest"][0]["paths"][0].as_str().unwrap();
    let weights = client.get(format!("{base}/models/secure/{file}")).send().await.unwrap();
    assert_eq!(weights.status(), 200);
    assert_eq!(weights.bytes().await.unwrap(), fixtures::weight_bytes("b"));
    // The save is a version: its own model under the store's hidden versions folder.
    let path = modelio_server::versions::version_path("secure", &version);
    let stored = modelio::registry().load(&format!("memory://tls/{path}")).await.unwrap();
    assert_same_model("saved over HTTPS", &stored, &fixtures::model("b"));
    // Plain HTTP to the TLS port gets no answer; a client that does not trust the certificate fails.
    assert!(reqwest::Client::new().get(format!("http://{addr}/healthz")).send().await.is_err());
    let untrusting = reqwest::Client::builder().resolve("localhost", addr).build().unwrap();
    assert!(untrusting.get(format!("{base}/healthz")).send().await.is_err());
}

#[tokio::test]
async fn unusable_tls_files_fail_at_bind_without_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem").unwrap();
    let cfg = ServeConfig {
        store: "memory://tls-bad".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
        tls: Some(TlsFiles { cert: junk.clone(), key: junk }),
        ..ServeConfig::default()
    };
    let e = Server::bind(cfg).await.err().expect("refused").to_string();
    assert!(e.contains("--tls-cert"), "{e}");
    assert!(!e.contains(&dir.path().display().to_string()), "{e}");
}
