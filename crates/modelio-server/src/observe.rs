//! Logs and metrics.
//!
//! **Logs** (`tracing`; `modelio serve` prints them on stderr, text or JSON, filtered by `RUST_LOG`):
//! - target `modelio::request`, one line per request when its answer has been sent: `method`, `path`
//!   (never the query string), `status`, `bytes_in`, `bytes_out`, `duration_ms`, `client`;
//! - target `modelio::audit`, one line per write or delete: `action`, `name`, `version` (the one a
//!   save created), `status`, `token` (the token's id, never the token; see [`crate::auth`]);
//! - target `modelio::conn` (debug): connections closed for idling, failed TLS handshakes.
//!
//! **Metrics** (`GET /metrics`, OpenMetrics text as Prometheus scrapes it, via `prometheus-client`):
//! `modelio_http_requests_total{route,method,status}`, `modelio_http_request_duration_seconds{route}`
//! (histogram), `modelio_http_received_bytes_total{route}`, `modelio_http_sent_bytes_total{route}`,
//! `modelio_cache_lookups_total{result="hit"|"miss"}`, `modelio_connections_open`,
//! `modelio_uploads_refused_total`, `modelio_body_timeouts_total`, and `modelio_models_stored` (counted
//! in the store when scraped). `route` is one of `list`, `model`, `model.json`, `file`, `versions`,
//! `healthz`, `metrics`, `other`. The counters are the process's (several servers in one process share them).
//!
//! `GET /healthz` answers `{"status":"ok"}`. Both follow the read-token rule.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::config::ServeConfig;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabel {
    result: &'static str,
}

/// The process's metrics.
struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    cache: Family<CacheLabel, Counter>,
    /// The per-route series of `durations`, `received` and `sent`, made once for every route
    /// [`route_of`] can name, so that a request looks none of them up.
    per_route: Vec<(&'static str, RouteMetrics)>,
    connections: Gauge,
    uploads_refused: Counter,
    body_timeouts: Counter,
}

fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let mut registry = Registry::with_prefix("modelio");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route, method and status", requests.clone());
        let durations = Family::<RouteLabel, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 4.0, 10))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time from request to the answer's last byte",
            durations.clone(),
        );
        let received = Family::<RouteLabel, Counter>::default();
        registry.register("http_received_bytes", "Request body bytes received", received.clone());
        let sent = Family::<RouteLabel, Counter>::default();
        registry.register("http_sent_bytes", "Answer body bytes sent", sent.clone());
        let cache = Family::<CacheLabel, Counter>::default();
        registry.register("cache_lookups", "Model file lookups in the read cache", cache.clone());
        let connections = Gauge::default();
        registry.register("connections_open", "Connections open now", connections.clone());
        let uploads_refused = Counter::default();
        registry.register("uploads_refused", "Uploads refused with 503 (too many at once)", uploads_refused.clone());
        let body_timeouts = Counter::default();
        registry.register("body_timeouts", "Request bodies cut off for sending nothing", body_timeouts.clone());
        let per_route = ROUTES
            .iter()
            .map(|&route| {
                let label = RouteLabel { route };
                let handles = RouteMetrics {
                    duration: durations.get_or_create(&label).clone(),
                    received: received.get_or_create(&label).clone(),
                    sent: sent.get_or_create(&label).clone(),
                };
                (route, handles)
            })
            .collect();
        Metrics { registry, requests, cache, per_route, connections, uploads_refused, body_timeouts }
    })
}

impl Metrics {
    /// The series of `route` (one of [`ROUTES`]; anything else counts as `other`).
    fn route(&self, route: &str) -> &RouteMetrics {
        let found = self.per_route.iter().find(|(r, _)| *r == route);
        &found.unwrap_or(&self.per_route[ROUTES.len() - 1]).1
    }
}

/// Counts a read-cache lookup (`hit`: served from the cache without loading the model).
pub fn cache_lookup(hit: bool) {
    metrics().cache.get_or_create(&CacheLabel { result: if hit { "hit" } else { "miss" } }).inc();
}

pub(crate) fn connection_opened() {
    metrics().connections.inc();
}

pub(crate) fn connection_closed() {
    metrics().connections.dec();
}

pub(crate) fn upload_refused() {
    metrics().uploads_refused.inc();
}

pub(crate) fn body_timed_out() {
    metrics().body_timeouts.inc();
}

/// One route's series (handles sharing the families' values).
struct RouteMetrics {
    duration: Histogram,
    received: Counter,
    sent: Counter,
}

/// Every label [`route_of`] gives.
const ROUTES: [&str; 8] = ["list", "healthz", "metrics", "model.json", "versions", "file", "model", "other"];

/// The metrics label of a path (one of [`ROUTES`]).
pub(crate) fn route_of(path: &str) -> &'static str {
    match path {
        "/models" | "/models/" => "list",
        "/healthz" => "healthz",
        "/metrics" => "metrics",
        p if p.starts_with("/models/") => {
            if p.ends_with("/model.json") {
                "model.json"
            } else if p.ends_with("/versions") {
                "versions"
            } else if p.ends_with(".bin") {
                "file"
            } else {
                "model"
            }
        }
        _ => "other",
    }
}

/// What is known of a request until its answer is sent.
struct Record {
    method: Method,
    path: String,
    route: &'static str,
    client: Option<SocketAddr>,
    status: u16,
    start: Instant,
    /// The request body's byte count (`None`: the request has no body).
    bytes_in: Option<Arc<AtomicU64>>,
    bytes_out: u64,
}

impl Drop for Record {
    fn drop(&mut self) {
        let m = metrics();
        let elapsed = self.start.elapsed();
        let bytes_in = self.bytes_in.as_ref().map_or(0, |b| b.load(Ordering::Relaxed));
        m.requests
            .get_or_create(&RequestLabels {
                route: self.route,
                method: method_label(&self.method),
                status: self.status,
            })
            .inc();
        let h = m.route(self.route);
        h.duration.observe(elapsed.as_secs_f64());
        h.received.inc_by(bytes_in);
        h.sent.inc_by(self.bytes_out);
        let client = Client(self.client);
        tracing::info!(
            target: "modelio::request",
            method = %self.method,
            path = %self.path,
            status = self.status,
            bytes_in,
            bytes_out = self.bytes_out,
            duration_ms = duration_ms(elapsed),
            client = %client,
            "request"
        );
    }
}

/// The metrics label of a method (a fixed set: a client cannot grow the label space).
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The client address in a log line (`-` when unknown), formatted without an allocation.
struct Client(Option<SocketAddr>);

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(a) => a.fmt(f),
            None => f.write_str("-"),
        }
    }
}

fn duration_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// The outermost step of [`crate::app`]'s middleware: counts the bytes both ways and, once the answer has been sent (or
/// abandoned), logs the request line and records its metrics.
pub(crate) async fn observe<F, Fut>(req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let client = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    // A request without a body (most GETs) needs no counter around it.
    let bytes_in = (!body_is_empty(&req)).then(|| Arc::new(AtomicU64::new(0)));
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let mut record = Record {
        method: parts.method.clone(),
        route: route_of(&path),
        path,
        client,
        status: 0,
        start: Instant::now(),
        bytes_in: bytes_in.clone(),
        bytes_out: 0,
    };
    let body = match bytes_in {
        Some(count) => Body::new(Counted { inner: body, count: CountInto::Shared(count), record: None }),
        None => body,
    };
    let resp = next(Request::from_parts(parts, body)).await;
    record.status = resp.status().as_u16();
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, Body::new(Counted { inner: body, count: CountInto::Record, record: Some(record) }))
}

/// Whether the request's body is known to be empty (no Content-Length or 0, and not chunked).
fn body_is_empty(req: &Request) -> bool {
    req.body().is_end_stream()
}

enum CountInto {
    Shared(Arc<AtomicU64>),
    Record,
}

/// A body that counts the bytes through it (into a shared counter, or into the record it carries,
/// which logs when the body is dropped).
struct Counted {
    inner: Body,
    count: CountInto,
    record: Option<Record>,
}

impl HttpBody for Counted {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &r {
            if let Some(data) = frame.data_ref() {
                let n = data.len() as u64;
                match &this.count {
                    CountInto::Shared(c) => {
                        c.fetch_add(n, Ordering::Relaxed);
                    }
                    CountInto::Record => {
                        if let Some(rec) = this.record.as_mut() {
                            rec.bytes_out += n;
                        }
                    }
                }
            }
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `GET /healthz` and `GET /metrics`.
pub(crate) fn routes(cfg: ServeConfig) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/metrics", get(metrics_text)).with_state(Arc::new(cfg))
}

async fn healthz() -> Response {
    Json(serde_json::json!({ "status": "ok" })).into_response()
}

async fn metrics_text(State(cfg): State<Arc<ServeConfig>>) -> Response {
    let stored = match tokio::time::timeout(Duration::from_secs(5), cfg.registry.list_under(&cfg.store)).await {
        // Versions are stored as hidden models: each name counts once.
        Ok(Ok(all)) => Some(all.keys().filter_map(|p| cfg.name_of(p)).filter(|n| !crate::api::hidden(n)).count()),
        _ => None,
    };
    let mut text = String::new();
    if prometheus_client::encoding::text::encode_registry(&mut text, &metrics().registry).is_err() {
        text.clear();
    }
    if let Some(n) = stored {
        text.push_str("# HELP modelio_models_stored Models in the store (counted when scraped).\n");
        text.push_str("# TYPE modelio_models_stored gauge\n");
        text.push_str(&format!("modelio_models_stored {n}\n"));
    }
    text.push_str("# EOF\n");
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_series_and_unknown_ones_count_as_other() {
        let paths = ["/models", "/healthz", "/metrics", "/models/a/model.json", "/models/a/versions"];
        let more = ["/models/a/x.bin", "/models/a", "/nope"];
        for p in paths.iter().chain(&more) {
            assert!(ROUTES.contains(&route_of(p)), "{p} -> {}", route_of(p));
        }
        let m = metrics();
        assert_eq!(ROUTES[ROUTES.len() - 1], "other");
        assert!(std::ptr::eq(m.route("not a route"), m.route("other")));
        assert!(!std::ptr::eq(m.route("file"), m.route("other")));
    }
}
