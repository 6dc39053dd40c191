//! # io-localstorage
//!
//! modelio plugin for `localstorage://PATH`: TF.js's localStorage layout ([`layout`]: five keys
//! `tensorflowjs_models/PATH/{info, model_topology, weight_specs, weight_data, model_metadata}`
//! with TF.js's value encodings) over a Web-Storage-like key-value store ([`WebStorage`]).
//!
//! Unlike TF.js, a save is **one transaction** ([`WebStorage::batch`]): over quota it fails with
//! [`io_core::Error::QuotaExceeded`] (needed and available bytes, and how they were counted) and
//! the model that was at the path before is still there, intact. Remove and rename are one
//! transaction too.
//!
//! Natively the store is [`SqliteStorage`], the file `localstorage.sqlite3` in the modelio profile
//! folder (see [`io_store_support::home`]: [`io_store_support::set_home`], `MODELIO_HOME`, or the
//! platform's data folder). Its quota is Chromium's, 10 MiB counted as 2 bytes per UTF-16 code unit
//! of keys and values ([`CHROMIUM_QUOTA_BYTES`], [`QUOTA_RULE`]); change it with
//! `io_localstorage::native_store()?.db().set_quota(..)`.
//!
//! In the browser the backend is `window.localStorage`; it is not part of this crate yet (see
//! [`WebStorage`] for the trait to implement), so on `wasm32` the scheme fails with
//! [`io_core::Error::Unsupported`].
#![warn(missing_docs)]

mod dump;
pub mod layout;
mod models;
#[cfg(not(target_arch = "wasm32"))]
mod sqlite;
mod storage;

use io_core::Result;

pub use dump::import_dump;
pub use models::{LocalStorageModels, SCHEME};
#[cfg(not(target_arch = "wasm32"))]
pub use sqlite::{SqliteStorage, DB_FILE};
pub use storage::{quota_cost, KvOp, WebStorage, CHROMIUM_QUOTA_BYTES, QUOTA_RULE};

/// The schemes this plugin registers.
pub const SCHEMES: &[&str] = &[SCHEME];

#[cfg(not(target_arch = "wasm32"))]
static NATIVE: io_store_support::Shared<SqliteStorage> = io_store_support::Shared::new();

/// The process-wide native store in the current profile folder (opened on first use, reopened
/// when the profile folder changes).
#[cfg(not(target_arch = "wasm32"))]
pub fn native_store() -> Result<std::sync::Arc<SqliteStorage>> {
    NATIVE.get(SqliteStorage::open_in)
}

/// The models of the store `localstorage://` uses in this process.
pub fn models() -> Result<LocalStorageModels> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Ok(LocalStorageModels::new(native_store()?))
    }
    #[cfg(target_arch = "wasm32")]
    {
        Err(io_store_support::no_backend(SCHEME, "browser localStorage"))
    }
}

io_store_support::register_path_scheme!(SCHEME, "io-localstorage", LocalStorageModels, models);
