//! modelio plugin for object storage: `s3://BUCKET/prefix/NAME` (Amazon S3 and S3-compatible
//! servers such as MinIO, Ceph and SeaweedFS), `gs://BUCKET/...` (Google Cloud Storage) and
//! `az://CONTAINER/...` (Azure Blob Storage), over the [`object_store`] crate (the store layer of
//! Arrow and DataFusion: request signing, retries with backoff, pagination). Each service's client is
//! behind a Cargo feature (`aws`, `gcp`, `azure`; the `modelio` facade's `s3`, `gcs`, `azure`).
//!
//! This crate only moves bytes by key ([`Bucket`], an [`io_core::keyed::KeyValueStore`]); the model
//! layout and the atomic saves are [`io_core::keyed`]'s:
//!
//! - `NAME/model.json` plus weight objects `NAME/{version}.group1-shard{I}of{N}.bin` (4 MiB
//!   converter-style shards by default), so TF.js loads a model straight from the bucket over HTTP
//!   (`tf.loadLayersModel('https://BUCKET.s3.amazonaws.com/prefix/NAME/model.json')`).
//! - A save puts the new version's weight objects (new names: nothing another model.json points at
//!   is overwritten), then `model.json` in one PUT (the commit); the previous version is kept (for
//!   readers holding the old model.json), older versions and leftovers of failed saves are deleted
//!   once an hour old. Concurrent writers: the last commit wins, never a mix.
//! - Loads read model.json, then the weight objects 8 at a time; each object's size is checked
//!   against the manifest before its body is read. An object over [`RANGE_THRESHOLD`] (16 MiB) is
//!   read as 8 MiB range GETs, 4 requests at a time, into the one buffer of the load.
//!
//! # Configuration
//!
//! The registered schemes build one client per bucket from the environment, exactly as
//! `object_store`'s `from_env` builders read it (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...; `GOOGLE_*`; `AZURE_*`). From code, mount a
//! configured instance (keys in [`Bucket`]'s `configure`: `bucket`, `prefix`, and `object_store`'s
//! config keys):
//!
//! ```no_run
//! # use io_object_store as _;
//! let registry = io_core::Registry::from_inventory();
//! let config = [
//!     ("bucket".to_string(), "models".to_string()),
//!     ("prefix".to_string(), "prod".to_string()),
//!     ("endpoint".to_string(), "http://127.0.0.1:8333".to_string()),
//!     ("allow_http".to_string(), "true".to_string()),
//! ]
//! .into();
//! registry.mount_configured("prod://", "s3", &config).unwrap();
//! ```
//!
//! or wrap any `object_store` client: `registry.mount("prod://", Arc::new(KeyedStore::new(Bucket::fixed(..))))`.
//!
//! Requests run on a small tokio runtime owned by this crate (as in io-http), so callers may use
//! any executor.

#![warn(missing_docs)]

mod runtime;
mod store;
#[cfg(feature = "testkit")]
pub mod testkit;

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
use io_core::keyed::KeyedStore;
use io_core::Registry;
#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
use io_core::SchemeRegistration;

pub use object_store;
pub use store::{Bucket, Service, RANGES_AT_ONCE, RANGE_BYTES, RANGE_THRESHOLD};

/// The schemes this crate adds (with the features it was built with).
pub const SCHEMES: &[&str] = &[
    #[cfg(feature = "aws")]
    "s3",
    #[cfg(feature = "gcp")]
    "gs",
    #[cfg(feature = "azure")]
    "az",
];

/// `s3://`: buckets configured from the environment.
#[cfg(feature = "aws")]
pub static S3: KeyedStore<Bucket> = KeyedStore::new(Bucket::env(Service::S3));
/// `gs://`: buckets configured from the environment.
#[cfg(feature = "gcp")]
pub static GCS: KeyedStore<Bucket> = KeyedStore::new(Bucket::env(Service::Gcs));
/// `az://`: containers configured from the environment.
#[cfg(feature = "azure")]
pub static AZURE: KeyedStore<Bucket> = KeyedStore::new(Bucket::env(Service::Azure));

#[cfg(any(feature = "aws", feature = "gcp", feature = "azure"))]
const PLUGIN: &str = "io-object-store";

#[cfg(feature = "aws")]
static S3_REG: SchemeRegistration = SchemeRegistration { scheme: "s3", plugin: PLUGIN, handler: &S3 };
#[cfg(feature = "gcp")]
static GCS_REG: SchemeRegistration = SchemeRegistration { scheme: "gs", plugin: PLUGIN, handler: &GCS };
#[cfg(feature = "azure")]
static AZURE_REG: SchemeRegistration = SchemeRegistration { scheme: "az", plugin: PLUGIN, handler: &AZURE };

#[cfg(feature = "aws")]
io_core::inventory::submit! { SchemeRegistration { scheme: "s3", plugin: PLUGIN, handler: &S3 } }
#[cfg(feature = "gcp")]
io_core::inventory::submit! { SchemeRegistration { scheme: "gs", plugin: PLUGIN, handler: &GCS } }
#[cfg(feature = "azure")]
io_core::inventory::submit! { SchemeRegistration { scheme: "az", plugin: PLUGIN, handler: &AZURE } }

/// Registers the schemes of the enabled features in `registry` (idempotent).
pub fn register(registry: &Registry) {
    let _ = registry;
    #[cfg(feature = "aws")]
    registry.register(&S3_REG);
    #[cfg(feature = "gcp")]
    registry.register(&GCS_REG);
    #[cfg(feature = "azure")]
    registry.register(&AZURE_REG);
}
