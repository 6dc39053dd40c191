//! The one error type of modelio.

use std::path::PathBuf;

/// An underlying error kept as an [`Error`]'s `source`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias used across modelio.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while saving, loading or managing a model.
///
/// Every variant says *what* went wrong and *where* (URL, path, weight, file). The variants are the
/// kinds a caller can act on; match on them, or use [`Error::is_temporary`] to decide on a retry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL's scheme has no registered handler.
    #[error("no handler for URL '{url}': unsupported scheme; registered schemes: {}", list(.registered))]
    UnsupportedScheme {
        /// The URL as given.
        url: String,
        /// Schemes that are registered, e.g. `["file", "http", "https"]`.
        registered: Vec<String>,
    },
    /// modelio knows the scheme, but the plugin for it was not compiled in.
    #[error("no handler for URL '{url}': scheme '{scheme}://' needs the Cargo feature `{feature}` of the `modelio` crate{} (registered schemes: {})", target_note(.scheme), list(.registered))]
    SchemeDisabled {
        /// The URL as given.
        url: String,
        /// The scheme, without `://`.
        scheme: String,
        /// The `modelio` feature that enables it.
        feature: String,
        /// Schemes that are registered.
        registered: Vec<String>,
    },
    /// More than one plugin claims the URL (TF.js's exactly-one-handler rule).
    #[error("URL '{url}' matches more than one {direction} handler: {}", list(.plugins))]
    MultipleHandlers {
        /// The URL as given.
        url: String,
        /// `"save"` or `"load"`.
        direction: &'static str,
        /// The plugins that claimed it.
        plugins: Vec<String>,
    },
    /// The URL or path is malformed for its scheme.
    #[error("invalid URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No model at that place.
    #[error("model not found: {url}{}", detail_suffix(.detail))]
    NotFound {
        /// Where it was looked for.
        url: String,
        /// Optional extra detail.
        detail: String,
    },
    /// The store's quota is too small for the model. Nothing was written.
    #[error("quota exceeded saving '{url}': the model needs {needed} bytes, {available} bytes are available{}", detail_suffix(.detail))]
    QuotaExceeded {
        /// Where the model was being saved.
        url: String,
        /// Bytes the save needed.
        needed: u64,
        /// Bytes the store had left.
        available: u64,
        /// The underlying cause, as the store reported it.
        detail: String,
    },
    /// The model (model.json, manifest, artifacts) is malformed.
    #[error("invalid model{}: {detail}", at_suffix(.location))]
    InvalidModel {
        /// Where: a URL, file or JSON path; empty when unknown.
        location: String,
        /// What is wrong.
        detail: String,
    },
    /// The weight bytes do not match what the weight specs say.
    #[error("weight data does not match the manifest: weight '{weight}'{}: expected {expected} bytes, found {actual}{}", file_suffix(.file), detail_suffix(.detail))]
    WeightsMismatch {
        /// The first weight that does not fit.
        weight: String,
        /// The shard file (or URL) where the data ran out or overflowed, when known.
        file: Option<String>,
        /// Bytes expected (for the weight, or the file/group, as `detail` says).
        expected: u64,
        /// Bytes present.
        actual: u64,
        /// More precise statement of what was compared.
        detail: String,
    },
    /// A dtype or quantization this version does not support.
    #[error("unsupported {what} '{found}' (weight '{weight}'); supported: {}", .supported.join(", "))]
    UnsupportedDtype {
        /// `"dtype"` or `"quantization dtype"`.
        what: &'static str,
        /// The value found.
        found: String,
        /// The weight it was found on.
        weight: String,
        /// The values that are supported.
        supported: Vec<&'static str>,
    },
    /// An HTTP request answered with a non-success status.
    #[error("HTTP {status} from {method} {url}{}", detail_suffix(.body_start))]
    HttpStatus {
        /// Request method.
        method: String,
        /// Request URL.
        url: String,
        /// Response status code.
        status: u16,
        /// The first bytes of the response body, as text.
        body_start: String,
    },
    /// A network-level failure (connection, timeout, TLS).
    #[error("network error for {url}: {detail}")]
    Network {
        /// Request URL.
        url: String,
        /// What failed.
        detail: String,
        /// Whether retrying may help.
        temporary: bool,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// A file-system operation failed.
    #[error("{op} '{}': {source}", .path.display())]
    Io {
        /// What was being done, e.g. `"reading"`.
        op: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A storage backend (database, browser storage) failed.
    #[error("{store} storage error{}: {detail}", at_suffix(.location))]
    Storage {
        /// The store, e.g. `"indexeddb"`.
        store: &'static str,
        /// Model path or key concerned; may be empty.
        location: String,
        /// The underlying error, as text.
        detail: String,
        /// The underlying error itself, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The operation is not supported by this scheme or handler.
    #[error("'{operation}' is not supported for '{url}': {reason}")]
    Unsupported {
        /// The operation, e.g. `"load"`, `"list"`, `"remove"`.
        operation: &'static str,
        /// The URL or scheme.
        url: String,
        /// Why.
        reason: String,
    },
    /// Source and destination of a copy or move are the same.
    #[error("old path and new path are the same: '{0}'")]
    SamePath(String),
    /// The caller cancelled the operation ([`crate::Cancel`]). A cancelled save wrote nothing.
    #[error("cancelled: {operation} '{url}'")]
    Cancelled {
        /// `"save"`, `"load"`, `"copy"`, `"move"`.
        operation: &'static str,
        /// The URL concerned.
        url: String,
    },
    /// Something is bigger than a limit allows (a model.json, the declared weight bytes, a file
    /// longer than the manifest announces). Nothing beyond the limit was read.
    #[error("{what} at {location} is too large: {actual} bytes, the limit is {limit} bytes{}", detail_suffix(.detail))]
    TooLarge {
        /// What was measured, e.g. `"model.json"`, `"the declared weights"`, `"weight file"`.
        what: &'static str,
        /// Where (URL, path, file).
        location: String,
        /// The limit in bytes.
        limit: u64,
        /// The size found (at least `limit + 1` when only that much was read).
        actual: u64,
        /// How to change the limit, or what announced the size.
        detail: String,
    },
}

impl Error {
    /// Whether the same operation may succeed if retried (connection errors, 5xx, 429, busy stores).
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Network { temporary, .. } => *temporary,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }

    /// Shorthand for [`Error::InvalidModel`].
    pub fn invalid_model(location: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::InvalidModel { location: location.into(), detail: detail.into() }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { op, path: path.into(), source }
    }

    /// Shorthand for [`Error::NotFound`] with no detail.
    pub fn not_found(url: impl Into<String>) -> Self {
        Error::NotFound { url: url.into(), detail: String::new() }
    }

    /// Shorthand for [`Error::Storage`].
    pub fn storage(store: &'static str, location: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error::Storage { store, location: location.into(), detail: detail.to_string(), source: None }
    }

    /// [`Error::Storage`] caused by `cause`, which stays reachable as the error's `source`.
    pub fn storage_from(
        store: &'static str,
        location: impl Into<String>,
        cause: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Storage { store, location: location.into(), detail: cause.to_string(), source: Some(Box::new(cause)) }
    }

    /// Prefixes the location of an [`Error::InvalidModel`] (e.g. with the URL a model.json came from).
    pub fn with_location(self, location: impl std::fmt::Display) -> Self {
        match self {
            Error::InvalidModel { location: l, detail } if l.is_empty() => {
                Error::InvalidModel { location: location.to_string(), detail }
            }
            Error::InvalidModel { location: l, detail } => {
                Error::InvalidModel { location: format!("{location} {l}"), detail }
            }
            Error::WeightsMismatch { weight, file, expected, actual, detail } => Error::WeightsMismatch {
                weight,
                file: file.map(|f| f.to_string()).or_else(|| Some(location.to_string())),
                expected,
                actual,
                detail,
            },
            other => other,
        }
    }
}

/// Where a known scheme's plugin exists when it is not on this target (the feature alone does not
/// bring it here).
fn target_note(scheme: &str) -> &'static str {
    if cfg!(target_arch = "wasm32") {
        match scheme {
            "file" | "safetensors" | "zip" => {
                ", in a native build: it reads and writes the file system, which a browser does not have"
            }
            "s3" | "gs" | "az" => ", in a native build: the object-store client does not run in a browser",
            _ => "",
        }
    } else {
        match scheme {
            "opfs" => ", in a browser build (wasm32): it is the browser's Origin Private File System",
            _ => "",
        }
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "(none)".to_string()
    } else {
        v.join(", ")
    }
}

fn detail_suffix(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!(" ({d})")
    }
}

fn at_suffix(l: &str) -> String {
    if l.is_empty() {
        String::new()
    } else {
        format!(" at {l}")
    }
}

fn file_suffix(f: &Option<String>) -> String {
    match f {
        Some(f) => format!(" in file '{f}'"),
        None => String::new(),
    }
}
