//! wasm32 requests: the browser's `fetch` through web-sys, in the caller's task. The time limit is
//! an `AbortController` fired by `setTimeout` (it stops the body too); the body is read with the
//! stream's reader, chunk by chunk, so the shared code can stop one chunk past what the manifest
//! allows and cancel the rest. Where the body is a byte stream (`fetch`'s are, in Chromium) it is
//! read into one reused JavaScript buffer per response (a "BYOB" reader), so a load leaves no
//! garbage chunk per read behind: a 256 MiB load otherwise held up to ~180 MiB of dead chunks
//! until the next garbage collection, beside the weights in wasm memory.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use io_core::{Error, Result};
use io_store_support::web::ByteStreamReader;
use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, ReadableStreamReadResult, RequestInit};

pub use web_sys::{RequestCredentials as Credentials, RequestMode as Mode};

use super::Upload;
use crate::handler::HttpHandler;

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (windows and workers).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Promise;
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(f: &js_sys::Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// An HTTP method (the native build uses reqwest's `Method`; this has the same constants).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Method(Cow<'static, str>);

impl Method {
    /// `GET`.
    pub const GET: Method = Method(Cow::Borrowed("GET"));
    /// `POST`.
    pub const POST: Method = Method(Cow::Borrowed("POST"));
    /// `PUT`.
    pub const PUT: Method = Method(Cow::Borrowed("PUT"));
    /// `PATCH`.
    pub const PATCH: Method = Method(Cow::Borrowed("PATCH"));
    /// `DELETE`.
    pub const DELETE: Method = Method(Cow::Borrowed("DELETE"));

    /// Another method by name (the browser refuses names that are not tokens when it is used).
    pub fn from_name(name: impl Into<String>) -> Method {
        Method(Cow::Owned(name.into()))
    }

    /// The method's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A request as it will be handed to `fetch`: what an
/// [`on_request`](crate::HttpHandler::on_request) hook may change.
#[derive(Clone, Debug)]
pub struct BrowserRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The URL.
    pub url: String,
    /// Headers as name/value pairs, in order (the handler's, then `Content-Type` of a save).
    pub headers: Vec<(String, String)>,
    /// `credentials` (the browser's default when `None`).
    pub credentials: Option<Credentials>,
    /// `mode` (the browser's default when `None`).
    pub mode: Option<Mode>,
}

/// A response whose body is read chunk by chunk. Dropping it stops the transfer and its timer.
pub(crate) struct Response {
    inner: web_sys::Response,
    reader: Option<Reader>,
    limit: Limit,
    chunk: Vec<u8>,
}

/// Bytes one read of a byte stream may return: the size of the buffer a response reuses.
const BYOB_BUFFER: u32 = 256 << 10;

/// How a body is read.
enum Reader {
    /// Into one buffer that every read hands back.
    Byob(ByteStreamReader),
    /// Chunks the stream allocates (a body that is not a byte stream, e.g. from a `fetch` hook).
    Default(ReadableStreamDefaultReader),
}

/// The request's `AbortController` and the timer that fires it.
struct Limit {
    controller: AbortController,
    timer: Option<JsValue>,
    after: Option<Duration>,
}

impl Limit {
    /// A JavaScript failure of the request or its body as [`Error::Network`] (temporary: the
    /// browser only says that it failed: offline, refused, CORS, or stopped by the time limit).
    fn error(&self, url: &str, e: JsValue) -> Error {
        let detail = match self.after {
            Some(t) if self.controller.signal().aborted() => format!("no complete response within {t:?}"),
            _ => js_text(&e),
        };
        Error::Network { url: url.to_string(), detail, temporary: true, source: None }
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        if let Some(id) = &self.timer {
            clear_timeout(id);
        }
        // Stops a body nobody reads any more (no effect once it was read to its end).
        self.controller.abort();
    }
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.inner.status()
    }

    /// The `Content-Length` the response announced, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.headers().get("content-length").ok().flatten()?.trim().parse().ok()
    }

    /// The next piece of the body as the browser's stream gives it, `None` at its end. From a byte
    /// stream the piece is a view of the response's reused buffer: valid until the next call.
    async fn js_chunk(&mut self, url: &str) -> Result<Option<Uint8Array>> {
        if self.reader.is_none() {
            let Some(body) = self.inner.body() else { return Ok(None) };
            // A small body (model.json) needs a small buffer: its announced length (at least
            // 16 KiB, as a compressed body's length is not what it decodes to).
            let size = self.content_length().map_or(BYOB_BUFFER, |n| n.clamp(16 << 10, BYOB_BUFFER.into()) as u32);
            self.reader = Some(match ByteStreamReader::new(&body, size) {
                Some(byob) => Reader::Byob(byob),
                None => Reader::Default(body.get_reader().unchecked_into()),
            });
        }
        let bytes = match self.reader.as_mut().expect("set above") {
            Reader::Byob(reader) => reader.read().await.map_err(|e| self.limit.error(url, e))?,
            Reader::Default(reader) => {
                let next: ReadableStreamReadResult =
                    JsFuture::from(reader.read()).await.map_err(|e| self.limit.error(url, e))?.unchecked_into();
                (!next.get_done().unwrap_or(false)).then(|| next.get_value().unchecked_into())
            }
        };
        Ok(bytes)
    }

    /// Reads the next piece of the body into `received`, copied once, straight from the browser's
    /// array into the load's memory; `false` at the body's end.
    pub async fn read_into(&mut self, url: &str, received: &mut io_core::files::Receiving<'_, '_>) -> Result<bool> {
        match self.js_chunk(url).await? {
            Some(bytes) => received.push_with(bytes.length() as usize, |dst| bytes.copy_to(dst)).map(|()| true),
            None => Ok(false),
        }
    }

    /// The next piece of the body, `None` at its end.
    pub async fn chunk(&mut self, url: &str) -> Result<Option<&[u8]>> {
        let Some(bytes) = self.js_chunk(url).await? else { return Ok(None) };
        self.chunk.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut self.chunk);
        Ok(Some(&self.chunk))
    }
}

impl HttpHandler {
    /// Sends `method url` with the handler's headers, credentials, mode, time limit and hooks
    /// (and `upload` as its body); any HTTP status is a response.
    pub(crate) async fn transmit(&self, method: &Method, url: &str, upload: Option<Upload<'_>>) -> Result<Response> {
        let mut req = BrowserRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: self.headers.clone(),
            credentials: self.credentials,
            mode: self.mode,
        };
        let init = RequestInit::new();
        if let Some(Upload { body, .. }) = upload {
            // The browser sets Content-Length itself; `fetch` takes one buffer (copied into JavaScript).
            req.headers.push(("Content-Type".into(), body.content_type()));
            init.set_body(&Uint8Array::from(&body.to_bytes()[..]));
        }
        if let Some(hook) = &self.on_request {
            hook(&mut req);
        }
        let invalid = |e: JsValue| Error::InvalidUrl { url: url.to_string(), reason: js_text(&e) };
        init.set_method(&req.method);
        let headers = Headers::new().map_err(invalid)?;
        for (name, value) in &req.headers {
            headers.append(name, value).map_err(invalid)?;
        }
        init.set_headers(&headers);
        if let Some(c) = req.credentials {
            init.set_credentials(c);
        }
        if let Some(m) = req.mode {
            init.set_mode(m);
        }
        let controller = AbortController::new().map_err(invalid)?;
        init.set_signal(Some(&controller.signal()));
        let timer = self.timeout.map(|t| {
            let abort = js_sys::Function::from(js_sys::Reflect::get(&controller, &"abort".into()).unwrap_or_default());
            set_timeout(&abort.bind0(&controller), t.as_secs_f64() * 1000.0)
        });
        let limit = Limit { controller, timer, after: self.timeout };
        let request = web_sys::Request::new_with_str_and_init(&req.url, &init).map_err(invalid)?;
        let inner = match &self.fetch {
            Some(f) => f(request).await?,
            None => JsFuture::from(global_fetch(&request)).await.map_err(|e| limit.error(url, e))?.unchecked_into(),
        };
        Ok(Response { inner, reader: None, limit, chunk: Vec::new() })
    }
}

/// Waits `d` (global `setTimeout`, so it works in windows and workers).
pub(crate) async fn sleep(d: Duration) {
    let ms = d.as_secs_f64() * 1000.0;
    let p = Promise::new(&mut |resolve, _| {
        set_timeout(&resolve, ms);
    });
    let _ = JsFuture::from(p).await;
}

/// A thrown JavaScript value as text (an `Error`'s `name: message`, or the value itself).
fn js_text(e: &JsValue) -> String {
    match e.dyn_ref::<js_sys::Error>() {
        Some(err) => format!("{}: {}", String::from(err.name()), String::from(err.message())),
        None => e.as_string().unwrap_or_else(|| format!("{e:?}")),
    }
}
