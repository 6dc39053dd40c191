//! Starting a real server on 127.0.0.1:0 over the `memory://` example store.

#![allow(dead_code)]

use modelio_example_memory as _;
use modelio_server::{ServeConfig, Server};

/// A running server and its store URL.
pub struct Running {
    pub base: String,
    pub store: String,
    /// The token the server made at start, when it made one.
    pub token: Option<String>,
}

impl Running {
    /// `base/models/{name}`.
    pub fn model(&self, name: &str) -> String {
        format!("{}/models/{name}", self.base)
    }
}

/// Starts a server whose models live under `memory://{prefix}`, with anonymous writes allowed (the
/// tests of models and files; the access tests use [`start_secure`]).
pub async fn start(prefix: &str, edit: impl FnOnce(&mut ServeConfig)) -> Running {
    start_secure(prefix, |c| {
        c.access.allow_anonymous_writes = true;
        edit(c)
    })
    .await
}

/// Starts a server whose models live under `memory://{prefix}` with the secure defaults, then `edit`.
pub async fn start_secure(prefix: &str, edit: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = ServeConfig {
        store: format!("memory://{prefix}"),
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    edit(&mut cfg);
    let store = cfg.store.clone();
    let server = Server::bind(cfg).await.expect("bind");
    let base = server.url();
    let token = server.generated_token().map(str::to_string);
    tokio::spawn(server.run(std::future::pending()));
    Running { base, store, token }
}

/// The store URL of the latest version of `name` (from `GET /models/NAME/versions`).
pub async fn stored(s: &Running, name: &str) -> String {
    let v: serde_json::Value = reqwest::get(format!("{}/versions", s.model(name))).await.unwrap().json().await.unwrap();
    let latest = v["latest"].as_str().unwrap_or_else(|| panic!("no latest version of {name}: {v}"));
    let sep = if s.store.ends_with('/') { "" } else { "/" };
    format!("{}{sep}{}", s.store, modelio_server::versions::version_path(name, latest))
}

/// The URL of the first weight file the latest model.json of `name` points at.
pub async fn weights_url(s: &Running, name: &str) -> String {
    let json: serde_json::Value =
        reqwest::get(format!("{}/model.json", s.model(name))).await.unwrap().json().await.unwrap();
    let path = json["weightsManifest"][0]["paths"][0].as_str().unwrap_or_else(|| panic!("no weight path: {json}"));
    format!("{}/{path}", s.model(name))
}
