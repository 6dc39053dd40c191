//! An example scheme crate written outside modelio's core: `memory://NAME` keeps models in a
//! process-wide map of keys to bytes. The map is all this crate implements ([`MemoryStore`], an
//! [`io_core::KeyValueStore`]); [`io_core::KeyedStore`] makes it a complete store — save, load,
//! list, remove, with TF.js's `model.json` + weight-file layout (`NAME/model.json`,
//! `NAME/{version}.group1-shard1of1.bin`) and atomic saves. Copies and moves go through the
//! registry (load, then save; there is no rename).
//!
//! It registers itself through `inventory` (and [`register`]); a program that wants it writes
//! `use modelio_example_memory as _;` so the linker keeps it.
//!
//! Configured instances keep their models in a separate map, named by the `name` key (the same
//! name is the same map):
//!
//! ```
//! # use modelio_example_memory as _;
//! let registry = io_core::Registry::from_inventory();
//! let config = [("name".to_string(), "scratch".to_string())].into();
//! registry.mount_configured("scratch://", "memory", &config).unwrap();
//! ```

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

use io_core::files::FileRequest;
use io_core::keyed::{KeyValueStore, KeyedStore, ObjectMeta};
use io_core::{Config, Error, Registry, Result, SchemeRegistration, WeightData};

/// The scheme this crate adds.
pub const SCHEME: &str = "memory";

/// The schemes this crate adds.
pub const SCHEMES: &[&str] = &[SCHEME];

type Objects = Mutex<BTreeMap<String, Bytes>>;

static DEFAULT: Objects = Mutex::new(BTreeMap::new());
static NAMED: Mutex<BTreeMap<String, MemoryStore>> = Mutex::new(BTreeMap::new());

/// A map of keys to bytes: the process-wide one, or a named one ([`KeyValueStore::configure`]).
#[derive(Clone, Copy, Debug)]
pub struct MemoryStore {
    objects: &'static Objects,
    /// The map's name, shown in errors.
    name: &'static str,
}

impl MemoryStore {
    /// The process-wide map behind `memory://`.
    pub const DEFAULT: MemoryStore = MemoryStore { objects: &DEFAULT, name: "" };

    /// The map named `name` (created empty on first use; it lives as long as the process).
    pub fn named(name: &str) -> MemoryStore {
        *lock(&NAMED)
            .entry(name.to_string())
            .or_insert_with(|| MemoryStore { objects: Box::leak(Box::default()), name: Box::leak(name.into()) })
    }

    fn objects(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        lock(self.objects)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg_attr(not(target_arch = "wasm32"), io_core::async_trait)]
#[cfg_attr(target_arch = "wasm32", io_core::async_trait(?Send))]
impl KeyValueStore for MemoryStore {
    fn describe(&self, key: &str) -> String {
        match self.name {
            "" => format!("{SCHEME}://{key}"),
            name => format!("{SCHEME}://{key} (map '{name}')"),
        }
    }
    async fn get(&self, key: &str, req: &FileRequest<'_>) -> Result<Bytes> {
        let found = self.objects().get(key).cloned();
        req.whole(found.ok_or_else(|| Error::not_found(self.describe(key)))?)
    }
    async fn put(&self, key: &str, data: WeightData) -> Result<()> {
        self.objects().insert(key.to_string(), data.to_bytes());
        Ok(())
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>> {
        let objects = self.objects();
        let under = objects.range(prefix.to_string()..).take_while(|(k, _)| k.starts_with(prefix));
        Ok(under.map(|(k, v)| ObjectMeta { key: k.clone(), size: v.len() as u64, last_modified: None }).collect())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.objects().remove(key);
        Ok(())
    }
    /// Keys: `name` (required), the map to use.
    fn configure(&self, config: &Config) -> Result<Self> {
        let unknown = || Error::Unsupported {
            operation: "configure",
            url: format!("{SCHEME}://"),
            reason: format!("memory:// takes one key, `name`; got {:?}", config.keys().collect::<Vec<_>>()),
        };
        match (config.get("name"), config.len()) {
            (Some(name), 1) if !name.is_empty() => Ok(MemoryStore::named(name)),
            _ => Err(unknown()),
        }
    }
}

/// The plugin: the process-wide map as a [`KeyedStore`].
pub static MEMORY: KeyedStore<MemoryStore> = KeyedStore::new(MemoryStore::DEFAULT);

static REGISTRATION: SchemeRegistration =
    SchemeRegistration { scheme: SCHEME, plugin: "modelio-example-memory", handler: &MEMORY };

/// Registers `memory://` in `registry` (idempotent; `inventory` does it for the global one too).
pub fn register(registry: &Registry) {
    registry.register(&REGISTRATION);
}

io_core::inventory::submit! {
    SchemeRegistration { scheme: SCHEME, plugin: "modelio-example-memory", handler: &MEMORY }
}
