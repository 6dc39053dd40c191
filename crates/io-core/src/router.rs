//! URL → scheme plugin → handler. Plugins register through `inventory` and through [`Registry::register`].

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};

use tracing::Instrument;

use crate::artifacts::ModelArtifacts;
use crate::codec;
use crate::error::{Error, Result};
use crate::handler::{LoadHandler, ModelStore, SaveHandler};
use crate::info::{ModelArtifactsInfo, SaveResult};
use crate::options::Options;

/// Schemes whose URLs are hierarchical (RFC 3986) and are validated by the WHATWG URL parser, as
/// `object_store` and HTTP clients read them: the `url` crate natively, the JavaScript host's
/// `URL` on wasm32 (the same standard, without shipping the `url` crate and its IDNA tables,
/// about 45 KB of gzipped wasm; `fetch` parses the URL with it again anyway). `file://` keeps TF.js's literal split
/// (tfjs-node reads `file://./relative/dir` as a path, which is not a valid RFC 3986 URL); the
/// browser stores' opaque paths (`localstorage://a/b`) keep TF.js's split too.
pub const HIERARCHICAL_SCHEMES: &[&str] = &["http", "https", "s3", "gs", "az", "abfs", "azure"];

/// A model URL split as TF.js splits it: `scheme://path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelUrl {
    /// The URL exactly as given.
    pub raw: String,
    /// Lower-case scheme without `://`, e.g. `indexeddb`.
    pub scheme: String,
    /// Everything after `://` (may contain `/`, may be empty). For a URL that reached a mounted
    /// scheme ([`Registry::mount`]), the part after the mount's prefix.
    pub path: String,
}

impl ModelUrl {
    /// Splits `scheme://path`. A missing or malformed scheme, or a hierarchical URL the URL parser
    /// refuses (no host, bad port, ...), is an [`Error::InvalidUrl`].
    pub fn parse(url: &str) -> Result<Self> {
        let Some((scheme, path)) = url.split_once("://") else {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "expected SCHEME://PATH, e.g. 'file://./my-model' or 'indexeddb://my-model'".into(),
            });
        };
        let ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if !ok {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: format!("'{scheme}' is not a valid scheme"),
            });
        }
        let scheme = scheme.to_ascii_lowercase();
        if HIERARCHICAL_SCHEMES.contains(&scheme.as_str()) {
            check_hierarchical(url).map_err(|reason| Error::InvalidUrl { url: url.to_string(), reason })?;
        }
        Ok(ModelUrl { raw: url.to_string(), scheme, path: path.to_string() })
    }

    /// The same URL as seen by a scheme mounted at `prefix`: `path` becomes the rest after it.
    fn under_mount(&self, prefix: &str) -> ModelUrl {
        ModelUrl { path: self.raw[prefix.len()..].trim_start_matches('/').to_string(), ..self.clone() }
    }
}

/// Why the WHATWG URL parser refuses `url`, or that it has no host (or bucket).
fn check_hierarchical(url: &str) -> std::result::Result<(), String> {
    #[cfg(not(target_arch = "wasm32"))]
    let host = url::Url::parse(url).map_err(|e| format!("not a valid URL: {e}"))?.host_str().map(str::to_string);
    #[cfg(target_arch = "wasm32")]
    let host =
        Some(js::Url::new(url).map_err(|_| "not a valid URL (the URL parser refuses it)".to_string())?.hostname());
    match host {
        Some(h) if !h.is_empty() => Ok(()),
        _ => Err("the URL has no host (or bucket)".into()),
    }
}

/// The JavaScript host's `URL` (browsers, workers, Node).
#[cfg(target_arch = "wasm32")]
mod js {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        /// A parsed URL.
        #[wasm_bindgen(js_name = URL)]
        pub type Url;
        /// Parses `url`; throws a `TypeError` when it is not a valid absolute URL.
        #[wasm_bindgen(constructor, js_class = "URL", catch)]
        pub fn new(url: &str) -> Result<Url, JsValue>;
        /// The host name (empty when there is none).
        #[wasm_bindgen(method, getter)]
        pub fn hostname(this: &Url) -> String;
    }
}

/// Configuration of a scheme instance, as key-value pairs (`root`, `header.Authorization`, ...),
/// the way OpenDAL and `object_store` take a service's options.
pub type Config = BTreeMap<String, String>;

/// A scheme plugin: makes handlers for URLs of its scheme and, if it is a store, lists and removes.
pub trait Scheme: Send + Sync + 'static {
    /// A save handler for `url`, or `None` if this plugin does not save such URLs.
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>>;
    /// A load handler for `url`, or `None` if this plugin does not load such URLs.
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>>;
    /// The model store behind the scheme, for stores that can list and remove.
    fn store(&self) -> Option<Box<dyn ModelStore>> {
        None
    }
    /// A configured instance of this plugin (a store rooted at a folder, an http handler with
    /// headers), built from `config`; [`Registry::mount_configured`] mounts it at a URL prefix.
    /// The keys each plugin understands are in its docs; unknown keys are an error.
    fn configure(&self, config: &Config) -> Result<Arc<dyn Scheme>> {
        let _ = config;
        Err(Error::Unsupported {
            operation: "configure",
            url: String::new(),
            reason: "this plugin takes no configuration".into(),
        })
    }
}

/// One scheme offered by one plugin. Plugins submit these with `inventory::submit!` and also pass
/// them to [`Registry::register`] from their `register` function.
pub struct SchemeRegistration {
    /// Scheme without `://`, lower case.
    pub scheme: &'static str,
    /// Name of the plugin (its crate), used to make registration idempotent and in errors.
    pub plugin: &'static str,
    /// The plugin.
    pub handler: &'static dyn Scheme,
}

inventory::collect!(SchemeRegistration);

/// Schemes that modelio ships, and the `modelio` Cargo feature that enables each.
pub const KNOWN_SCHEMES: &[(&str, &str)] = &[
    ("localstorage", "localstorage"),
    ("indexeddb", "indexeddb"),
    ("opfs", "opfs"),
    ("downloads", "downloads"),
    ("http", "http"),
    ("https", "http"),
    ("file", "file"),
    ("safetensors", "safetensors"),
    ("zip", "zip"),
    ("s3", "s3"),
    ("gs", "gcs"),
    ("az", "azure"),
];

/// A registered scheme: a plugin's static registration, or a configured instance mounted at a prefix.
#[derive(Clone)]
struct Entry {
    scheme: String,
    plugin: String,
    handler: Handle,
    /// `Some(prefix)` for mounted instances: they take the URLs that start with it.
    mount: Option<String>,
}

#[derive(Clone)]
enum Handle {
    Static(&'static dyn Scheme),
    Shared(Arc<dyn Scheme>),
}

impl Handle {
    fn get(&self) -> &dyn Scheme {
        match self {
            Handle::Static(s) => *s,
            Handle::Shared(s) => s.as_ref(),
        }
    }
}

/// Where a URL goes: one mounted instance, or the plugins registered for its scheme.
enum Routed {
    Mounted(Entry, ModelUrl),
    Plugins(Vec<Entry>, ModelUrl),
}

/// The set of registered schemes, and the TF.js-style operations over them.
pub struct Registry {
    entries: RwLock<Vec<Entry>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl Registry {
    /// An empty registry (tests, or applications that want full control).
    pub fn new() -> Self {
        Registry { entries: RwLock::new(Vec::new()) }
    }

    /// A registry holding every registration submitted through `inventory` in the linked program.
    pub fn from_inventory() -> Self {
        let r = Self::new();
        for reg in inventory::iter::<SchemeRegistration> {
            r.register(reg);
        }
        r
    }

    /// Registers a scheme. Registering the same (scheme, plugin) again does nothing.
    pub fn register(&self, reg: &'static SchemeRegistration) {
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        if !e.iter().any(|x| x.mount.is_none() && x.scheme == reg.scheme && x.plugin == reg.plugin) {
            e.push(Entry {
                scheme: reg.scheme.to_string(),
                plugin: reg.plugin.to_string(),
                handler: Handle::Static(reg.handler),
                mount: None,
            });
        }
    }

    /// Mounts a configured scheme instance at a URL prefix (`"models://"`, `"file:///srv/models/"`,
    /// `"http://cdn.example/"`, or a whole scheme: `"http://"`), the way `object_store`'s registry maps URL prefixes to stores: URLs
    /// starting with `prefix` go to it, the longest matching prefix first, before any plugin of
    /// their scheme; the instance sees [`ModelUrl::path`] relative to the prefix. Mounting the same
    /// prefix again replaces the instance.
    pub fn mount(&self, prefix: &str, scheme: Arc<dyn Scheme>) -> Result<()> {
        // A bare `SCHEME://` mounts over a whole scheme (`http://` is not a URL of its own).
        let whole_scheme = prefix
            .strip_suffix("://")
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)));
        let scheme_name = match whole_scheme {
            Some(s) => s.to_ascii_lowercase(),
            None => ModelUrl::parse(prefix)?.scheme,
        };
        let mut e = self.entries.write().unwrap_or_else(|p| p.into_inner());
        e.retain(|x| x.mount.as_deref() != Some(prefix));
        e.push(Entry {
            scheme: scheme_name,
            plugin: format!("mount {prefix}"),
            handler: Handle::Shared(scheme),
            mount: Some(prefix.to_string()),
        });
        Ok(())
    }

    /// Builds a configured instance of the plugin registered for `plugin_scheme` (its
    /// [`Scheme::configure`]) and mounts it at `prefix` (OpenDAL-style: a service from a scheme and
    /// key-value options). E.g. `mount_configured("models://", "file", &[("root", "/srv/models")].into())`.
    pub fn mount_configured(&self, prefix: &str, plugin_scheme: &str, config: &Config) -> Result<()> {
        let probe =
            ModelUrl { raw: prefix.to_string(), scheme: plugin_scheme.to_ascii_lowercase(), path: String::new() };
        let entries = self.plugins_for(&probe)?;
        let [entry] = entries.as_slice() else {
            return Err(Error::MultipleHandlers {
                url: prefix.to_string(),
                direction: "configure",
                plugins: entries.iter().map(|e| e.plugin.clone()).collect(),
            });
        };
        let configured = entry.handler.get().configure(config).map_err(|e| match e {
            Error::Unsupported { operation, reason, .. } => {
                Error::Unsupported { operation, url: prefix.to_string(), reason }
            }
            other => other,
        })?;
        self.mount(prefix, configured)
    }

    /// Registered schemes (mounted ones included), sorted, each once.
    pub fn schemes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().iter().map(|r| r.scheme.clone()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// `(scheme, plugin)` of every registration, sorted (mounts appear as `mount PREFIX`).
    pub fn registrations(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.read().iter().map(|r| (r.scheme.clone(), r.plugin.clone())).collect();
        v.sort();
        v
    }

    fn read(&self) -> Vec<Entry> {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn plugins_for(&self, url: &ModelUrl) -> Result<Vec<Entry>> {
        let regs: Vec<_> = self.read().into_iter().filter(|r| r.mount.is_none() && r.scheme == url.scheme).collect();
        if regs.is_empty() {
            let registered = self.schemes();
            if let Some((_, feature)) = KNOWN_SCHEMES.iter().find(|(s, _)| *s == url.scheme) {
                return Err(Error::SchemeDisabled {
                    url: url.raw.clone(),
                    scheme: url.scheme.clone(),
                    feature: feature.to_string(),
                    registered,
                });
            }
            return Err(Error::UnsupportedScheme { url: url.raw.clone(), registered });
        }
        Ok(regs)
    }

    /// The path of `url` as its store sees it, and as [`Registry::list_under`] and
    /// [`Registry::list_models`]' stores key their models: for a URL under a mount, the part after
    /// the mount's prefix; else everything after `scheme://`.
    pub fn store_path(&self, url: &str) -> Result<String> {
        let u = ModelUrl::parse(url)?;
        Ok(match self.mount_of(&u) {
            Some(prefix) => u.under_mount(&prefix).path,
            None => u.path,
        })
    }

    /// The longest mount prefix `u` starts with.
    fn mount_of(&self, u: &ModelUrl) -> Option<String> {
        self.read()
            .into_iter()
            .filter_map(|e| e.mount)
            .filter(|p| u.raw.starts_with(p.as_str()))
            .max_by_key(String::len)
    }

    fn route(&self, url: &str) -> Result<Routed> {
        let u = ModelUrl::parse(url)?;
        let mounted = self
            .read()
            .into_iter()
            .filter(|e| e.mount.as_deref().is_some_and(|p| u.raw.starts_with(p)))
            .max_by_key(|e| e.mount.as_ref().map_or(0, String::len));
        match mounted {
            Some(e) => {
                let rel = u.under_mount(e.mount.as_deref().unwrap_or_default());
                Ok(Routed::Mounted(e, rel))
            }
            None => Ok(Routed::Plugins(self.plugins_for(&u)?, u)),
        }
    }

    /// The one save handler for `url` (TF.js's exactly-one-handler rule).
    pub fn save_handler(&self, url: &str) -> Result<Box<dyn SaveHandler>> {
        self.resolve(url, "save", |scheme, u| scheme.save_handler(u))
    }

    /// The one load handler for `url`.
    pub fn load_handler(&self, url: &str) -> Result<Box<dyn LoadHandler>> {
        self.resolve(url, "load", |scheme, u| scheme.load_handler(u))
    }

    fn resolve<H: ?Sized>(
        &self,
        url: &str,
        direction: &'static str,
        make: impl Fn(&dyn Scheme, &ModelUrl) -> Result<Option<Box<H>>>,
    ) -> Result<Box<H>> {
        let (entries, u) = match self.route(url)? {
            Routed::Mounted(e, u) => (vec![e], u),
            Routed::Plugins(es, u) => (es, u),
        };
        let mut found = Vec::new();
        for reg in &entries {
            if let Some(h) = make(reg.handler.get(), &u)? {
                found.push((reg.plugin.clone(), h));
            }
        }
        one(found, &u, direction)
    }

    /// The store behind `scheme` (not a mounted one), if a registered plugin of that scheme is one.
    pub fn store(&self, scheme: &str) -> Option<Box<dyn ModelStore>> {
        self.read()
            .into_iter()
            .filter(|r| r.mount.is_none() && r.scheme == scheme)
            .find_map(|r| r.handler.get().store())
    }

    /// The store a URL belongs to, the path inside it, and an identity (same identity = same store).
    fn store_for(&self, url: &str, operation: &'static str) -> Result<(Box<dyn ModelStore>, ModelUrl, String)> {
        let (store, u, id) = match self.route(url)? {
            Routed::Mounted(e, u) => (e.handler.get().store(), u, e.mount.clone().unwrap_or_default()),
            Routed::Plugins(es, u) => {
                (es.iter().find_map(|e| e.handler.get().store()), u.clone(), format!("{}://", u.scheme))
            }
        };
        let store = store.ok_or_else(|| Error::Unsupported {
            operation,
            url: u.raw.clone(),
            reason: format!("'{}://' is not a model store (stores: {})", u.scheme, self.store_schemes().join(", ")),
        })?;
        Ok((store, u, id))
    }

    fn store_schemes(&self) -> Vec<String> {
        self.schemes().into_iter().filter(|s| self.store(s).is_some()).collect()
    }

    /// Saves `artifacts` to `url`.
    pub async fn save(&self, url: &str, artifacts: &ModelArtifacts) -> Result<SaveResult> {
        self.save_with(url, artifacts, &Options::new()).await
    }

    /// Saves `artifacts` to `url` with per-call options (progress, cancellation, shard size,
    /// conversion ([`Options::convert`], applied here, before the handler), scheme-specific
    /// options). The weights are checked against their specs before anything is
    /// written. Emits a `modelio.save` tracing span (URL, bytes, duration).
    pub async fn save_with(&self, url: &str, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let span = tracing::info_span!("modelio.save", url = %url, bytes = artifacts.weight_data.len());
        async {
            let started = web_time::Instant::now();
            codec::layout(&artifacts.weight_specs, &artifacts.weight_data, &[]).map_err(|e| e.with_location(url))?;
            let converted;
            let artifacts = match opts.apply_conversion(artifacts) {
                Some(c) => {
                    converted = c.map_err(|e| e.with_location(url))?;
                    &converted
                }
                None => artifacts,
            };
            opts.check_cancelled("save", url)?;
            let result = self.save_handler(url)?.save(artifacts, opts).await;
            log_outcome("save", &result, started);
            result
        }
        .instrument(span)
        .await
    }

    /// Loads the model at `url`; its weights are checked against their specs before it is returned.
    pub async fn load(&self, url: &str) -> Result<ModelArtifacts> {
        self.load_with(url, &Options::new()).await
    }

    /// Loads the model at `url` with per-call options (progress, cancellation, limits,
    /// scheme-specific options). Emits a `modelio.load` tracing span (URL, bytes, duration).
    pub async fn load_with(&self, url: &str, opts: &Options) -> Result<ModelArtifacts> {
        let handler = self.load_handler(url)?;
        Self::load_from(url, handler.as_ref(), opts).await
    }

    /// Loads through a handler built by hand for `url`, with the same checks and tracing as
    /// [`Registry::load_with`].
    pub async fn load_from(url: &str, handler: &dyn LoadHandler, opts: &Options) -> Result<ModelArtifacts> {
        let span = tracing::info_span!("modelio.load", url = %url);
        async {
            let started = web_time::Instant::now();
            opts.check_cancelled("load", url)?;
            let result = handler.load(opts).await.and_then(|a| {
                codec::layout(&a.weight_specs, &a.weight_data, &[]).map_err(|e| e.with_location(url))?;
                Ok(a)
            });
            log_outcome("load", &result, started);
            result
        }
        .instrument(span)
        .await
    }

    /// Every model in every store that can list, keyed `scheme://path` (TF.js's `listModels`);
    /// mounted stores that list everything are keyed by their prefix.
    pub async fn list_models(&self) -> Result<BTreeMap<String, ModelArtifactsInfo>> {
        let mut out = BTreeMap::new();
        for scheme in self.store_schemes() {
            if let Some(store) = self.store(&scheme).filter(|s| s.lists_everything()) {
                for (path, info) in store.list().await? {
                    out.insert(format!("{scheme}://{path}"), info);
                }
            }
        }
        for e in self.read().into_iter().filter(|e| e.mount.is_some()) {
            let prefix = e.mount.as_deref().unwrap_or_default();
            if let Some(store) = e.handler.get().store().filter(|s| s.lists_everything()) {
                for (path, info) in store.list().await? {
                    out.insert(join_prefix(prefix, &path), info);
                }
            }
        }
        Ok(out)
    }

    /// Models of one store, keyed by path.
    pub async fn list_store(&self, scheme: &str) -> Result<BTreeMap<String, ModelArtifactsInfo>> {
        self.list_under(&format!("{scheme}://")).await
    }

    /// Models of a store under a URL prefix (`file://./models`, `indexeddb://team`), keyed by path
    /// (without `scheme://` or the mount prefix). Works for stores that cannot list everything, too.
    pub async fn list_under(&self, url: &str) -> Result<BTreeMap<String, ModelArtifactsInfo>> {
        let (store, u, _) = self.store_for(url, "list")?;
        Ok(store.list_under(&u.path).await?.into_iter().collect())
    }

    /// Deletes what interrupted saves and replaced versions left under `url` (a model or a folder of
    /// models) once `older_than` old: [`ModelStore::collect_garbage`] of its store.
    pub async fn collect_garbage(&self, url: &str, older_than: std::time::Duration) -> Result<crate::Collected> {
        let (store, u, _) = self.store_for(url, "gc")?;
        store.collect_garbage(&u.path, older_than).await
    }

    /// Copies the model at `src` to `dst` (any scheme to any scheme): load, then save.
    pub async fn copy_model(&self, src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
        self.copy_with(src, dst, &Options::new()).await
    }

    /// [`Registry::copy_model`] with options: progress is reported for the load, then for the
    /// save; cancellation stops either (the destination keeps what it had). Within one store that
    /// copies by itself ([`ModelStore::can_copy`]: a bucket's server-side copy), and with no
    /// conversion or shard size asked for, the store copies the model ([`ModelStore::copy`]; no
    /// bytes pass through this process, no progress is reported).
    pub async fn copy_with(&self, src: &str, dst: &str, opts: &Options) -> Result<ModelArtifactsInfo> {
        same_path_check(src, dst)?;
        if opts.get_conversion().is_none() && opts.get_shard_size().is_none() {
            if let Some((store, from, to)) = self.one_store(src, dst)?.filter(|(s, ..)| s.can_copy()) {
                opts.check_cancelled("copy", src)?;
                return store.copy(&from, &to).await;
            }
        }
        let artifacts = self.load_with(src, opts).await?;
        Ok(self.save_with(dst, &artifacts, opts).await?.model_artifacts_info)
    }

    /// Moves the model at `src` to `dst` without ever losing it: within a store that can rename,
    /// one atomic rename; otherwise save to `dst` first and delete `src` only after that succeeded.
    pub async fn move_model(&self, src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
        self.move_with(src, dst, &Options::new()).await
    }

    /// [`Registry::move_model`] with options (see [`Registry::copy_with`]). Cancellation before the
    /// source is deleted leaves the source in place. Two URLs naming one model of a store
    /// ([`ModelStore::same_model`]: `file://./m` and `file://m/`) are [`Error::SamePath`].
    pub async fn move_with(&self, src: &str, dst: &str, opts: &Options) -> Result<ModelArtifactsInfo> {
        same_path_check(src, dst)?;
        let (src_store, s, _) = self.store_for(src, "move")?;
        if let Some((store, from, to)) = self.one_store(src, dst)? {
            if store.same_model(&from, &to).await? {
                return Err(Error::SamePath(src.to_string()));
            }
            if store.can_rename() {
                opts.check_cancelled("move", src)?;
                return store.rename(&from, &to).await;
            }
        }
        let info = self.copy_with(src, dst, opts).await?;
        opts.check_cancelled("move", src).map_err(|_| {
            Error::storage("move", src, format!("cancelled after the copy to '{dst}': both copies exist"))
        })?;
        src_store.remove(&s.path).await.map_err(|e| {
            Error::storage(
                "move",
                src,
                format!("the model was copied to '{dst}' but removing the source failed (both copies exist): {e}"),
            )
        })?;
        Ok(info)
    }

    /// The store holding both `src` and `dst` (one mount, or one scheme's plugin store) and their
    /// paths in it; `None` when they are in different stores or `src` is in none.
    fn one_store(&self, src: &str, dst: &str) -> Result<Option<StoreAndPaths>> {
        let Ok((store, s, src_id)) = self.store_for(src, "copy") else { return Ok(None) };
        let (dst_id, d) = match self.route(dst)? {
            Routed::Mounted(e, u) => (e.mount.unwrap_or_default(), u),
            Routed::Plugins(_, u) => (format!("{}://", u.scheme), u),
        };
        Ok((src_id == dst_id).then_some((store, s.path, d.path)))
    }

    /// Removes the model at `url`, returning its info.
    pub async fn remove_model(&self, url: &str) -> Result<ModelArtifactsInfo> {
        let (store, u, _) = self.store_for(url, "remove")?;
        store.remove(&u.path).await
    }

    /// The model.json of the model at `url` as its store holds it, without its weights
    /// ([`ModelStore::read_model_json`]); `Ok(None)` when the store reads whole models only.
    pub async fn read_model_json(&self, url: &str) -> Result<Option<bytes::Bytes>> {
        let (store, u, _) = self.store_for(url, "read model.json")?;
        store.read_model_json(&u.path).await
    }

    /// One weight file of the model at `url`, at most `limit` bytes ([`ModelStore::read_file`]);
    /// `Ok(None)` when the store reads whole models only.
    pub async fn read_file(&self, url: &str, file: &str, limit: u64) -> Result<Option<bytes::Bytes>> {
        let (store, u, _) = self.store_for(url, "read a file")?;
        store.read_file(&u.path, file, limit).await
    }
}

/// A store and two model paths in it (source, destination).
type StoreAndPaths = (Box<dyn ModelStore>, String, String);

fn join_prefix(prefix: &str, path: &str) -> String {
    if prefix.ends_with('/') || path.is_empty() {
        format!("{prefix}{path}")
    } else {
        format!("{prefix}/{path}")
    }
}

fn log_outcome<T: ByteCount>(operation: &'static str, result: &Result<T>, started: web_time::Instant) {
    let ms = started.elapsed().as_secs_f64() * 1e3;
    match result {
        Ok(v) => tracing::info!(operation, bytes = v.byte_count(), duration_ms = ms, "done"),
        Err(e) => tracing::warn!(operation, error = %e, duration_ms = ms, "failed"),
    }
}

/// What a finished operation reports as its byte count in tracing.
trait ByteCount {
    fn byte_count(&self) -> u64;
}
impl ByteCount for ModelArtifacts {
    fn byte_count(&self) -> u64 {
        self.weight_data.len() as u64
    }
}
impl ByteCount for SaveResult {
    fn byte_count(&self) -> u64 {
        self.model_artifacts_info.weight_data_bytes.unwrap_or(0)
    }
}

fn same_path_check(src: &str, dst: &str) -> Result<()> {
    let (s, d) = (ModelUrl::parse(src)?, ModelUrl::parse(dst)?);
    if s.scheme == d.scheme && s.path == d.path {
        return Err(Error::SamePath(src.to_string()));
    }
    Ok(())
}

fn one<H: ?Sized>(mut found: Vec<(String, Box<H>)>, url: &ModelUrl, direction: &'static str) -> Result<Box<H>> {
    match found.len() {
        1 => Ok(found.pop().expect("one").1),
        0 => Err(Error::Unsupported {
            operation: direction,
            url: url.raw.clone(),
            reason: format!("the '{}://' plugin cannot {direction} this URL", url.scheme),
        }),
        _ => Err(Error::MultipleHandlers {
            url: url.raw.clone(),
            direction,
            plugins: found.iter().map(|(p, _)| p.clone()).collect(),
        }),
    }
}

static GLOBAL: OnceLock<Arc<Registry>> = OnceLock::new();

/// The process-wide registry, filled from `inventory` on first use. Plugins' `register` functions
/// add to it too (see the `modelio` facade, which calls them for every enabled feature).
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(|| Arc::new(Registry::from_inventory()))
}

/// The process-wide registry as a shared handle, for owners that also accept registries of their
/// own (a server's configuration) without leaking them.
pub fn global_shared() -> Arc<Registry> {
    global();
    GLOBAL.get().expect("initialized above").clone()
}

/// Registers a scheme in the process-wide registry (idempotent).
pub fn register(reg: &'static SchemeRegistration) {
    global().register(reg);
}
