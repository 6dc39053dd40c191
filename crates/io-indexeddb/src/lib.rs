//! # io-indexeddb
//!
//! modelio plugin for `indexeddb://PATH`: TF.js's IndexedDB layout ([`layout`]: database
//! `tensorflowjs`, object stores `models_store` and `model_info_store` keyed by `modelPath`, records
//! shaped as TF.js's) over an IndexedDB-like database ([`IdbDatabase`]).
//!
//! Unlike TF.js (two transactions), a save writes both records in **one** transaction, so a crash
//! or a failure leaves the old model or the new one. Remove and rename are one transaction too.
//! Weight bytes are stored as blobs, never base64.
//!
//! Natively the database is [`SqliteDatabase`], the file `indexeddb/tensorflowjs.sqlite3` in the
//! modelio profile folder (see [`io_store_support::home`]). It has no quota unless one is set
//! (`io_indexeddb::native_database()?.db().set_quota(Some(bytes))`).
//!
//! In the browser (wasm32) the backend is the page's real IndexedDB (`BrowserIndexedDb`, raw
//! `web-sys`): the same database, stores and records as TF.js, so both read each other's models.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod browser;
mod database;
mod dump;
pub mod layout;
mod models;
#[cfg(not(target_arch = "wasm32"))]
mod sqlite;

use io_core::Result;

#[cfg(target_arch = "wasm32")]
pub use browser::BrowserIndexedDb;
pub use database::{BufferSelect, IdbDatabase, Value, WriteOp, KEY_PATH};
pub use dump::import_dump;
pub use models::{IndexedDbModels, SCHEME};
#[cfg(not(target_arch = "wasm32"))]
pub use sqlite::{db_file, SqliteDatabase};

/// The schemes this plugin registers.
pub const SCHEMES: &[&str] = &[SCHEME];

#[cfg(not(target_arch = "wasm32"))]
static NATIVE: io_store_support::Shared<SqliteDatabase> = io_store_support::Shared::new();

/// The process-wide native database in the current profile folder (opened on first use,
/// reopened when the profile folder changes).
#[cfg(not(target_arch = "wasm32"))]
pub fn native_database() -> Result<std::sync::Arc<SqliteDatabase>> {
    NATIVE.get(SqliteDatabase::open_in)
}

/// The models of the database `indexeddb://` uses in this process.
pub fn models() -> Result<IndexedDbModels> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        Ok(IndexedDbModels::new(native_database()?))
    }
    #[cfg(target_arch = "wasm32")]
    {
        Ok(IndexedDbModels::new(std::sync::Arc::new(BrowserIndexedDb)))
    }
}

io_store_support::register_path_scheme!(SCHEME, "io-indexeddb", IndexedDbModels, models);
