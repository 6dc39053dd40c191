//! One request: sending ([`crate::transport`]), status check, retries, and reading the body with
//! length checks.

use bytes::Bytes;
use io_core::files::FileRequest;
use io_core::{Error, Result};

use crate::handler::HttpHandler;
use crate::transport::{sleep, Method, Response, Upload};

/// How much of an error response's body goes into the error.
const BODY_START: usize = 200;

impl HttpHandler {
    /// Sends `method url` (with `upload` as its body); a non-2xx answer is [`Error::HttpStatus`]
    /// with the start of its body.
    pub(crate) async fn send(&self, method: &Method, url: &str, upload: Option<Upload<'_>>) -> Result<Response> {
        let resp = self.transmit(method, url, upload).await?;
        let status = resp.status();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        Err(Error::HttpStatus {
            method: method.to_string(),
            url: url.to_string(),
            status,
            body_start: body_start(resp, url).await,
        })
    }

    /// `GET url` and its whole body, read through `req` (bounded by what the manifest declares,
    /// into the load's memory when its `Content-Length` fits), retried on temporary failures.
    pub(crate) async fn get_bytes(&self, url: &str, req: &FileRequest<'_>) -> Result<Bytes> {
        self.with_retries(|| async {
            req.restart();
            let resp = self.send(&Method::GET, url, None).await?;
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
/// before the body is read, a body that runs past it is cut off one chunk after (the rest is not
/// read), and a body whose length differs from its `Content-Length` is refused.
async fn read_body(mut resp: Response, url: &str, req: &FileRequest<'_>) -> Result<Bytes> {
    let declared = resp.content_length();
    // A piece of the load's memory is zeroed and as long as announced; else a growing buffer.
    let mut received = req.receive(declared)?;
    while resp.read_into(url, &mut received).await? {}
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
async fn body_start(mut resp: Response, url: &str) -> String {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk(url).await {
        out.extend_from_slice(&chunk[..chunk.len().min(BODY_START - out.len())]);
        if out.len() >= BODY_START {
            break;
        }
    }
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
