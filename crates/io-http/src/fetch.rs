//! One request: hooks, sending, status check, retries, and reading the body with length checks.

use bytes::Bytes;
use futures::StreamExt;
use io_core::files::FileRequest;
use io_core::{Error, Result};
use reqwest::{Method, Response};

use crate::handler::HttpHandler;
use crate::runtime::{default_client, sleep};

/// How much of an error response's body goes into the error.
const BODY_START: usize = 200;

impl HttpHandler {
    /// A request to `url` with the handler's headers, time limit and request hook applied.
    pub(crate) fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let client = self.client.clone().unwrap_or_else(default_client);
        let mut rb = client.request(method, url).headers(self.headers.clone());
        if let Some(t) = self.timeout {
            rb = rb.timeout(t);
        }
        match &self.on_request {
            Some(hook) => hook(rb),
            None => rb,
        }
    }

    /// Sends `rb` (through the fetch hook, if any); a non-2xx answer is [`Error::HttpStatus`] with
    /// the start of its body.
    pub(crate) async fn send(&self, rb: reqwest::RequestBuilder, method: &Method, url: &str) -> Result<Response> {
        let req = rb.build().map_err(|e| Error::InvalidUrl { url: url.to_string(), reason: error_text(&e) })?;
        let resp = match &self.fetch {
            Some(f) => f(req).await?,
            None => {
                let client = self.client.clone().unwrap_or_else(default_client);
                client.execute(req).await.map_err(|e| network(url, e))?
            }
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        Err(Error::HttpStatus {
            method: method.to_string(),
            url: url.to_string(),
            status,
            body_start: body_start(resp).await,
        })
    }

    /// `GET url` and its whole body, read through `req` (bounded by what the manifest declares,
    /// into the load's memory when its `Content-Length` fits), retried on temporary failures.
    pub(crate) async fn get_bytes(&self, url: &str, req: &FileRequest<'_>) -> Result<Bytes> {
        self.with_retries(|| async {
            req.restart();
            let resp = self.send(self.request(Method::GET, url), &Method::GET, url).await?;
            read_body(resp, url, req).await
        })
        .await
    }

    /// Runs `attempt` until it succeeds, fails for good, or the retries are used up.
    async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut wait = self.backoff;
        for _ in 0..self.retries {
            match attempt().await {
                Err(e) if e.is_temporary() => {
                    sleep(wait).await;
                    wait = wait.saturating_mul(2);
                }
                done => return done,
            }
        }
        attempt().await
    }
}

/// Reads a response body through `req`: a `Content-Length` over what the manifest allows fails
/// before the body is read, a body that runs past it is cut off one byte after, and a body whose
/// length differs from its `Content-Length` is refused.
async fn read_body(resp: Response, url: &str, req: &FileRequest<'_>) -> Result<Bytes> {
    let declared = resp.content_length();
    // A piece of the load's memory is zeroed and as long as announced; else a growing buffer.
    let mut received = req.receive(declared)?;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        received.push(&chunk.map_err(|e| network(url, e))?)?;
    }
    match declared {
        Some(n) if n != received.len() as u64 => Err(length_error(url, n, received.len() as u64)),
        _ => Ok(received.finish()),
    }
}

/// A body of `got` bytes that does not match its `Content-Length` of `n` (temporary: the transfer broke).
fn length_error(url: &str, n: u64, got: u64) -> Error {
    let detail = if got > n {
        format!("the response sent more than the {n} bytes its Content-Length announced")
    } else {
        format!("the response ended after {got} of the {n} bytes its Content-Length announced")
    };
    Error::Network { url: url.to_string(), detail, temporary: true, source: None }
}

/// The first bytes of a body as text, for error messages (empty when it cannot be read).
async fn body_start(resp: Response) -> String {
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(Ok(chunk)) = body.next().await {
        out.extend_from_slice(&chunk[..chunk.len().min(BODY_START - out.len())]);
        if out.len() >= BODY_START {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A reqwest error as [`Error::Network`]; connection problems, time-outs and broken bodies are temporary.
pub(crate) fn network(url: &str, e: reqwest::Error) -> Error {
    #[cfg(not(target_arch = "wasm32"))]
    // A body cut short surfaces as a decode error of the byte stream (no decompression is enabled).
    let temporary = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode();
    // The browser's fetch only says that it failed (offline, refused, CORS, aborted by the time limit).
    #[cfg(target_arch = "wasm32")]
    let temporary = e.is_timeout() || e.is_request() || e.is_body();
    Error::Network { url: url.to_string(), detail: error_text(&e), temporary, source: Some(Box::new(e)) }
}

/// An error with its chain of causes, `a: b: c`.
fn error_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = c.source();
    }
    s
}
