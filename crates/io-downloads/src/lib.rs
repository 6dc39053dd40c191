//! modelio plugin for `downloads://`.
//!
//! In the browser (wasm32) this is TF.js's `browserDownloads`: see [`browser`]. The native side is
//! not implemented yet: natively this crate registers no scheme, so `downloads://` URLs fail with an
//! "unsupported scheme" error rather than pretending to work. See the project's issue tracker.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub use browser::{register, SCHEMES};

/// Registers this plugin's schemes in `registry` (idempotent). Registers nothing yet.
#[cfg(not(target_arch = "wasm32"))]
pub fn register(_registry: &io_core::Registry) {}

/// The schemes this plugin registers.
#[cfg(not(target_arch = "wasm32"))]
pub const SCHEMES: &[&str] = &[];
