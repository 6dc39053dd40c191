//! # io-http
//!
//! The modelio plugin for `http://` and `https://`, byte-compatible with TF.js 4.22's `tf.io.http`:
//!
//! - **save** uploads one `multipart/form-data` request exactly as TF.js does (parts `model.json`
//!   and `model.weights.bin`, manifest path `./model.weights.bin`), `POST` by default;
//! - **load** fetches model.json, then the weight files at the URLs TF.js would use (the model URL's
//!   folder or `weight_path_prefix`, plus the model URL's `?query`; or `weight_url_converter`), at most
//!   6 at a time, retrying temporary failures, and checks every file's status and length against the
//!   manifest, naming the file's URL in errors (TF.js decodes a 404 page as weights).
//!
//! Every option lives on [`HttpHandler`]; [`register`] adds `http` and `https` with the defaults.
//!
//! ## Runtimes
//! Native: reqwest (rustls for `https`). Requests run on a two-thread tokio runtime owned by this crate,
//! so the handlers can be awaited from any executor (tokio, async-std, `futures::executor::block_on`).
//! wasm32: the browser's `fetch` through web-sys (not reqwest, whose `http` and `url` crates would
//! double the wasm's http share), in the caller's task; everything above works there too (time
//! limits use `AbortController`, bodies are read chunk by chunk from the response's stream). The
//! hooks take each target's own types: reqwest's natively (and `HttpHandler::client`, `pub use
//! reqwest`), `web_sys::Request`/`Response` and a `BrowserRequest` of name/value headers,
//! credentials and mode on wasm32.
#![warn(missing_docs)]

mod fetch;
mod handler;
mod load;
pub mod multipart;
mod runtime;
mod save;
mod transport;
pub mod urls;

use std::sync::Arc;

use io_core::{
    Config, Error, LoadHandler, ModelArtifacts, ModelStore, ModelUrl, Options, Registry, Result, SaveHandler,
    SaveResult, Scheme, SchemeRegistration,
};

#[cfg(target_arch = "wasm32")]
pub use handler::{BrowserRequest, Credentials, Mode};
pub use handler::{
    FetchFn, FetchFuture, HttpHandler, Method, RequestHook, UrlConverter, DEFAULT_BACKOFF, DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES, DEFAULT_TIMEOUT,
};
#[cfg(not(target_arch = "wasm32"))]
pub use reqwest;

/// The schemes this plugin registers.
pub const SCHEMES: &[&str] = &["http", "https"];

/// The plugin: every `http(s)://` URL gets an [`HttpHandler`] with default options.
pub struct HttpScheme;

impl Scheme for HttpScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(HttpHandler::new(&url.raw))))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(HttpHandler::new(&url.raw))))
    }
    fn store(&self) -> Option<Box<dyn ModelStore>> {
        None
    }
    /// An http plugin whose handlers carry options, for `Registry::mount_configured`. Keys:
    /// `header.NAME` (a request header, e.g. `header.authorization` = `Bearer …`), `concurrency`,
    /// `retries`, `timeout_ms`, `weight_path_prefix`.
    fn configure(&self, config: &Config) -> Result<Arc<dyn Scheme>> {
        let bad = |key: &str, why: &str| Error::InvalidUrl { url: format!("http config '{key}'"), reason: why.into() };
        let number = |k: &str, v: &str| v.parse::<u64>().map_err(|_| bad(k, "expected a whole number"));
        let mut h = HttpHandler::new("");
        for (k, v) in config {
            h = match k.as_str() {
                "concurrency" => h.concurrency(number(k, v)? as usize),
                "retries" => h.retries(number(k, v)? as u32),
                "timeout_ms" => h.timeout(Some(std::time::Duration::from_millis(number(k, v)?))),
                "weight_path_prefix" => h.weight_path_prefix(v),
                _ => match k.strip_prefix("header.") {
                    Some(name) => h.header(name, v)?,
                    None => {
                        return Err(bad(
                            k,
                            "unknown key (header.NAME, concurrency, retries, timeout_ms, weight_path_prefix)",
                        ))
                    }
                },
            };
        }
        Ok(Arc::new(ConfiguredHttp(h)))
    }
}

/// An http plugin with preset options (from [`HttpScheme::configure`]): every handler is a copy of
/// the template for the URL at hand.
pub struct ConfiguredHttp(pub HttpHandler);

impl Scheme for ConfiguredHttp {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(self.0.for_url(&url.raw))))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(self.0.for_url(&url.raw))))
    }
}

static HTTP: SchemeRegistration = SchemeRegistration { scheme: "http", plugin: "io-http", handler: &HttpScheme };
static HTTPS: SchemeRegistration = SchemeRegistration { scheme: "https", plugin: "io-http", handler: &HttpScheme };

io_core::inventory::submit! { SchemeRegistration { scheme: "http", plugin: "io-http", handler: &HttpScheme } }
io_core::inventory::submit! { SchemeRegistration { scheme: "https", plugin: "io-http", handler: &HttpScheme } }

/// Registers `http` and `https` in `registry` (idempotent).
pub fn register(registry: &Registry) {
    registry.register(&HTTP);
    registry.register(&HTTPS);
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl SaveHandler for HttpHandler {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (h, a, o) = (self.clone(), artifacts.clone(), opts.clone());
        runtime::run(async move { h.save_artifacts(&a, &o).await }).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl LoadHandler for HttpHandler {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (h, o) = (self.clone(), opts.clone());
        runtime::run(async move { h.load_artifacts(&o).await }).await
    }
}
