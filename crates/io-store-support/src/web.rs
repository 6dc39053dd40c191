//! Browser (wasm32) helpers the browser backends of both stores share.

use io_core::Error;
use wasm_bindgen::{JsCast, JsValue};

/// A JS exception as text: `Name: message` for a `DOMException`, the message of an `Error`.
pub fn js_error_text(e: &JsValue) -> String {
    if let Some(d) = e.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", d.name(), d.message());
    }
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// Whether `e` is the browser's `QuotaExceededError` `DOMException`.
pub fn is_quota_exceeded(e: &JsValue) -> bool {
    e.dyn_ref::<web_sys::DomException>().is_some_and(|d| d.name() == "QuotaExceededError" || d.code() == 22)
}

/// An [`Error::Storage`] of `store` at `location`: `what` failed with the JS exception `e`.
pub fn js_storage_error(store: &'static str, location: &str, what: &str, e: &JsValue) -> Error {
    Error::storage(store, location, format!("{what}: {}", js_error_text(e)))
}

/// Reads a byte stream (a `fetch` body, `Blob.stream()`) into one JavaScript buffer that every
/// read hands back (a "BYOB" reader), so reading leaves no garbage behind: a default reader makes
/// a new array per chunk, and those stay until the next garbage collection (a 256 MiB load held
/// up to ~180 MiB of them beside the weights in wasm memory).
pub struct ByteStreamReader {
    reader: web_sys::ReadableStreamByobReader,
    buffer: Option<js_sys::ArrayBuffer>,
    size: u32,
}

impl ByteStreamReader {
    /// A reader of `stream` through a buffer of `size` bytes (at least 1), or `None` when `stream`
    /// is not a byte stream (it is then left unlocked for another reader).
    pub fn new(stream: &web_sys::ReadableStream, size: u32) -> Option<Self> {
        let reader = web_sys::ReadableStreamByobReader::new(stream).ok()?;
        Some(ByteStreamReader { reader, buffer: None, size: size.max(1) })
    }

    /// The next bytes, `None` at the stream's end: a view of the reused buffer, valid until the
    /// next call. `Err` is the stream's error.
    pub async fn read(&mut self) -> Result<Option<js_sys::Uint8Array>, JsValue> {
        let buffer = self.buffer.take().unwrap_or_else(|| js_sys::ArrayBuffer::new(self.size));
        let read = self.reader.read_with_array_buffer_view(&js_sys::Uint8Array::new(&buffer));
        let next: web_sys::ReadableStreamReadResult =
            wasm_bindgen_futures::JsFuture::from(read).await?.unchecked_into();
        if next.get_done().unwrap_or(false) {
            return Ok(None);
        }
        let bytes: js_sys::Uint8Array = next.get_value().unchecked_into();
        // The read moved the buffer into `bytes`; the next read takes it back.
        self.buffer = Some(bytes.buffer());
        Ok(Some(bytes))
    }
}
