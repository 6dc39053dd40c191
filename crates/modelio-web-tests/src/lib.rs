//! modelio's browser tests and their helpers.
//!
//! The tests (in `tests/`) are wasm32 only and run with `wasm-bindgen-test` in headless Chromium:
//! `cargo test --target wasm32-unknown-unknown -p modelio-web-tests` (what `cargo xtask test-all`
//! runs). On native targets this crate is empty.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod web;
#[cfg(target_arch = "wasm32")]
pub use web::*;
