//! # io-store-support
//!
//! What modelio's browser-like stores (`io-localstorage`, `io-indexeddb`) share, so it exists once:
//!
//! - [`PathStore`] and [`PathScheme`] (every target): a store that keeps models by path becomes a
//!   scheme plugin (save/load handlers and a [`io_core::ModelStore`] with list, remove and an
//!   atomic rename) without any per-crate handler boilerplate; [`register_path_scheme!`] declares
//!   the plugin's statics, its `inventory` submission and `register`; [`no_backend`] is the error
//!   of a target without a backend yet.
//!
//! Natively, the **profile folder** that holds the stores and the **SQLite databases** inside it:
//!
//! - [`home`] resolves the profile folder: an override set in code ([`set_home`]), else the
//!   `MODELIO_HOME` environment variable ([`HOME_ENV`]), else the platform's data folder for
//!   modelio (`$XDG_DATA_HOME/modelio` or `~/.local/share/modelio` on Linux,
//!   `~/Library/Application Support/modelio` on macOS, `%APPDATA%\modelio` on Windows).
//! - [`Db`] is one SQLite database in WAL mode with a busy timeout, so several processes can save,
//!   list and remove at once; every write is one `BEGIN IMMEDIATE` transaction, so a crash (even
//!   `kill -9`) leaves the state before or after it, never a mix.
//! - [`Shared`] keeps one open [`Db`]-backed store per process and reopens it when the profile
//!   folder changes.
//! - [`check_quota`] is the one quota rule both stores apply inside their write transaction.
//!
//! On `wasm32` only the target-independent items ([`PathStore`], [`PathScheme`],
//! [`register_path_scheme!`], [`no_backend`], [`check_quota`]) and the `web` helpers (JS errors,
//! `QuotaExceededError`, reading byte streams without garbage) exist: browser builds use the
//! browser's own storage. io-http's browser transport uses the `web` stream reader too.
#![warn(missing_docs)]

/// Standard base64, the one coder both stores use.
pub mod base64;
#[cfg(not(target_arch = "wasm32"))]
mod db;
#[cfg(not(target_arch = "wasm32"))]
mod folder;
mod quota;
mod scheme;
#[cfg(not(target_arch = "wasm32"))]
mod shared;
/// Browser helpers shared by the stores' wasm32 backends (and io-http's browser transport).
#[cfg(target_arch = "wasm32")]
pub mod web;

#[cfg(not(target_arch = "wasm32"))]
pub use db::{Db, SqlContext, BUSY_TIMEOUT};
#[cfg(not(target_arch = "wasm32"))]
pub use folder::{home, platform_data_dir, set_home, HOME_ENV};
pub use quota::check_quota;
#[cfg(not(target_arch = "wasm32"))]
pub use rusqlite;
pub use scheme::{no_backend, PathScheme, PathStore};
#[cfg(not(target_arch = "wasm32"))]
pub use shared::Shared;
