//! One open store per process, following the profile folder.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use io_core::Result;

/// A lazily opened, process-wide store living in the profile folder ([`crate::home`]).
///
/// [`Shared::get`] opens it on first use and opens it again when the profile folder changed
/// (e.g. after [`crate::set_home`]); handles obtained earlier keep working on the old folder.
pub struct Shared<T> {
    slot: Mutex<Option<(PathBuf, Arc<T>)>>,
}

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Shared<T> {
    /// An empty slot (for a `static`).
    pub const fn new() -> Self {
        Shared { slot: Mutex::new(None) }
    }

    /// The store for the current profile folder, opened with `open(folder)` if needed.
    pub fn get(&self, open: impl FnOnce(&Path) -> Result<T>) -> Result<Arc<T>> {
        let home = crate::home()?;
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((folder, store)) = slot.as_ref() {
            if *folder == home {
                return Ok(store.clone());
            }
        }
        let store = Arc::new(open(&home)?);
        *slot = Some((home, store.clone()));
        Ok(store)
    }
}
