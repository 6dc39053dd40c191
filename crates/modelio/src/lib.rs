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
//! | `opfs`         | `opfs://`              | Origin Private File System | (not available)             |
//! | `downloads`    | `downloads://`         | browser downloads        | a downloads folder            |
//! | `http`         | `http://`, `https://`  | `fetch`                  | reqwest                       |
//! | `file`         | `file://`              | (not available)          | files, crash-safe saves       |
//! | `safetensors`  | `safetensors://`       | (not available)          | one `.safetensors` file       |
//! | `zip`          | `zip://`               | (not available)          | one `.zip` (model.json + bins)|
//! | `s3`           | `s3://`                | (not available)          | S3 and S3-compatible servers  |
//! | `gcs`          | `gs://`                | (not available)          | Google Cloud Storage          |
//! | `azure`        | `az://`                | (not available)          | Azure Blob Storage            |
//!
//! All but `safetensors`, `zip`, `s3`, `gcs` and `azure` are on by default (`opfs` does nothing natively; `file`, `safetensors`, `zip` and the object stores nothing on wasm32). Turning a feature on is all a program does: [`registry`] makes sure every
//! enabled plugin is linked and registered exactly once, whatever the linker did with `inventory`.
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::sync::Once;

// What applications use: the model, its weights, per-call options, errors, and the registry for
// mounting configured stores. Writing a scheme? Depend on `io-core` (traits, `files`, `testkit`).
pub use io_core::codec;
/// Weight conversion as the TF.js converter does it (quantize, dequantize); see [`Options::convert`].
pub use io_core::convert;
pub use io_core::{
    decode_weights, encode_weights, Cancel, Collected, Config, DType, Error, Limits, LoadHandler, ManifestGroup,
    ModelArtifacts, ModelArtifactsInfo, ModelJson, ModelStore, ModelUrl, NamedTensor, Options, Progress, QuantDType,
    Quantization, Registry, Result, SaveHandler, SaveResponse, SaveResult, Scheme, Tensor, TensorData, Topology,
    WeightData, WeightSpec, DEFAULT_SHARD_SIZE,
};
/// Decoded weights as `ndarray` arrays / `candle_core` tensors (features `ndarray`, `candle`).
#[cfg(any(feature = "ndarray", feature = "candle"))]
pub use io_tensors as tensors;

/// `downloads://` and TF.js's `browserFiles`.
#[cfg(feature = "downloads")]
pub mod downloads {
    #[cfg(target_arch = "wasm32")]
    pub use io_downloads::browser::load_files;
    pub use io_downloads::{artifacts_from_files, NamedFile};
    #[cfg(not(target_arch = "wasm32"))]
    pub use io_downloads::{browser_files, BrowserFiles, DownloadedFiles, DownloadsHandler};
}
/// `file://`: folder saves and loads, and stores rooted at a folder.
#[cfg(all(feature = "file", not(target_arch = "wasm32")))]
pub mod file {
    pub use io_file::{FileHandler, MODEL_JSON, WEIGHTS_BIN};
}
/// `http(s)://`: the handler with its options (headers, retries, concurrency, URL rules).
#[cfg(feature = "http")]
pub mod http {
    #[cfg(target_arch = "wasm32")]
    pub use io_http::{BrowserRequest, Credentials, Mode};
    pub use io_http::{
        FetchFuture, HttpHandler, Method, DEFAULT_BACKOFF, DEFAULT_CONCURRENCY, DEFAULT_RETRIES, DEFAULT_TIMEOUT,
    };
}
/// `opfs://`: the origin's storage estimate and persistence, the quota error mapping, and the
/// store itself (a `KeyValueStore` over OPFS files) for collections in other folders.
#[cfg(all(feature = "opfs", target_arch = "wasm32"))]
pub mod opfs {
    pub use io_opfs::{estimate, persist, persisted, quota_error, write_error, Estimate, OpfsStore, OPFS, ROOT};
}
/// `indexeddb://`: natively, the SQLite profile store (quota, dumps from a browser).
#[cfg(all(feature = "indexeddb", not(target_arch = "wasm32")))]
pub mod indexeddb {
    pub use io_indexeddb::import_dump;
}
/// `localstorage://`: natively, the SQLite profile store (quota, dumps from a browser).
#[cfg(all(feature = "localstorage", not(target_arch = "wasm32")))]
pub mod localstorage {
    pub use io_localstorage::{import_dump, native_store};
}
/// `s3://`, `gs://`, `az://`: object storage buckets (features `s3`, `gcs`, `azure`): the
/// `Bucket` store for configured mounts of any `object_store` client, and the services.
#[cfg(all(any(feature = "s3", feature = "gcs", feature = "azure"), not(target_arch = "wasm32")))]
pub mod object_store {
    pub use io_object_store::{object_store as client, Bucket, Service};
}
/// The profile folder of the native `localstorage://` / `indexeddb://` stores (`MODELIO_HOME`).
#[cfg(all(any(feature = "localstorage", feature = "indexeddb"), not(target_arch = "wasm32")))]
pub use io_store_support::set_home;

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
        #[cfg(all(feature = "opfs", target_arch = "wasm32"))]
        io_opfs::register(r);
        #[cfg(feature = "downloads")]
        io_downloads::register(r);
        #[cfg(feature = "http")]
        io_http::register(r);
        #[cfg(all(feature = "file", not(target_arch = "wasm32")))]
        io_file::register(r);
        #[cfg(all(feature = "safetensors", not(target_arch = "wasm32")))]
        io_safetensors::register(r);
        #[cfg(all(feature = "zip", not(target_arch = "wasm32")))]
        io_zip::register(r);
        #[cfg(all(any(feature = "s3", feature = "gcs", feature = "azure"), not(target_arch = "wasm32")))]
        io_object_store::register(r);
    });
    r
}

/// [`registry`] as a shared handle (for configurations that hold either it or a registry of their own).
pub fn shared_registry() -> std::sync::Arc<Registry> {
    registry();
    io_core::router::global_shared()
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
        #[cfg(all(feature = "opfs", target_arch = "wasm32"))]
        ("opfs", io_opfs::SCHEMES),
        #[cfg(feature = "downloads")]
        ("downloads", io_downloads::SCHEMES),
        #[cfg(feature = "http")]
        ("http", io_http::SCHEMES),
        #[cfg(all(feature = "file", not(target_arch = "wasm32")))]
        ("file", io_file::SCHEMES),
        #[cfg(all(feature = "safetensors", not(target_arch = "wasm32")))]
        ("safetensors", io_safetensors::SCHEMES),
        #[cfg(all(feature = "zip", not(target_arch = "wasm32")))]
        ("zip", io_zip::SCHEMES),
        #[cfg(all(feature = "s3", not(target_arch = "wasm32")))]
        ("s3", &["s3"]),
        #[cfg(all(feature = "gcs", not(target_arch = "wasm32")))]
        ("gcs", &["gs"]),
        #[cfg(all(feature = "azure", not(target_arch = "wasm32")))]
        ("azure", &["az"]),
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
