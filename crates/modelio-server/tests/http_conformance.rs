//! `http://` against the conformance suite, one trial per case (`http::overwrite`, ...): saves and
//! loads through io-http against a `modelio-server` started here on 127.0.0.1 (port 0), whose models
//! live in a temporary folder (`file://`, the server's default kind of store).
//!
//! A model saves to `http://HOST/models/NAME` and loads from `http://HOST/models/NAME/model.json`.
//! `http://` is no model store in the registry (listing and removal are server routes, not
//! `Registry` operations), so it declares no listing, removal or move: those cases are skipped and
//! `refuses_what_it_cannot` checks the registry refuses them. A copy is a load and a save, so it works.

use io_core::testkit::{self, Capabilities, Target};
use modelio_server::{ServeConfig, Server};

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut cfg = ServeConfig {
        store: format!("file://{}/models", dir.path().display()),
        addr: "127.0.0.1:0".parse().expect("address"),
        ..ServeConfig::default()
    };
    // The suite's own checks, not the access rules (tests/server.rs and tests/access.rs): anonymous
    // writes, and room for the concurrent-saves case's uploads.
    cfg.access.allow_anonymous_writes = true;
    cfg.limits.max_concurrent_uploads = 64;
    let server = rt.block_on(Server::bind(cfg)).expect("bind");
    let base = server.url();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = rt.spawn(server.run(async {
        stopped.await.ok();
    }));

    let models = format!("{base}/models/");
    let target = Target::new(modelio::registry(), "http", {
        let models = models.clone();
        move |p| format!("{models}{p}")
    })
    .load_url(move |p| format!("{models}{p}/model.json"))
    .capabilities(Capabilities::SAVE_LOAD)
    .prefix("suite/");
    let conclusion = testkit::run(vec![target]);

    stop.send(()).ok();
    rt.block_on(serving).expect("server task").expect("server");
    drop(dir); // `exit` runs no destructors
    conclusion.exit()
}
