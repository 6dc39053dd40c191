//! Models in a [`WebStorage`]: save, load, list, remove and rename with TF.js's layout,
//! each change one [`WebStorage::batch`].

use std::sync::Arc;

use io_core::{Error, ModelArtifacts, ModelArtifactsInfo, Options, Result, SaveResult};
use io_store_support::PathStore;

use crate::layout;
use crate::storage::{KvOp, WebStorage};

/// The scheme, without `://`.
pub const SCHEME: &str = "localstorage";

/// TF.js models kept in a Web-Storage-like store. Cheap to clone.
#[derive(Clone)]
pub struct LocalStorageModels {
    storage: Arc<dyn WebStorage>,
}

fn url(path: &str) -> String {
    format!("{SCHEME}://{path}")
}

impl LocalStorageModels {
    /// Models in `storage`.
    pub fn new(storage: Arc<dyn WebStorage>) -> Self {
        LocalStorageModels { storage }
    }

    /// The underlying key-value store.
    pub fn storage(&self) -> &Arc<dyn WebStorage> {
        &self.storage
    }

    fn read(&self, path: &str) -> Result<(ModelArtifacts, ModelArtifactsInfo)> {
        let values = self.storage.get_many(&layout::keys(path))?;
        let values: [Option<String>; 5] = values.try_into().map_err(|v: Vec<_>| {
            Error::storage(SCHEME, url(path), format!("the store returned {} values for 5 keys", v.len()))
        })?;
        layout::decode(values, &url(path), path)
    }

    fn info(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let key = &layout::keys(path)[0];
        let text = self.storage.get(key)?.ok_or_else(|| Error::NotFound {
            url: url(path),
            detail: format!("cannot find model at path '{path}' (no key '{key}')"),
        })?;
        layout::parse_info(&text, &url(path), key)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl PathStore for LocalStorageModels {
    /// Saves `artifacts` at `path`: the five keys in one batch. Over quota it fails with
    /// [`Error::QuotaExceeded`] and the model that was at `path` is untouched.
    async fn save(&self, path: &str, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let result = SaveResult::for_artifacts(artifacts);
        let values = layout::encode(artifacts, &result.model_artifacts_info, &url(path))?;
        let ops: Vec<KvOp> = layout::keys(path).into_iter().zip(values).map(|(k, v)| KvOp::Set(k, v)).collect();
        let bytes = ops.iter().map(KvOp::value_len).sum::<usize>() as u64;
        opts.check_cancelled("save", &url(path))?;
        self.storage.batch(&ops, &url(path))?;
        opts.meter(Some(bytes)).finish(bytes);
        Ok(result)
    }

    /// Loads the model at `path` from one snapshot of its five keys.
    async fn load(&self, path: &str, opts: &Options) -> Result<ModelArtifacts> {
        let model = self.read(path)?.0;
        let bytes = model.weight_data.len() as u64;
        opts.meter(Some(bytes)).finish(bytes);
        Ok(model)
    }

    /// Every model (TF.js's rule: keys `tensorflowjs_models/P/info`) with its info.
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let keys = self.storage.keys()?;
        let info_keys: Vec<(String, String)> =
            keys.iter().filter_map(|k| layout::model_path_of_info_key(k).map(|p| (p.to_string(), k.clone()))).collect();
        let texts = self.storage.get_many(&info_keys.iter().map(|(_, k)| k.clone()).collect::<Vec<_>>())?;
        let mut out = Vec::with_capacity(texts.len());
        for ((path, key), text) in info_keys.into_iter().zip(texts) {
            // A model removed between reading the keys and the values is simply not listed.
            if let Some(text) = text {
                out.push((path.clone(), layout::parse_info(&text, &url(&path), &key)?));
            }
        }
        Ok(out)
    }

    /// Removes the five keys of the model at `path` in one batch, returning its info.
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let info = self.info(path)?;
        let ops: Vec<KvOp> = layout::keys(path).into_iter().map(KvOp::Remove).collect();
        self.storage.batch(&ops, &url(path))?;
        Ok(info)
    }

    /// Moves the model at `from` to `to` in one batch (replacing any model at `to`).
    async fn rename(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        let info = self.info(from)?;
        // Which of the five keys exist (model_metadata may not): keys only, no values read.
        let existing: std::collections::HashSet<String> = self.storage.keys()?.into_iter().collect();
        let ops: Vec<KvOp> = layout::keys(from)
            .into_iter()
            .zip(layout::keys(to))
            .map(|(f, t)| if existing.contains(&f) { KvOp::Rename { from: f, to: t } } else { KvOp::Remove(t) })
            .collect();
        self.storage.batch(&ops, &url(from))?;
        Ok(info)
    }
}
