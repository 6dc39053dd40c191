//! # io-file: the `file://` scheme
//!
//! Saves and loads TensorFlow.js models as folders, exactly as tfjs-node's `file://` handler does:
//! `DIR/model.json` (key order of tfjs-node, manifest path `weights.bin`) and `DIR/weights.bin`.
//!
//! - **Save** `file:///abs/dir` or `file://relative/dir`: parent folders are created (tfjs-node fails
//!   there); a path that exists as a file is an error. [`FileHandler::shard_size`] splits the
//!   weights into `group1-shard{I}of{N}.bin` files as the TF.js converter names them.
//! - **Load** `file:///dir/model.json` or `file:///dir` (a folder means its `model.json`), with any
//!   number of groups and shards next to model.json. Every shard is checked against the manifest; a
//!   short or long one is an error naming the file, the expected and the actual byte counts. Weight
//!   paths that are absolute or climb out of the folder (`..`) are refused unless
//!   [`FileHandler::allow_paths_outside_folder`] is set.
//! - **Crash-safe saves**: the new model is written into a fresh hidden sibling folder
//!   (`.DIR.tmp-<pid>-<random>`), every file and the folder are fsynced, then the folder is swapped
//!   in with one atomic `renameat2(RENAME_EXCHANGE)` (Linux; `renamex_np(RENAME_SWAP)` on Apple
//!   systems) and the old model is deleted. A crash at any moment leaves either the old or the new
//!   model under `DIR`; leftovers of crashed saves are removed by later saves. Loads read every file
//!   through one handle of the folder, so a load racing a save sees one model, never a mix. See
//!   the module `swap` in the source for the crash analysis and the fallback on other systems.
//!   Because a save replaces the folder as a whole (keeping its permissions), saving into a folder
//!   that holds anything but model files (`model.json`, `weights.bin`, `group*-shard*of*.bin`) is
//!   refused rather than deleting those files. Other programs that read `model.json` and the
//!   weights by path (tfjs-node) can still, rarely, read across a concurrent swap; modelio cannot.
//!
//! The file system calls are blocking; see [`FileHandler`] for use under an async runtime.
//!
//! `file://` has no listing in TF.js, and a folder tree has no natural root. So `file://` is a model
//! store that lists only under a folder: `Registry::list_under("file://./models")` finds the model
//! folders below `./models` (what `modelio serve` and `modelio ls file://DIR` use), and
//! `remove_model("file://./models/m")` removes one atomically (one rename aside, then deletion); it is
//! skipped by `list_models`. Moves copy, then remove the source.
//!
//! On `wasm32` this crate is empty: there is no file system in the browser.
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
mod dir;
#[cfg(not(target_arch = "wasm32"))]
mod handler;
#[cfg(not(target_arch = "wasm32"))]
mod load;
#[cfg(not(target_arch = "wasm32"))]
mod save;
#[cfg(not(target_arch = "wasm32"))]
mod store;
#[cfg(not(target_arch = "wasm32"))]
mod swap;

#[cfg(not(target_arch = "wasm32"))]
pub use handler::{FileHandler, FileScheme, RootedFiles, MODEL_JSON, WEIGHTS_BIN};
#[cfg(not(target_arch = "wasm32"))]
pub use store::{FileStore, RootedStore};

/// The schemes this plugin registers (none on `wasm32`).
#[cfg(not(target_arch = "wasm32"))]
pub const SCHEMES: &[&str] = &["file"];
/// The schemes this plugin registers (none on `wasm32`).
#[cfg(target_arch = "wasm32")]
pub const SCHEMES: &[&str] = &[];

#[cfg(not(target_arch = "wasm32"))]
static REGISTRATION: io_core::SchemeRegistration =
    io_core::SchemeRegistration { scheme: "file", plugin: "io-file", handler: &FileScheme };

#[cfg(not(target_arch = "wasm32"))]
io_core::inventory::submit! {
    io_core::SchemeRegistration { scheme: "file", plugin: "io-file", handler: &FileScheme }
}

/// Registers `file://` in `registry` (idempotent). Does nothing on `wasm32`.
pub fn register(registry: &io_core::Registry) {
    #[cfg(not(target_arch = "wasm32"))]
    registry.register(&REGISTRATION);
    #[cfg(target_arch = "wasm32")]
    let _ = registry;
}
