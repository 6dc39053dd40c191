//! [`HttpHandler`]: one model URL and every option of TF.js's `tf.io.http(url, options)`, as a builder.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

pub use crate::transport::Method;
#[cfg(target_arch = "wasm32")]
pub use crate::transport::{BrowserRequest, Credentials, Mode};

/// What a replacement fetch returns (TF.js's `fetchFunc`): `Send` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub type FetchFuture = Pin<Box<dyn Future<Output = io_core::Result<reqwest::Response>> + Send>>;
/// What a replacement fetch returns (TF.js's `fetchFunc`): the browser's `Response`.
#[cfg(target_arch = "wasm32")]
pub type FetchFuture = Pin<Box<dyn Future<Output = io_core::Result<web_sys::Response>>>>;

/// A replacement for the HTTP fetch: gets the finished request, returns the response.
#[cfg(not(target_arch = "wasm32"))]
pub type FetchFn = Arc<dyn Fn(reqwest::Request) -> FetchFuture + Send + Sync>;
/// A replacement for the HTTP fetch: gets the finished request, returns the response.
#[cfg(target_arch = "wasm32")]
pub type FetchFn = Arc<dyn Fn(web_sys::Request) -> FetchFuture + Send + Sync>;
/// A hook that edits every request before it is sent (auth headers, credentials, ...).
#[cfg(not(target_arch = "wasm32"))]
pub type RequestHook = Arc<dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder + Send + Sync>;
/// A hook that edits every request before it is sent (auth headers, credentials, ...).
#[cfg(target_arch = "wasm32")]
pub type RequestHook = Arc<dyn Fn(&mut BrowserRequest) + Send + Sync>;
/// Turns a manifest path into the URL to fetch it from (TF.js's `weightUrlConverter`).
pub type UrlConverter = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Default number of weight files fetched at once.
pub const DEFAULT_CONCURRENCY: usize = 6;
/// Default number of retries of a request that failed temporarily (connection error, 5xx, 408, 429).
pub const DEFAULT_RETRIES: u32 = 3;
/// Default delay before the first retry; it doubles with each further retry.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);
/// Default time limit of one request, from sending it to the end of its response body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Saves a model to, or loads it from, an `http://` or `https://` URL exactly as TF.js's
/// `tf.io.http` does (and with the checks TF.js lacks).
///
/// - Save ([`io_core::SaveHandler`]): one `multipart/form-data` request (`POST` unless
///   [`method`](Self::method) says otherwise) with parts `model.json` and `model.weights.bin`.
/// - Load ([`io_core::LoadHandler`]): `GET` of the model.json URL, then every weight file with at most
///   [`concurrency`](Self::concurrency) requests at a time, each checked for its status and, per
///   manifest group, its length against the weight specs.
///
/// ```no_run
/// use io_core::{LoadHandler, Options};
/// # async fn demo() -> io_core::Result<()> {
/// let model = io_http::HttpHandler::new("https://example.com/models/m/model.json")
///     .concurrency(8)
///     .retries(5)
///     .header("authorization", "Bearer t0ken")?
///     .load(&Options::new().on_progress(|p| eprintln!("{} of {:?} bytes", p.bytes, p.total)))
///     .await?;
/// # Ok(()) }
/// ```
///
/// On native targets the requests run on a small tokio runtime owned by this crate, so the handler
/// works from any executor; on wasm32 they use the browser's `fetch` in the caller's task.
#[derive(Clone)]
pub struct HttpHandler {
    pub(crate) url: String,
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) client: Option<reqwest::Client>,
    pub(crate) method: Method,
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) headers: HeaderMap,
    /// Request headers as name/value pairs (the browser's `Headers` checks them again).
    #[cfg(target_arch = "wasm32")]
    pub(crate) headers: Vec<(String, String)>,
    #[cfg(target_arch = "wasm32")]
    pub(crate) credentials: Option<Credentials>,
    #[cfg(target_arch = "wasm32")]
    pub(crate) mode: Option<Mode>,
    pub(crate) weight_path_prefix: Option<String>,
    pub(crate) weight_url_converter: Option<UrlConverter>,
    pub(crate) concurrency: usize,
    pub(crate) retries: u32,
    pub(crate) backoff: Duration,
    pub(crate) timeout: Option<Duration>,
    pub(crate) on_request: Option<RequestHook>,
    pub(crate) fetch: Option<FetchFn>,
}

impl fmt::Debug for HttpHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpHandler")
            .field("url", &self.url)
            .field("method", &self.method)
            .field("headers", &self.header_names())
            .field("weight_path_prefix", &self.weight_path_prefix)
            .field("concurrency", &self.concurrency)
            .field("retries", &self.retries)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl HttpHandler {
    /// A handler for `url`: the model.json URL to load from, or the URL to upload to.
    pub fn new(url: impl Into<String>) -> Self {
        HttpHandler {
            url: url.into(),
            #[cfg(not(target_arch = "wasm32"))]
            client: None,
            method: Method::POST,
            headers: Default::default(),
            #[cfg(target_arch = "wasm32")]
            credentials: None,
            #[cfg(target_arch = "wasm32")]
            mode: None,
            weight_path_prefix: None,
            weight_url_converter: None,
            concurrency: DEFAULT_CONCURRENCY,
            retries: DEFAULT_RETRIES,
            backoff: DEFAULT_BACKOFF,
            timeout: Some(DEFAULT_TIMEOUT),
            on_request: None,
            fetch: None,
        }
    }

    /// The URL this handler saves to or loads from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The HTTP method of a save (default `POST`; TF.js's `requestInit.method`).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Adds a header to every request (TF.js's `requestInit.headers`). Errors on an invalid name or value.
    pub fn header(mut self, name: &str, value: &str) -> io_core::Result<Self> {
        let bad = |what: &str, e: &dyn fmt::Display| io_core::Error::InvalidUrl {
            url: self.url.clone(),
            reason: format!("invalid header {what} {name:?}: {e}"),
        };
        #[cfg(not(target_arch = "wasm32"))]
        {
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad("name", &e))?;
            let v = HeaderValue::from_str(value).map_err(|e| bad("value for", &e))?;
            self.headers.append(n, v);
        }
        // The rules of the Fetch standard (a token name; a value without NUL, CR or LF), checked
        // here so that a bad header fails when it is set, as natively.
        #[cfg(target_arch = "wasm32")]
        {
            let token = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
            if name.is_empty() || !name.bytes().all(token) {
                return Err(bad("name", &"not a token"));
            }
            if value.bytes().any(|c| matches!(c, 0 | b'\r' | b'\n')) {
                return Err(bad("value for", &"NUL, CR or LF"));
            }
            self.headers.push((name.to_string(), value.trim_matches([' ', '\t']).to_string()));
        }
        Ok(self)
    }

    /// Adds all `headers` to every request.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers.extend(headers);
        self
    }

    /// The names of the headers set on the handler (for `Debug`; values may be secrets).
    fn header_names(&self) -> Vec<&str> {
        #[cfg(not(target_arch = "wasm32"))]
        return self.headers.keys().map(|k| k.as_str()).collect();
        #[cfg(target_arch = "wasm32")]
        return self.headers.iter().map(|(k, _)| k.as_str()).collect();
    }

    /// Weight files are fetched from `prefix + path + query` instead of the model URL's folder
    /// (TF.js's `weightPathPrefix`; no `/` is added after `prefix`).
    pub fn weight_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.weight_path_prefix = Some(prefix.into());
        self
    }

    /// Weight file URLs are whatever `f(manifest path)` returns (TF.js's `weightUrlConverter`).
    pub fn weight_url_converter(mut self, f: impl Fn(&str) -> String + Send + Sync + 'static) -> Self {
        self.weight_url_converter = Some(Arc::new(f));
        self
    }

    /// At most `n` weight files are fetched at once (default 6; 0 counts as 1).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// A load request that fails temporarily (connection error, timeout, 5xx, 408, 429) is tried
    /// again up to `n` times (default 3), waiting [`backoff`](Self::backoff), then twice as long, ...
    /// Saves are never retried: an upload is not idempotent.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// The wait before the first retry (default 200 ms); it doubles for every further retry.
    pub fn backoff(mut self, first: Duration) -> Self {
        self.backoff = first;
        self
    }

    /// The same handler (options, hooks, client) for another URL.
    pub fn for_url(&self, url: impl Into<String>) -> Self {
        HttpHandler { url: url.into(), ..self.clone() }
    }

    /// Time limit of one request including its body (default 120 s; `None` = no limit).
    pub fn timeout(mut self, limit: Option<Duration>) -> Self {
        self.timeout = limit;
        self
    }

    /// Edits every request before it is sent, e.g. to add a fresh auth header.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn on_request(
        mut self,
        f: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder + Send + Sync + 'static,
    ) -> Self {
        self.on_request = Some(Arc::new(f));
        self
    }

    /// Edits every request before it is sent, e.g. to add a fresh auth header: `f` gets the
    /// method, URL, headers, credentials and mode the request will be made with.
    #[cfg(target_arch = "wasm32")]
    pub fn on_request(mut self, f: impl Fn(&mut BrowserRequest) + Send + Sync + 'static) -> Self {
        self.on_request = Some(Arc::new(f));
        self
    }

    /// Replaces the HTTP fetch (TF.js's `fetchFunc`): `f` gets each finished request and returns its
    /// response. Status checks, retries and length checks still apply to what it returns.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn fetch(mut self, f: impl Fn(reqwest::Request) -> FetchFuture + Send + Sync + 'static) -> Self {
        self.fetch = Some(Arc::new(f));
        self
    }

    /// Replaces the browser's `fetch` (TF.js's `fetchFunc`): `f` gets each finished `Request` and
    /// returns its `Response`. Status checks, retries and length checks still apply to what it returns.
    #[cfg(target_arch = "wasm32")]
    pub fn fetch(mut self, f: impl Fn(web_sys::Request) -> FetchFuture + Send + Sync + 'static) -> Self {
        self.fetch = Some(Arc::new(f));
        self
    }

    /// Uses `client` (proxies, TLS roots, ...) instead of the shared default client.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Whether requests send cookies and HTTP authentication (TF.js's `requestInit.credentials`;
    /// the browser's default, `same-origin`, when not set).
    #[cfg(target_arch = "wasm32")]
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The request mode (TF.js's `requestInit.mode`; the browser's default, `cors`, when not set).
    #[cfg(target_arch = "wasm32")]
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = Some(mode);
        self
    }
}
