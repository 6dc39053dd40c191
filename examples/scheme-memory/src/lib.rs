//! An example scheme crate written outside modelio's core: `memory://PATH` keeps models in a
//! process-wide map. It registers itself only through `inventory`; a program that wants it
//! writes `use modelio_example_memory as _;` so the linker keeps it.
//!
//! It is a complete store: save, load, list, remove and an atomic rename.

use std::collections::BTreeMap;
use std::sync::Mutex;

use io_core::{
    Error, LoadHandler, ModelArtifacts, ModelArtifactsInfo, ModelStore, ModelUrl, Result, SaveHandler, SaveResult,
    Scheme, SchemeRegistration,
};

/// The scheme this crate adds.
pub const SCHEME: &str = "memory";

static MODELS: Mutex<BTreeMap<String, (ModelArtifacts, ModelArtifactsInfo)>> = Mutex::new(BTreeMap::new());

fn models() -> std::sync::MutexGuard<'static, BTreeMap<String, (ModelArtifacts, ModelArtifactsInfo)>> {
    MODELS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The plugin: one value, registered once.
pub struct MemoryScheme;

struct Handler {
    path: String,
}

impl Scheme for MemoryScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(Handler { path: check_path(url)? })))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(Handler { path: check_path(url)? })))
    }
    fn store(&self) -> Option<Box<dyn ModelStore>> {
        Some(Box::new(MemoryScheme))
    }
}

fn check_path(url: &ModelUrl) -> Result<String> {
    if url.path.is_empty() {
        return Err(Error::InvalidUrl { url: url.raw.clone(), reason: "the model path is empty".into() });
    }
    Ok(url.path.clone())
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl SaveHandler for Handler {
    async fn save(&self, artifacts: &ModelArtifacts, _opts: &io_core::Options) -> Result<SaveResult> {
        let result = SaveResult::for_artifacts(artifacts);
        models().insert(self.path.clone(), (artifacts.clone(), result.model_artifacts_info.clone()));
        Ok(result)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl LoadHandler for Handler {
    async fn load(&self, _opts: &io_core::Options) -> Result<ModelArtifacts> {
        models()
            .get(&self.path)
            .map(|(a, _)| a.clone())
            .ok_or_else(|| Error::not_found(format!("{SCHEME}://{}", self.path)))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl ModelStore for MemoryScheme {
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        Ok(models().iter().map(|(p, (_, i))| (p.clone(), i.clone())).collect())
    }
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        models().remove(path).map(|(_, i)| i).ok_or_else(|| Error::not_found(format!("{SCHEME}://{path}")))
    }
    fn can_rename(&self) -> bool {
        true
    }
    async fn rename(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        let mut m = models();
        let entry = m.remove(from).ok_or_else(|| Error::not_found(format!("{SCHEME}://{from}")))?;
        let info = entry.1.clone();
        m.insert(to.to_string(), entry);
        Ok(info)
    }
}

io_core::inventory::submit! {
    SchemeRegistration { scheme: SCHEME, plugin: "modelio-example-memory", handler: &MemoryScheme }
}
