//! # io-zip: the `zip://` scheme
//!
//! A TensorFlow.js model — `model.json` and its weight files — in one `.zip` file.
//!
//! - **URL**: `zip:///abs/model.zip` or `zip://./relative/model.zip` (the path after `://`, read as
//!   `file://` reads it). A plain `file://…/x.zip` is not detected: `file://` stays folders only.
//!   `zip://https://host/m.zip` (or `http://`) loads an archive over HTTP: the file is fetched
//!   whole, bounded by the weight limit plus the model.json limit plus 1 MiB (a larger
//!   `Content-Length` fails before the body is read, a longer body is cut off), with retries and
//!   byte progress, then read as below. Saving over http is refused.
//! - **Save**: tfjs-node's layout (`model.json` + `weights.bin`, or `group1-shard{I}of{N}.bin` with
//!   `Options::shard_size`) as entries of a new zip (weights stored, model.json deflated), written to
//!   a temporary file next to the target, fsynced, then renamed over it: atomic.
//! - **Load**: `model.json` at the archive's root, or else the one `*/model.json` of a zipped folder
//!   (`zip -r m.zip m/`); weight paths are relative to it. Every read goes through
//!   `io_core::files` (model.json capped, each weight entry's declared size checked against what the
//!   manifest leaves before anything is allocated, reads cut off one byte past the manifest).
//! - **Refused**: archives with an entry named absolutely or with `..` (checked for every entry,
//!   before anything is read), and zip bombs: an entry whose declared size is over
//!   [`MAX_RATIO`] times its compressed size (more than deflate can produce), or a stored entry
//!   whose sizes differ. Only regular files are opened.
//!
//! On `wasm32` this crate registers nothing (no file system).
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
mod handler;

#[cfg(not(target_arch = "wasm32"))]
pub use handler::{ZipHandler, ZipScheme};

/// The largest declared size / compressed size ratio an entry may have (deflate's own limit is
/// about 1032:1; an entry claiming more is a lie or a bomb).
pub const MAX_RATIO: u64 = 1100;

/// The schemes this plugin registers (none on `wasm32`).
#[cfg(not(target_arch = "wasm32"))]
pub const SCHEMES: &[&str] = &["zip"];
/// The schemes this plugin registers (none on `wasm32`).
#[cfg(target_arch = "wasm32")]
pub const SCHEMES: &[&str] = &[];

#[cfg(not(target_arch = "wasm32"))]
static REGISTRATION: io_core::SchemeRegistration =
    io_core::SchemeRegistration { scheme: "zip", plugin: "io-zip", handler: &ZipScheme };

#[cfg(not(target_arch = "wasm32"))]
io_core::inventory::submit! {
    io_core::SchemeRegistration { scheme: "zip", plugin: "io-zip", handler: &ZipScheme }
}

/// Registers `zip://` in `registry` (idempotent). Does nothing on `wasm32`.
pub fn register(registry: &io_core::Registry) {
    #[cfg(not(target_arch = "wasm32"))]
    registry.register(&REGISTRATION);
    #[cfg(target_arch = "wasm32")]
    let _ = registry;
}
