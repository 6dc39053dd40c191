//! CORS, so that TF.js in a web page on another origin can load (any origin, by default) and save
//! (only origins listed with `--cors-origin`).
//!
//! The rules, for a request with an `Origin` that is not the server's own:
//! - reads (GET, HEAD) are allowed from any origin when [`crate::ServeConfig::cors_any_read`] is set
//!   (the default: `Access-Control-Allow-Origin: *`), else only from listed origins;
//! - writes (POST, PUT, DELETE) only from listed origins ([`crate::ServeConfig::cors_origins`]; `*`
//!   lists every origin). A write from any other origin gets 403 before it reaches a route, also when
//!   it is a "simple" request that no preflight announced (TF.js's multipart `model.save` is one);
//! - a preflight (`OPTIONS` with `Access-Control-Request-Method`) for an allowed method answers 204 with
//!   the method list, the requested headers (so `Authorization` passes: TF.js's
//!   `tf.io.http(url, {requestInit: {headers: {Authorization: ...}}})`) and a 10-minute max age; for a
//!   refused one, 403.
//!
//! Answers to allowed origins expose `ETag`, `Content-Length`, `Content-Range`, `Accept-Ranges` and
//! `Retry-After` to the page. No cookies are involved (no `Allow-Credentials`): tokens travel in
//! `Authorization`, which a browser never adds by itself, so another page cannot borrow them.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

const EXPOSED: &str = "ETag, Content-Length, Content-Range, Accept-Ranges, Retry-After";
const READ_METHODS: &str = "GET, HEAD";
const ALL_METHODS: &str = "GET, HEAD, POST, PUT, DELETE";
const DEFAULT_HEADERS: &str = "Authorization, Content-Type, If-None-Match, Range";

/// The CORS configuration.
#[derive(Clone, Debug)]
pub struct Cors {
    any_read: bool,
    any_write: bool,
    origins: Vec<String>,
}

impl Cors {
    /// Reads from any origin when `any_read`; reads and writes from `origins` (`*`: every origin).
    pub fn new(any_read: bool, origins: &[String]) -> Cors {
        let any_write = origins.iter().any(|o| o == "*");
        let origins =
            origins.iter().filter(|o| *o != "*").map(|o| o.trim_end_matches('/').to_ascii_lowercase()).collect();
        Cors { any_read: any_read || any_write, any_write, origins }
    }

    fn listed(&self, origin: &HeaderValue) -> bool {
        let o = origin.to_str().unwrap_or_default().to_ascii_lowercase();
        self.any_write || self.origins.contains(&o)
    }

    /// Whether a page on `origin` may read (`write == false`) or write.
    pub fn allows(&self, origin: &HeaderValue, write: bool) -> bool {
        self.listed(origin) || (!write && self.any_read)
    }

    /// The answer to a preflight request from `origin`, `None` when `req` is no preflight.
    pub fn preflight(&self, req: &Request<Body>, origin: &HeaderValue) -> Option<Response> {
        if req.method() != Method::OPTIONS {
            return None;
        }
        let wanted = req.headers().get(header::ACCESS_CONTROL_REQUEST_METHOD)?;
        let write = !matches!(wanted.as_bytes(), b"GET" | b"HEAD");
        if !self.allows(origin, write) {
            let mut r = ApiError {
                status: StatusCode::FORBIDDEN,
                message: "pages on this origin may not do that here (see --cors-origin)".into(),
            }
            .into_response();
            r.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
            return Some(r);
        }
        let mut r = StatusCode::NO_CONTENT.into_response();
        self.decorate(&mut r, Some(origin), write);
        let h = r.headers_mut();
        let methods = if self.listed(origin) { ALL_METHODS } else { READ_METHODS };
        h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(methods));
        let asked = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS).cloned();
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.unwrap_or(HeaderValue::from_static(DEFAULT_HEADERS)));
        h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        h.append(
            header::VARY,
            HeaderValue::from_static("Access-Control-Request-Method, Access-Control-Request-Headers"),
        );
        Some(r)
    }

    /// Adds the CORS headers of an answer to `origin` (none when it is not allowed or absent).
    pub fn decorate(&self, r: &mut Response, origin: Option<&HeaderValue>, write: bool) {
        let h = r.headers_mut();
        h.append(header::VARY, HeaderValue::from_static("Origin"));
        let Some(origin) = origin else { return };
        if !self.allows(origin, write) {
            return;
        }
        let allow = if self.listed(origin) { origin.clone() } else { HeaderValue::from_static("*") };
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
    }
}
