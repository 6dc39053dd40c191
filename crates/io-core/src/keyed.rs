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
//! writes; the shards of a load are read [`KeyValueStore::read_concurrency`] at a time) unless the call's
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
//! 4. After the commit: the version-named objects directly under `NAME/` that belong to neither
//!    the new nor the previous version and are at least [`KeyedStore::leftover_age`] (default one
//!    hour) older than this save are deleted — versions two or more saves back, and leftovers of
//!    crashed or failed saves. The previous version is kept, so a reader that fetched the old
//!    model.json just before the commit can still fetch its weights (until a later save, and at
//!    least `leftover_age` after it was written); younger objects may belong to a concurrent save
//!    that has not committed yet. Failures here are logged, not returned: the model is saved.
//!
//! A load reads model.json, then the objects it names ([`PathPolicy::Inside`]), each bounded by
//! what the manifest declares (a longer object fails, naming it). If a weight object is missing and
//! model.json changed meanwhile (a concurrent save collected it), the load starts over once.
//!
//! Removal deletes model.json first (the model disappears at once), then the objects it named, then
//! old leftovers. There is no rename. On a medium that copies objects inside the service
//! ([`KeyValueStore::copies_in_place`]), a copy or move within the store ([`ModelStore::copy`])
//! copies the weight objects to new version-unique names under the destination (no bytes pass
//! through this process), then writes the destination's model.json naming them (the commit, as a
//! save's); elsewhere copies and moves take the registry's load-then-save path.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::artifacts::{ModelArtifacts, ModelJson};
use crate::error::{Error, Result};
use crate::files::{
    self, run_bounded, BoxedWork, FileRequest, FileSource, OnError, PathPolicy, WeightFiles, MODEL_JSON,
};
use crate::handler::{Collected, LoadHandler, MaybeSendSync, ModelStore, SaveHandler};
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

    /// How many gets a load runs at once: [`concurrency`](KeyValueStore::concurrency) unless the
    /// medium reads more in parallel than it should write (a get leaves nothing open behind it).
    fn read_concurrency(&self) -> usize {
        self.concurrency()
    }

    /// Copies the object `from` to `to` (replacing it) within this store. By default a get and a
    /// put, the bytes passing through this process ([`copy_through`]); a medium that copies inside
    /// the service overrides it and answers `true` to [`KeyValueStore::copies_in_place`].
    async fn copy(&self, from: &str, to: &str) -> Result<()> {
        copy_through(self, from, to).await
    }

    /// Whether [`KeyValueStore::copy`] copies inside the medium (no bytes through this process).
    /// Then [`KeyedStore`] copies models within the store object by object ([`ModelStore::copy`])
    /// instead of loading and saving them.
    fn copies_in_place(&self) -> bool {
        false
    }

    /// Whether `list("")` enumerates the whole store. A medium whose keys start with a part it cannot
    /// enumerate (an object store addressed as `s3://BUCKET/...` with no bucket chosen) answers
    /// `false`: [`ModelStore::lists_everything`] says so, and it lists only under a prefix.
    fn lists_everything(&self) -> bool {
        true
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

/// [`KeyValueStore::copy`]'s default: the object `from` read whole (no size limit), then put as `to`.
pub async fn copy_through<S: KeyValueStore>(store: &S, from: &str, to: &str) -> Result<()> {
    let src = Source { store, dir: "" };
    let bytes = files::read_whole(&src, from, &store.describe(from), u64::MAX, &Options::new()).await?;
    store.put(to, WeightData::single(bytes)).await
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

    /// The commit of a save or copy to `dir` whose new weight objects `written` are in place:
    /// `model_json` put in one call, then the collection of older versions and leftovers (the
    /// previous version, which the replaced model.json named, is kept).
    async fn commit(&self, dir: &str, url: &str, model_json: Bytes, written: Vec<String>, now_ms: u64) -> Result<()> {
        let previous = match self.read_json(dir, url, &Options::new()).await {
            Ok((_, doc)) => doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| key(dir, p)).collect(),
            Err(_) => Vec::new(), // none, or unreadable: its objects are left to the leftover rule
        };
        self.store.put(&format!("{dir}{MODEL_JSON}"), WeightData::single(model_json)).await?;
        // The previous version stays (a reader that fetched the old model.json can still fetch its
        // weights): it is collected by a later save, once it is two versions back and old enough.
        self.collect(dir, &written.into_iter().chain(previous).collect(), Vec::new(), now_ms).await;
        Ok(())
    }

    /// [`ModelStore::copy`]: the weight objects of `from` copied by the medium to new version-unique
    /// names under `to` (at most [`KeyValueStore::concurrency`] at once; a failure deletes the
    /// copies again), then `to`'s model.json (the source's, naming the copies) as the commit.
    async fn copy_model(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        check_name(from, from)?;
        check_name(to, to)?;
        let (src, dst) = (format!("{from}/"), format!("{to}/"));
        let src_url = self.store.describe(&format!("{src}{MODEL_JSON}"));
        let (bytes, doc) = self.read_json(&src, &src_url, &Options::new()).await?;
        files::check_paths(&doc.weights_manifest, PathPolicy::Inside, &src_url)?;
        let (version, now_ms) = new_version();
        let mut pairs = Vec::new();
        let renamed = crate::json::rename_manifest_paths(&bytes, |gi, pi, n, path| {
            let name = format!("{version}.group{}-shard{}of{n}.bin", gi + 1, pi + 1);
            pairs.push((key(&src, path), key(&dst, &name)));
            name
        });
        let model_json = Bytes::from(
            renamed.map_err(|e| Error::invalid_model(&src_url, format!("model.json is not valid JSON: {e}")))?,
        );
        let written: Vec<String> = pairs.iter().map(|(_, t)| t.clone()).collect();
        let copies: Vec<BoxedWork<'_>> = pairs.iter().map(|(f, t)| self.store.copy(f, t)).collect();
        if let Err(e) = run_bounded(copies, self.store.concurrency(), OnError::Finish).await {
            self.delete_quietly(written).await;
            return Err(e);
        }
        let dst_url = self.store.describe(&format!("{dst}{MODEL_JSON}"));
        self.commit(&dst, &dst_url, model_json.clone(), written, now_ms).await?;
        let copy = ModelJson::parse(&model_json, &dst_url)?;
        let objects = self.store.list(&dst).await?;
        let sizes = Sizes::of(&objects);
        Ok(self.info(&dst, &copy, &sizes))
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
    fn info(&self, dir: &str, doc: &ModelJson, sizes: &Sizes<'_>) -> ModelArtifactsInfo {
        let paths: Vec<&String> = doc.weights_manifest.iter().flat_map(|g| &g.paths).collect();
        let date = match paths.iter().find_map(|p| version_ms(p)) {
            Some(ms) => UNIX_EPOCH + Duration::from_millis(ms),
            None => sizes.get(format!("{dir}{MODEL_JSON}")).and_then(|m| m.last_modified).unwrap_or(UNIX_EPOCH),
        };
        let mut info = ModelArtifactsInfo::for_artifacts_at(&doc.artifacts, iso(date));
        let weight_bytes = paths.iter().filter_map(|p| sizes.get(key(dir, p))).map(|m| m.size).sum();
        info.weight_data_bytes = Some(weight_bytes);
        info
    }

    async fn list_prefix(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let objects = self.store.list(prefix).await?;
        let sizes = Sizes::of(&objects);
        // Names sorted before reading (a sort of `String`s, which the wasm has anyway, not one of
        // pairs: a second copy of the sort).
        let mut names: Vec<String> = objects
            .iter()
            .filter_map(|o| Some(o.key.strip_suffix(MODEL_JSON)?.strip_suffix('/')?.to_string()))
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let dir = format!("{name}/");
            match self.read_json(&dir, &self.store.describe(&format!("{dir}{MODEL_JSON}")), &Options::new()).await {
                Ok((_, doc)) => {
                    let info = self.info(&dir, &doc, &sizes);
                    out.push((name, info));
                }
                Err(Error::NotFound { .. }) => {} // removed since the listing
                Err(e) => return Err(e),
            }
        }
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
    let random = RandomState::new().hash_one((COUNTER.fetch_add(1, Ordering::Relaxed), since.as_nanos()));
    (format!("{ms}-{:012x}", random & 0xffff_ffff_ffff), ms)
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
        self.store.read_concurrency()
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
            .map(|((_, data), k)| -> BoxedWork<'_> {
                Box::pin(async move {
                    opts.check_cancelled("save", url)?;
                    m.store.put(k, data.clone()).await?;
                    meter.add(data.len() as u64);
                    Ok(())
                })
            })
            .collect();
        let written = run_bounded(puts, m.store.concurrency(), OnError::Finish).await;
        if let Err(e) = written.and_then(|_| opts.check_cancelled("save", url)) {
            m.delete_quietly(keys).await;
            return Err(e);
        }
        m.commit(dir, url, files.model_json.clone(), keys, now_ms).await?;
        meter.finish(files.total_bytes());
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

    fn lists_everything(&self) -> bool {
        self.store.lists_everything()
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
        let sizes = Sizes::of(&objects);
        let (_, doc) =
            self.read_json(&dir, &self.store.describe(&format!("{dir}{MODEL_JSON}")), &Options::new()).await?;
        let info = self.info(&dir, &doc, &sizes);
        self.store.delete(&format!("{dir}{MODEL_JSON}")).await?;
        let named = doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| key(&dir, p)).collect();
        let now_ms = new_version().1;
        self.collect(&dir, &HashSet::new(), named, now_ms).await;
        Ok(info)
    }

    async fn collect_garbage(&self, prefix: &str, older_than: Duration) -> Result<Collected> {
        self.gc(prefix, older_than).await
    }

    async fn read_model_json(&self, path: &str) -> Result<Option<Bytes>> {
        check_name(path, path)?;
        let dir = format!("{path}/");
        let url = self.store.describe(&format!("{dir}{MODEL_JSON}"));
        files::read_model_json(&self.source(&dir), MODEL_JSON, &url, &Options::new()).await.map(Some)
    }

    async fn read_file(&self, path: &str, file: &str, limit: u64) -> Result<Option<Bytes>> {
        check_name(path, path)?;
        let dir = format!("{path}/");
        let url = self.store.describe(&key(&dir, file));
        files::check_inside(file, &url)?;
        files::read_whole(&self.source(&dir), file, &url, limit, &Options::new()).await.map(Some)
    }

    /// Where the medium copies objects inside the service ([`KeyValueStore::copies_in_place`]).
    fn can_copy(&self) -> bool {
        self.store.copies_in_place()
    }

    async fn copy(&self, from: &str, to: &str) -> Result<ModelArtifactsInfo> {
        self.copy_model(from, to).await
    }
}

impl<S: KeyValueStore> KeyedStore<S> {
    /// [`ModelStore::collect_garbage`]: under every folder below `prefix`, the version-named objects
    /// that its model.json does not name, at least `older_than` old, except the newest version
    /// older than the current one (the previous version, which readers may still hold).
    async fn gc(&self, prefix: &str, older_than: Duration) -> Result<Collected> {
        let prefix = prefix.trim_end_matches('/');
        let objects = self.store.list(&if prefix.is_empty() { String::new() } else { format!("{prefix}/") }).await?;
        let now_ms = new_version().1;
        let age = u64::try_from(older_than.as_millis()).unwrap_or(u64::MAX);
        // Folder → its version-named objects (key, version millis, size).
        // (A `&str → index` map, the one type io-downloads uses too: one hash table instantiation
        // less in the wasm.)
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut dirs: Vec<(&str, Vec<Versioned<'_>>)> = Vec::new();
        for o in &objects {
            let (dir, file) = o.key.rsplit_once('/').map_or(("", o.key.as_str()), |(d, f)| (d, f));
            if let Some(ms) = version_ms(file) {
                let i = *index.entry(dir).or_insert_with(|| {
                    dirs.push((dir, Vec::new()));
                    dirs.len() - 1
                });
                dirs[i].1.push((&o.key, ms, o.size));
            }
        }
        let mut out = Collected::default();
        for (dir, versioned) in dirs {
            let dir = format!("{dir}/");
            let named: HashSet<String> = match self.read_json(&dir, &self.store.describe(&dir), &Options::new()).await {
                Ok((_, doc)) => doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| key(&dir, p)).collect(),
                Err(Error::NotFound { .. }) => HashSet::new(),
                // An unreadable model.json: its objects cannot be told apart; leave the folder alone.
                Err(e) => {
                    tracing::warn!(dir = %dir, error = %e, "gc skips a folder whose model.json cannot be read");
                    continue;
                }
            };
            let current = versioned.iter().filter(|(k, ..)| named.contains(*k)).map(|v| v.1).max();
            let previous = current
                .and_then(|c| versioned.iter().filter(|(k, ms, _)| !named.contains(*k) && *ms < c).map(|v| v.1).max());
            for (k, ms, size) in versioned {
                if named.contains(k) || Some(ms) == previous || ms.saturating_add(age) > now_ms {
                    continue;
                }
                self.store.delete(k).await?;
                out.objects.push(k.to_string());
                out.bytes += size;
            }
        }
        out.objects.sort();
        Ok(out)
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

/// A version-named object of a folder: key, version millis, size.
type Versioned<'a> = (&'a str, u64, u64);

/// The listed objects by key. A `String → index` map (the type io-core's metadata uses too), not
/// a map of references: one hash table instantiation less in the wasm a web app downloads.
struct Sizes<'a> {
    objects: &'a [ObjectMeta],
    index: HashMap<String, usize>,
}

impl<'a> Sizes<'a> {
    fn of(objects: &'a [ObjectMeta]) -> Self {
        Sizes { objects, index: objects.iter().enumerate().map(|(i, o)| (o.key.clone(), i)).collect() }
    }

    fn get(&self, key: String) -> Option<&'a ObjectMeta> {
        self.index.get(&key).map(|&i| &self.objects[i])
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::artifacts::{DType, WeightSpec};
    use crate::options::Cancel;

    /// A map that logs every put and delete and can be told to fail puts.
    #[derive(Clone, Default)]
    struct Logged {
        objects: Arc<Mutex<BTreeMap<String, Bytes>>>,
        ops: Arc<Mutex<Vec<String>>>,
        fail_put: Arc<Mutex<Option<&'static str>>>,
        /// Read as a stream of unknown length (no announced size).
        stream: bool,
        /// Copies objects itself (`copies_in_place`), logging `copy FROM -> TO`.
        in_place: bool,
        /// `read_concurrency` when set (else `concurrency`, 1); each get then yields once to the
        /// executor, so gets overlap as far as the load lets them.
        reads_at_once: Option<usize>,
        /// `concurrency` when set (else 1).
        writes_at_once: Option<usize>,
        /// Gets and puts running now, and the most seen at once: `[gets, most gets, puts, most puts]`.
        running: Arc<[std::sync::atomic::AtomicUsize; 4]>,
    }

    /// Counts one running operation in `running[now]` (and its high mark in `running[now + 1]`)
    /// while it lives.
    struct Running<'a>(&'a [std::sync::atomic::AtomicUsize; 4], usize);

    impl<'a> Running<'a> {
        fn start(running: &'a [std::sync::atomic::AtomicUsize; 4], now: usize) -> Self {
            let n = running[now].fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            running[now + 1].fetch_max(n, std::sync::atomic::Ordering::SeqCst);
            Running(running, now)
        }
    }

    impl Drop for Running<'_> {
        fn drop(&mut self) {
            self.0[self.1].fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// Returns `Pending` once (waking itself), so other futures of the same task get polled.
    async fn yield_once() {
        let mut yielded = false;
        futures::future::poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                std::task::Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    impl Logged {
        fn keys(&self) -> Vec<String> {
            self.objects.lock().unwrap().keys().cloned().collect()
        }
        fn take_ops(&self) -> Vec<String> {
            std::mem::take(&mut *self.ops.lock().unwrap())
        }
        fn fail_puts_ending(&self, suffix: Option<&'static str>) {
            *self.fail_put.lock().unwrap() = suffix;
        }
    }

    #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
    #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
    impl KeyValueStore for Logged {
        fn describe(&self, key: &str) -> String {
            format!("logged://{key}")
        }
        async fn get(&self, key: &str, req: &FileRequest<'_>) -> Result<Bytes> {
            let _running = Running::start(&self.running, 0);
            yield_once().await;
            let found = self.objects.lock().unwrap().get(key).cloned();
            let bytes = found.ok_or_else(|| Error::not_found(self.describe(key)))?;
            if self.stream {
                req.read_from(&mut &bytes[..], None)
            } else {
                req.whole(bytes)
            }
        }
        async fn put(&self, key: &str, data: WeightData) -> Result<()> {
            let _running = Running::start(&self.running, 2);
            yield_once().await;
            if self.fail_put.lock().unwrap().is_some_and(|s| key.ends_with(s)) {
                return Err(Error::storage("logged", key, "injected failure"));
            }
            self.ops.lock().unwrap().push(format!("put {key}"));
            self.objects.lock().unwrap().insert(key.to_string(), data.to_bytes());
            Ok(())
        }
        async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
            let objects = self.objects.lock().unwrap();
            let under = objects.iter().filter(|(k, _)| k.starts_with(prefix));
            Ok(under.map(|(k, v)| ObjectMeta { key: k.clone(), size: v.len() as u64, last_modified: None }).collect())
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.ops.lock().unwrap().push(format!("delete {key}"));
            self.objects.lock().unwrap().remove(key);
            Ok(())
        }
        async fn copy(&self, from: &str, to: &str) -> Result<()> {
            if !self.in_place {
                return copy_through(self, from, to).await;
            }
            let found = self.objects.lock().unwrap().get(from).cloned();
            let bytes = found.ok_or_else(|| Error::not_found(self.describe(from)))?;
            self.ops.lock().unwrap().push(format!("copy {from} -> {to}"));
            self.objects.lock().unwrap().insert(to.to_string(), bytes);
            Ok(())
        }
        fn copies_in_place(&self) -> bool {
            self.in_place
        }
        fn read_concurrency(&self) -> usize {
            self.reads_at_once.unwrap_or_else(|| self.concurrency())
        }
        fn concurrency(&self) -> usize {
            self.writes_at_once.unwrap_or(1)
        }
    }

    fn model(n: usize, tag: u64) -> ModelArtifacts {
        let data: Vec<u8> = (0..n * 4).map(|i| (i as u64 + tag) as u8).collect();
        let mut m = ModelArtifacts::new(
            serde_json::json!({"a": 1}),
            vec![WeightSpec::new("w", vec![n], DType::Float32)],
            WeightData::single(data),
        );
        m.user_defined_metadata = Some(serde_json::json!({ "tag": tag }).into());
        m
    }

    fn tag(m: &ModelArtifacts) -> u64 {
        m.user_defined_metadata.as_ref().and_then(|v| v.to_value()["tag"].as_u64()).expect("tag")
    }

    fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
        futures::executor::block_on(f)
    }

    /// Shards of 16 bytes: a model of n floats has ceil(4n / 16) weight objects.
    fn sharded() -> Options {
        Options::new().shard_size(16)
    }

    fn save(s: &KeyedStore<Logged>, name: &str, m: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        block_on(s.handler(name, &format!("t://{name}"))?.save(m, opts))
    }

    fn load(s: &KeyedStore<Logged>, name: &str) -> Result<ModelArtifacts> {
        block_on(s.handler(name, &format!("t://{name}"))?.load(&Options::new()))
    }

    fn weight_keys(s: &KeyedStore<Logged>, name: &str) -> Vec<String> {
        s.inner().keys().into_iter().filter(|k| k.starts_with(&format!("{name}/")) && k.ends_with(".bin")).collect()
    }

    #[test]
    fn weights_first_then_model_json_and_the_previous_version_is_kept() {
        let s = KeyedStore::new(Logged::default());
        save(&s, "m", &model(8, 1), &sharded()).unwrap();
        let old = weight_keys(&s, "m");
        assert_eq!(old.len(), 2, "{old:?}");
        s.inner().take_ops();

        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let opts = sharded().on_progress(move |p| sink.lock().unwrap().push(p));
        let res = save(&s, "m", &model(12, 2), &opts).unwrap();
        let ops = s.inner().take_ops();
        let commit = ops.iter().position(|o| o == "put m/model.json").expect("model.json written");
        let new: Vec<String> = weight_keys(&s, "m").into_iter().filter(|k| !old.contains(k)).collect();
        assert_eq!(new.len(), 3, "{new:?}");
        for k in &new {
            assert!(ops.iter().position(|o| *o == format!("put {k}")).unwrap() < commit, "{ops:?}");
        }
        assert!(!ops.iter().any(|o| o.starts_with("delete")), "the previous version is kept: {ops:?}");
        assert_eq!(weight_keys(&s, "m").len(), old.len() + new.len());
        assert_eq!(ops.len(), 3 + 1, "{ops:?}");
        assert_eq!(tag(&load(&s, "m").unwrap()), 2);
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(last.total, Some(last.bytes));
        // Names: NAME/{millis}-{12 hex}.group1-shard{I}of{N}.bin, dated by the version.
        let file = new[0].strip_prefix("m/").unwrap();
        let ms = version_ms(file).expect("versioned");
        assert!(file.ends_with(".group1-shard1of3.bin"), "{file}");
        assert_eq!(res.model_artifacts_info.date_saved, iso(UNIX_EPOCH + Duration::from_millis(ms)));
    }

    #[test]
    fn the_previous_version_stays_until_a_later_save() {
        let s = KeyedStore::new(Logged::default()).leftover_age(Duration::ZERO);
        save(&s, "m", &model(8, 1), &sharded()).unwrap();
        let v1 = weight_keys(&s, "m");
        save(&s, "m", &model(8, 2), &sharded()).unwrap();
        let v2: Vec<String> = weight_keys(&s, "m").into_iter().filter(|k| !v1.contains(k)).collect();
        assert!(v1.iter().all(|k| s.inner().keys().contains(k)), "the previous version is kept");
        save(&s, "m", &model(8, 3), &sharded()).unwrap();
        let now = weight_keys(&s, "m");
        assert!(v1.iter().all(|k| !now.contains(k)), "two versions back: collected ({now:?})");
        assert!(v2.iter().all(|k| now.contains(k)), "the previous version is kept ({now:?})");
        assert_eq!(now.len(), 4);
        assert_eq!(tag(&load(&s, "m").unwrap()), 3);
    }

    #[test]
    fn gc_collects_leftovers_and_old_versions_but_never_the_current_or_previous_one() {
        let s = KeyedStore::new(Logged::default());
        for t in 1..=3 {
            save(&s, "m", &model(8, t), &sharded()).unwrap();
            std::thread::sleep(Duration::from_millis(3)); // versions are ordered by their millis
        }
        save(&s, "team/n", &model(2, 9), &Options::new()).unwrap();
        let crashed = "m/1000-0123456789ab.group1-shard1of1.bin".to_string();
        let orphan = "gone/1000-0123456789ab.group1-shard1of1.bin".to_string(); // a first save that crashed
        for k in [&crashed, &orphan] {
            s.inner().objects.lock().unwrap().insert(k.clone(), Bytes::from_static(b"xyz"));
        }
        let all = weight_keys(&s, "m");
        assert_eq!(all.len(), 3 * 2 + 1, "three versions kept by a 1 h leftover age, plus the crash: {all:?}");
        // An hour: the old crash and orphan go (their versions date from 1970), the young versions stay.
        let got = block_on(s.gc("", Duration::from_secs(3600))).unwrap();
        assert_eq!(got, Collected { objects: vec![orphan.clone(), crashed.clone()], bytes: 6 });
        assert_eq!(weight_keys(&s, "m").len(), 6);
        // No age limit: version 1 of m goes too; the current and previous versions stay.
        let got = block_on(s.gc("", Duration::ZERO)).unwrap();
        assert_eq!(got.objects.len(), 2, "version 1 of m: {got:?}");
        assert!(got.objects.iter().all(|k| all.contains(k)), "{got:?}");
        assert_eq!(tag(&load(&s, "m").unwrap()), 3);
        assert_eq!(weight_keys(&s, "m").len(), 4, "current and previous versions kept");
        assert_eq!(tag(&load(&s, "team/n").unwrap()), 9);
        // A prefix limits it.
        s.inner().objects.lock().unwrap().insert(crashed.clone(), Bytes::from_static(b"xyz"));
        assert!(block_on(s.gc("team", Duration::ZERO)).unwrap().objects.is_empty());
        assert_eq!(block_on(s.gc("m", Duration::ZERO)).unwrap().objects, vec![crashed]);
    }

    #[test]
    fn a_failed_commit_keeps_the_previous_model_and_the_next_save_collects_the_leftovers() {
        let s = KeyedStore::new(Logged::default()).leftover_age(Duration::ZERO);
        save(&s, "m", &model(8, 1), &sharded()).unwrap();
        let v1 = weight_keys(&s, "m");

        s.inner().fail_puts_ending(Some("model.json"));
        let e = save(&s, "m", &model(8, 2), &sharded()).unwrap_err();
        assert!(e.to_string().contains("injected failure"), "{e}");
        assert_eq!(tag(&load(&s, "m").unwrap()), 1, "the previous model still loads");
        let crashed: Vec<String> = weight_keys(&s, "m").into_iter().filter(|k| !v1.contains(k)).collect();
        assert_eq!(crashed.len(), 2, "a failed commit deletes nothing (the put may have landed)");

        s.inner().fail_puts_ending(None);
        save(&s, "m", &model(8, 3), &sharded()).unwrap();
        let now = weight_keys(&s, "m");
        assert!(now.iter().all(|k| !crashed.contains(k)), "the leftovers are collected: {now:?}");
        assert!(v1.iter().all(|k| now.contains(k)), "v1 was the committed previous version: kept ({now:?})");
        assert_eq!(now.len(), 4);
        assert_eq!(tag(&load(&s, "m").unwrap()), 3);
    }

    #[test]
    fn a_failed_weight_put_or_a_cancel_before_the_commit_writes_nothing_that_stays() {
        let s = KeyedStore::new(Logged::default());
        save(&s, "m", &model(8, 1), &sharded()).unwrap();
        let before = s.inner().keys();
        s.inner().take_ops();

        s.inner().fail_puts_ending(Some("shard2of3.bin"));
        save(&s, "m", &model(12, 2), &sharded()).unwrap_err();
        assert_eq!(s.inner().keys(), before);

        s.inner().fail_puts_ending(None);
        let cancel = Cancel::new();
        let c = cancel.clone();
        let opts = sharded().cancel_with(cancel).on_progress(move |_| c.cancel());
        let e = save(&s, "m", &model(12, 2), &opts).unwrap_err();
        assert!(matches!(e, Error::Cancelled { operation: "save", .. }), "{e}");
        assert_eq!(s.inner().keys(), before);
        assert!(!s.inner().take_ops().contains(&"put m/model.json".to_string()));
        assert_eq!(tag(&load(&s, "m").unwrap()), 1);
    }

    #[test]
    fn recent_leftovers_and_nested_models_are_kept_old_leftovers_collected() {
        let s = KeyedStore::new(Logged::default());
        save(&s, "m/sub", &model(2, 7), &Options::new()).unwrap();
        let (_, now_ms) = new_version();
        let old = "m/1000-0123456789ab.group1-shard1of1.bin".to_string();
        // A concurrent save of `m` that has not committed yet: younger than the leftover age.
        let pending = format!("m/{now_ms}-0123456789ab.group1-shard1of1.bin");
        let foreign = "m/notes.txt".to_string();
        for k in [&old, &pending, &foreign] {
            s.inner().objects.lock().unwrap().insert(k.clone(), Bytes::from_static(b"x"));
        }
        save(&s, "m", &model(2, 1), &Options::new()).unwrap();
        let keys = s.inner().keys();
        assert!(!keys.contains(&old), "{keys:?}");
        assert!(keys.contains(&pending) && keys.contains(&foreign), "{keys:?}");
        assert_eq!(tag(&load(&s, "m/sub").unwrap()), 7, "a nested model is not a leftover");
    }

    #[test]
    fn list_and_remove() {
        let s = KeyedStore::new(Logged::default());
        let a = save(&s, "a", &model(3, 1), &sharded()).unwrap().model_artifacts_info;
        let b = save(&s, "team/b", &model(5, 2), &Options::new()).unwrap().model_artifacts_info;
        let all = block_on(s.list()).unwrap();
        assert_eq!(all, [("a".to_string(), a.clone()), ("team/b".to_string(), b.clone())]);
        let team = block_on(s.list_under("team/")).unwrap();
        assert_eq!(team, [("team/b".to_string(), b)]);
        assert!(block_on(s.list_under("te")).unwrap().is_empty());

        s.inner().take_ops();
        assert_eq!(block_on(s.remove("a")).unwrap(), a);
        let ops = s.inner().take_ops();
        assert_eq!(ops[0], "delete a/model.json", "the model disappears first: {ops:?}");
        assert_eq!(ops.len(), 1 + 1, "{ops:?}");
        assert!(s.inner().keys().iter().all(|k| k.starts_with("team/")));
        assert!(matches!(load(&s, "a"), Err(Error::NotFound { .. })));
        assert!(matches!(block_on(s.remove("a")), Err(Error::NotFound { .. })));
        assert!(matches!(block_on(s.remove("../x")), Err(Error::InvalidUrl { .. })));
    }

    #[test]
    fn loads_read_at_the_read_concurrency_and_saves_write_at_the_concurrency() {
        let s = KeyedStore::new(Logged { reads_at_once: Some(3), ..Logged::default() });
        let m = model(40, 1); // 160 bytes: 10 shards of 16
        save(&s, "m", &m, &sharded()).unwrap();
        assert_eq!(weight_keys(&s, "m").len(), 10);
        assert_eq!(tag(&load(&s, "m").unwrap()), 1);
        let most = |i: usize| s.inner().running[i].load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!((most(1), most(3)), (3, 1), "most gets and most puts at once");
        // Without an override, reads follow `concurrency` (1).
        let one = KeyedStore::new(Logged::default());
        save(&one, "m", &m, &sharded()).unwrap();
        load(&one, "m").unwrap();
        assert_eq!(one.inner().running[1].load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A put that fails stops the save from starting more, lets the ones running end (their
    /// objects are then deleted with the rest: none is left half-written or written after the
    /// cleanup), and the previous model stays.
    #[test]
    fn a_failed_put_lets_the_running_ones_end_then_deletes_them_all() {
        let s = KeyedStore::new(Logged { writes_at_once: Some(3), ..Logged::default() });
        save(&s, "m", &model(4, 1), &Options::new()).unwrap();
        s.inner().take_ops();
        s.inner().fail_puts_ending(Some("shard2of10.bin"));
        assert!(save(&s, "m", &model(40, 2), &sharded()).is_err());
        let ops = s.inner().take_ops();
        let puts: Vec<&String> = ops.iter().filter(|o| o.starts_with("put ")).collect();
        // Shard 3 was running beside shard 2 and ends; shard 4 may have started before 2 failed
        // (when 1 ended first); none starts after.
        assert!(puts.iter().any(|p| p.ends_with("shard3of10.bin")), "{ops:?}");
        assert!(!puts.iter().any(|p| p.ends_with("shard5of10.bin")), "{ops:?}");
        let first_delete = ops.iter().position(|o| o.starts_with("delete ")).expect("a cleanup");
        assert!(ops[first_delete..].iter().all(|o| o.starts_with("delete ")), "puts after the cleanup: {ops:?}");
        assert_eq!(weight_keys(&s, "m").len(), 1, "only the previous model's weights stay");
        assert_eq!(tag(&load(&s, "m").unwrap()), 1);
    }

    #[test]
    fn an_object_longer_than_the_manifest_says_fails_naming_its_key() {
        for stream in [false, true] {
            let s = KeyedStore::new(Logged { stream, ..Logged::default() });
            save(&s, "m", &model(4, 1), &Options::new()).unwrap();
            let key = weight_keys(&s, "m").pop().unwrap();
            s.inner().objects.lock().unwrap().insert(key.clone(), Bytes::from(vec![0u8; 1 << 20]));
            match load(&s, "m").unwrap_err() {
                Error::WeightsMismatch { file: Some(file), expected: 16, actual, .. } => {
                    assert_eq!(file, format!("logged://{key}"));
                    assert_eq!(actual, if stream { 17 } else { 1 << 20 });
                }
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn a_copy_within_the_store_copies_the_objects_then_commits() {
        let s = KeyedStore::new(Logged { in_place: true, ..Logged::default() });
        assert!(s.can_copy());
        save(&s, "a", &model(12, 1), &sharded()).unwrap();
        save(&s, "b", &model(8, 2), &sharded()).unwrap();
        let (a, b_old) = (weight_keys(&s, "a"), weight_keys(&s, "b"));
        s.inner().take_ops();
        let info = block_on(ModelStore::copy(&s, "a", "b")).unwrap();
        let ops = s.inner().take_ops();
        let commit = ops.iter().position(|o| o == "put b/model.json").expect("b's model.json written");
        assert_eq!(commit, 3, "three copies, then the commit: {ops:?}");
        for (i, op) in ops[..3].iter().enumerate() {
            let (from, to) = op.strip_prefix("copy ").and_then(|o| o.split_once(" -> ")).expect("a copy");
            assert!(a.contains(&from.to_string()), "{op}");
            let file = to.strip_prefix("b/").expect("under b/");
            assert!(version_ms(file).is_some(), "a version-unique name: {to}");
            assert!(!a.contains(&to.to_string()) && !b_old.contains(&to.to_string()), "{op} ({i})");
        }
        assert!(!ops.iter().any(|o| o.starts_with("put b/") && o.ends_with(".bin")), "{ops:?}");
        assert_eq!(tag(&load(&s, "b").unwrap()), 1);
        assert_eq!(tag(&load(&s, "a").unwrap()), 1);
        assert_eq!(weight_keys(&s, "a"), a, "the source is untouched");
        assert!(b_old.iter().all(|k| s.inner().keys().contains(k)), "b's previous version is kept");
        assert_eq!(info.weight_data_bytes, Some(48));
        assert!(matches!(block_on(ModelStore::copy(&s, "zz", "b")), Err(Error::NotFound { .. })));
        assert_eq!(tag(&load(&s, "b").unwrap()), 1);

        // Without an in-place copy, the store copies no models; an object copy is a get and a put.
        let plain = KeyedStore::new(Logged::default());
        assert!(!plain.can_copy());
        save(&plain, "a", &model(2, 1), &Options::new()).unwrap();
        let k = weight_keys(&plain, "a").pop().unwrap();
        block_on(plain.inner().copy(&k, "x/y.bin")).unwrap();
        assert_eq!(plain.inner().objects.lock().unwrap().get("x/y.bin").map(Bytes::len), Some(8));
    }

    #[test]
    fn model_names_and_versions() {
        let s = KeyedStore::new(Logged::default());
        for bad in ["", "/a", "a/", "a//b", "a/./b", "a/../b"] {
            assert!(matches!(s.handler(bad, "t://"), Err(Error::InvalidUrl { .. })), "{bad:?}");
        }
        assert_eq!(key("m/", "./x/./y.bin"), "m/x/y.bin");
        assert_eq!(version_ms("1764099154925-0123456789ab.group1-shard1of2.bin"), Some(1764099154925));
        for not in ["group1-shard1of1.bin", "1-0123456789ab.model.json", "1-xyz.group1-shard1of1.bin"] {
            assert_eq!(version_ms(not), None, "{not}");
        }
        let (a, b) = (new_version().0, new_version().0);
        assert_ne!(a, b);
    }
}
