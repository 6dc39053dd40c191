//! Immutable versions of a model on a plain modelio store.
//!
//! Every successful save of `NAME` through the server is a new **version** `VERSION`
//! (`{unix millis}-{12 hex digits}`, sortable by time, new for every save), stored as an ordinary
//! model of its own at the hidden store path [`ROOT`]`/NAME/VERSION` — so it works on every store
//! the registry can save to (`file://` folders, `memory://`, `indexeddb://`, ...) and survives a
//! restart. A version is never written again after its save.
//!
//! The model at the store path `NAME` itself is a **pointer**: a tiny model without weights whose
//! `format` is [`POINTER_FORMAT`] and whose topology is `{"modelio":"version-pointer","version":VERSION}`.
//! A save is:
//! 1. the version is saved (the store's own all-or-nothing save; nothing points at it yet);
//! 2. under the name's lock, the pointer is saved — **the commit**: loads see the new version from here on;
//! 3. versions beyond [`ServeConfig::keep_versions`](crate::ServeConfig::keep_versions) (oldest first by
//!    version order, never the one just committed) are removed once a newer version replaced them
//!    at least [`ServeConfig::version_grace`](crate::ServeConfig::version_grace) ago (younger ones
//!    are left to a later save), so a load that read an old model.json can still fetch its
//!    weights. A failure here is logged, not returned.
//!
//! A failed commit removes the new version again. Removing `NAME` removes the pointer first (the model
//! is gone at once), then every version. Leftover versions of a crash (saved, never pointed at) are
//! removed by the next save's step 3.
//!
//! A model at `NAME` that is not a pointer (saved by another tool, e.g. `modelio cp` into the store
//! folder) is a **plain** model: it is served as it is, unversioned.
//!
//! The hidden prefix keeps versions out of `modelio ls file://DIR` (hidden folders are skipped) and
//! out of the server's `GET /models` (names with a segment starting with `.` are refused by
//! [`crate::names`], and listed entries under it are skipped).
//!
//! The lock is per server process: two servers writing one store may interleave steps 2 and 3.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use io_core::{ModelArtifacts, ModelArtifactsInfo, ModelJson, WeightData};

use crate::config::ServeConfig;

/// Where versions live in the store: `{store}/.modelio/versions/NAME/VERSION`.
pub const ROOT: &str = ".modelio/versions";

/// The `format` of a pointer model.
pub const POINTER_FORMAT: &str = "modelio-version-pointer";

/// What a name's model is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Latest {
    /// A pointer to this version.
    Version(String),
    /// A model saved there by another tool, served as it is.
    Plain,
}

/// A new version: `{unix millis, 13 digits}-{12 hex digits}`.
pub fn new_version() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let random = std::collections::hash_map::RandomState::new().hash_one((
        COUNTER.fetch_add(1, Ordering::Relaxed),
        since.as_nanos(),
        std::process::id(),
    ));
    format!("{:013}-{:012x}", since.as_millis(), random & 0xffff_ffff_ffff)
}

/// The unix millis a version was made at.
fn version_ms(v: &str) -> Option<u64> {
    v.split_once('-')?.0.parse().ok()
}

/// Whether `s` is a version as [`new_version`] writes them.
pub fn is_version(s: &str) -> bool {
    match s.split_once('-') {
        Some((ms, hex)) => {
            !ms.is_empty()
                && ms.len() <= 20
                && ms.bytes().all(|b| b.is_ascii_digit())
                && hex.len() == 12
                && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        }
        None => false,
    }
}

/// The store path (relative to the store) of version `v` of `name`.
pub fn version_path(name: &str, v: &str) -> String {
    format!("{ROOT}/{name}/{v}")
}

/// The pointer model for version `v`.
pub fn pointer(v: &str) -> ModelArtifacts {
    let mut a = ModelArtifacts::new(
        serde_json::json!({"modelio": "version-pointer", "version": v}),
        Vec::new(),
        WeightData::default(),
    );
    a.format = Some(POINTER_FORMAT.to_string());
    a
}

/// The version a pointer model points at (`None`: not a pointer).
pub fn pointed(a: &ModelArtifacts) -> Option<String> {
    if a.format.as_deref() != Some(POINTER_FORMAT) || !a.weight_specs.is_empty() {
        return None;
    }
    let Some(io_core::artifacts::Topology::Json(t)) = &a.model_topology else { return None };
    let v = t.to_value();
    let version = v.get("version")?.as_str()?;
    (v.get("modelio")?.as_str()? == "version-pointer" && is_version(version)).then(|| version.to_string())
}

/// Biggest model.json that can be a pointer (a bigger one is a plain model, not read further).
const MAX_POINTER_BYTES: u64 = 4096;

/// What the model at `name` is; [`io_core::Error::NotFound`] when there is none. On a `file://`
/// store only `NAME/model.json` is read (a pointer is tiny); elsewhere the store's info decides
/// (a pointer has no weight bytes) and only a model without weight bytes is loaded.
pub async fn latest(cfg: &ServeConfig, name: &str) -> io_core::Result<Latest> {
    let url = cfg.model_url(name);
    if let Some(dir) = cfg.store_dir() {
        let path = dir.join(name).join(io_core::files::MODEL_JSON);
        return io_core::blocking::unblock(move || {
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => return Err(io_core::Error::not_found(url)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(io_core::Error::not_found(url)),
                Err(e) => return Err(io_core::Error::io("reading", &path, e)),
            };
            if meta.len() > MAX_POINTER_BYTES {
                return Ok(Latest::Plain);
            }
            let bytes = std::fs::read(&path).map_err(|e| io_core::Error::io("reading", &path, e))?;
            Ok(match ModelJson::parse(&bytes, &url) {
                Ok(doc) => pointed(&doc.artifacts).map_or(Latest::Plain, Latest::Version),
                Err(_) => Latest::Plain,
            })
        })
        .await;
    }
    match info(cfg, &url).await {
        Ok(None) => return Err(io_core::Error::not_found(url)),
        Ok(Some(i)) if i.weight_data_bytes.is_some_and(|n| n > 0) => return Ok(Latest::Plain),
        _ => {}
    }
    let a = cfg.registry.load(&url).await?;
    Ok(pointed(&a).map_or(Latest::Plain, Latest::Version))
}

/// The store's info for the model at `url` (`None`: no model there).
pub async fn info(cfg: &ServeConfig, url: &str) -> io_core::Result<Option<ModelArtifactsInfo>> {
    let path = cfg.registry.store_path(url)?;
    Ok(cfg.registry.list_under(url).await?.remove(&path))
}

/// The versions of every name in the store: name → `(version, info)`, oldest first.
pub async fn all(cfg: &ServeConfig) -> io_core::Result<BTreeMap<String, Vec<(String, ModelArtifactsInfo)>>> {
    let mut out: BTreeMap<String, Vec<(String, ModelArtifactsInfo)>> = BTreeMap::new();
    for (path, info) in cfg.registry.list_under(&cfg.model_url(ROOT)).await? {
        let Some(rel) = cfg.name_of(&path) else { continue };
        let Some((name, v)) = rel.strip_prefix(ROOT).and_then(|r| r.strip_prefix('/')).and_then(|r| r.rsplit_once('/'))
        else {
            continue;
        };
        if is_version(v) {
            out.entry(name.to_string()).or_default().push((v.to_string(), info));
        }
    }
    for versions in out.values_mut() {
        versions.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Ok(out)
}

/// The versions of `name`, oldest first.
pub async fn list(cfg: &ServeConfig, name: &str) -> io_core::Result<Vec<(String, ModelArtifactsInfo)>> {
    let root = format!("{ROOT}/{name}");
    let mut out = Vec::new();
    for (path, info) in cfg.registry.list_under(&cfg.model_url(&root)).await? {
        let Some(rel) = cfg.name_of(&path) else { continue };
        if let Some(v) = rel.strip_prefix(&root).and_then(|r| r.strip_prefix('/')).filter(|v| is_version(v)) {
            out.push((v.to_string(), info));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Per-name locks around commits and removals, and the versions saved but not yet committed (which
/// no prune may remove).
#[derive(Default)]
pub struct Locks {
    names: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    pending: Mutex<std::collections::HashSet<String>>,
}

/// Marks a version as pending while alive.
struct Pending<'a>(&'a Locks, String);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.1);
    }
}

impl Locks {
    /// Holds `name`'s lock until the guard is dropped.
    pub async fn lock(&self, name: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
            names.retain(|_, l| Arc::strong_count(l) > 1);
            names.entry(name.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn pending(&self, name: &str, v: &str) -> Pending<'_> {
        let key = version_path(name, v);
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).insert(key.clone());
        Pending(self, key)
    }

    fn is_pending(&self, name: &str, v: &str) -> bool {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).contains(&version_path(name, v))
    }
}

/// Where uploads are spooled on a `file://` store (`{store}/.modelio/tmp`), on the store's file system.
pub const TMP: &str = ".modelio/tmp";

/// A committed save: the new version, the store's save result, and the versions the commit pruned.
pub struct Committed {
    /// The new version.
    pub version: String,
    /// What the store's save answered.
    pub saved: io_core::SaveResult,
    /// The older versions removed after the commit.
    pub removed: Vec<String>,
}

/// Saves `artifacts` as a new version of `name` and commits it (see the module docs).
pub async fn commit(
    cfg: &ServeConfig,
    locks: &Locks,
    name: &str,
    artifacts: &ModelArtifacts,
) -> io_core::Result<Committed> {
    commit_with(cfg, locks, name, |url, _| async move { cfg.registry.save(&url, artifacts).await }).await
}

/// Makes the checked model folder `folder` (model.json and the weight files it names, fsynced; see
/// [`crate::upload::spool`]) a new version of `name` on a `file://` store by renaming it into place,
/// and commits it.
pub async fn commit_folder(
    cfg: &ServeConfig,
    locks: &Locks,
    name: &str,
    folder: std::path::PathBuf,
    info: ModelArtifactsInfo,
) -> io_core::Result<Committed> {
    let store_dir = cfg.store_dir().ok_or_else(|| io_core::Error::storage("server", name, "not a file:// store"))?;
    commit_with(cfg, locks, name, |_, v| async move {
        let target = store_dir.join(version_path(name, &v));
        io_core::blocking::unblock(move || {
            let parent = target.parent().expect("a version has a parent folder");
            std::fs::create_dir_all(parent).map_err(|e| io_core::Error::io("creating", parent, e))?;
            std::fs::rename(&folder, &target).map_err(|e| io_core::Error::io("renaming the upload to", &target, e))?;
            std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| io_core::Error::io("syncing", parent, e))
        })
        .await?;
        Ok(io_core::SaveResult { model_artifacts_info: info, responses: Vec::new() })
    })
    .await
}

async fn commit_with<F, Fut>(cfg: &ServeConfig, locks: &Locks, name: &str, save: F) -> io_core::Result<Committed>
where
    F: FnOnce(String, String) -> Fut,
    Fut: std::future::Future<Output = io_core::Result<io_core::SaveResult>>,
{
    let v = new_version();
    let _pending = locks.pending(name, &v);
    let version_url = cfg.model_url(&version_path(name, &v));
    let saved = save(version_url.clone(), v.clone()).await?;
    let _guard = locks.lock(name).await;
    if let Err(e) = cfg.registry.save(&cfg.model_url(name), &pointer(&v)).await {
        if let Err(e) = cfg.registry.remove_model(&version_url).await {
            tracing::warn!(name, version = %v, error = %e, "could not remove a version whose commit failed");
        }
        return Err(e);
    }
    let removed = prune(cfg, locks, name, &v).await;
    Ok(Committed { version: v, saved, removed })
}

/// Removes the versions of `name` beyond the newest `keep_versions`, never `committed` nor one
/// saved by a commit still in progress; returns those it removed.
async fn prune(cfg: &ServeConfig, locks: &Locks, name: &str, committed: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let versions = match list(cfg, name).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(name, error = %e, "could not list the versions to prune");
            return removed;
        }
    };
    let keep = cfg.keep_versions.max(1);
    // Oldest first; versions still being saved are left out (neither doomed nor replacing others).
    let settled: Vec<String> =
        versions.into_iter().map(|(v, _)| v).filter(|v| v == committed || !locks.is_pending(name, v)).collect();
    let now_ms = u64::try_from(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_millis(),
    )
    .unwrap_or(u64::MAX);
    let grace_ms = u64::try_from(cfg.version_grace.as_millis()).unwrap_or(u64::MAX);
    // The committed version is one of the `keep` kept.
    let doomed = settled.len().saturating_sub(1).saturating_sub(keep - 1);
    let mut taken = 0;
    for (i, v) in settled.iter().enumerate() {
        if taken == doomed {
            break;
        }
        if v == committed {
            continue;
        }
        taken += 1;
        // Replaced when the next version was saved: kept for the grace period after that.
        let replaced_ms = settled.get(i + 1).and_then(|n| version_ms(n)).unwrap_or(now_ms);
        if replaced_ms.saturating_add(grace_ms) > now_ms {
            continue;
        }
        match cfg.registry.remove_model(&cfg.model_url(&version_path(name, v))).await {
            Ok(_) => removed.push(v.clone()),
            Err(e) => tracing::warn!(name, version = %v, error = %e, "could not remove an old version"),
        }
    }
    removed
}

/// Removes `name`: the pointer (or plain model) first, then every version. Returns what it was.
pub async fn remove(cfg: &ServeConfig, locks: &Locks, name: &str) -> io_core::Result<Latest> {
    let _guard = locks.lock(name).await;
    let latest = latest(cfg, name).await?;
    cfg.registry.remove_model(&cfg.model_url(name)).await?;
    for (v, _) in list(cfg, name).await.unwrap_or_default() {
        if let Err(e) = cfg.registry.remove_model(&cfg.model_url(&version_path(name, &v))).await {
            tracing::warn!(name, version = %v, error = %e, "could not remove a version of a removed model");
        }
    }
    if let Some(dir) = cfg.store_dir() {
        // Folders a file:// store leaves empty: the name's under the versions root, up to it.
        let root = dir.join(ROOT);
        let mut folder = root.join(name);
        while folder.starts_with(&root) && folder != root && std::fs::remove_dir(&folder).is_ok() {
            folder.pop();
        }
    }
    Ok(latest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_by_time_and_pointers_round_trip() {
        let (a, b) = (new_version(), new_version());
        assert!(is_version(&a) && is_version(&b), "{a} {b}");
        assert_ne!(a, b);
        assert!(a[..13] <= b[..13]);
        for bad in ["", "1-2", "123-ABCDEFABCDEF", "x-0123456789ab", "123-0123456789ab/x"] {
            assert!(!is_version(bad), "{bad}");
        }
        assert_eq!(pointed(&pointer(&a)), Some(a.clone()));
        let mut plain = pointer(&a);
        plain.format = Some("layers-model".into());
        assert_eq!(pointed(&plain), None);
    }
}
