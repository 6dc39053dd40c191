//! A model store keyed by path, turned into a scheme plugin.

use io_core::{
    Error, LoadHandler, MaybeSendSync, ModelArtifacts, ModelArtifactsInfo, ModelStore, ModelUrl, Options, Result,
    SaveHandler, SaveResult, Scheme,
};

/// A store that keeps TF.js models by path (the part of the URL after `scheme://`).
///
/// Implement it once per medium layout; [`PathScheme`] does the rest. Cloning must be cheap
/// (share the connection, e.g. through an `Arc`).
///
/// Natively the methods may block (SQLite): [`PathScheme`] runs every call on a blocking thread
/// ([`io_core::blocking::unblock`]), so no executor is ever blocked. In the browser they run in place.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait PathStore: MaybeSendSync + Clone + 'static {
    /// Saves `artifacts` at `path`, replacing any model there; all or nothing. Reports the bytes
    /// written and honours cancellation through `opts` (checked before the one write).
    async fn save(&self, path: &str, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult>;
    /// Loads the model at `path`; [`Error::NotFound`] when there is none. Reports the bytes read.
    async fn load(&self, path: &str, opts: &Options) -> Result<ModelArtifacts>;
    /// Every model path with its info.
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>>;
    /// Removes the model at `path`, returning its info; [`Error::NotFound`] when there is none.
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo>;
    /// Moves the model at `from` to `to` in one transaction, replacing any model at `to`.
    async fn rename(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo>;
    /// [`ModelStore::read_model_json`]: the model.json of the model at `path` without reading its
    /// weights; `Ok(None)` (the default) when the store cannot leave them unread.
    async fn read_model_json(&self, path: &str) -> Result<Option<bytes::Bytes>> {
        let _ = path;
        Ok(None)
    }
    /// [`ModelStore::read_file`]: one weight file that [`PathStore::read_model_json`]'s model.json
    /// names, never more than `limit` bytes; `Ok(None)` (the default) when the store cannot.
    async fn read_file(&self, path: &str, file: &str, limit: u64) -> Result<Option<bytes::Bytes>> {
        let _ = (path, file, limit);
        Ok(None)
    }
}

/// The scheme plugin of a [`PathStore`]: `open` gives the store to use for each operation
/// (typically a process-wide shared one).
pub struct PathScheme<S> {
    /// Gives the store (called per handler and per management operation).
    pub open: fn() -> Result<S>,
}

struct PathHandler<S> {
    store: S,
    path: String,
}

fn model_path(url: &ModelUrl) -> Result<String> {
    if url.path.is_empty() {
        return Err(Error::InvalidUrl { url: url.raw.clone(), reason: "the model path after '://' is empty".into() });
    }
    Ok(url.path.clone())
}

impl<S: PathStore> Scheme for PathScheme<S> {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(PathHandler { path: model_path(url)?, store: (self.open)()? })))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(PathHandler { path: model_path(url)?, store: (self.open)()? })))
    }
    fn store(&self) -> Option<Box<dyn ModelStore>> {
        Some(Box::new(PathScheme { open: self.open }))
    }
}

/// Runs `f` with a clone of `store`: natively on a blocking thread (the store may block), in place
/// in the browser.
#[cfg(not(target_arch = "wasm32"))]
async fn off_executor<S: PathStore, T: Send + 'static, F>(
    store: &S,
    f: impl FnOnce(S) -> F + Send + 'static,
) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    let store = store.clone();
    io_core::blocking::unblock(move || futures::executor::block_on(f(store))).await
}

#[cfg(target_arch = "wasm32")]
async fn off_executor<S: PathStore, T: 'static, F>(store: &S, f: impl FnOnce(S) -> F + 'static) -> Result<T>
where
    F: std::future::Future<Output = Result<T>>,
{
    f(store.clone()).await
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: PathStore> SaveHandler for PathHandler<S> {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (path, artifacts, opts) = (self.path.clone(), artifacts.clone(), opts.clone());
        off_executor(&self.store, move |s| async move { s.save(&path, &artifacts, &opts).await }).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: PathStore> LoadHandler for PathHandler<S> {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (path, opts) = (self.path.clone(), opts.clone());
        off_executor(&self.store, move |s| async move { s.load(&path, &opts).await }).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: PathStore> ModelStore for PathScheme<S> {
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        off_executor(&(self.open)()?, |s| async move { s.list().await }).await
    }
    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let path = path.to_string();
        off_executor(&(self.open)()?, move |s| async move { s.remove(&path).await }).await
    }
    fn can_rename(&self) -> bool {
        true
    }
    async fn read_model_json(&self, path: &str) -> Result<Option<bytes::Bytes>> {
        let path = path.to_string();
        off_executor(&(self.open)()?, move |s| async move { s.read_model_json(&path).await }).await
    }
    async fn read_file(&self, path: &str, file: &str, limit: u64) -> Result<Option<bytes::Bytes>> {
        let (path, file) = (path.to_string(), file.to_string());
        off_executor(&(self.open)()?, move |s| async move { s.read_file(&path, &file, limit).await }).await
    }
    async fn rename(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        let (from, to) = (from.to_string(), to.to_string());
        off_executor(&(self.open)()?, move |s| async move { s.rename(&from, &to).await }).await
    }
}

/// The error of a browser-like scheme on a target where its backend is not built in yet
/// (`wasm32` until the browser backends land).
pub fn no_backend(scheme: &str, backend: &str) -> Error {
    Error::Unsupported {
        operation: "open",
        url: format!("{scheme}://"),
        reason: format!("the {backend} backend of '{scheme}://' is not implemented for this target yet"),
    }
}

/// Declares a [`PathScheme`] plugin in the calling crate: the `static` plugin, its
/// `inventory` submission, and `pub fn register(&io_core::Registry)` (idempotent).
///
/// `register_path_scheme!(SCHEME, "crate-name", StoreType, open_fn);` where `open_fn` is a
/// `fn() -> io_core::Result<StoreType>`. The calling crate must depend on `io-core`.
#[macro_export]
macro_rules! register_path_scheme {
    ($scheme:expr, $plugin:literal, $store:ty, $open:path) => {
        static PLUGIN: $crate::PathScheme<$store> = $crate::PathScheme { open: $open };

        static REGISTRATION: ::io_core::SchemeRegistration =
            ::io_core::SchemeRegistration { scheme: $scheme, plugin: $plugin, handler: &PLUGIN };

        ::io_core::inventory::submit! {
            ::io_core::SchemeRegistration { scheme: $scheme, plugin: $plugin, handler: &PLUGIN }
        }

        /// Registers this plugin's scheme in `registry` (idempotent).
        pub fn register(registry: &::io_core::Registry) {
            registry.register(&REGISTRATION);
        }
    };
}
