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
