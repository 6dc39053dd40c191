//! Connections: the accept loop, per-connection timeouts, the connection and upload limits, and
//! graceful shutdown. (hyper's HTTP/1.1 server, one task per connection, TLS when configured.)
//!
//! | limit | default | what happens |
//! |---|---|---|
//! | [`Limits::header_read_timeout`] | 10 s | a new connection that has not sent a whole request head by then is closed (slowloris) |
//! | [`Limits::keep_alive_timeout`] | 15 s | a connection idle that long after its last answer is closed |
//! | [`Limits::body_idle_timeout`] | 30 s | an upload that sends nothing for that long is cut off (the answer is 408, the connection closed) |
//! | [`Limits::send_timeout`] | 30 s | a client that takes none of the answer's bytes for that long (a slow read: the socket stays full) is cut off |
//! | [`Limits::max_connections`] | 512 | further connections wait in the kernel's queue until one closes (nothing is read from them) |
//! | [`Limits::max_concurrent_uploads`] | 4 | further POST/PUT requests get 503 with `Retry-After` |
//! | [`Limits::shutdown_grace`] | 10 s | on shutdown, requests in progress get this long to finish, then their connections are dropped |
//!
//! A request in progress (its answer not yet fully sent) is never cut by the first two timeouts; a
//! write the client does not take is cut by the send timeout.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

use crate::error::ApiError;

/// Timeouts and limits of the connections (defaults in the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Limits {
    /// How long a new connection may take to send its first request head.
    pub header_read_timeout: Duration,
    /// How long a connection may stay idle between requests.
    pub keep_alive_timeout: Duration,
    /// How long an upload body may send nothing.
    pub body_idle_timeout: Duration,
    /// How long a write to the client may make no progress (the client reads nothing of the answer)
    /// before the connection is closed.
    pub send_timeout: Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most uploads (POST/PUT) in progress at once.
    pub max_concurrent_uploads: usize,
    /// How long shutdown waits for requests in progress.
    pub shutdown_grace: Duration,
}

/// Default [`Limits::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::keep_alive_timeout`].
pub const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(15);
/// Default [`Limits::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::send_timeout`].
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`Limits::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// Default [`Limits::max_concurrent_uploads`].
pub const DEFAULT_MAX_CONCURRENT_UPLOADS: usize = 4;
/// Default [`Limits::shutdown_grace`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// The `Retry-After` (seconds) of a 503 for too many uploads.
pub const UPLOAD_RETRY_AFTER_SECS: u32 = 2;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            body_idle_timeout: DEFAULT_BODY_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_concurrent_uploads: DEFAULT_MAX_CONCURRENT_UPLOADS,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets the requests in
/// progress finish (at most [`Limits::shutdown_grace`]) and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => p.expect("the semaphore is never closed"),
        };
        let (stream, addr) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // E.g. out of file descriptors: wait a little rather than spin.
                    tracing::warn!(target: "modelio::conn", error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        let (app, limits, tls, stop) = (app.clone(), limits.clone(), tls.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let _permit = permit;
            crate::observe::connection_opened();
            let _ = stream.set_nodelay(true);
            match tls {
                None => connection(stream, addr, app, &limits, stop).await,
                Some(acceptor) => match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await
                {
                    Ok(Ok(s)) => connection(s, addr, app, &limits, stop).await,
                    Ok(Err(e)) => {
                        tracing::debug!(target: "modelio::conn", client = %addr, error = %e, "TLS handshake failed")
                    }
                    Err(_) => tracing::debug!(target: "modelio::conn", client = %addr, "TLS handshake timed out"),
                },
            }
            crate::observe::connection_closed();
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained =
        tokio::time::timeout(limits.shutdown_grace, async { while tasks.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(target: "modelio::conn", left = tasks.len(), "shutdown grace over: dropping connections");
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// What the idle timer of a connection knows.
struct ConnState {
    in_flight: AtomicUsize,
    served: AtomicBool,
    idle_since: Mutex<Instant>,
    /// When a write to the client first found the socket full (milliseconds after `opened`, plus
    /// one), 0 while writes make progress.
    blocked_since: AtomicU64,
    opened: Instant,
}

impl ConnState {
    /// When the connection is to be closed: a write blocked for the send timeout; else, if nothing
    /// starts before, the idle deadline (`None` while a request is in progress).
    fn deadline(&self, limits: &Limits) -> Option<Instant> {
        let blocked = self.blocked_since.load(Ordering::SeqCst);
        if blocked > 0 {
            return Some(self.opened + Duration::from_millis(blocked - 1) + limits.send_timeout);
        }
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let since = *self.idle_since.lock().unwrap_or_else(|e| e.into_inner());
        let wait =
            if self.served.load(Ordering::SeqCst) { limits.keep_alive_timeout } else { limits.header_read_timeout };
        Some(since + wait)
    }
}

/// Marks the end of a request when its answer's body is dropped (sent, or the connection gone).
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// One connection: HTTP/1.1 with keep-alive, closed when idle past its deadline, shut down gracefully
/// when the server stops.
async fn connection<I>(io: I, addr: SocketAddr, app: Router, limits: &Limits, mut stop: watch::Receiver<bool>)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let opened = Instant::now();
    let state = Arc::new(ConnState {
        in_flight: AtomicUsize::new(0),
        served: AtomicBool::new(false),
        idle_since: Mutex::new(opened),
        blocked_since: AtomicU64::new(0),
        opened,
    });
    let io = SendWatch { inner: io, state: state.clone() };
    let body_idle = limits.body_idle_timeout;
    let svc = {
        let state = state.clone();
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            state.in_flight.fetch_add(1, Ordering::SeqCst);
            state.served.store(true, Ordering::SeqCst);
            let done = InFlight(state.clone());
            let mut rest = None;
            let mut req = req.map(|b| {
                let b = IdleTimeout::new(b, body_idle);
                if b.is_end_stream() {
                    return Body::new(b);
                }
                let (body, slot) = Shared::new(b);
                rest = Some(slot);
                Body::new(body)
            });
            req.extensions_mut().insert(ConnectInfo(addr));
            let answer = app.clone().oneshot(req);
            async move {
                let resp = answer.await.unwrap_or_else(|e: Infallible| match e {});
                if let Some(rest) = rest.filter(|_| resp.status().is_client_error() || resp.status().is_server_error())
                {
                    linger(rest).await;
                }
                Ok::<_, Infallible>(resp.map(|b| Body::new(Tracked { inner: b, _done: done })))
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.keep_alive(true).header_read_timeout(None);
    let conn = builder.serve_connection(TokioIo::new(io), svc);
    tokio::pin!(conn);
    let mut stopping = false;
    // The idle timer is lazy: requests do not touch it (a timer per request costs throughput). It
    // fires at the deadline it was set to, and at least once every shorter timeout period (the
    // deadline may move earlier: from the header timeout to the keep-alive one once a request was
    // served); then the deadline is recomputed and the connection closed if it passed.
    let period = limits
        .header_read_timeout
        .min(limits.keep_alive_timeout)
        .min(limits.send_timeout)
        .min(Duration::from_secs(3600))
        // A zero timeout (e.g. `--send-timeout 0s`) must not make the timer spin while a request runs.
        .max(Duration::from_millis(10));
    loop {
        let now = Instant::now();
        let wake = state.deadline(limits).unwrap_or(now + period).min(now + period);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(target: "modelio::conn", client = %addr, error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(wake) => {
                if state.deadline(limits).is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!(target: "modelio::conn", client = %addr, "idle connection closed");
                    return;
                }
            }
        }
    }
}

/// The connection's socket, noting in [`ConnState::blocked_since`] when a write to the client finds
/// no room (the client reads nothing) and clearing it when a write goes through.
struct SendWatch<I> {
    inner: I,
    state: Arc<ConnState>,
}

impl<I> SendWatch<I> {
    fn note<T>(&self, r: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        let blocked = &self.state.blocked_since;
        match &r {
            Poll::Pending => {
                let since = self.state.opened.elapsed().as_millis() as u64 + 1;
                let _ = blocked.compare_exchange(0, since, Ordering::SeqCst, Ordering::SeqCst);
            }
            Poll::Ready(_) => blocked.store(0, Ordering::SeqCst),
        }
        r
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for SendWatch<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for SendWatch<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.note(r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.note(r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.note(r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The most of a refused request's body [`linger`] reads and drops.
pub const LINGER_BYTES: u64 = 16 << 20;
/// The longest [`linger`] waits for the rest of a refused request's body.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// A request body whose unread rest stays reachable after the handler dropped it ([`linger`]).
struct Shared<B> {
    inner: Arc<Mutex<Option<B>>>,
}

impl<B> Shared<B> {
    /// The body, and the slot its rest can be taken from later.
    fn new(inner: B) -> (Shared<B>, Arc<Mutex<Option<B>>>) {
        let slot = Arc::new(Mutex::new(Some(inner)));
        (Shared { inner: slot.clone() }, slot)
    }
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for Shared<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let mut slot = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(body) = slot.as_mut() else { return Poll::Ready(None) };
        let r = Pin::new(&mut *body).poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            // Ended (or broken): nothing is left to read after the answer.
            *slot = None;
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or(true, |b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map_or_else(SizeHint::default, |b| b.size_hint())
    }
}

/// Reads and drops what is left of a refused request's body (at most [`LINGER_BYTES`], for at most
/// [`LINGER_TIME`]) before the error answer goes out, as nginx's lingering close does: a client
/// still sending an upload that was refused early (409, 403, 400 on a bad part) then reads the
/// answer instead of a broken pipe. A rest beyond that is not read; the connection is then closed
/// after the answer.
async fn linger<B: HttpBody<Data = Bytes> + Unpin>(rest: Arc<Mutex<Option<B>>>) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut read = 0u64;
    let mut body = Shared { inner: rest };
    while read <= LINGER_BYTES {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx));
        match tokio::time::timeout_at(deadline, frame).await {
            Ok(Some(Ok(f))) => read += f.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// A response body that holds the connection's in-flight mark until it is dropped.
struct Tracked {
    inner: Body,
    _done: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The error of a request body that sent nothing for [`Limits::body_idle_timeout`].
#[derive(Debug)]
pub struct BodyIdle(pub Duration);

impl std::fmt::Display for BodyIdle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body sent nothing for {} s", self.0.as_secs_f64())
    }
}

impl std::error::Error for BodyIdle {}

/// A request body that fails with [`BodyIdle`] when no data arrives for its timeout.
pub(crate) struct IdleTimeout<B> {
    inner: B,
    timeout: Duration,
    /// Armed the first time the body has nothing to give (a GET's empty body never arms it).
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<B> IdleTimeout<B> {
    fn new(inner: B, timeout: Duration) -> Self {
        IdleTimeout { inner, timeout, sleep: None }
    }
}

impl<B> HttpBody for IdleTimeout<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(r) => {
                if let Some(sleep) = &mut this.sleep {
                    sleep.as_mut().reset(Instant::now() + this.timeout);
                }
                Poll::Ready(r.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                match this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(this.timeout))).as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        crate::observe::body_timed_out();
                        Poll::Ready(Some(Err(Box::new(BodyIdle(this.timeout)))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether an error (of a body, or what an extractor made of it) is a [`BodyIdle`].
pub(crate) fn is_body_idle(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyIdle>() {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The upload limiter: a POST or PUT beyond [`Limits::max_concurrent_uploads`] gets 503 with
/// `Retry-After`; a body that stalled answers 408 and closes the connection.
pub(crate) async fn uploads<F, Fut>(slots: &Semaphore, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if !matches!(*req.method(), Method::POST | Method::PUT) {
        return next(req).await;
    }
    let Ok(_permit) = slots.try_acquire() else {
        crate::observe::upload_refused();
        let mut r = ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "too many uploads in progress; try again shortly".into(),
        }
        .into_response();
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(UPLOAD_RETRY_AFTER_SECS));
        r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return r;
    };
    let (parts, body) = req.into_parts();
    let stalled = Arc::new(AtomicBool::new(false));
    let body = Body::new(Watch { inner: body, stalled: stalled.clone() });
    let mut resp = next(Request::from_parts(parts, body)).await;
    if stalled.load(Ordering::SeqCst) {
        resp = ApiError {
            status: StatusCode::REQUEST_TIMEOUT,
            message: "the upload stalled: it sent nothing for too long".into(),
        }
        .into_response();
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// A body that notes whether it failed with [`BodyIdle`].
struct Watch {
    inner: Body,
    stalled: Arc<AtomicBool>,
}

impl HttpBody for Watch {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Err(e))) = &r {
            if is_body_idle(e) {
                self.stalled.store(true, Ordering::SeqCst);
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
