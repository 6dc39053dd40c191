//! The `multipart/form-data` body of a TF.js http save, byte for byte.
//!
//! TF.js appends two `Blob`s to a `FormData`: `model.json` (`application/json`) and
//! `model.weights.bin` (`application/octet-stream`), each with its filename equal to its name. Node's
//! undici and Chromium serialize that identically apart from the boundary; this module writes the same
//! bytes with its own boundary. The weights are not copied: the body is a list of buffers.

use bytes::Bytes;
use io_core::files::{self, ModelFiles, WeightFiles, HTTP};
use io_core::{ModelArtifacts, Result, WeightData};

/// Name (and filename) of the model.json part.
pub const MODEL_JSON_PART: &str = "model.json";
/// Name (and filename) of the weights part.
pub const WEIGHTS_PART: &str = io_core::files::WEIGHTS_BIN;
/// The manifest path TF.js writes for the weights part.
pub const WEIGHTS_PATH: &str = "./model.weights.bin";

/// A multipart body: its boundary and its bytes as a list of buffers.
#[derive(Clone, Debug)]
pub struct MultipartBody {
    /// The boundary (without the leading `--`).
    pub boundary: String,
    /// The body, in order; the weight buffers are shared, not copied.
    pub pieces: Vec<Bytes>,
}

impl MultipartBody {
    /// The body TF.js sends to save `artifacts`, with the given boundary. A model TF.js cannot
    /// upload (a GraphDef topology) or whose weights do not match their specs is refused.
    pub fn for_artifacts(artifacts: &ModelArtifacts, boundary: &str) -> Result<Self> {
        let files = files::split(artifacts, "http://", HTTP, &WeightFiles::One(WEIGHTS_PART.into()))?;
        Ok(Self::for_files(&files, boundary))
    }

    /// The body for a model already laid out as files ([`files::split`] with [`HTTP`]).
    pub fn for_files(files: &ModelFiles, boundary: &str) -> Self {
        let mut pieces = vec![part_head(boundary, MODEL_JSON_PART, "application/json", true), files.model_json.clone()];
        for (name, data) in &files.weights {
            pieces.push(part_head(boundary, name, "application/octet-stream", false));
            pieces.extend(data.chunks().iter().cloned());
        }
        pieces.push(Bytes::from(format!("\r\n--{boundary}--\r\n")));
        MultipartBody { boundary: boundary.to_string(), pieces }
    }

    /// A fresh random boundary, shaped like undici's (`----modelio-formdata-` and 24 hex digits).
    pub fn random_boundary() -> String {
        format!("----modelio-formdata-{:024x}", random_u128() >> 32)
    }

    /// The `Content-Type` header value.
    pub fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// Total length in bytes (the `Content-Length`).
    pub fn len(&self) -> u64 {
        self.pieces.iter().map(|p| p.len() as u64).sum()
    }

    /// Whether the body is empty (never, for a built body).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in one buffer (copies; for targets whose request body must be one buffer).
    pub fn to_bytes(&self) -> Bytes {
        WeightData::from_chunks(self.pieces.clone()).to_bytes()
    }
}

/// The delimiter and headers of one part; every part but the first starts with the CRLF that ends
/// the previous part's content.
fn part_head(boundary: &str, name: &str, content_type: &str, first: bool) -> Bytes {
    let lead = if first { "" } else { "\r\n" };
    Bytes::from(format!(
        "{lead}--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    ))
}

/// 128 unpredictable-enough bits for a boundary: std's randomly keyed hasher, the clock (and
/// `Math.random` on wasm32) and a counter.
fn random_u128() -> u128 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = web_time_nanos();
    let mut out = 0u128;
    for salt in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u128(now);
        h.write_u64(salt);
        out = (out << 64) | h.finish() as u128;
    }
    out
}

fn web_time_nanos() -> u128 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    }
    #[cfg(target_arch = "wasm32")]
    {
        ((js_sys::Date::now() * 1e6) as u128) ^ (((js_sys::Math::random() * 2f64.powi(52)) as u128) << 64)
    }
}
