//! # io-downloads: `downloads://` and loading from user-chosen files
//!
//! - **`downloads://P`** saves a model as TF.js's `browserDownloads` does: two files `P.json` and
//!   `P.weights.bin` (an empty `P` means `model`), model.json with the browser routes' key order and
//!   the manifest path `./P.weights.bin`. Natively the files go to a downloads folder (see
//!   [`DownloadsHandler`]: set in code, by the environment variable [`DIR_ENV`], else the user's
//!   Downloads folder, else the current folder). Like a browser it never overwrites: when a name is
//!   taken it picks `P (1)`, `P (2)`, ... for both files, and, unlike a browser, the manifest path
//!   names the weights file actually written. Each file appears complete under its final name or not
//!   at all: it is written and fsynced as a hidden `.P.<pid>-<n>.modelio-part` file, then hard-linked
//!   under its final name (which fails rather than overwrite). Part files a crash left behind are
//!   removed by saves an hour later. `downloads://` is save-only: loading it is an [`io_core::Error::Unsupported`] error.
//! - **[`browser_files`]** loads a model from a model.json file and its weight files chosen by the
//!   user (TF.js's `browserFiles`): weight files are matched to manifest paths by basename, with
//!   TF.js's errors. The matching ([`files`]) works on `(name, bytes)` pairs and is shared by every
//!   target; only reading native files lives in the native module.
//!
//! Layout: [`files`] and the file naming are target-independent; the native backend is compiled
//! for non-`wasm32` targets. A browser backend (real downloads, `File` objects) is to be added as a
//! sibling module for `wasm32`; until then this crate registers no scheme on `wasm32`.
#![warn(missing_docs)]

pub mod files;
mod names;
#[cfg(not(target_arch = "wasm32"))]
mod native;

pub use files::{artifacts_from_files, basename, match_weight_files, NamedFile};
pub use names::{file_names, sanitize_prefix, DEFAULT_PREFIX};
#[cfg(not(target_arch = "wasm32"))]
pub use native::{
    browser_files, default_dir, BrowserFiles, DownloadedFiles, DownloadsHandler, DownloadsScheme, DIR_ENV,
};

/// The URL scheme of this plugin.
pub const SCHEME: &str = "downloads";

/// The schemes this plugin registers (none on `wasm32` until the browser backend exists).
#[cfg(not(target_arch = "wasm32"))]
pub const SCHEMES: &[&str] = &[SCHEME];
/// The schemes this plugin registers (none on `wasm32` until the browser backend exists).
#[cfg(target_arch = "wasm32")]
pub const SCHEMES: &[&str] = &[];

#[cfg(not(target_arch = "wasm32"))]
static REGISTRATION: io_core::SchemeRegistration =
    io_core::SchemeRegistration { scheme: SCHEME, plugin: "io-downloads", handler: &DownloadsScheme };

#[cfg(not(target_arch = "wasm32"))]
io_core::inventory::submit! {
    io_core::SchemeRegistration { scheme: SCHEME, plugin: "io-downloads", handler: &DownloadsScheme }
}

/// Registers `downloads://` in `registry` (idempotent). Does nothing on `wasm32` yet.
pub fn register(registry: &io_core::Registry) {
    #[cfg(not(target_arch = "wasm32"))]
    registry.register(&REGISTRATION);
    #[cfg(target_arch = "wasm32")]
    let _ = registry;
}
