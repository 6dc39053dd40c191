//! # io-core
//!
//! The medium-independent core of modelio: TensorFlow.js model artifacts and the `model.json`
//! document ([`artifacts`]), weight bytes held as one or many buffers ([`weights`]), the weight
//! codec with its validation ([`codec`]), TF.js's `ModelArtifactsInfo` ([`info`]), the handler
//! traits a scheme plugin implements ([`handler`]), and the scheme router with model management
//! ([`router`]), the TF.js file layout ([`files`]) and model stores over get/put/list/delete media
//! ([`keyed`]); plus fresh memory for the weight bytes plugins read ([`buffer`]).
//!
//! This crate knows nothing about any storage medium, HTTP or the browser. Plugins (`io-file`,
//! `io-http`, ...) depend on it; it depends on none of them.
//!
//! The data path of a load: URL → [`Registry`] → plugin's [`LoadHandler`] → bytes →
//! [`ModelJson::parse`] + [`files::assemble`] (every file bounded and checked with [`codec::layout`]) → one [`ModelArtifacts`] whose
//! weights were checked against their specs → (on demand) [`codec::decode_weights`].
#![warn(missing_docs)]

pub mod artifacts;
pub mod blocking;
pub mod buffer;
pub mod codec;
pub mod convert;
pub mod error;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod handler;
pub mod info;
pub mod json;
pub mod keyed;
pub mod options;
pub mod router;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod weights;

pub use artifacts::{DType, ManifestGroup, ModelArtifacts, ModelJson, QuantDType, Quantization, Topology, WeightSpec};
pub use async_trait::async_trait;
pub use codec::{decode_weights, encode_weights, NamedTensor, Tensor, TensorData};
pub use convert::{Conversion, QuantizeTo, Selection};
pub use error::{Error, Result};
pub use handler::{Collected, LoadHandler, MaybeSendSync, ModelStore, SaveHandler};
pub use info::{ModelArtifactsInfo, SaveResponse, SaveResult};
pub use inventory;
pub use json::RawJson;
pub use keyed::{KeyValueStore, KeyedHandler, KeyedStore, ObjectMeta};
pub use options::{Cancel, FileTapFn, Limits, Meter, Options, Progress, ProgressFn, DEFAULT_SHARD_SIZE};
pub use router::{global, register, Config, ModelUrl, Registry, Scheme, SchemeRegistration, KNOWN_SCHEMES};
pub use weights::WeightData;

/// Saves `artifacts` to `url` through the process-wide registry.
pub async fn save(url: &str, artifacts: &ModelArtifacts) -> Result<SaveResult> {
    global().save(url, artifacts).await
}

/// Loads the model at `url` through the process-wide registry.
pub async fn load(url: &str) -> Result<ModelArtifacts> {
    global().load(url).await
}
