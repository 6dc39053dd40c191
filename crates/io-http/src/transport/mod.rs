//! Sending one request and reading its response: reqwest natively, the browser's `fetch` on wasm32.
//!
//! Both sides offer the same small surface to the rest of the crate ([`fetch`](crate::fetch) holds
//! the shared logic: status checks, retries, bounded reads): [`HttpHandler::transmit`] sends a
//! request (with the handler's headers, time limit and hooks, and an optional [`Upload`]) and
//! returns a [`Response`] whose status, `Content-Length` and body chunks the shared code reads.
//! On wasm32 reqwest is not used: it brings the `http` and `url` crates (about 50 KB of the
//! gzipped wasm) for what `fetch` already does (BENCHMARKS.md "wasm size").
//!
//! [`HttpHandler::transmit`]: crate::HttpHandler

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(not(target_arch = "wasm32"))]
mod native;

#[cfg(target_arch = "wasm32")]
pub(crate) use browser::{sleep, Response};
#[cfg(target_arch = "wasm32")]
pub use browser::{BrowserRequest, Credentials, Method, Mode};
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use native::{sleep, Response};
#[cfg(not(target_arch = "wasm32"))]
pub use reqwest::Method;

use io_core::Meter;

use crate::multipart::MultipartBody;

/// A request body: a save's multipart body, counted on `meter` as it is sent.
pub(crate) struct Upload<'a> {
    /// The body.
    pub body: MultipartBody,
    /// Where sent bytes are counted (natively as they go; `fetch` reports none, so on wasm32 the
    /// save counts them once the answer arrives).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub meter: &'a Meter,
}
