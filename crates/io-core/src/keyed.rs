//! Model stores over media that can only get, put, list and delete bytes by key (object storage,
//! key-value stores, a map in memory): implement [`KeyValueStore`], and [`KeyedStore`] is the whole
//! scheme — [`Scheme`], [`SaveHandler`], [`LoadHandler`] and [`ModelStore`] — on the TF.js file
//! layout of [`crate::files`].
//!
//! # Layout
//!
//! A model named `NAME` (the URL's path, `/`-separated parts) is the object `NAME/model.json` (browser
//! key order, as the converter writes it) plus the weight objects its manifest names, next to it:
//! `NAME/{VERSION}.group1-shard{I}of{N}.bin`. `VERSION` is `{unix millis}-{12 hex digits}`, new for
//! every save, so a save never overwrites an object another model.json points at. Weights are
//! converter-style shards of at most 4 MiB ([`DEFAULT_SHARD_BYTES`], what `tensorflowjs_converter`
//! writes; the shards of a load are read [`KeyValueStore::concurrency`] at a time) unless the call's
//! [`Options::shard_size`] says otherwise. `dateSaved` is the version's time; for a model.json
//! written by another tool (unversioned weight names), the object's modification time.
//!
//! # Atomic saves without rename
//!
//! 1. The weight objects of the new version are put (a failure or cancellation deletes them again).
//! 2. Cancellation is checked a last time, and the current model.json is read to learn the weight
//!    objects of the previous version.
//! 3. `NAME/model.json` is put in one call — **the commit**: before it, loads see the previous
//!    model complete; after it, the new one. A failed commit deletes nothing (the put may have
//!    happened after all).
//! 4. After the commit: the previous version's objects are deleted, and so are version-named
//!    objects directly under `NAME/` that are at least [`KeyedStore::leftover_age`] (default one
//!    hour) older than this save — leftovers of crashed or failed saves. Younger ones may belong to
//!    a concurrent save of the same model that has not committed yet, so they are kept until a
//!    later save. Failures here are logged, not returned: the model is saved.
//!
//! A load reads model.json, then the objects it names ([`PathPolicy::Inside`]), each bounded by
//! what the manifest declares (a longer object fails, naming it). If a weight object is missing and
//! model.json changed meanwhile (a concurrent save collected it), the load starts over once.
//!
//! Removal deletes model.json first (the model disappears at once), then the objects it named, then
//! old leftovers. There is no rename: copies and moves take the registry's load-then-save path.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::artifacts::{ModelArtifacts, ModelJson};
use crate::error::{Error, Result};
use crate::files::{self, FileRequest, FileSource, PathPolicy, WeightFiles, MODEL_JSON};
use crate::handler::{LoadHandler, MaybeSendSync, ModelStore, SaveHandler};
use crate::info::{iso, ModelArtifactsInfo, SaveResult};
use crate::options::Options;
use crate::router::{Config, ModelUrl, Scheme};
use crate::weights::WeightData;

/// Default size of the weight shards a save writes: 4 MiB, as `tensorflowjs_converter` writes them.
pub const DEFAULT_SHARD_BYTES: usize = 4 << 20;

/// Default [`KeyedStore::leftover_age`]: one hour.
pub const DEFAULT_LEFTOVER_AGE: Duration = Duration::from_secs(3600);

/// One object of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The full key.
    pub key: String,
    /// Its length in bytes.
    pub size: u64,
    /// When it was last written, if the medium knows.
    pub last_modified: Option<SystemTime>,
}

/// A medium that stores bytes by key and can do nothing else: no rename, no transactions. Keys are
/// `/`-separated UTF-8 strings. Cloning must be cheap (share the client or map, e.g. in an `Arc`).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait KeyValueStore: MaybeSendSync + Clone + 'static {
    /// How `key` is named in errors (e.g. `s3://bucket/key`); the key itself by default.
    fn describe(&self, key: &str) -> String {
        key.to_string()
    }

    /// Reads the object `key` through `req`, which bounds it ([`FileSource::read`] says how:
    /// [`FileRequest::announce`] a known length first, [`FileRequest::take`] every chunk, or
    /// [`FileRequest::whole`] for bytes already in memory). A missing key is [`Error::NotFound`].
    async fn get(&self, key: &str, req: &FileRequest<'_>) -> Result<Bytes>;

    /// Writes the object `key` (replacing it) in one call: after it returns, a `get` sees all of
    /// `data` or, if it failed, the old object or all of `data` — never a part.
    async fn put(&self, key: &str, data: WeightData) -> Result<()>;

    /// Every object whose key starts with `prefix`, in any order.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>>;

    /// Deletes the object `key`; a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    /// How many gets or puts may run at once.
    fn concurrency(&self) -> usize {
        1
    }

    /// A store built from `config` (the keys it understands are in its docs), for
    /// [`Scheme::configure`]; by default, none.
    fn configure(&self, config: &Config) -> Result<Self>
    where
        Self: Sized,
    {
        let _ = config;
        Err(Error::Unsupported {
            operation: "configure",
            url: String::new(),
            reason: "this store takes no configuration".into(),
        })
    }
}

/// A [`KeyValueStore`] as a model store and scheme (see the module docs for the layout). Models are
/// named by the URL's path (`memory://team/model-1` is `team/model-1`).
#[derive(Clone, Debug)]
pub struct KeyedStore<S> {
    store: S,
    shard_bytes: usize,
    leftover_age: Duration,
}

impl<S: KeyValueStore> KeyedStore<S> {
    /// The store with the default shard size and leftover age (usable in a `static`).
    pub const fn new(store: S) -> Self {
        KeyedStore { store, shard_bytes: DEFAULT_SHARD_BYTES, leftover_age: DEFAULT_LEFTOVER_AGE }
    }

    /// Weight shards of at most `bytes` when a call's options name no shard size.
    pub const fn shard_size(mut self, bytes: usize) -> Self {
        self.shard_bytes = if bytes == 0 { 1 } else { bytes };
        self
    }

    /// How much older than a save a version-named object left by another save must be before that
    /// save deletes it (leftovers of crashes). Shorter than the longest save (or than the clock skew
    /// between writers) risks deleting the weights of a concurrent save before it commits.
    pub const fn leftover_age(mut self, age: Duration) -> Self {
        self.leftover_age = age;
        self
    }

    /// The medium.
    pub fn inner(&self) -> &S {
        &self.store
    }

    /// A save and load handler for the model `name`; `url` is named in errors.
    pub fn handler(&self, name: &str, url: &str) -> Result<KeyedHandler<S>> {
        check_name(name, url)?;
        Ok(KeyedHandler { models: self.clone(), dir: format!("{name}/"), url: url.to_string() })
    }

    fn source<'a>(&'a self, dir: &'a str) -> Source<'a, S> {
        Source { store: &self.store, dir }
    }

    /// The parsed model.json under `dir` and its raw bytes.
    async fn read_json(&self, dir: &str, url: &str, opts: &Options) -> Result<(Bytes, ModelJson)> {
        let src = self.source(dir);
        let bytes = files::read_model_json(&src, MODEL_JSON, url, opts).await?;
        let doc = ModelJson::parse(&bytes, &src.name(MODEL_JSON))?;
        Ok((bytes, doc))
    }

    /// Deletes `keys`, logging failures (cleanup never fails an operation that succeeded).
    async fn delete_quietly(&self, keys: impl IntoIterator<Item = String>) {
        for key in keys {
            if let Err(e) = self.store.delete(&key).await {
                tracing::warn!(key = %key, error = %e, "could not delete an unreferenced weight object");
            }
        }
    }

    /// Deletes `doomed` and the version-named objects directly under `dir` at least
    /// `leftover_age` older than `now_ms`, never one of `keep`.
    async fn collect(&self, dir: &str, keep: &HashSet<String>, doomed: Vec<String>, now_ms: u64) {
        let mut doomed: HashSet<String> = doomed.into_iter().collect();
        let age = u64::try_from(self.leftover_age.as_millis()).unwrap_or(u64::MAX);
        match self.store.list(dir).await {
            Ok(objects) => doomed.extend(objects.into_iter().map(|o| o.key).filter(|k| {
                k.strip_prefix(dir).is_some_and(|file| {
                    !file.contains('/') && version_ms(file).is_some_and(|ms| ms.saturating_add(age) <= now_ms)
                })
            })),
            Err(e) => tracing::warn!(dir = %dir, error = %e, "could not list leftovers"),
        }
        self.delete_quietly(doomed.into_iter().filter(|k| !keep.contains(k))).await;
    }

    /// The info of a model from its model.json and the listed sizes of its weight objects.
    fn info(&self, dir: &str, doc: &ModelJson, sizes: &HashMap<String, &ObjectMeta>) -> ModelArtifactsInfo {
        let paths: Vec<&String> = doc.weights_manifest.iter().flat_map(|g| &g.paths).collect();
        let date = match paths.iter().find_map(|p| version_ms(p)) {
            Some(ms) => UNIX_EPOCH + Duration::from_millis(ms),
            None => sizes.get(&format!("{dir}{MODEL_JSON}")).and_then(|m| m.last_modified).unwrap_or(UNIX_EPOCH),
        };
        let mut info = ModelArtifactsInfo::for_artifacts_at(&doc.artifacts, iso(date));
        let weight_bytes = paths.iter().filter_map(|p| sizes.get(&key(dir, p))).map(|m| m.size).sum();
        info.weight_data_bytes = Some(weight_bytes);
        info
    }

    async fn list_prefix(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let objects = self.store.list(prefix).await?;
        let sizes: HashMap<String, &ObjectMeta> = objects.iter().map(|o| (o.key.clone(), o)).collect();
        let mut out = Vec::new();
        for o in &objects {
            let Some(name) = o.key.strip_suffix(MODEL_JSON).and_then(|d| d.strip_suffix('/')) else { continue };
            let dir = format!("{name}/");
            match self.read_json(&dir, &self.store.describe(&o.key), &Options::new()).await {
                Ok((_, doc)) => out.push((name.to_string(), self.info(&dir, &doc, &sizes))),
                Err(Error::NotFound { .. }) => {} // removed since the listing
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

fn check_name(name: &str, url: &str) -> Result<()> {
    if name.is_empty() || name.split('/').any(|p| p.is_empty() || p == "." || p == "..") {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: format!("'{name}' is not a model name: one or more '/'-separated parts, none empty, '.' or '..'"),
        });
    }
    Ok(())
}

/// The key of the manifest path `path` of the model under `dir` (`./` parts dropped).
fn key(dir: &str, path: &str) -> String {
    let parts: Vec<&str> = path.split('/').filter(|p| *p != ".").collect();
    format!("{dir}{}", parts.join("/"))
}

/// A new save version: `{unix millis}-{12 hex digits}` (random per process, counter-mixed), and its millis.
fn new_version() -> (String, u64) {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = web_time::SystemTime::now().duration_since(web_time::UNIX_EPOCH).unwrap_or_default();
    let ms = u64::try_from(since.as_millis()).unwrap_or(u64::MAX);
    let mut h = RandomState::new().build_hasher();
    (COUNTER.fetch_add(1, Ordering::Relaxed), since.as_nanos()).hash(&mut h);
    (format!("{ms}-{:012x}", h.finish() & 0xffff_ffff_ffff), ms)
}

/// The millis of a version-named weight file (`{millis}-{12 hex}.{weight file name}`).
fn version_ms(file: &str) -> Option<u64> {
    let (version, rest) = file.split_once('.')?;
    let (ms, hex) = version.split_once('-')?;
    let ok = hex.len() == 12
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && files::is_weight_file_name(rest, "weights.bin");
    ok.then(|| ms.parse().ok()).flatten()
}

/// The model's folder as a [`FileSource`].
struct Source<'a, S> {
    store: &'a S,
    dir: &'a str,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: KeyValueStore> FileSource for Source<'_, S> {
    fn name(&self, path: &str) -> String {
        self.store.describe(&key(self.dir, path))
    }
    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
        self.store.get(&key(self.dir, req.path()), req).await
    }
    fn concurrency(&self) -> usize {
        self.store.concurrency()
    }
}

/// Saves and loads one model of a [`KeyedStore`].
pub struct KeyedHandler<S> {
    models: KeyedStore<S>,
    dir: String,
    url: String,
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: KeyValueStore> SaveHandler for KeyedHandler<S> {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (m, dir, url) = (&self.models, self.dir.as_str(), self.url.as_str());
        opts.check_cancelled("save", url)?;
        let (version, now_ms) = new_version();
        let shards = WeightFiles::Shards(opts.get_shard_size().unwrap_or(m.shard_bytes));
        let files = files::split_named(artifacts, url, files::KEYED, &shards, &format!("{version}."))?;
        let meter = opts.meter(Some(files.total_bytes()));
        let keys: Vec<String> = files.weights.iter().map(|(name, _)| key(dir, name)).collect();
        let meter = &meter;
        let puts: Vec<_> = files
            .weights
            .iter()
            .zip(&keys)
            .map(|((_, data), k)| async move {
                opts.check_cancelled("save", url)?;
                m.store.put(k, data.clone()).await?;
                meter.add(data.len() as u64);
                Ok::<_, Error>(())
            })
            .collect();
        let written = stream::iter(puts).buffer_unordered(m.store.concurrency().max(1)).try_collect::<Vec<()>>().await;
        if let Err(e) = written.and_then(|_| opts.check_cancelled("save", url)) {
            m.delete_quietly(keys).await;
            return Err(e);
        }
        let previous = match m.read_json(dir, url, &Options::new()).await {
            Ok((_, doc)) => doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| key(dir, p)).collect(),
            Err(_) => Vec::new(), // none, or unreadable: its objects are left to the leftover rule
        };
        m.store.put(&format!("{dir}{MODEL_JSON}"), WeightData::single(files.model_json.clone())).await?;
        meter.finish(files.total_bytes());
        m.collect(dir, &keys.into_iter().collect(), previous, now_ms).await;
        let date = iso(UNIX_EPOCH + Duration::from_millis(now_ms));
        Ok(SaveResult {
            model_artifacts_info: ModelArtifactsInfo::for_artifacts_at(artifacts, date),
            responses: Vec::new(),
        })
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: KeyValueStore> LoadHandler for KeyedHandler<S> {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (m, dir, url) = (&self.models, self.dir.as_str(), self.url.as_str());
        let (mut bytes, mut doc) = m.read_json(dir, url, opts).await?;
        let mut retried = false;
        loop {
            match files::assemble(doc, &m.source(dir), url, PathPolicy::Inside, opts).await {
                Err(e @ Error::NotFound { .. }) if !retried => {
                    // A concurrent save may have committed and collected the weights we were after.
                    let (b, d) = m.read_json(dir, url, opts).await?;
                    if b == bytes {
                        return Err(e);
                    }
                    (bytes, doc, retried) = (b, d, true);
                }
                other => return other,
            }
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: KeyValueStore> ModelStore for KeyedStore<S> {
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        self.list_prefix("").await
    }

    async fn list_under(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        // `P/` holds the model `P` (`P/model.json`) and every model under it.
        let prefix = prefix.trim_end_matches('/');
        self.list_prefix(&if prefix.is_empty() { String::new() } else { format!("{prefix}/") }).await
    }

    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        check_name(path, path)?;
        let dir = format!("{path}/");
        let objects = self.store.list(&dir).await?;
        let sizes: HashMap<String, &ObjectMeta> = objects.iter().map(|o| (o.key.clone(), o)).collect();
        let (_, doc) = self.read_json(&dir, &self.store.describe(&format!("{dir}{MODEL_JSON}")), &Options::new()).await?;
        let info = self.info(&dir, &doc, &sizes);
        self.store.delete(&format!("{dir}{MODEL_JSON}")).await?;
        let named = doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| key(&dir, p)).collect();
        let now_ms = new_version().1;
        self.collect(&dir, &HashSet::new(), named, now_ms).await;
        Ok(info)
    }
}

impl<S: KeyValueStore + Send + Sync> Scheme for KeyedStore<S> {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(self.handler(&url.path, &url.raw)?)))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(self.handler(&url.path, &url.raw)?)))
    }
    fn store(&self) -> Option<Box<dyn ModelStore>> {
        Some(Box::new(self.clone()))
    }
    /// A store configured by [`KeyValueStore::configure`], with this one's shard size and leftover age.
    fn configure(&self, config: &Config) -> Result<Arc<dyn Scheme>> {
        Ok(Arc::new(KeyedStore { store: self.store.configure(config)?, ..self.clone() }))
    }
}
