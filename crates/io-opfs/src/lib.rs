//! # io-opfs
//!
//! modelio plugin for `opfs://NAME`: models on the browser's **Origin Private File System** (OPFS,
//! `navigator.storage.getDirectory()`), for models too big for `localStorage` and slow in IndexedDB.
//! It works in the browser only (`wasm32`); natively this crate holds nothing but these docs, the
//! constants and [`quota_error`] (a program has real files there: use `file://`).
//!
//! # Layout
//!
//! TF.js's file layout, one folder per model under the folder [`ROOT`] of the origin's private
//! file system: `modelio/NAME/model.json` (browser key order) next to its weight files
//! `modelio/NAME/{VERSION}.group1-shard{I}of{N}.bin` (TF.js's shard names, each behind a version
//! prefix `{unix millis}-{12 hex}`; 4 MiB shards unless `Options::shard_size` says otherwise).
//! `NAME` may have `/`-separated parts: each is a folder. This is [`io_core::keyed`]'s layout: the
//! store is an [`io_core::KeyValueStore`] over OPFS files (`OpfsStore`) made a scheme by
//! [`io_core::KeyedStore`], which owns the save, load, list and remove logic.
//!
//! # Atomic replacement
//!
//! A save writes the new version's weight files first (new names, nothing existing is touched),
//! then `model.json` through one `createWritable()` stream: Chromium writes it to a swap file and
//! `close()` swaps it in at once, so `model.json` is **the commit**. Before it, loads see the
//! previous model complete; after it, the new one. A save that fails or is interrupted between
//! files leaves the previous model loadable; its files are deleted on failure, or, if the page died,
//! by the next save of that model once they are an hour old (`KeyedStore`'s leftover rule: younger
//! ones may belong to a save in another tab). The previous version's weight files stay after the
//! commit (a reader that read the old model.json can still read its weights); older versions are
//! removed by a later save once they are an hour old, so frequent saves of a big model hold up
//! to an hour of versions on disk.
//! A first save's `model.json` exists empty until its `close()`: an empty `model.json` reads as no
//! model.
//!
//! # Quota
//!
//! A `QuotaExceededError` from the browser becomes [`io_core::Error::QuotaExceeded`] with the
//! bytes of the file being written and the origin's `usage` and `quota` from
//! `navigator.storage.estimate()` ([`quota_error`]); the weight files written so far are deleted
//! and the previous model stays. `persist()` asks the browser not to evict the origin's storage
//! under pressure; `estimate()` reports usage and quota (both public `async fn`s in the browser).
//!
//! Lists report each model's info as the other stores do (`dateSaved` is the save's time, weight
//! bytes are the files' sizes); copies and moves go through the registry (load, then save, then
//! for a move the source's removal), so they work across `opfs://`, `indexeddb://` and
//! `localstorage://` and a move never loses a model.
#![warn(missing_docs)]

use io_core::Error;

#[cfg(target_arch = "wasm32")]
mod browser;

#[cfg(target_arch = "wasm32")]
pub use browser::{estimate, persist, persisted, register, write_error, OpfsStore, OPFS};

/// The scheme, without `://`.
pub const SCHEME: &str = "opfs";

/// The schemes this plugin registers (in the browser; natively it registers none).
pub const SCHEMES: &[&str] = &[SCHEME];

/// The folder at the root of the origin's private file system that holds modelio's models.
pub const ROOT: &str = "modelio";

/// The origin's storage use as `navigator.storage.estimate()` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// Bytes the origin uses (all its storage: OPFS, IndexedDB, caches).
    pub usage: u64,
    /// Bytes the browser lets the origin use.
    pub quota: u64,
}

/// The [`Error::QuotaExceeded`] of a write of `needed` bytes to `url` that the browser refused
/// with `cause` (the `QuotaExceededError`'s text), with the origin's usage and quota when
/// `navigator.storage.estimate()` answered.
pub fn quota_error(url: &str, needed: u64, estimate: Option<Estimate>, cause: &str) -> Error {
    let (available, numbers) = match estimate {
        Some(Estimate { usage, quota }) => (
            quota.saturating_sub(usage),
            format!("navigator.storage.estimate(): usage {usage} bytes of quota {quota} bytes"),
        ),
        None => (0, "navigator.storage.estimate() gave no numbers".to_string()),
    };
    Error::QuotaExceeded {
        url: url.to_string(),
        needed,
        available,
        detail: format!("{cause}; {numbers}; the model that was there is unchanged"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_error_carries_the_estimate() {
        let e = quota_error("opfs://m/x.bin", 10, Some(Estimate { usage: 90, quota: 95 }), "QuotaExceededError: full");
        match &e {
            Error::QuotaExceeded { url, needed: 10, available: 5, detail } => {
                assert_eq!(url, "opfs://m/x.bin");
                assert!(detail.contains("usage 90 bytes of quota 95 bytes") && detail.contains("full"), "{detail}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(quota_error("u", 1, None, "c"), Error::QuotaExceeded { available: 0, .. }));
    }
}
