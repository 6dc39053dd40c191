//! Native requests: reqwest (rustls for `https`), on the crate's runtime ([`crate::runtime`]).

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use io_core::{Error, Meter, Result};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;

use super::Upload;
use crate::handler::HttpHandler;
use crate::multipart::MultipartBody;

/// A response whose body is read chunk by chunk.
pub(crate) struct Response {
    inner: reqwest::Response,
    chunk: Bytes,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// The `Content-Length` the response announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// Reads the next piece of the body into `received`; `false` at the body's end.
    pub async fn read_into(&mut self, url: &str, received: &mut io_core::files::Receiving<'_, '_>) -> Result<bool> {
        match self.chunk(url).await? {
            Some(c) => received.push(c).map(|()| true),
            None => Ok(false),
        }
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self, url: &str) -> Result<Option<&[u8]>> {
        match self.inner.chunk().await.map_err(|e| network(url, e))? {
            Some(c) => {
                self.chunk = c;
                Ok(Some(&self.chunk))
            }
            None => Ok(None),
        }
    }
}

impl HttpHandler {
    /// Sends `method url` with the handler's headers, time limit and hooks (and `upload` as its
    /// body); any HTTP status is a response.
    pub(crate) async fn transmit(&self, method: &Method, url: &str, upload: Option<Upload<'_>>) -> Result<Response> {
        let client = self.client.clone().unwrap_or_else(default_client);
        let mut rb = client.request(method.clone(), url).headers(self.headers.clone());
        if let Some(t) = self.timeout {
            rb = rb.timeout(t);
        }
        if let Some(Upload { body, meter }) = upload {
            rb = rb
                .header(CONTENT_TYPE, body.content_type())
                .header(CONTENT_LENGTH, body.len())
                .body(request_body(body, meter));
        }
        if let Some(hook) = &self.on_request {
            rb = hook(rb);
        }
        let req = rb.build().map_err(|e| Error::InvalidUrl { url: url.to_string(), reason: error_text(&e) })?;
        let inner = match &self.fetch {
            Some(f) => f(req).await?,
            None => client.execute(req).await.map_err(|e| network(url, e))?,
        };
        Ok(Response { inner, chunk: Bytes::new() })
    }
}

/// The pieces are streamed (never copied into one buffer), counted as they are sent.
fn request_body(body: MultipartBody, meter: &Meter) -> reqwest::Body {
    // The body stream must be `'static`: it counts on a fork of the call's meter.
    let meter = std::sync::Arc::new(meter.fork());
    let pieces = futures::stream::iter(body.pieces).map(move |p| {
        meter.add(p.len() as u64);
        Ok::<_, std::io::Error>(p)
    });
    reqwest::Body::wrap_stream(pieces)
}

/// The client used when the handler was given none: shared, so connections are pooled.
fn default_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(30))
                .build()
                .expect("the default HTTP client builds")
        })
        .clone()
}

/// Waits `d`.
pub(crate) async fn sleep(d: Duration) {
    tokio::time::sleep(d).await
}

/// A reqwest error as [`Error::Network`]; connection problems, time-outs and broken bodies are temporary.
fn network(url: &str, e: reqwest::Error) -> Error {
    // A body cut short surfaces as a decode error of the byte stream (no decompression is enabled).
    let temporary = e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() || e.is_decode();
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
