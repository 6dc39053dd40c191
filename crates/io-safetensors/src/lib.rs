//! # io-safetensors: the `safetensors://` scheme
//!
//! Exports a TensorFlow.js model to one [safetensors](https://huggingface.co/docs/safetensors) file
//! and imports it back, losslessly: `modelio cp file://./m safetensors:///tmp/m.safetensors` and
//! back give the same model.json fields and the same weight bytes.
//!
//! - **URL**: `safetensors:///abs/model.safetensors` or `safetensors://./relative/model.safetensors`
//!   (the path after `://`, read as `file://` reads it).
//! - **Export**: one tensor per weight, named as the weight, with its bytes as stored: `float32` →
//!   `F32`, `int32` → `I32`, `bool` → `BOOL`, quantized weights as their stored dtype (`uint8` → `U8`,
//!   `uint16` → `U16`, `float16` → `F16`; dequantize first with `modelio cp --dequantize` or
//!   `Options::convert` to get `F32`), `complex64` → `F32` with a last dimension of 2, `string` →
//!   `U8` holding TF.js's encoded bytes. The `__metadata__` key [`MODEL_JSON_KEY`] holds the
//!   model.json (topology, manifest with quantization, every other field), so an import restores
//!   the model exactly. A weight name used twice is refused (safetensors keys are unique). Saves
//!   are atomic: a temporary file next to the target, fsynced, then renamed over it.
//! - **Import**: with [`MODEL_JSON_KEY`], the model.json is restored and each weight's bytes are
//!   the tensor of its name (dtype and shape checked against the manifest). Without it (a file from
//!   elsewhere), a weights-only model: every `F32`/`I32`/`BOOL` tensor in file order; other dtypes
//!   are refused.
//! - **Bounded reads**: the header length is checked against
//!   `Limits::max_model_json_bytes` (twice that, plus 1 MiB for the tensor table) and against the
//!   file's length before it is allocated; the data section must end exactly at the end of the file
//!   and is held against `Limits::max_weight_bytes` before it is read; every tensor's byte range is
//!   checked to lie inside it and to match its dtype and shape. Only regular files are read.
//!
//! - **Sharded** (Hugging Face layout): a URL ending in [`INDEX_SUFFIX`]
//!   (`safetensors:///m/model.safetensors.index.json`) saves `model-0000I-of-0000N.safetensors`
//!   shards of at most `Options::shard_size` ([`DEFAULT_SHARD_BYTES`] by default) and the index
//!   (`weight_map`, `metadata.total_size`, the model.json under [`MODEL_JSON_KEY`]). Index and shards
//!   carry one save id, so a load refuses shards of another save instead of mixing them; shards are
//!   renamed into place before the index, and shards of the previous save that the new index does
//!   not name are removed after it. A load reads only plain file names in the index's folder and
//!   holds their total size against `Limits::max_weight_bytes` before reading any.
//!
//! On `wasm32` this crate registers nothing (no file system).
#![warn(missing_docs)]

#[cfg(not(target_arch = "wasm32"))]
mod handler;

#[cfg(not(target_arch = "wasm32"))]
pub use handler::{SafetensorsHandler, SafetensorsScheme, DEFAULT_SHARD_BYTES, INDEX_SUFFIX};

/// The `__metadata__` key that holds the model.json.
pub const MODEL_JSON_KEY: &str = "modelio.model.json";

/// The schemes this plugin registers (none on `wasm32`).
#[cfg(not(target_arch = "wasm32"))]
pub const SCHEMES: &[&str] = &["safetensors"];
/// The schemes this plugin registers (none on `wasm32`).
#[cfg(target_arch = "wasm32")]
pub const SCHEMES: &[&str] = &[];

#[cfg(not(target_arch = "wasm32"))]
static REGISTRATION: io_core::SchemeRegistration =
    io_core::SchemeRegistration { scheme: "safetensors", plugin: "io-safetensors", handler: &SafetensorsScheme };

#[cfg(not(target_arch = "wasm32"))]
io_core::inventory::submit! {
    io_core::SchemeRegistration { scheme: "safetensors", plugin: "io-safetensors", handler: &SafetensorsScheme }
}

/// Registers `safetensors://` in `registry` (idempotent). Does nothing on `wasm32`.
pub fn register(registry: &io_core::Registry) {
    #[cfg(not(target_arch = "wasm32"))]
    registry.register(&REGISTRATION);
    #[cfg(target_arch = "wasm32")]
    let _ = registry;
}
