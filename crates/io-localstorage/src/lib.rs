//! modelio plugin for `localstorage://`.
//!
//! Not implemented yet: this crate registers no scheme, so `localstorage://` URLs fail with an
//! "unsupported scheme" error rather than pretending to work. See the project's issue tracker.
#![warn(missing_docs)]

/// Registers this plugin's schemes in `registry` (idempotent). Registers nothing yet.
pub fn register(_registry: &io_core::Registry) {}

/// The schemes this plugin registers.
pub const SCHEMES: &[&str] = &[];
