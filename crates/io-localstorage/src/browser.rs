//! The browser backend: `window.localStorage` as a [`WebStorage`].
//!
//! Web Storage has no transactions, so [`WebStorage::batch`] is emulated as the trait asks: the
//! batch is first applied to an overlay of the touched keys (a missing rename source fails before
//! anything is written), then written (removals first, to free space); if a write fails, every
//! touched key is put back to its old value. A `QuotaExceededError` becomes
//! [`io_core::Error::QuotaExceeded`], sized by Chromium's rule ([`crate::QUOTA_RULE`]).

use std::borrow::Cow;
use std::collections::HashMap;

use io_core::{Error, Result};
use wasm_bindgen::JsValue;

use crate::storage::{quota_cost, KvOp, WebStorage, CHROMIUM_QUOTA_BYTES, QUOTA_RULE};
use crate::SCHEME;

/// `window.localStorage` of the page (or of the worker's... not available in workers).
pub struct BrowserLocalStorage {
    storage: web_sys::Storage,
}

use io_store_support::web::{is_quota_exceeded as is_quota, js_error_text as js_text};

fn err(location: &str, what: &str, e: &JsValue) -> Error {
    io_store_support::web::js_storage_error(SCHEME, location, what, e)
}

impl BrowserLocalStorage {
    /// The page's `window.localStorage`.
    pub fn open() -> Result<Self> {
        let window = web_sys::window().ok_or_else(|| Error::Unsupported {
            operation: "open",
            url: format!("{SCHEME}://"),
            reason: "window.localStorage is only available on a page (not in workers)".into(),
        })?;
        let storage = window
            .local_storage()
            .map_err(|e| err("", "window.localStorage is not accessible", &e))?
            .ok_or_else(|| Error::storage(SCHEME, "", "window.localStorage is not available"))?;
        Ok(BrowserLocalStorage { storage })
    }

    fn usage_except(&self, skip: &Touched<'_>) -> Result<u64> {
        let mut used = 0;
        for k in self.keys()? {
            if !skip.index.contains_key(&k) {
                used += quota_cost(&k, &self.get(&k)?.unwrap_or_default());
            }
        }
        Ok(used)
    }

    fn restore(&self, touched: &Touched<'_>) {
        for t in &touched.keys {
            if t.before.is_none() {
                let _ = self.storage.remove_item(&t.key);
            }
        }
        for t in &touched.keys {
            if let Some(v) = &t.before {
                let _ = self.storage.set_item(&t.key, v);
            }
        }
    }
}

/// The keys a batch touches, in the order first touched. (A `String → index` map, the hash table
/// type io-core has already: one less in the wasm than maps of values.)
#[derive(Default)]
struct Touched<'ops> {
    index: HashMap<String, usize>,
    keys: Vec<TouchedKey<'ops>>,
}

/// A key a batch touches: its value before the batch (for the rollback) and after it.
struct TouchedKey<'ops> {
    key: String,
    before: Option<String>,
    after: After<'ops>,
}

/// What a batch leaves in a key. The old value is not copied for it, nor a value the batch sets
/// (borrowed from its op): either may be megabytes of base64.
enum After<'ops> {
    /// Not written by the batch (yet): as before.
    Unwritten,
    Removed,
    Set(Cow<'ops, str>),
}

impl Touched<'_> {
    /// The slot of `k`, reading its old value on first touch.
    fn touch(&mut self, store: &BrowserLocalStorage, k: &str) -> Result<usize> {
        if let Some(&i) = self.index.get(k) {
            return Ok(i);
        }
        let old = store.get(k)?;
        self.index.insert(k.to_string(), self.keys.len());
        self.keys.push(TouchedKey { key: k.to_string(), before: old, after: After::Unwritten });
        Ok(self.keys.len() - 1)
    }
}

impl WebStorage for BrowserLocalStorage {
    fn get(&self, key: &str) -> Result<Option<String>> {
        self.storage.get_item(key).map_err(|e| err(key, "getItem", &e))
    }

    fn key(&self, index: usize) -> Result<Option<String>> {
        self.storage.key(index as u32).map_err(|e| err("", "key()", &e))
    }

    fn length(&self) -> Result<usize> {
        self.storage.length().map(|n| n as usize).map_err(|e| err("", "length", &e))
    }

    fn batch(&self, ops: &[KvOp], url: &str) -> Result<()> {
        // Old values of every touched key, and the state after the batch (overlay).
        let mut t = Touched::default();
        for op in ops {
            match op {
                KvOp::Set(k, v) => {
                    let i = t.touch(self, k)?;
                    t.keys[i].after = After::Set(Cow::Borrowed(v));
                }
                KvOp::Remove(k) => {
                    let i = t.touch(self, k)?;
                    t.keys[i].after = After::Removed;
                }
                KvOp::Rename { from, to } => {
                    let f = t.touch(self, from)?;
                    let to = t.touch(self, to)?;
                    let moved = match std::mem::replace(&mut t.keys[f].after, After::Removed) {
                        After::Set(v) => Some(v),
                        After::Removed => None,
                        After::Unwritten => t.keys[f].before.clone().map(Cow::Owned),
                    };
                    let v = moved.ok_or_else(|| Error::NotFound {
                        url: url.to_string(),
                        detail: format!("no key '{from}' to move"),
                    })?;
                    t.keys[to].after = After::Set(v);
                }
            }
        }
        let result = (|| -> std::result::Result<(), JsValue> {
            for k in t.keys.iter().filter(|k| matches!(k.after, After::Removed)) {
                self.storage.remove_item(&k.key)?;
            }
            for k in &t.keys {
                if let After::Set(v) = &k.after {
                    self.storage.set_item(&k.key, v)?;
                }
            }
            Ok(())
        })();
        let Err(e) = result else { return Ok(()) };
        self.restore(&t);
        if is_quota(&e) {
            let needed: u64 = t
                .keys
                .iter()
                .map(|k| match &k.after {
                    After::Set(v) => quota_cost(&k.key, v),
                    _ => 0,
                })
                .sum();
            let used_by_others = self.usage_except(&t)?;
            return Err(Error::QuotaExceeded {
                url: url.to_string(),
                needed,
                available: CHROMIUM_QUOTA_BYTES.saturating_sub(used_by_others),
                detail: format!(
                    "{}; {used_by_others} bytes used by other entries; {QUOTA_RULE}; the model that was there is unchanged",
                    js_text(&e)
                ),
            });
        }
        Err(err(url, "writing to localStorage (the batch was rolled back)", &e))
    }
}
