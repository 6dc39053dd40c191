//! The browser backend: `window.localStorage` as a [`WebStorage`].
//!
//! Web Storage has no transactions, so [`WebStorage::batch`] is emulated as the trait asks: the
//! batch is first applied to an overlay of the touched keys (a missing rename source fails before
//! anything is written), then written (removals first, to free space); if a write fails, every
//! touched key is put back to its old value. A `QuotaExceededError` becomes
//! [`io_core::Error::QuotaExceeded`], sized by Chromium's rule ([`crate::QUOTA_RULE`]).

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

    fn usage_except(&self, skip: &HashMap<String, Option<String>>) -> Result<u64> {
        let mut used = 0;
        for k in self.keys()? {
            if !skip.contains_key(&k) {
                used += quota_cost(&k, &self.get(&k)?.unwrap_or_default());
            }
        }
        Ok(used)
    }

    fn restore(&self, old: &HashMap<String, Option<String>>) {
        for (k, v) in old {
            if v.is_none() {
                let _ = self.storage.remove_item(k);
            }
        }
        for (k, v) in old {
            if let Some(v) = v {
                let _ = self.storage.set_item(k, v);
            }
        }
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
        let mut old: HashMap<String, Option<String>> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut touch = |k: &String, old: &mut HashMap<String, Option<String>>| -> Result<()> {
            if !old.contains_key(k) {
                old.insert(k.clone(), self.get(k)?);
                order.push(k.clone());
            }
            Ok(())
        };
        let mut new: HashMap<String, Option<String>> = HashMap::new();
        for op in ops {
            match op {
                KvOp::Set(k, v) => {
                    touch(k, &mut old)?;
                    new.insert(k.clone(), Some(v.clone()));
                }
                KvOp::Remove(k) => {
                    touch(k, &mut old)?;
                    new.insert(k.clone(), None);
                }
                KvOp::Rename { from, to } => {
                    touch(from, &mut old)?;
                    touch(to, &mut old)?;
                    let v = new.get(from).cloned().unwrap_or_else(|| old[from].clone()).ok_or_else(|| {
                        Error::NotFound { url: url.to_string(), detail: format!("no key '{from}' to move") }
                    })?;
                    new.insert(from.clone(), None);
                    new.insert(to.clone(), Some(v));
                }
            }
        }
        let result = (|| -> std::result::Result<(), JsValue> {
            for k in order.iter().filter(|k| new[*k].is_none()) {
                self.storage.remove_item(k)?;
            }
            for k in &order {
                if let Some(v) = &new[k] {
                    self.storage.set_item(k, v)?;
                }
            }
            Ok(())
        })();
        let Err(e) = result else { return Ok(()) };
        self.restore(&old);
        if is_quota(&e) {
            let needed: u64 = new.iter().map(|(k, v)| v.as_deref().map_or(0, |v| quota_cost(k, v))).sum();
            let used_by_others = self.usage_except(&old)?;
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
