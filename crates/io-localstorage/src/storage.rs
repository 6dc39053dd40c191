//! The Web-Storage-like key-value trait the TF.js layout is written against.
//!
//! A backend implements [`WebStorage`]: natively [`crate::SqliteStorage`]; in the browser
//! `window.localStorage` through `web-sys` (another crate's job). Everything above this trait
//! ([`crate::layout`], [`crate::LocalStorageModels`]) is the same on every target.

use io_core::{MaybeSendSync, Result};

/// Chromium's localStorage quota per origin: 10 MiB (`kPerStorageAreaQuota = 10 * 1024 * 1024` in
/// Chromium's `components/services/storage/dom_storage/dom_storage_constants.cc`).
pub const CHROMIUM_QUOTA_BYTES: u64 = 10 * 1024 * 1024;

/// How Chromium counts an entry against [`CHROMIUM_QUOTA_BYTES`]: every UTF-16 code unit of the
/// key and of the value is 2 bytes (Blink's `StorageAreaMap`: `QuotaForString = length * sizeof(UChar)`).
pub const QUOTA_RULE: &str =
    "each UTF-16 code unit of a key and of its value counts 2 bytes (Chromium's rule; default quota 10 MiB per origin)";

/// Bytes an entry counts against the quota, by [`QUOTA_RULE`].
pub fn quota_cost(key: &str, value: &str) -> u64 {
    2 * (key.encode_utf16().count() + value.encode_utf16().count()) as u64
}

/// One change in a [`WebStorage::batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KvOp {
    /// `setItem(key, value)`.
    Set(String, String),
    /// `removeItem(key)`; nothing happens if the key is absent.
    Remove(String),
    /// Moves the value of `from` to `to` (replacing `to`'s value). If `from` is absent when the
    /// batch runs, the whole batch fails with [`io_core::Error::NotFound`] and changes nothing.
    Rename {
        /// Source key.
        from: String,
        /// Destination key.
        to: String,
    },
}

impl KvOp {
    /// Bytes of the value this operation writes (0 for removals and renames).
    pub fn value_len(&self) -> usize {
        match self {
            KvOp::Set(_, v) => v.len(),
            KvOp::Remove(_) | KvOp::Rename { .. } => 0,
        }
    }
}

/// A string key-value store with Web Storage semantics, plus an all-or-nothing batch.
///
/// Methods are synchronous, as Web Storage is. Errors are [`io_core::Error`]s naming the key.
pub trait WebStorage: MaybeSendSync {
    /// `getItem(key)`.
    fn get(&self, key: &str) -> Result<Option<String>>;

    /// `setItem(key, value)`; fails with [`io_core::Error::QuotaExceeded`] over quota.
    fn set(&self, key: &str, value: &str) -> Result<()> {
        self.batch(&[KvOp::Set(key.to_string(), value.to_string())], key)
    }

    /// `removeItem(key)`.
    fn remove(&self, key: &str) -> Result<()> {
        self.batch(&[KvOp::Remove(key.to_string())], key)
    }

    /// `key(index)`: the index-th key in the store's order, `None` past the end.
    fn key(&self, index: usize) -> Result<Option<String>>;

    /// `length`: the number of keys.
    fn length(&self) -> Result<usize>;

    /// Every key, in the order of [`WebStorage::key`]. Backends may read them at once.
    fn keys(&self) -> Result<Vec<String>> {
        (0..self.length()?).map_while(|i| self.key(i).transpose()).collect()
    }

    /// The values of `keys`, read together (one snapshot where the backend can).
    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        keys.iter().map(|k| self.get(k)).collect()
    }

    /// Applies `ops` in order as one transaction: all of them or, on any error (quota, a missing
    /// rename source, I/O), none. `url` names the model (or key) in errors.
    ///
    /// The quota is checked on the state after all ops; a batch that does not grow the store
    /// past its quota always succeeds. A browser backend without transactions must emulate
    /// this: remember the old values of the keys it touches and restore them on failure.
    fn batch(&self, ops: &[KvOp], url: &str) -> Result<()>;
}
