//! # modelio
//!
//! Save and load TensorFlow.js models from Rust, byte-compatible with TF.js 4.22, natively and
//! on `wasm32` in the browser.
//!
//! ```no_run
//! # async fn demo() -> modelio::Result<()> {
//! let model = modelio::load("file://./my-model").await?;
//! modelio::save("indexeddb://my-model", &model).await?;
//! for (url, info) in modelio::list_models().await? {
//!     println!("{url}: {} weight bytes", info.weight_data_bytes.unwrap_or(0));
//! }
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! | feature        | scheme                 | wasm32 (browser)         | native                        |
//! |----------------|------------------------|--------------------------|-------------------------------|
//! | `localstorage` | `localstorage://`      | `window.localStorage`    | SQLite store in the profile   |
//! | `indexeddb`    | `indexeddb://`         | IndexedDB                | SQLite store in the profile   |
//! | `downloads`    | `downloads://`         | browser downloads        | a downloads folder            |
//! | `http`         | `http://`, `https://`  | `fetch`                  | reqwest                       |
//! | `file`         | `file://`              | (not available)          | files, crash-safe saves       |
//!
//! All are on by default. Turning a feature on is all a program does: [`registry`] makes sure every
//! enabled plugin is linked and registered exactly once, whatever the linker did with `inventory`.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Once;

pub use io_core::*;

#[cfg(feature = "downloads")]
pub use io_downloads as downloads;
#[cfg(all(feature = "file", not(target_arch = "wasm32")))]
pub use io_file as file;
#[cfg(feature = "http")]
pub use io_http as http;
#[cfg(feature = "indexeddb")]
pub use io_indexeddb as indexeddb;
#[cfg(feature = "localstorage")]
pub use io_localstorage as localstorage;

/// The process-wide registry with every enabled plugin registered (once) and anything else that
/// registered itself through `inventory` (your own scheme crates).
pub fn registry() -> &'static Registry {
    static ONCE: Once = Once::new();
    let r = io_core::global();
    ONCE.call_once(|| {
        #[cfg(feature = "localstorage")]
        io_localstorage::register(r);
        #[cfg(feature = "indexeddb")]
        io_indexeddb::register(r);
        #[cfg(feature = "downloads")]
        io_downloads::register(r);
        #[cfg(feature = "http")]
        io_http::register(r);
        #[cfg(all(feature = "file", not(target_arch = "wasm32")))]
        io_file::register(r);
    });
    r
}

/// The Cargo features of this crate that are enabled and apply to this target.
pub fn enabled_features() -> Vec<&'static str> {
    enabled_plugins().into_iter().map(|(f, _)| f).collect()
}

/// The schemes the enabled features provide on this target (what [`registry`] must hold), sorted.
pub fn enabled_schemes() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = enabled_plugins().into_iter().flat_map(|(_, s)| s.iter().copied()).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// (feature, the schemes its plugin declares) for every enabled feature that applies to this target.
fn enabled_plugins() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        #[cfg(feature = "localstorage")]
        ("localstorage", io_localstorage::SCHEMES),
        #[cfg(feature = "indexeddb")]
        ("indexeddb", io_indexeddb::SCHEMES),
        #[cfg(feature = "downloads")]
        ("downloads", io_downloads::SCHEMES),
        #[cfg(feature = "http")]
        ("http", io_http::SCHEMES),
        #[cfg(all(feature = "file", not(target_arch = "wasm32")))]
        ("file", io_file::SCHEMES),
    ]
}

/// Saves `artifacts` to `url` (`model.save(url)` in TF.js).
pub async fn save(url: &str, artifacts: &ModelArtifacts) -> Result<SaveResult> {
    registry().save(url, artifacts).await
}

/// Loads the model at `url` (`tf.io` load handlers / `loadLayersModel(url)` in TF.js).
pub async fn load(url: &str) -> Result<ModelArtifacts> {
    registry().load(url).await
}

/// Every model in every store that can list, keyed `scheme://path` (`tf.io.listModels()`).
pub async fn list_models() -> Result<BTreeMap<String, ModelArtifactsInfo>> {
    registry().list_models().await
}

/// Copies a model from any scheme to any scheme (`tf.io.copyModel`).
pub async fn copy_model(src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
    registry().copy_model(src, dst).await
}

/// Moves a model, never losing it (`tf.io.moveModel`, without its data-loss bug).
pub async fn move_model(src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
    registry().move_model(src, dst).await
}

/// Removes a model from its store (`tf.io.removeModel`).
pub async fn remove_model(url: &str) -> Result<ModelArtifactsInfo> {
    registry().remove_model(url).await
}

/// [`save`] with per-call options: byte progress, cancellation, shard size, scheme options.
pub async fn save_with(url: &str, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
    registry().save_with(url, artifacts, opts).await
}

/// [`load`] with per-call options: byte progress, cancellation, limits, scheme options.
pub async fn load_with(url: &str, opts: &Options) -> Result<ModelArtifacts> {
    registry().load_with(url, opts).await
}

/// [`copy_model`] with per-call options (progress reported for the load, then the save).
pub async fn copy_with(src: &str, dst: &str, opts: &Options) -> Result<ModelArtifactsInfo> {
    registry().copy_with(src, dst, opts).await
}

/// [`move_model`] with per-call options; cancelled before the source is removed, the source stays.
pub async fn move_with(src: &str, dst: &str, opts: &Options) -> Result<ModelArtifactsInfo> {
    registry().move_with(src, dst, opts).await
}
