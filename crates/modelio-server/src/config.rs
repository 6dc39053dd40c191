//! [`ServeConfig`]: what `modelio serve` serves, where, and its limits.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use io_core::Registry;

/// Default store: a `models` folder in the working directory.
pub const DEFAULT_STORE: &str = "file://./models";
/// Default address: loopback only, port 8080.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Default upload limit: 2 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 2 << 30;
/// Default [`ServeConfig::revalidate_after`]: 1 s.
pub const DEFAULT_REVALIDATE_AFTER: Duration = Duration::from_secs(1);
/// Default [`ServeConfig::cache_max_bytes`]: 1 GiB.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 1 << 30;
/// Default [`ServeConfig::max_model_json_bytes`]: 32 MiB.
pub const DEFAULT_MAX_MODEL_JSON_BYTES: u64 = 32 << 20;
/// Default [`ServeConfig::max_upload_parts`]: 10,000 (a 40 GB model in 4 MiB converter shards).
pub const DEFAULT_MAX_UPLOAD_PARTS: usize = 10_000;
/// Default [`ServeConfig::max_manifest_paths`]: 10,000.
pub const DEFAULT_MAX_MANIFEST_PATHS: usize = 10_000;
/// Default [`ServeConfig::version_grace`]: 10 s.
pub const DEFAULT_VERSION_GRACE: Duration = Duration::from_secs(10);

/// Default [`ServeConfig::keep_versions`]: 2 (the latest and the one before it).
pub const DEFAULT_KEEP_VERSIONS: usize = 2;

/// How to run the server.
#[derive(Clone)]
pub struct ServeConfig {
    /// Where models are kept: a store URL prefix, e.g. `file://./models` or `indexeddb://` (any
    /// scheme registered in [`ServeConfig::registry`] that can save and load). Model `team/m` lives at
    /// `{store}/team/m` (no `/` is added when the store ends with `/`).
    pub store: String,
    /// Address to listen on (port 0 = any free port; see [`crate::Server::local_addr`]).
    pub addr: SocketAddr,
    /// Largest accepted upload body, in bytes; bigger uploads get 413.
    pub max_upload_bytes: u64,
    /// Origins whose pages may write (and read) through CORS: none by default; `"*"` lets any page
    /// write (it still needs a write token unless anonymous writes are allowed). Writes carrying an
    /// `Origin` not listed here (and not the server's own) get 403, preflighted or not; see [`crate::cors`].
    pub cors_origins: Vec<String>,
    /// Whether pages on any origin may read (GET/HEAD, `Access-Control-Allow-Origin: *`); default true.
    /// `modelio serve --no-cors` turns this off and lists no origins: no CORS headers at all.
    pub cors_any_read: bool,
    /// Tokens, read-only mode and the Host check (see [`crate::auth`]).
    pub access: crate::auth::Access,
    /// Timeouts and connection / upload limits (see [`crate::conn`]).
    pub limits: crate::conn::Limits,
    /// Serve HTTPS with this certificate and key (see [`crate::tls`]); `None` (the default): plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    /// The schemes to store through (default: [`modelio::registry()`], every enabled plugin).
    pub registry: Arc<Registry>,
    /// How long a model's files, once cached, are served without asking the store whether the model
    /// changed (default [`DEFAULT_REVALIDATE_AFTER`], 1 s; `Duration::ZERO` asks on every request).
    /// This only matters for changes made to the store by other processes (e.g. `modelio cp` into the
    /// store folder): uploads and deletes through this server are seen by the very next request. The
    /// check reads the store's info for the model (`dateSaved` and byte counts), not its weights; see
    /// [`crate::cache`].
    pub revalidate_after: Duration,
    /// Most bytes (model.json plus weights) the read cache holds (default [`DEFAULT_CACHE_MAX_BYTES`],
    /// 1 GiB); the least recently served models are dropped first, a model bigger than this is served
    /// uncached, and 0 turns the cache off.
    pub cache_max_bytes: u64,
    /// Largest accepted model.json part of an upload, in bytes (default
    /// [`DEFAULT_MAX_MODEL_JSON_BYTES`]); bigger gets 413.
    pub max_model_json_bytes: u64,
    /// Most parts (model.json included) one upload may have (default [`DEFAULT_MAX_UPLOAD_PARTS`]);
    /// more gets 413.
    pub max_upload_parts: usize,
    /// Most weight paths the manifest of one upload may name (default
    /// [`DEFAULT_MAX_MANIFEST_PATHS`]); more gets 413.
    pub max_manifest_paths: usize,
    /// A quota on the bytes the store holds (model.json files and weights of every kept version,
    /// as the store reports them); an upload that would go over it gets 507. `None`: no quota.
    pub max_store_bytes: Option<u64>,
    /// How many versions of each model are kept (default [`DEFAULT_KEEP_VERSIONS`], at least 1): after
    /// a new version is committed, the oldest beyond this many are deleted. See [`crate::versions`].
    pub keep_versions: usize,
    /// How long a version beyond `keep_versions` stays after a newer one replaced it (default
    /// [`DEFAULT_VERSION_GRACE`], 10 s), so that a load that read the old model.json just before a
    /// save can still fetch its weights; such a version is deleted by a later save of the name.
    pub version_grace: Duration,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            store: DEFAULT_STORE.to_string(),
            addr: DEFAULT_ADDR.parse().expect("valid default address"),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            cors_origins: Vec::new(),
            cors_any_read: true,
            access: crate::auth::Access::default(),
            limits: crate::conn::Limits::default(),
            tls: None,
            registry: modelio::shared_registry(),
            revalidate_after: DEFAULT_REVALIDATE_AFTER,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            max_model_json_bytes: DEFAULT_MAX_MODEL_JSON_BYTES,
            max_upload_parts: DEFAULT_MAX_UPLOAD_PARTS,
            max_manifest_paths: DEFAULT_MAX_MANIFEST_PATHS,
            max_store_bytes: None,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            version_grace: DEFAULT_VERSION_GRACE,
        }
    }
}

impl std::fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeConfig")
            .field("store", &self.store)
            .field("addr", &self.addr)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("cors_origins", &self.cors_origins)
            .field("cors_any_read", &self.cors_any_read)
            .field("access", &self.access)
            .field("limits", &self.limits)
            .field("tls", &self.tls)
            .field("registry", &self.registry.schemes())
            .field("revalidate_after", &self.revalidate_after)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("max_model_json_bytes", &self.max_model_json_bytes)
            .field("max_upload_parts", &self.max_upload_parts)
            .field("max_manifest_paths", &self.max_manifest_paths)
            .field("max_store_bytes", &self.max_store_bytes)
            .field("keep_versions", &self.keep_versions)
            .field("version_grace", &self.version_grace)
            .finish()
    }
}

impl ServeConfig {
    /// The store URL of model `name` (a name checked by [`crate::names::check`]).
    pub fn model_url(&self, name: &str) -> String {
        if self.store.ends_with('/') {
            format!("{}{name}", self.store)
        } else {
            format!("{}/{name}", self.store)
        }
    }

    /// The model name of a path listed by the store's scheme, if it lies under this store.
    pub fn name_of(&self, listed_path: &str) -> Option<String> {
        // The store's own path as its scheme lists it (relative to a mount, if the store is under one).
        let base = match self.registry.store_path(&self.store) {
            Ok(p) => p,
            Err(_) => self.store.split_once("://")?.1.to_string(),
        };
        let base = base.trim_end_matches('/');
        if base.is_empty() {
            return Some(listed_path.to_string());
        }
        listed_path.strip_prefix(base)?.strip_prefix('/').filter(|n| !n.is_empty()).map(str::to_string)
    }

    /// The folder of a `file://` store (`./models` for `file://./models`), whose files the server
    /// reads directly (model.json alone, weight files streamed with ranges); `None` for other stores.
    pub fn store_dir(&self) -> Option<std::path::PathBuf> {
        let rest = self.store.strip_prefix("file://")?;
        let rest = match rest.strip_prefix("localhost") {
            Some(r) if r.starts_with('/') => r,
            _ => rest,
        };
        let rest = rest.trim_end_matches('/');
        Some(std::path::PathBuf::from(if rest.is_empty() { "." } else { rest }))
    }

    /// The store's scheme (`file` for `file://./models`).
    pub fn scheme(&self) -> &str {
        self.store.split_once("://").map_or("", |(s, _)| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(store: &str) -> ServeConfig {
        ServeConfig { store: store.into(), registry: Arc::new(Registry::new()), ..ServeConfig::default() }
    }

    #[test]
    fn urls_and_listed_names() {
        let c = cfg("file://./models");
        assert_eq!(c.model_url("team/m"), "file://./models/team/m");
        assert_eq!(c.name_of("./models/team/m").as_deref(), Some("team/m"));
        assert_eq!(c.name_of("./modelsX/m"), None);
        assert_eq!(c.scheme(), "file");
        let m = cfg("memory://");
        assert_eq!(m.model_url("a"), "memory://a");
        assert_eq!(m.name_of("a/b").as_deref(), Some("a/b"));
    }
}
