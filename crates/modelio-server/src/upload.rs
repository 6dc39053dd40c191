//! A TF.js upload (`multipart/form-data` with `model.json` and the weight files) to model artifacts,
//! checked completely before anything is stored.

use axum::extract::multipart::{Multipart, MultipartError};
use bytes::Bytes;
use io_core::files::{NamedFiles, PathPolicy};
use io_core::{ModelArtifacts, ModelJson, Options};

use crate::error::ApiError;

/// The part holding model.json (TF.js's field name).
pub const MODEL_JSON_FIELD: &str = "model.json";

/// Reads the whole upload and returns the model it holds, or a 400 (413 when over the size limit)
/// saying what is wrong.
pub async fn read(mut multipart: Multipart) -> Result<ModelArtifacts, ApiError> {
    let mut model_json: Option<Bytes> = None;
    let mut files: Vec<(String, Bytes)> = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_string();
        let file_name = field.file_name().map(str::to_string);
        let data = field.bytes().await.map_err(malformed)?;
        if name == MODEL_JSON_FIELD {
            if model_json.replace(data).is_some() {
                return Err(ApiError::bad_request("the upload has two 'model.json' parts"));
            }
        } else {
            files.push((file_name.unwrap_or(name), data));
        }
    }
    let json = model_json.ok_or_else(|| ApiError::bad_request("the upload has no 'model.json' part"))?;
    assemble(&json, &files).await
}

/// The model from its model.json and its weight files (matched to manifest paths by file name),
/// through the layout component: linear in paths and parts, every part checked against the
/// manifest, a path named twice refused.
pub async fn assemble(json: &[u8], files: &[(String, Bytes)]) -> Result<ModelArtifacts, ApiError> {
    let location = "uploaded model.json";
    let parsed = ModelJson::parse(json, location)?;
    let parts = NamedFiles::new(files.iter().cloned(), location)?;
    Ok(io_core::files::assemble(parsed, &parts, location, PathPolicy::Basename, &Options::new()).await?)
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError { status: e.status(), message: format!("malformed multipart upload: {}", e.body_text()) }
}
