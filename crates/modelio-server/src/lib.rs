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
//!
//! Facing a network: [`auth`] (tokens, read-only, Host and Origin checks; writes need a token by
//! default, one is made at start when none is configured: [`Server::generated_token`]), [`cors`],
//! [`conn`] (timeouts, connection and upload limits, graceful shutdown), [`observe`] (request and
//! audit logs, `/healthz`, `/metrics`) and [`tls`].
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod cache;
mod config;
pub mod conn;
pub mod cors;
mod disk;
mod error;
pub mod fuzzing;
pub mod names;
pub mod observe;
pub mod tls;
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
    generated_token: Option<String>,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// The whole application for a server bound to `bound`: the model routes, `/healthz` and `/metrics`,
/// behind one middleware ([`front`]) that runs, outermost first, the request log and metrics
/// ([`observe`]), the access checks ([`auth`]: Host, Origin/CORS, tokens) and the upload limiter
/// ([`conn`]).
pub fn app(cfg: ServeConfig, bound: SocketAddr) -> axum::Router {
    use std::sync::Arc;
    let front_state = Arc::new(Front {
        guard: auth::Guard {
            access: cfg.access.clone(),
            cors: cors::Cors::new(cfg.cors_any_read, &cfg.cors_origins),
            bound,
            scheme: if cfg.tls.is_some() { "https" } else { "http" },
        },
        uploads: tokio::sync::Semaphore::new(cfg.limits.max_concurrent_uploads.max(1)),
    });
    router(cfg.clone()).merge(observe::routes(cfg)).layer(axum::middleware::from_fn_with_state(front_state, front))
}

/// What [`front`] needs.
struct Front {
    guard: auth::Guard,
    uploads: tokio::sync::Semaphore,
}

/// The one middleware in front of every route: observe → access → uploads → route. One layer, not
/// three: each axum middleware layer clones the service behind it and boxes a future per request,
/// which cost several percent of a model.json GET.
async fn front(
    axum::extract::State(f): axum::extract::State<std::sync::Arc<Front>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    observe::observe(req, |req| auth::guard(&f.guard, req, |req| conn::uploads(&f.uploads, req, |req| next.run(req))))
        .await
}

impl Server {
    /// Binds `cfg.addr` (port 0 picks a free port). Reads the TLS files when configured, and makes a
    /// token when the access rules need one and none is configured ([`auth::Access::missing_token`]).
    pub async fn bind(mut cfg: ServeConfig) -> io_core::Result<Server> {
        let tls = cfg.tls.as_ref().map(tls::acceptor).transpose()?;
        let generated_token = cfg.access.missing_token().map(|scope| {
            let t = auth::generate();
            cfg.access.tokens.push(auth::Token::new("generated", &t, scope, None));
            t
        });
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
        Ok(Server { listener, local_addr, cfg, generated_token, tls })
    }

    /// The token made at start because none was configured (print it for the user), if one was.
    pub fn generated_token(&self) -> Option<&str> {
        self.generated_token.as_deref()
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://ADDR` (`https://` with TLS), the base URL of the server.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.local_addr)
    }

    /// Serves until `shutdown` completes, then finishes the requests in progress (for at most
    /// [`conn::Limits::shutdown_grace`]).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> io_core::Result<()> {
        let limits = self.cfg.limits.clone();
        let app = app(self.cfg, self.local_addr);
        conn::serve(self.listener, app, limits, self.tls, shutdown).await;
        Ok(())
    }
}

/// Binds `cfg.addr` and serves until `shutdown` completes.
pub async fn serve(cfg: ServeConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> io_core::Result<()> {
    Server::bind(cfg).await?.run(shutdown).await
}
