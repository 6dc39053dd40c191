//! The read cache: the prepared answers of `GET /models/{name}/model.json` and
//! `GET /models/{name}/model.weights.bin`, kept per model name so that a GET does not load the whole
//! model from the store, re-serialize its model.json and hash its weights every time.
//!
//! How it stays correct:
//! - **Changes through the server** are seen at once: every `POST`/`PUT`/`DELETE` of a name drops
//!   that name's entry after the store has finished (also when it failed), before it answers. A GET
//!   that was loading the model while a write happened does not put what it loaded into the cache (an
//!   epoch counter, bumped by every drop, tells it), so an old load never outlives a write.
//! - **Changes made by other processes** directly in the store are seen after at most
//!   [`ServeConfig::revalidate_after`](crate::ServeConfig::revalidate_after) (default 1 s; zero checks on
//!   every request): an entry older than that is checked against the store's info for the model
//!   (`Registry::list_under`: `dateSaved` and the byte counts, no weights read) and reloaded if the
//!   info differs or the model is gone. The info is read *before* the model is loaded, so a change
//!   landing between the two leaves an entry whose info is already out of date: it is reloaded at its
//!   next check rather than kept. A change the info cannot show (same byte counts saved within the same
//!   millisecond of `dateSaved`) is missed until the model is next written through the server or evicted.
//! - Models whose store reports no info for them (a store that cannot list) are served uncached.
//! - **Memory** is bounded by [`ServeConfig::cache_max_bytes`](crate::ServeConfig::cache_max_bytes)
//!   (default 1 GiB, 0 = no cache), counting model.json plus weight bytes: the least recently used
//!   models are dropped first, and a model bigger than the whole bound is served uncached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::http::HeaderValue;
use bytes::Bytes;
use io_core::{ModelArtifactsInfo, WeightData};

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

/// The two files of a model, prepared.
pub(crate) struct Files {
    /// model.json as served (browser key order, weights in one `model.weights.bin`).
    pub json: File,
    /// The weights.
    pub weights: File,
}

impl Files {
    fn bytes(&self) -> u64 {
        (self.json.data.len() + self.weights.data.len()) as u64
    }
}

/// A strong ETag over the bytes (SipHash; changes whenever the content does).
fn etag(pieces: &[Bytes]) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in pieces {
        p.as_ref().hash(&mut h);
    }
    format!("\"{:016x}-{:x}\"", h.finish(), pieces.iter().map(|p| p.len()).sum::<usize>())
}

/// What the cache knows of a name.
pub(crate) enum Lookup {
    /// Checked against the store less than `revalidate_after` ago: serve it.
    Fresh(Arc<Files>),
    /// Older: serve it only if the store's info is still `info` (then [`Cache::confirm`]).
    Stale(Arc<Files>, ModelArtifactsInfo),
    /// Not cached.
    Missing,
}

/// Taken before reading the store; an insert with a ticket older than the last drop is ignored.
#[derive(Clone, Copy)]
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
    bytes: u64,
    /// Use counter for least-recently-used eviction.
    clock: u64,
    /// Bumped by every [`Cache::drop_name`].
    epoch: u64,
}

struct Entry {
    files: Arc<Files>,
    /// The store's info for the model, read before it was loaded.
    info: ModelArtifactsInfo,
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

    /// The entry of `name`, marked as used.
    pub fn lookup(&self, name: &str) -> Lookup {
        let mut inner = self.lock();
        inner.clock += 1;
        let now = inner.clock;
        match inner.entries.get_mut(name) {
            None => Lookup::Missing,
            Some(e) => {
                e.used = now;
                if e.checked.elapsed() < self.revalidate_after {
                    Lookup::Fresh(e.files.clone())
                } else {
                    Lookup::Stale(e.files.clone(), e.info.clone())
                }
            }
        }
    }

    /// Take before reading the store's info for an insert.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.lock().epoch)
    }

    /// The store still has what `files` was made from: fresh again (if the entry still holds `files`).
    pub fn confirm(&self, name: &str, files: &Arc<Files>) {
        if let Some(e) = self.lock().entries.get_mut(name).filter(|e| Arc::ptr_eq(&e.files, files)) {
            e.checked = Instant::now();
        }
    }

    /// Keeps `files`, made from the store's state `info`, unless a name was dropped since `ticket`
    /// or it is bigger than the bound; evicts least recently used entries to stay within the bound.
    pub fn insert(&self, name: &str, files: Arc<Files>, info: ModelArtifactsInfo, ticket: Ticket) {
        let size = files.bytes();
        let mut inner = self.lock();
        if inner.epoch != ticket.0 || size > self.max_bytes {
            return;
        }
        inner.remove(name);
        while inner.bytes + size > self.max_bytes {
            let Some(oldest) = inner.entries.iter().min_by_key(|(_, e)| e.used).map(|(n, _)| n.clone()) else {
                break;
            };
            inner.remove(&oldest);
        }
        inner.clock += 1;
        let used = inner.clock;
        inner.bytes += size;
        inner.entries.insert(name.to_string(), Entry { files, info, checked: Instant::now(), used });
    }

    /// Forgets `name` (it was written or removed through the server) and makes loads in progress not cache.
    pub fn drop_name(&self, name: &str) {
        let mut inner = self.lock();
        inner.epoch += 1;
        inner.remove(name);
    }

    /// Forgets `name` if it still holds `files` (the store no longer has what they were made from).
    pub fn forget(&self, name: &str, files: &Arc<Files>) {
        let mut inner = self.lock();
        if inner.entries.get(name).is_some_and(|e| Arc::ptr_eq(&e.files, files)) {
            inner.remove(name);
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
    fn remove(&mut self, name: &str) {
        if let Some(e) = self.entries.remove(name) {
            self.bytes -= e.files.bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(n: usize) -> Arc<Files> {
        Arc::new(Files {
            json: File::new(WeightData::single(vec![b'{'; 10])),
            weights: File::new(WeightData::single(vec![0u8; n])),
        })
    }

    fn info(d: &str) -> ModelArtifactsInfo {
        ModelArtifactsInfo {
            date_saved: d.into(),
            model_topology_type: "JSON".into(),
            model_topology_bytes: None,
            weight_specs_bytes: None,
            weight_data_bytes: None,
        }
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
        c.drop_name("a");
        c.insert("a", files(1), info("1"), t);
        assert!(matches!(c.lookup("a"), Lookup::Missing));
        assert_eq!(c.lock().bytes, 0);
    }

    #[test]
    fn zero_interval_always_checks_and_confirm_needs_the_same_files() {
        let c = Cache::new(Duration::ZERO, 1000);
        let f = files(1);
        c.insert("a", f.clone(), info("1"), c.ticket());
        let Lookup::Stale(got, i) = c.lookup("a") else { panic!("not stale") };
        assert!(Arc::ptr_eq(&got, &f));
        assert_eq!(i, info("1"));
        c.forget("a", &files(1));
        assert!(matches!(c.lookup("a"), Lookup::Stale(..)), "other files: not forgotten");
        c.forget("a", &f);
        assert!(matches!(c.lookup("a"), Lookup::Missing));
        let nothing = Cache::new(Duration::from_secs(1), 0);
        nothing.insert("a", files(1), info("1"), nothing.ticket());
        assert!(matches!(nothing.lookup("a"), Lookup::Missing));
    }
}
