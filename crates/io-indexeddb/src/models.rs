//! Models in an [`IdbDatabase`] with TF.js's layout; every change is one transaction.

use std::sync::Arc;

use io_core::{Error, ModelArtifacts, ModelArtifactsInfo, ModelJson, Options, Result, SaveResult};
use io_store_support::PathStore;

use crate::database::{IdbDatabase, WriteOp};
use crate::layout::{self, INFO_STORE, MODELS_STORE};

/// The scheme, without `://`.
pub const SCHEME: &str = "indexeddb";

/// TF.js models kept in an IndexedDB-like database. Cheap to clone.
#[derive(Clone)]
pub struct IndexedDbModels {
    db: Arc<dyn IdbDatabase>,
}

/// Where a `models_store` record keeps the weights.
const WEIGHT_DATA: &[&str] = &["modelArtifacts", "weightData"];

fn url(path: &str) -> String {
    format!("{SCHEME}://{path}")
}

fn not_found(path: &str) -> Error {
    Error::NotFound { url: url(path), detail: format!("cannot find model with path '{path}' in IndexedDB") }
}

impl IndexedDbModels {
    /// Models in `db`.
    pub fn new(db: Arc<dyn IdbDatabase>) -> Self {
        IndexedDbModels { db }
    }

    /// The underlying database.
    pub fn database(&self) -> &Arc<dyn IdbDatabase> {
        &self.db
    }

    async fn info(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let record = self.db.get(INFO_STORE, path).await?.ok_or_else(|| not_found(path))?;
        layout::info_of(&record, &url(path))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl PathStore for IndexedDbModels {
    /// Writes the `models_store` and `model_info_store` records in ONE transaction.
    async fn save(&self, path: &str, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        opts.check_cancelled("save", &url(path))?;
        let result = SaveResult::for_artifacts(artifacts);
        let info = &result.model_artifacts_info;
        let ops = vec![
            WriteOp::Put { store: INFO_STORE, value: layout::info_record(path, info) },
            WriteOp::Put { store: MODELS_STORE, value: layout::model_record(path, artifacts, info) },
        ];
        self.db.write(ops, &url(path)).await?;
        let bytes = artifacts.weight_data.len() as u64;
        opts.meter(Some(bytes)).finish(bytes);
        Ok(result)
    }

    /// Reads the `models_store` record (one read, so never a torn model).
    async fn load(&self, path: &str, opts: &Options) -> Result<ModelArtifacts> {
        let record = self.db.get(MODELS_STORE, path).await?.ok_or_else(|| not_found(path))?;
        let model = layout::artifacts_of(&record, &url(path))?;
        let bytes = model.weight_data.len() as u64;
        opts.meter(Some(bytes)).finish(bytes);
        Ok(model)
    }

    /// Every `model_info_store` record (TF.js's `listModels`).
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let mut out = Vec::new();
        for record in self.db.get_all(INFO_STORE).await? {
            let path = record.field(crate::KEY_PATH).and_then(|p| p.to_raw_json()).and_then(|p| p.as_string());
            let path =
                path.ok_or_else(|| Error::invalid_model(url(""), "a model_info_store record has no string modelPath"))?;
            let info = layout::info_of(&record, &url(&path))?;
            out.push((path, info));
        }
        Ok(out)
    }

    /// Deletes both records in one transaction.
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let info = self.info(path).await?;
        let ops = [INFO_STORE, MODELS_STORE].map(|store| WriteOp::Delete { store, key: path.to_string() });
        self.db.write(ops.to_vec(), &url(path)).await?;
        Ok(info)
    }

    /// Copies both records in one transaction, inside the database: the weights are not read into
    /// this process (a copy by load and save would move them through wasm memory twice in the
    /// browser). The copy's `dateSaved` is now, as after TF.js's `copyModel`.
    fn can_copy(&self) -> bool {
        true
    }

    async fn copy(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        let date_saved = io_core::info::now_iso();
        let ops = [INFO_STORE, MODELS_STORE].map(|store| WriteOp::Copy {
            store,
            from: from.into(),
            to: to.into(),
            date_saved: date_saved.clone(),
        });
        self.db.write(ops.to_vec(), &url(from)).await?;
        self.info(to).await
    }

    /// The model.json of the `models_store` record, its weights left unread, naming them as one
    /// file [`io_core::files::WEIGHTS_BIN`] (when the database can leave buffers unread).
    async fn read_model_json(&self, path: &str) -> Result<Option<bytes::Bytes>> {
        if !self.db.reads_buffers_apart() {
            return Ok(None);
        }
        let record =
            self.db.get_partial(MODELS_STORE, path, &|p, _| p != WEIGHT_DATA).await?.ok_or_else(|| not_found(path))?;
        let model = layout::artifacts_of(&record, &url(path))?;
        let doc = ModelJson::for_artifacts(&model, vec![io_core::files::WEIGHTS_BIN.to_string()]);
        Ok(Some(doc.to_bytes(io_core::artifacts::BROWSER_ORDER).into()))
    }

    /// The weights of the `models_store` record as the one file [`io_core::files::WEIGHTS_BIN`],
    /// read only when they hold at most `limit` bytes.
    async fn read_file(&self, path: &str, file: &str, limit: u64) -> Result<Option<bytes::Bytes>> {
        if !self.db.reads_buffers_apart() || file != io_core::files::WEIGHTS_BIN {
            return Ok(None);
        }
        let seen = std::sync::atomic::AtomicU64::new(0);
        let select = |p: &[&str], len: u64| {
            let wanted = p == WEIGHT_DATA;
            if wanted {
                seen.store(len, std::sync::atomic::Ordering::Relaxed);
            }
            wanted && len <= limit
        };
        let record = self.db.get_partial(MODELS_STORE, path, &select).await?.ok_or_else(|| not_found(path))?;
        let len = seen.load(std::sync::atomic::Ordering::Relaxed);
        if len > limit {
            return Err(Error::invalid_model(
                url(path),
                format!("its weight data holds {len} bytes, more than the {limit} bytes its weight specs declare"),
            ));
        }
        let model = layout::artifacts_of(&record, &url(path))?;
        Ok(Some(model.weight_data.to_bytes()))
    }

    /// Renames both records in one transaction.
    async fn rename(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        let info = self.info(from).await?;
        let ops = [INFO_STORE, MODELS_STORE].map(|store| WriteOp::Rename { store, from: from.into(), to: to.into() });
        self.db.write(ops.to_vec(), &url(from)).await?;
        Ok(info)
    }
}
