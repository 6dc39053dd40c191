//! The traits a scheme plugin implements.
//!
//! Futures are `Send` on native targets and not on `wasm32` (browser objects are not `Send`).
//! Implement them with the matching attribute pair:
//!
//! ```ignore
//! #[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
//! #[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
//! impl io_core::LoadHandler for MyHandler {
//!     async fn load(&self, opts: &io_core::Options) -> io_core::Result<io_core::ModelArtifacts> { todo!() }
//! }
//! ```

use crate::artifacts::ModelArtifacts;
use crate::error::{Error, Result};
use crate::info::{ModelArtifactsInfo, SaveResult};
use crate::options::Options;

/// `Send + Sync` on native targets, nothing on `wasm32`.
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}
/// `Send + Sync` on native targets, nothing on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub trait MaybeSendSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSendSync for T {}

/// Saves artifacts to one place (TF.js's `IOHandler.save`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait SaveHandler: MaybeSendSync {
    /// Saves the model. Must not leave a half-written model behind on failure or cancellation;
    /// reports the bytes it writes through `opts` ([`Options::meter`]).
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult>;
}

/// Loads artifacts from one place (TF.js's `IOHandler.load`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait LoadHandler: MaybeSendSync {
    /// Loads the model; [`Error::NotFound`] when there is none. Reads no more than `opts`'
    /// limits allow and reports the bytes it reads ([`Options::meter`]).
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts>;
}

/// A store that holds many models by path and can list and remove them (TF.js's `ModelStoreManager`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait ModelStore: MaybeSendSync {
    /// Every model path (without `scheme://`) with its info.
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>>;

    /// Whether [`ModelStore::list`] enumerates the whole store. Stores with no single root (a file
    /// system) answer `false`: `list_models` skips them, and they list only under a prefix.
    fn lists_everything(&self) -> bool {
        true
    }

    /// The models whose path is `prefix` or lies under `prefix/` (every model when `prefix` is empty).
    async fn list_under(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let prefix = prefix.trim_end_matches('/');
        Ok(self
            .list()
            .await?
            .into_iter()
            .filter(|(p, _)| {
                prefix.is_empty() || p == prefix || p.strip_prefix(prefix).is_some_and(|r| r.starts_with('/'))
            })
            .collect())
    }

    /// Removes the model at `path`, returning its info; [`Error::NotFound`] if there is none.
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo>;

    /// Whether the paths `a` and `b` name one model (a move from one to the other is then refused:
    /// copying, then removing the source, would remove the only copy). The default compares the
    /// paths; stores where several spellings name one model (a file system: `./m`, `m/`, a symbolic
    /// link) answer from the medium.
    async fn same_model(&self, a: &str, b: &str) -> Result<bool> {
        Ok(a == b)
    }

    /// Whether [`ModelStore::rename`] is implemented (an atomic move within the store).
    fn can_rename(&self) -> bool {
        false
    }

    /// Atomically moves the model at `from` to `to`, replacing any model at `to`.
    async fn rename(&self, from: &str, _to: &str) -> Result<ModelArtifactsInfo> {
        Err(Error::Unsupported {
            operation: "rename",
            url: from.to_string(),
            reason: "the store has no atomic rename".into(),
        })
    }

    /// The model.json of the model at `path` as the store holds it (at most
    /// [`Limits::max_model_json_bytes`](crate::Limits)), without reading its weights; `Ok(None)`
    /// when the store cannot read a model's files one by one (callers then load the whole model).
    /// [`Error::NotFound`] when there is no such model.
    async fn read_model_json(&self, path: &str) -> Result<Option<bytes::Bytes>> {
        let _ = path;
        Ok(None)
    }

    /// The file `file` (a weight path as the model's model.json names it, relative to it) of the
    /// model at `path`, read whole but never more than `limit` bytes (a longer file fails, naming
    /// it); `Ok(None)` when the store cannot read a model's files one by one.
    async fn read_file(&self, path: &str, file: &str, limit: u64) -> Result<Option<bytes::Bytes>> {
        let _ = (path, file, limit);
        Ok(None)
    }

    /// Deletes what interrupted saves left under `prefix` (a model path or a folder of models; every
    /// model when empty) and versions no model points at any more, when they are at least
    /// `older_than` old; never an object a model.json names. Stores whose saves leave nothing
    /// behind answer [`Error::Unsupported`].
    async fn collect_garbage(&self, prefix: &str, older_than: std::time::Duration) -> Result<Collected> {
        let _ = older_than;
        Err(Error::Unsupported {
            operation: "gc",
            url: prefix.to_string(),
            reason: "the store's saves leave nothing behind to collect".into(),
        })
    }

    /// Whether [`ModelStore::copy`] is implemented: a copy within the store that neither loads nor
    /// saves the model (the service copies its objects).
    fn can_copy(&self) -> bool {
        false
    }

    /// Copies the model at `from` to `to` within the store, replacing any model at `to` as a save
    /// would (as atomically as the store's saves); returns the copy's info.
    async fn copy(&self, from: &str, _to: &str) -> Result<ModelArtifactsInfo> {
        Err(Error::Unsupported {
            operation: "copy",
            url: from.to_string(),
            reason: "the store has no copy of its own; copies load and save".into(),
        })
    }
}

/// What [`ModelStore::collect_garbage`] deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// The deleted objects' keys.
    pub objects: Vec<String>,
    /// Their bytes.
    pub bytes: u64,
}
