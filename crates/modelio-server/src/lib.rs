//! # modelio-server
//!
//! The model server behind `modelio serve`: TF.js saves to it with
//! `model.save('http://HOST/models/NAME')` and loads from it with
//! `tf.loadLayersModel('http://HOST/models/NAME/model.json')`; the models live in any modelio store
//! (a local folder through `file://` by default). Routes are listed in [`api`].
//!
//! ```no_run
//! # async fn demo() -> io_core::Result<()> {
//! let cfg = modelio_server::ServeConfig { addr: "127.0.0.1:0".parse().unwrap(), ..Default::default() };
//! let server = modelio_server::Server::bind(cfg).await?;
//! println!("serving on http://{}", server.local_addr());
//! server.run(async { tokio::signal::ctrl_c().await.ok(); }).await
//! # }
//! ```
//!
//! Uploads are checked completely (multipart shape, limits, model.json, every weight file against the
//! manifest: [`upload`]) before they become a version, so a bad upload stores nothing and leaves an
//! earlier model of the same name as it was. On a `file://` store an upload is streamed to a folder
//! on the store's file system and renamed into place; elsewhere it is assembled in memory and saved
//! through the registry. Limits give 413, a quota 507, bad names and bad uploads 400, a name that is
//! a prefix of another model (or has one as its prefix) 409, missing models and files 404.
//!
//! Every save is an immutable version ([`versions`]: stored as its own model under the hidden
//! `.modelio/versions/NAME/VERSION`, with a pointer model at `NAME`); the latest model.json points at
//! the version's files (`NAME/@v/VERSION/FILE`), so a load racing an overwrite never mixes two
//! uploads. Models are served with the files they are stored with; on `file://` model.json is read
//! alone and weight files are streamed from disk with ranges. What is cached and when changes are
//! seen: [`cache`] (writes through the server at once, changes made directly in the store after at
//! most [`ServeConfig::revalidate_after`], 1 s).
#![warn(missing_docs)]

pub mod api;
pub mod cache;
mod config;
mod cors;
mod disk;
mod error;
pub mod fuzzing;
pub mod names;
pub mod upload;
pub mod versions;

use std::future::Future;
use std::net::SocketAddr;

pub use api::router;
pub use config::{
    ServeConfig, DEFAULT_ADDR, DEFAULT_CACHE_MAX_BYTES, DEFAULT_KEEP_VERSIONS, DEFAULT_MAX_MANIFEST_PATHS,
    DEFAULT_MAX_MODEL_JSON_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_MAX_UPLOAD_PARTS, DEFAULT_REVALIDATE_AFTER,
    DEFAULT_STORE,
};
pub use error::ApiError;
pub use upload::assemble;

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: tokio::net::TcpListener,
    local_addr: SocketAddr,
    cfg: ServeConfig,
}

impl Server {
    /// Binds `cfg.addr` (port 0 picks a free port).
    pub async fn bind(cfg: ServeConfig) -> io_core::Result<Server> {
        let listener = tokio::net::TcpListener::bind(cfg.addr).await.map_err(|e| io_core::Error::Network {
            url: format!("http://{}", cfg.addr),
            detail: format!("cannot listen: {e}"),
            temporary: false,
            source: Some(Box::new(e)),
        })?;
        let local_addr = listener.local_addr().map_err(|e| io_core::Error::Network {
            url: format!("http://{}", cfg.addr),
            detail: format!("cannot read the bound address: {e}"),
            temporary: false,
            source: Some(Box::new(e)),
        })?;
        api::clean_store(&cfg);
        Ok(Server { listener, local_addr, cfg })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR`, the base URL of the server.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io_core::Result<()> {
        let url = self.url();
        axum::serve(self.listener, router(self.cfg)).with_graceful_shutdown(shutdown).await.map_err(|e| {
            io_core::Error::Network {
                url,
                detail: format!("server failed: {e}"),
                temporary: false,
                source: Some(Box::new(e)),
            }
        })
    }
}

/// Binds `cfg.addr` and serves until `shutdown` completes.
pub async fn serve(cfg: ServeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> io_core::Result<()> {
    Server::bind(cfg).await?.run(shutdown).await
}
