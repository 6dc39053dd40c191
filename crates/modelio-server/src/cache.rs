//! The read cache: the prepared files of models (`Prepared`: model.json bytes with ETags, and the
//! weight files or where they are), and which version each name points at, so that a GET does not
//! load a model from the store, re-serialize its model.json and hash its weights every time.
//!
//! - **Versions** ([`crate::versions`]) never change: a version's entry is never revalidated, only
//!   evicted. On a `file://` store a version's entry holds model.json only, and on stores that read
//!   files one by one ([`io_core::ModelStore::read_file`]: buckets, `memory://`) likewise; each
//!   weight file is an entry of its own (`NAME/@v/VERSION/FILE`), read from disk or the store by the
//!   first request that asks for it and served from memory after that — when it is at most 16 MiB
//!   and a quarter of the bound (four such reads from disk at once; a miss beyond them is streamed); bigger files are streamed from disk (or read from the store, bounded
//!   by what the manifest declares) for each request. No request reads a whole model; only stores
//!   that read whole models (the SQLite-backed `indexeddb://` and `localstorage://`) have a version's
//!   weights loaded together.
//! - **Which version a name points at** is cached for [`ServeConfig::revalidate_after`](crate::ServeConfig::revalidate_after)
//!   (default 1 s; zero reads the pointer on every request); so is a *plain* model (one saved in the
//!   store by another tool) on stores other than `file://`, checked against the store's info for the
//!   model (`Registry::list_under`: `dateSaved` and byte counts, read *before* the model is loaded)
//!   once older than that.
//! - **Changes through the server** are seen at once: every `POST`/`PUT`/`DELETE` of a name drops its
//!   entries after the store has finished, before it answers. A GET that was reading while a write
//!   happened does not put what it read into the cache (an epoch counter, bumped by every drop).
//! - **Memory** is bounded by [`ServeConfig::cache_max_bytes`](crate::ServeConfig::cache_max_bytes)
//!   (default 1 GiB, 0 = no cache at all, pointers included), counting model.json files plus weight
//!   bytes held: least recently used entries go first, and a model bigger than the bound is served
//!   uncached (on stores that read whole models, loaded for the request).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use bytes::Bytes;
use io_core::{ModelArtifactsInfo, WeightData};

use crate::versions::Latest;

/// One file ready to send: its bytes and its ETag.
pub(crate) struct File {
    /// The bytes, as pieces (never joined).
    pub data: WeightData,
    /// A strong ETag over the bytes.
    pub tag: HeaderValue,
}

impl File {
    /// `data` with its ETag computed.
    pub fn new(data: WeightData) -> File {
        let tag = HeaderValue::from_str(&etag(data.chunks())).expect("hex ETag");
        File { data, tag }
    }
}

/// Where a model's weight files are.
pub(crate) enum Weights {
    /// In this folder, streamed from disk per request (`file://` stores).
    Disk(PathBuf),
    /// In memory, by manifest path (`./` dropped).
    Memory(HashMap<String, File>),
    /// In the store, read one file per request (stores that read files one by one, e.g. buckets):
    /// the model's URL, and each served file's bound (the bytes its manifest group declares).
    Store { url: String, limits: HashMap<String, u64> },
}

/// A model's files, prepared to serve.
pub(crate) struct Prepared {
    /// model.json as stored (weight paths relative to it).
    pub json: File,
    /// For a version: model.json as served at the name's latest URL, each weight path prefixed with
    /// `@v/VERSION/`.
    pub latest_json: Option<File>,
    /// The manifest's weight paths (`./` dropped), in order: the only files served.
    pub paths: Vec<String>,
    /// The weight files.
    pub weights: Weights,
}

impl Prepared {
    /// One weight file of a version on its own (a cache entry of its own).
    pub fn file(path: &str, f: File) -> Prepared {
        Prepared {
            json: File { data: WeightData::default(), tag: HeaderValue::from_static("\"\"") },
            latest_json: None,
            paths: vec![path.to_string()],
            weights: Weights::Memory(HashMap::from([(path.to_string(), f)])),
        }
    }

    fn bytes(&self) -> u64 {
        let held = match &self.weights {
            Weights::Disk(_) | Weights::Store { .. } => 0,
            Weights::Memory(m) => m.values().map(|f| f.data.len() as u64).sum(),
        };
        self.json.data.len() as u64 + self.latest_json.as_ref().map_or(0, |f| f.data.len() as u64) + held
    }
}

/// A strong ETag over the bytes (SipHash; changes whenever the content does).
pub(crate) fn etag(pieces: &[Bytes]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in pieces {
        p.as_ref().hash(&mut h);
    }
    format!("\"{:016x}-{:x}\"", h.finish(), pieces.iter().map(|p| p.len()).sum::<usize>())
}

/// What the cache knows of a key.
pub(crate) enum Lookup {
    /// An immutable entry, or one checked against the store less than `revalidate_after` ago: serve it.
    Fresh(Arc<Prepared>),
    /// Older: serve it only if the store's info is still `info` (then [`Cache::confirm`]).
    Stale(Arc<Prepared>, ModelArtifactsInfo),
    /// Not cached.
    Missing,
}

/// A token taken before reading the store; an insert with a token older than the last drop is ignored.
pub(crate) struct Ticket(u64);

/// The cache (see the module docs).
pub(crate) struct Cache {
    revalidate_after: Duration,
    max_bytes: u64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    latest: HashMap<String, (Latest, Instant)>,
    bytes: u64,
    /// Use counter for least-recently-used eviction.
    clock: u64,
    /// Bumped by every [`Cache::drop_name`].
    epoch: u64,
}

struct Entry {
    files: Arc<Prepared>,
    /// The store's info for a mutable entry, read before it was loaded; `None`: immutable.
    info: Option<ModelArtifactsInfo>,
    checked: Instant,
    used: u64,
}

impl Cache {
    /// A cache holding at most `max_bytes` (0 = nothing), checking entries older than `revalidate_after`.
    pub fn new(revalidate_after: Duration, max_bytes: u64) -> Cache {
        Cache { revalidate_after, max_bytes, inner: Mutex::new(Inner::default()) }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The entry of `key`, marked as used.
    pub fn lookup(&self, key: &str) -> Lookup {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        match inner.entries.get_mut(key) {
            None => Lookup::Missing,
            Some(e) => {
                e.used = now;
                match &e.info {
                    Some(info) if e.checked.elapsed() >= self.revalidate_after => {
                        Lookup::Stale(e.files.clone(), info.clone())
                    }
                    _ => Lookup::Fresh(e.files.clone()),
                }
            }
        }
    }

    /// What `name` pointed at less than `revalidate_after` ago, if known.
    pub fn latest(&self, name: &str) -> Option<Latest> {
        let inner = self.lock();
        inner.latest.get(name).filter(|(_, at)| at.elapsed() < self.revalidate_after).map(|(l, _)| l.clone())
    }

    /// Keeps what `name` points at (read after `ticket` was taken), unless the cache is off or the
    /// name was dropped since.
    pub fn insert_latest(&self, name: &str, latest: Latest, ticket: Ticket) {
        let mut inner = self.lock();
        if self.max_bytes == 0 || inner.epoch != ticket.0 {
            return;
        }
        if inner.latest.len() >= 100_000 {
            inner.latest.clear();
        }
        inner.latest.insert(name.to_string(), (latest, Instant::now()));
    }

    /// Forgets that `name` points at version `v` (it is gone).
    pub fn forget_latest(&self, name: &str, v: &str) {
        let mut inner = self.lock();
        if inner.latest.get(name).is_some_and(|(l, _)| *l == Latest::Version(v.to_string())) {
            inner.latest.remove(name);
        }
    }

    /// Take before reading the store for an insert.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().epoch)
    }

    /// The store still has what `files` was made from: fresh again (if the entry still holds `files`).
    pub fn confirm(&self, key: &str, files: &Arc<Prepared>) {
        if let Some(e) = self.lock().entries.get_mut(key).filter(|e| Arc::ptr_eq(&e.files, files)) {
            e.checked = Instant::now();
        }
    }

    /// Keeps `files` under `key` — immutable when `info` is `None`, else made from the store's state
    /// `info` — unless a name was dropped since `ticket` or it is bigger than the bound; evicts least
    /// recently used entries to stay within the bound.
    pub fn insert(&self, key: &str, files: Arc<Prepared>, info: Option<ModelArtifactsInfo>, ticket: Ticket) {
        let size = files.bytes();
        let mut inner = self.lock();
        if inner.epoch != ticket.0 || size > self.max_bytes {
            return;
        }
        inner.remove(key);
        while inner.bytes + size > self.max_bytes {
            let Some(oldest) = inner.entries.iter().min_by_key(|(_, e)| e.used).map(|(n, _)| n.clone()) else {
                break;
            };
            inner.remove(&oldest);
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.bytes += size;
        inner.entries.insert(key.to_string(), Entry { files, info, checked: Instant::now(), used });
    }

    /// Forgets what `name` points at and its plain entry (it was written through the server) and
    /// makes reads in progress not cache. Its versions' entries stay: they never change.
    pub fn drop_name(&self, name: &str) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.remove(name);
        inner.latest.remove(name);
    }

    /// [`Cache::drop_name`], and the entries of `name`'s versions too (it was removed).
    pub fn drop_removed(&self, name: &str) {
        self.drop_name(name);
        self.drop_prefix(&format!("{name}/@v"));
    }

    /// Forgets the entry `key` and those under `key/` (a removed version and its files).
    pub fn drop_prefix(&self, key: &str) {
        let prefix = format!("{key}/");
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.remove(key);
        let doomed: Vec<String> = inner.entries.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
        for k in doomed {
            inner.remove(&k);
        }
    }

    /// Forgets `key` if it still holds `files` (the store no longer has what they were made from).
    pub fn forget(&self, key: &str, files: &Arc<Prepared>) {
        let mut inner = self.lock();
        if inner.entries.get(key).is_some_and(|e| Arc::ptr_eq(&e.files, files)) {
            inner.remove(key);
        }
    }

    #[cfg(test)]
    fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lock().entries.keys().cloned().collect();
        v.sort();
        v
    }
}

impl Inner {
    fn remove(&mut self, key: &str) {
        if let Some(e) = self.entries.remove(key) {
            self.bytes -= e.files.bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Arc<Prepared> {
        let mut weights = HashMap::new();
        weights.insert("w.bin".to_string(), File::new(WeightData::single(vec![0u8; n])));
        Arc::new(Prepared {
            json: File::new(WeightData::single(vec![b'{'; 10])),
            latest_json: None,
            paths: vec!["w.bin".into()],
            weights: Weights::Memory(weights),
        })
    }

    fn info(d: &str) -> Option<ModelArtifactsInfo> {
        Some(ModelArtifactsInfo {
            date_saved: d.into(),
            model_topology_type: "JSON".into(),
            model_topology_bytes: None,
            weight_specs_bytes: None,
            weight_data_bytes: None,
        })
    }

    #[test]
    fn least_recently_used_models_go_first_and_too_big_ones_never_come_in() {
        let c = Cache::new(Duration::from_secs(60), 300);
        for n in ["a", "b"] {
            c.insert(n, files(90), info("1"), c.ticket());
        }
        assert!(matches!(c.lookup("a"), Lookup::Fresh(_)));
        c.insert("c", files(90), info("1"), c.ticket());
        assert_eq!(c.names(), ["a", "b", "c"]);
        c.insert("d", files(90), info("1"), c.ticket());
        assert_eq!(c.names(), ["a", "c", "d"], "b was used least recently");
        c.insert("a", files(190), info("2"), c.ticket());
        assert_eq!(c.names(), ["a", "d"], "a replaced (its old size freed), then c evicted");
        c.insert("huge", files(300), info("1"), c.ticket());
        assert_eq!(c.names(), ["a", "d"]);
        assert_eq!(c.lock().bytes, 200 + 100);
    }

    #[test]
    fn a_drop_wins_over_loads_in_progress() {
        let c = Cache::new(Duration::from_secs(60), 1000);
        let t = c.ticket();
        c.insert("a", files(1), info("1"), c.ticket());
        c.insert_latest("a", Latest::Plain, c.ticket());
        assert_eq!(c.latest("a"), Some(Latest::Plain));
        c.drop_name("a");
        c.insert("a", files(1), info("1"), Ticket(t.0));
        c.insert_latest("a", Latest::Plain, t);
        assert!(matches!(c.lookup("a"), Lookup::Missing));
        assert_eq!(c.latest("a"), None);
        assert_eq!(c.lock().bytes, 0);
    }

    #[test]
    fn zero_interval_always_checks_and_confirm_needs_the_same_files() {
        let c = Cache::new(Duration::ZERO, 1000);
        let f = files(1);
        c.insert("a", f.clone(), info("1"), c.ticket());
        let Lookup::Stale(got, i) = c.lookup("a") else { panic!("not stale") };
        assert!(Arc::ptr_eq(&got, &f));
        assert_eq!(Some(i), info("1"));
        c.forget("a", &files(1));
        assert!(matches!(c.lookup("a"), Lookup::Stale(..)), "other files: not forgotten");
        c.forget("a", &f);
        assert!(matches!(c.lookup("a"), Lookup::Missing));
        c.insert("v", files(1), None, c.ticket());
        assert!(matches!(c.lookup("v"), Lookup::Fresh(_)), "immutable entries are never stale");
        c.insert_latest("a", Latest::Plain, c.ticket());
        assert_eq!(c.latest("a"), None, "zero interval: pointers are read every time");
        let nothing = Cache::new(Duration::from_secs(1), 0);
        nothing.insert("a", files(1), info("1"), nothing.ticket());
        assert!(matches!(nothing.lookup("a"), Lookup::Missing));
        nothing.insert_latest("a", Latest::Plain, nothing.ticket());
        assert_eq!(nothing.latest("a"), None);
    }
}
