//! Where the profile folder is.

use std::path::PathBuf;
use std::sync::RwLock;

use io_core::{Error, Result};

/// Environment variable that overrides the profile folder.
pub const HOME_ENV: &str = "MODELIO_HOME";

static OVERRIDE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Sets (or with `None` clears) the profile folder for this process. It wins over `MODELIO_HOME`.
/// Stores opened afterwards use it; [`crate::Shared`] reopens its store on the next use.
pub fn set_home(folder: Option<PathBuf>) {
    *OVERRIDE.write().unwrap_or_else(|p| p.into_inner()) = folder;
}

/// The profile folder: [`set_home`]'s override, else `$MODELIO_HOME`, else
/// [`platform_data_dir`]`/modelio`. The folder need not exist yet.
pub fn home() -> Result<PathBuf> {
    if let Some(p) = OVERRIDE.read().unwrap_or_else(|p| p.into_inner()).clone() {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os(HOME_ENV).filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    platform_data_dir().map(|d| d.join("modelio")).ok_or_else(|| Error::Unsupported {
        operation: "open profile",
        url: String::new(),
        reason: format!(
            "cannot find this platform's data folder (no HOME / APPDATA); set {HOME_ENV} or call io_store_support::set_home"
        ),
    })
}

/// The platform's per-user data folder: `$XDG_DATA_HOME` or `~/.local/share` (Linux and other
/// Unix), `~/Library/Application Support` (macOS), `%APPDATA%` (Windows).
pub fn platform_data_dir() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(windows) {
        env("APPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Application Support"))
    } else {
        env("XDG_DATA_HOME").filter(|p| p.is_absolute()).or_else(|| env("HOME").map(|h| h.join(".local/share")))
    }
}
