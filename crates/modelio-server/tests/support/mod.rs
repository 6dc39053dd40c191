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

/// Peak resident set size of this process, in KiB (`/proc/self/status` `VmHWM`, Linux).
pub fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A TF.js-shaped multipart upload streamed to the server: the part `model.json` holding `model_json`,
/// then the part `model.weights.bin` holding `first`, followed by `len` bytes of `fill` in 1 MiB chunks
/// of one shared buffer (the client holds 1 MiB), then the closing boundary. The Content-Type and
/// the body.
pub fn streamed_upload(model_json: &serde_json::Value, first: &[u8], len: u64, fill: u8) -> (String, reqwest::Body) {
    const BOUNDARY: &str = "----modelio-stream-test";
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.json\"; filename=\"model.json\"\r\nContent-Type: application/json\r\n\r\n{model_json}\r\n\
         --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"model.weights.bin\"; filename=\"model.weights.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let mut start = head.into_bytes();
    start.extend_from_slice(first);
    let chunk = bytes::Bytes::from(vec![fill; 1 << 20]);
    let mut pieces = vec![bytes::Bytes::from(start)];
    let mut left = len;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        pieces.push(chunk.slice(..k));
        left -= k as u64;
    }
    pieces.push(bytes::Bytes::from(format!("\r\n--{BOUNDARY}--\r\n")));
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    (format!("multipart/form-data; boundary={BOUNDARY}"), reqwest::Body::wrap_stream(stream))
}
