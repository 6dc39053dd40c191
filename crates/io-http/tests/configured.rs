//! A configured http instance (headers, retries) mounted at a URL prefix.

mod support;

use io_core::{Config, Error, Registry};
use support::{Fault, Server};

#[tokio::test]
async fn a_mounted_instance_sends_its_headers_for_its_prefix_only() {
    let srv = Server::start().await;
    let g = "/serve/converter_write_weights/a_quant_mixed";
    for f in ["model.json", "group1-shard1of1.bin"] {
        srv.fault(&format!("{g}/{f}"), Fault::Auth("Bearer s3cret"));
    }
    let r = Registry::new();
    io_http::register(&r);
    let cfg: Config = [("header.authorization", "Bearer s3cret"), ("retries", "0")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let prefix = srv.url("/serve/");
    r.mount_configured(&prefix, "http", &cfg).unwrap();
    let url = srv.url(&format!("{g}/model.json"));
    let a = r.load(&url).await.unwrap();
    assert!(!a.weight_data.is_empty());
    // The same server under another prefix gets the unconfigured plugin: no header, 401.
    let plain = Registry::new();
    io_http::register(&plain);
    let e = plain.load(&url).await.unwrap_err();
    assert!(matches!(e, Error::HttpStatus { status: 401, .. }), "{e}");
    let e = r.mount_configured("x://", "http", &[("header.bad name".into(), "v".into())].into()).unwrap_err();
    assert!(e.to_string().contains("bad name"), "{e}");
    let e = r.mount_configured("x://", "http", &[("colour".into(), "v".into())].into()).unwrap_err();
    assert!(e.to_string().contains("unknown key"), "{e}");
}
