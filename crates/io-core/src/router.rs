//! URL → scheme plugin → handler. Plugins register through `inventory` and through [`Registry::register`].

use std::collections::BTreeMap;
use std::sync::{OnceLock, RwLock};

use crate::artifacts::ModelArtifacts;
use crate::codec;
use crate::error::{Error, Result};
use crate::handler::{LoadHandler, ModelStore, SaveHandler};
use crate::info::{ModelArtifactsInfo, SaveResult};

/// A model URL split as TF.js splits it: `scheme://path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelUrl {
    /// The URL exactly as given.
    pub raw: String,
    /// Lower-case scheme without `://`, e.g. `indexeddb`.
    pub scheme: String,
    /// Everything after `://` (may contain `/`, may be empty).
    pub path: String,
}

impl ModelUrl {
    /// Splits `scheme://path`. A missing or malformed scheme is an [`Error::InvalidUrl`].
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
        Ok(ModelUrl { raw: url.to_string(), scheme: scheme.to_ascii_lowercase(), path: path.to_string() })
    }
}

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
    ("downloads", "downloads"),
    ("http", "http"),
    ("https", "http"),
    ("file", "file"),
];

/// The set of registered schemes, and the TF.js-style operations over them.
pub struct Registry {
    entries: RwLock<Vec<&'static SchemeRegistration>>,
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
        if !e.iter().any(|x| x.scheme == reg.scheme && x.plugin == reg.plugin) {
            e.push(reg);
        }
    }

    /// Registered schemes, sorted, each once.
    pub fn schemes(&self) -> Vec<String> {
        let mut v: Vec<String> = self.read().iter().map(|r| r.scheme.to_string()).collect();
        v.sort();
        v.dedup();
        v
    }

    /// `(scheme, plugin)` of every registration, sorted.
    pub fn registrations(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.read().iter().map(|r| (r.scheme.to_string(), r.plugin.to_string())).collect();
        v.sort();
        v
    }

    fn read(&self) -> Vec<&'static SchemeRegistration> {
        self.entries.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn plugins_for(&self, url: &ModelUrl) -> Result<Vec<&'static SchemeRegistration>> {
        let regs: Vec<_> = self.read().into_iter().filter(|r| r.scheme == url.scheme).collect();
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
        let u = ModelUrl::parse(url)?;
        let mut found = Vec::new();
        for reg in self.plugins_for(&u)? {
            if let Some(h) = make(reg.handler, &u)? {
                found.push((reg.plugin, h));
            }
        }
        one(found, &u, direction)
    }

    /// The store behind `scheme`, if a registered plugin of that scheme is one.
    pub fn store(&self, scheme: &str) -> Option<Box<dyn ModelStore>> {
        self.read().into_iter().filter(|r| r.scheme == scheme).find_map(|r| r.handler.store())
    }

    fn store_for(&self, url: &ModelUrl, operation: &'static str) -> Result<Box<dyn ModelStore>> {
        self.plugins_for(url)?;
        self.store(&url.scheme).ok_or_else(|| Error::Unsupported {
            operation,
            url: url.raw.clone(),
            reason: format!("'{}://' is not a model store (stores: {})", url.scheme, self.store_schemes().join(", ")),
        })
    }

    fn store_schemes(&self) -> Vec<String> {
        self.schemes().into_iter().filter(|s| self.store(s).is_some()).collect()
    }

    /// Saves `artifacts` to `url`.
    pub async fn save(&self, url: &str, artifacts: &ModelArtifacts) -> Result<SaveResult> {
        codec::layout(&artifacts.weight_specs, &artifacts.weight_data, &[]).map_err(|e| e.at(url))?;
        self.save_handler(url)?.save(artifacts).await
    }

    /// Loads the model at `url`; its weights are checked against its specs before it is returned.
    pub async fn load(&self, url: &str) -> Result<ModelArtifacts> {
        Self::load_with(url, self.load_handler(url)?.as_ref()).await
    }

    /// Loads with a handler built by hand (e.g. with options) for `url`, with the same check of the
    /// weights against their specs as [`Registry::load`].
    pub async fn load_with(url: &str, handler: &dyn LoadHandler) -> Result<ModelArtifacts> {
        let a = handler.load().await?;
        codec::layout(&a.weight_specs, &a.weight_data, &[]).map_err(|e| e.at(url))?;
        Ok(a)
    }

    /// Every model in every store that can list, keyed `scheme://path` (TF.js's `listModels`).
    pub async fn list_models(&self) -> Result<BTreeMap<String, ModelArtifactsInfo>> {
        let mut out = BTreeMap::new();
        for scheme in self.store_schemes() {
            if let Some(store) = self.store(&scheme).filter(|s| s.lists_everything()) {
                for (path, info) in store.list().await? {
                    out.insert(format!("{scheme}://{path}"), info);
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
    /// (without `scheme://`). Works for stores that cannot list everything, too.
    pub async fn list_under(&self, url: &str) -> Result<BTreeMap<String, ModelArtifactsInfo>> {
        let u = ModelUrl::parse(url)?;
        Ok(self.store_for(&u, "list")?.list_under(&u.path).await?.into_iter().collect())
    }

    /// Copies the model at `src` to `dst` (any scheme to any scheme): load, then save.
    pub async fn copy_model(&self, src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
        same_path_check(src, dst)?;
        let artifacts = self.load(src).await?;
        Ok(self.save(dst, &artifacts).await?.model_artifacts_info)
    }

    /// Moves the model at `src` to `dst` without ever losing it: within a store that can rename,
    /// one atomic rename; otherwise save to `dst` first and delete `src` only after that succeeded.
    pub async fn move_model(&self, src: &str, dst: &str) -> Result<ModelArtifactsInfo> {
        same_path_check(src, dst)?;
        let (s, d) = (ModelUrl::parse(src)?, ModelUrl::parse(dst)?);
        let src_store = self.store_for(&s, "move")?;
        if s.scheme == d.scheme && src_store.can_rename() {
            return src_store.rename(&s.path, &d.path).await;
        }
        let info = self.copy_model(src, dst).await?;
        src_store.remove(&s.path).await.map_err(|e| {
            Error::storage(
                "move",
                src,
                format!("the model was copied to '{dst}' but removing the source failed (both copies exist): {e}"),
            )
        })?;
        Ok(info)
    }

    /// Removes the model at `url`, returning its info.
    pub async fn remove_model(&self, url: &str) -> Result<ModelArtifactsInfo> {
        let u = ModelUrl::parse(url)?;
        self.store_for(&u, "remove")?.remove(&u.path).await
    }
}

fn same_path_check(src: &str, dst: &str) -> Result<()> {
    let (s, d) = (ModelUrl::parse(src)?, ModelUrl::parse(dst)?);
    if s.scheme == d.scheme && s.path == d.path {
        return Err(Error::SamePath(src.to_string()));
    }
    Ok(())
}

fn one<H: ?Sized>(mut found: Vec<(&'static str, Box<H>)>, url: &ModelUrl, direction: &'static str) -> Result<Box<H>> {
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
            plugins: found.iter().map(|(p, _)| p.to_string()).collect(),
        }),
    }
}

static GLOBAL: OnceLock<Registry> = OnceLock::new();

/// The process-wide registry, filled from `inventory` on first use. Plugins' `register` functions
/// add to it too (see the `modelio` facade, which calls them for every enabled feature).
pub fn global() -> &'static Registry {
    GLOBAL.get_or_init(Registry::from_inventory)
}

/// Registers a scheme in the process-wide registry (idempotent).
pub fn register(reg: &'static SchemeRegistration) {
    global().register(reg);
}
