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
//! wasm32: the browser's `fetch`, in the caller's task; everything above works there too (time limits
//! use `AbortController`).
#![warn(missing_docs)]

mod fetch;
mod handler;
mod load;
pub mod multipart;
mod runtime;
mod save;
pub mod urls;

use io_core::{
    LoadHandler, ModelArtifacts, ModelStore, ModelUrl, Options, Registry, Result, SaveHandler, SaveResult, Scheme,
    SchemeRegistration,
};

pub use handler::{
    FetchFn, FetchFuture, HttpHandler, RequestHook, UrlConverter, DEFAULT_BACKOFF, DEFAULT_CONCURRENCY,
    DEFAULT_RETRIES, DEFAULT_TIMEOUT,
};
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
