//! Putting a fully written model folder in place of another one, atomically.
//!
//! A save writes into a fresh hidden sibling `.NAME.tmp-<pid>-<random>` and then calls
//! [`install`]:
//! - target absent: `rename` without replace (`RENAME_NOREPLACE`); if another save created the
//!   target meanwhile, fall through to the exchange;
//! - target present: one atomic exchange of the two folders (`RENAME_EXCHANGE` on Linux,
//!   `RENAME_SWAP` on Apple systems); the temporary name then holds the old model, which is deleted.
//!
//! Crash analysis: before the exchange the target is untouched; the exchange is one atomic step;
//! after it the target is the new, fsynced folder. What a crash leaves is a stale temporary folder
//! (the half-written new model, or the old one); [`clean_stale`] removes those whose process is gone.
//! Two saves racing each exchange their own complete folder, so the last exchange wins and the
//! target always holds one complete model.
//!
//! Where no atomic exchange exists (other systems, or a file system that refuses it), the fallback
//! renames the target aside and the new folder in: a crash between the two renames leaves no target
//! folder, and the old model in `.NAME.old-<pid>-<random>`.

use std::ffi::OsString;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many times [`install`] retries when concurrent saves keep creating and replacing the target.
const INSTALL_ATTEMPTS: usize = 64;

fn hidden_prefix(target: &Path, kind: &str) -> OsString {
    let mut s = OsString::from(".");
    s.push(target.file_name().unwrap_or_default());
    s.push(format!(".{kind}-"));
    s
}

/// A new, unique sibling path of `target` (not created): `.NAME.<kind>-<pid>-<random>`.
fn sibling(target: &Path, kind: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut name = hidden_prefix(target, kind);
    name.push(format!("{}-{:016x}", std::process::id(), h.finish()));
    target.with_file_name(name)
}

/// Creates a fresh, empty temporary folder next to `target`.
pub(crate) fn create_temp(target: &Path) -> io::Result<PathBuf> {
    loop {
        let p = sibling(target, "tmp");
        match std::fs::create_dir(&p) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            other => return other.map(|_| p),
        }
    }
}

/// Replaces (or creates) the folder `target` with the complete folder `temp`; see the module docs.
/// On success `temp` no longer exists.
pub(crate) fn install(temp: &Path, target: &Path) -> io::Result<()> {
    let mut last = None;
    for _ in 0..INSTALL_ATTEMPTS {
        let exists = match std::fs::symlink_metadata(target) {
            Ok(_) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(e) => return Err(e),
        };
        let r = if exists { exchange(temp, target) } else { rename_noreplace(temp, target) };
        match r {
            Ok(()) => return Ok(()),
            // The target appeared or vanished meanwhile (a concurrent save): look again.
            Err(e)
                if matches!(e.kind(), io::ErrorKind::AlreadyExists | io::ErrorKind::NotFound)
                    || e.raw_os_error() == Some(ENOTEMPTY) =>
            {
                last = Some(e)
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("concurrent saves kept replacing the folder")))
}

#[cfg(unix)]
const ENOTEMPTY: i32 = rustix::io::Errno::NOTEMPTY.raw_os_error();
#[cfg(not(unix))]
const ENOTEMPTY: i32 = -1;

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => plain_rename_noreplace(from, to),
        other => other.map_err(io::Error::from),
    }
    .and_then(|_| sync_parent(to))
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    plain_rename_noreplace(from, to).and_then(|_| sync_parent(to))
}

/// `rename` after checking that `to` is absent (a race can still replace an empty folder).
fn plain_rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::from(io::ErrorKind::AlreadyExists));
    }
    std::fs::rename(from, to)
}

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn exchange(temp: &Path, target: &Path) -> io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, temp, CWD, target, RenameFlags::EXCHANGE) {
        Ok(()) => {
            sync_parent(target)?;
            // `temp` now holds the old model.
            let _ = std::fs::remove_dir_all(temp);
            Ok(())
        }
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => two_renames(temp, target),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn exchange(temp: &Path, target: &Path) -> io::Result<()> {
    two_renames(temp, target)
}

/// The non-atomic fallback: target aside, new folder in, old one deleted.
fn two_renames(temp: &Path, target: &Path) -> io::Result<()> {
    let old = sibling(target, "old");
    std::fs::rename(target, &old)?;
    std::fs::rename(temp, target)?;
    sync_parent(target)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Removes the model folder `target`: one atomic rename out of the way (a reader sees the whole model
/// or none), then deletion. A crash in between leaves a hidden `old` sibling that later saves remove.
pub(crate) fn remove(target: &Path) -> io::Result<()> {
    let aside = sibling(target, "old");
    std::fs::rename(target, &aside)?;
    sync_parent(target)?;
    std::fs::remove_dir_all(&aside)
}

fn sync_parent(p: &Path) -> io::Result<()> {
    #[cfg(unix)]
    if let Some(parent) = p.parent() {
        let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = p;
    Ok(())
}

/// Removes leftovers of crashed saves next to `target`: temporary folders whose process is gone
/// (on Linux, by `/proc/<pid>`; elsewhere, those older than an hour).
pub(crate) fn clean_stale(target: &Path) {
    let Some(parent) = target.parent() else { return };
    let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let prefixes = [hidden_prefix(target, "tmp"), hidden_prefix(target, "old")];
    for entry in entries.flatten() {
        let name = entry.file_name();
        let (Some(name), Some(p0), Some(p1)) = (name.to_str(), prefixes[0].to_str(), prefixes[1].to_str()) else {
            continue;
        };
        let Some(rest) = name.strip_prefix(p0).or_else(|| name.strip_prefix(p1)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && is_stale(pid, &entry.path()) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn is_stale(pid: u32, path: &Path) -> bool {
    if cfg!(target_os = "linux") {
        !Path::new("/proc").join(pid.to_string()).exists()
    } else {
        let age = std::fs::symlink_metadata(path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
        age.is_some_and(|a| a.as_secs() > 3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_creates_then_exchanges_and_removes_the_old_folder() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("m");
        for v in ["one", "two"] {
            let t = create_temp(&target).unwrap();
            std::fs::write(t.join("f"), v).unwrap();
            install(&t, &target).unwrap();
            assert!(!t.exists());
            assert_eq!(std::fs::read_to_string(target.join("f")).unwrap(), v);
        }
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "only the model folder is left");
    }

    #[test]
    fn stale_temp_folders_of_dead_processes_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("m");
        // pid 0x7fffffff is never a live process; our own pid's folders are left alone.
        let dead = root.path().join(".m.tmp-2147483647-00");
        let mine = create_temp(&target).unwrap();
        let other = root.path().join(".other.tmp-2147483647-00");
        for d in [&dead, &other] {
            std::fs::create_dir(d).unwrap();
        }
        clean_stale(&target);
        assert_eq!((dead.exists(), mine.exists(), other.exists()), (!cfg!(target_os = "linux"), true, true));
    }
}
