//! A TF.js upload (`multipart/form-data` with `model.json` and the weight files) to model artifacts,
//! checked completely before anything is stored.
//!
//! Limits ([`UploadLimits`], from [`ServeConfig`](crate::ServeConfig)), each enforced while the body
//! arrives, before the part over it is read further:
//! - the model.json part is at most `max_model_json_bytes` (413);
//! - at most `max_parts` parts (413) and at most `max_paths` weight paths in the manifest (413);
//! - the manifest may not name a file twice (by path or basename: 400), so one uploaded part can
//!   never be stored more than once;
//! - every weight part must be named by the manifest, once (400), and when model.json came first (as
//!   TF.js and modelio send it) a part is cut off as soon as its group holds more bytes than its
//!   weights declare (400);
//! - after the body: every group's files hold exactly the bytes its weights declare
//!   ([`io_core::codec::layout`]), so the bytes stored are the bytes the manifest declares.

use std::collections::HashMap;

use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use bytes::{Bytes, BytesMut};
use io_core::files::{basename, check_paths, NamedFiles, PathPolicy};
use io_core::{ModelArtifacts, ModelJson, Options};

use crate::error::ApiError;

/// The part holding model.json (TF.js's field name).
pub const MODEL_JSON_FIELD: &str = "model.json";

/// Where errors about the upload's model.json point.
const LOCATION: &str = "uploaded model.json";

/// What one upload may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UploadLimits {
    /// Largest model.json part, in bytes.
    pub max_model_json_bytes: u64,
    /// Most parts, model.json included.
    pub max_parts: usize,
    /// Most weight paths in the manifest.
    pub max_paths: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_model_json_bytes: crate::config::DEFAULT_MAX_MODEL_JSON_BYTES,
            max_parts: crate::config::DEFAULT_MAX_UPLOAD_PARTS,
            max_paths: crate::config::DEFAULT_MAX_MANIFEST_PATHS,
        }
    }
}

impl UploadLimits {
    /// The limits of `cfg`.
    pub fn of(cfg: &crate::ServeConfig) -> Self {
        UploadLimits {
            max_model_json_bytes: cfg.max_model_json_bytes,
            max_parts: cfg.max_upload_parts,
            max_paths: cfg.max_manifest_paths,
        }
    }
}

/// The manifest of the upload, once its model.json has arrived: which basenames it names, in which
/// group, and how many bytes each group may still receive (`None`: string weights, no fixed size).
struct Expected {
    group_of: HashMap<String, usize>,
    left: Vec<Option<u64>>,
}

impl Expected {
    fn new(doc: &ModelJson, limits: &UploadLimits) -> Result<Self, ApiError> {
        let paths: usize = doc.weights_manifest.iter().map(|g| g.paths.len()).sum();
        if paths > limits.max_paths {
            return Err(too_large(format!(
                "the manifest names {paths} weight files; this server accepts at most {}",
                limits.max_paths
            )));
        }
        check_paths(&doc.weights_manifest, PathPolicy::Basename, LOCATION)?;
        let mut group_of = HashMap::with_capacity(paths);
        for (gi, g) in doc.weights_manifest.iter().enumerate() {
            for p in &g.paths {
                group_of.insert(basename(p).to_string(), gi);
            }
        }
        let left = doc
            .weights_manifest
            .iter()
            .map(|g| g.weights.iter().try_fold(0u64, |acc, w| acc.checked_add(w.fixed_byte_len()? as u64)))
            .collect();
        Ok(Expected { group_of, left })
    }

    /// The group of the part `base`, or a 400 when the manifest does not name it.
    fn group(&self, base: &str) -> Result<usize, ApiError> {
        self.group_of.get(base).copied().ok_or_else(|| {
            ApiError::bad_request(format!(
                "the upload has a part '{base}' that the manifest of its model.json does not name; \
                 every uploaded weight file must be named exactly once"
            ))
        })
    }

    /// `n` more bytes arrived for group `gi`: a 400 once it holds more than its weights declare.
    fn take(&mut self, gi: usize, base: &str, n: usize) -> Result<(), ApiError> {
        if let Some(left) = &mut self.left[gi] {
            *left = left.checked_sub(n as u64).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "weight file '{base}' holds more bytes than the weights of its manifest group declare \
                     (group {}); the bytes uploaded must equal the bytes declared",
                    gi + 1
                ))
            })?;
        }
        Ok(())
    }
}

/// Reads the whole upload and returns the model it holds, or a 400 (413 when over a limit) saying
/// what is wrong.
pub async fn read(mut multipart: Multipart, limits: &UploadLimits) -> Result<ModelArtifacts, ApiError> {
    let mut model_json: Option<(Bytes, ModelJson, Expected)> = None;
    let mut files: Vec<(String, Bytes)> = Vec::new();
    // Basenames of the weight parts read after model.json (linear-time duplicate check).
    let mut seen_after: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut parts = 0usize;
    // How many weight parts came before model.json.
    let mut before_json = 0usize;
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        parts += 1;
        if parts > limits.max_parts {
            return Err(too_large(format!(
                "the upload has more than {} parts, the most this server accepts",
                limits.max_parts
            )));
        }
        let name = field.name().unwrap_or_default().to_string();
        if name == MODEL_JSON_FIELD {
            if model_json.is_some() {
                return Err(ApiError::bad_request("the upload has two 'model.json' parts"));
            }
            let bytes = read_capped(&mut field, limits.max_model_json_bytes).await?;
            let doc = ModelJson::parse_with_limit(&bytes, LOCATION, limits.max_model_json_bytes)?;
            let mut expected = Expected::new(&doc, limits)?;
            // Parts that came before model.json (not what TF.js sends) are checked now.
            let mut seen = std::collections::HashSet::new();
            for (n, b) in &files {
                let base = basename(n);
                if !seen.insert(base) {
                    return Err(two_parts(base));
                }
                let gi = expected.group(base)?;
                expected.take(gi, base, b.len())?;
            }
            before_json = files.len();
            model_json = Some((bytes, doc, expected));
        } else {
            let file_name = field.file_name().map(str::to_string).unwrap_or(name);
            let data = match &mut model_json {
                Some((_, _, expected)) => {
                    let base = basename(&file_name).to_string();
                    if !seen_after.insert(base.clone())
                        || files.iter().take(before_json).any(|(n, _)| basename(n) == base)
                    {
                        return Err(two_parts(&base));
                    }
                    let gi = expected.group(&base)?;
                    let mut buf = BytesMut::new();
                    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
                        expected.take(gi, &base, chunk.len())?;
                        buf.extend_from_slice(&chunk);
                    }
                    buf.freeze()
                }
                None => field.bytes().await.map_err(malformed)?,
            };
            files.push((file_name, data));
        }
    }
    let (json, _, _) = model_json.ok_or_else(|| ApiError::bad_request("the upload has no 'model.json' part"))?;
    assemble(&json, &files).await
}

/// A part's bytes, at most `max` (a 413 past it, before reading further).
async fn read_capped(field: &mut Field<'_>, max: u64) -> Result<Bytes, ApiError> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if (buf.len() + chunk.len()) as u64 > max {
            return Err(too_large(format!(
                "the upload's model.json is over {max} bytes, the most this server accepts"
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The model from its model.json and its weight files (matched to manifest paths by file name),
/// through the layout component: linear in paths and parts, every part checked against the
/// manifest, a path named twice refused, a part the manifest does not name refused.
pub async fn assemble(json: &[u8], files: &[(String, Bytes)]) -> Result<ModelArtifacts, ApiError> {
    let parsed = ModelJson::parse(json, LOCATION)?;
    check_paths(&parsed.weights_manifest, PathPolicy::Basename, LOCATION)?;
    let parts = NamedFiles::new(files.iter().cloned(), LOCATION)?;
    let named: std::collections::HashSet<&str> =
        parsed.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| basename(p)).collect();
    if let Some((extra, _)) = files.iter().find(|(n, _)| !named.contains(basename(n))) {
        return Err(ApiError::bad_request(format!(
            "the upload has a part '{}' that the manifest of its model.json does not name; \
             every uploaded weight file must be named exactly once",
            basename(extra)
        )));
    }
    Ok(io_core::files::assemble(parsed, &parts, LOCATION, PathPolicy::Basename, &Options::new()).await?)
}

fn two_parts(base: &str) -> ApiError {
    ApiError::bad_request(format!("{LOCATION}: two files are named '{base}'"))
}

fn too_large(message: String) -> ApiError {
    ApiError { status: StatusCode::PAYLOAD_TOO_LARGE, message }
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError { status: e.status(), message: format!("malformed multipart upload: {}", e.body_text()) }
}
