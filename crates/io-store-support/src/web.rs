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
/// up to ~180 MiB of them beside the weights in wasm memory). A dropped reader leaves its buffer
/// to the next reader of the same buffer size (the newest [`SPARE_BYTES`] are kept), so the files
/// of one load share a few buffers instead of leaving one each behind.
pub struct ByteStreamReader {
    reader: web_sys::ReadableStreamByobReader,
    buffer: Option<js_sys::ArrayBuffer>,
    size: u32,
}

/// Bytes of buffers that dropped [`ByteStreamReader`]s keep for the next ones.
pub const SPARE_BYTES: u32 = 4 << 20;

thread_local! {
    /// Buffers of dropped readers (wasm32 in a browser has one thread per agent).
    static SPARE: std::cell::RefCell<Vec<js_sys::ArrayBuffer>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl ByteStreamReader {
    /// A reader of `stream` through a buffer of `size` bytes (at least 1), or `None` when `stream`
    /// is not a byte stream (it is then left unlocked for another reader).
    pub fn new(stream: &web_sys::ReadableStream, size: u32) -> Option<Self> {
        let reader = web_sys::ReadableStreamByobReader::new(stream).ok()?;
        Some(ByteStreamReader { reader, buffer: None, size: size.max(1) })
    }

    /// The next bytes, `None` at the stream's end: a view of the reused buffer, valid until the
    /// next call or until the reader is dropped. `Err` is the stream's error.
    pub async fn read(&mut self) -> Result<Option<js_sys::Uint8Array>, JsValue> {
        let size = self.size;
        let buffer = self.buffer.take().unwrap_or_else(|| {
            let spare =
                SPARE.with_borrow_mut(|s| s.iter().position(|b| b.byte_length() == size).map(|i| s.swap_remove(i)));
            spare.unwrap_or_else(|| js_sys::ArrayBuffer::new(size))
        });
        let read = self.reader.read_with_array_buffer_view(&js_sys::Uint8Array::new(&buffer));
        let next: web_sys::ReadableStreamReadResult =
            wasm_bindgen_futures::JsFuture::from(read).await?.unchecked_into();
        // The read moved the buffer into its result (`buffer` is now detached).
        let bytes: js_sys::Uint8Array = next.get_value().unchecked_into();
        if next.get_done().unwrap_or(false) {
            // At the end the result still hands the buffer back (as an empty view), when it has one.
            if !bytes.is_undefined() {
                self.buffer = Some(bytes.buffer());
            }
            return Ok(None);
        }
        self.buffer = Some(bytes.buffer());
        Ok(Some(bytes))
    }
}

/// Bytes of buffers kept for the next [`ByteStreamReader`]s (at most [`SPARE_BYTES`]).
pub fn spare_bytes() -> u32 {
    SPARE.with_borrow(|s| s.iter().map(|b| b.byte_length()).sum())
}

impl Drop for ByteStreamReader {
    fn drop(&mut self) {
        // A buffer a pending read still holds is the stream's; only one handed back is kept.
        if let Some(buffer) = self.buffer.take() {
            SPARE.with_borrow_mut(|s| {
                s.push(buffer);
                // The oldest go first (a size no reader asks for any more).
                let mut kept: u32 = s.iter().map(|b| b.byte_length()).sum();
                while kept > SPARE_BYTES {
                    kept -= s.remove(0).byte_length();
                }
            });
        }
    }
}
