//! Starting a real server on 127.0.0.1:0 over the `memory://` example store.

#![allow(dead_code)]

use modelio_example_memory as _;
use modelio_server::{ServeConfig, Server};

/// A running server and its store URL.
pub struct Running {
    pub base: String,
    pub store: String,
}

impl Running {
    /// `base/models/{name}`.
    pub fn model(&self, name: &str) -> String {
        format!("{}/models/{name}", self.base)
    }
}

/// Starts a server whose models live under `memory://{prefix}`.
pub async fn start(prefix: &str, edit: impl FnOnce(&mut ServeConfig)) -> Running {
    let mut cfg = ServeConfig {
        store: format!("memory://{prefix}"),
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    edit(&mut cfg);
    let store = cfg.store.clone();
    let server = Server::bind(cfg).await.expect("bind");
    let base = server.url();
    tokio::spawn(server.run(std::future::pending()));
    Running { base, store }
}
