//! A TF.js upload (`multipart/form-data` with `model.json` and the weight files) to model artifacts,
//! checked completely before anything is stored.

use axum::extract::multipart::{Multipart, MultipartError};
use bytes::Bytes;
use io_core::codec::{check_group, FileSpan};
use io_core::{ModelArtifacts, ModelJson, WeightData};

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
    assemble(&json, &files)
}

/// The model from its model.json and its weight files (matched to manifest paths by file name).
pub fn assemble(json: &[u8], files: &[(String, Bytes)]) -> Result<ModelArtifacts, ApiError> {
    let parsed = ModelJson::parse(json, "uploaded model.json")?;
    let mut weight_data = WeightData::default();
    for group in &parsed.weights_manifest {
        let mut chunks = Vec::with_capacity(group.paths.len());
        let mut spans = Vec::with_capacity(group.paths.len());
        for path in &group.paths {
            let base = path.rsplit('/').next().unwrap_or(path);
            let (_, data) = files.iter().find(|(n, _)| n == base).ok_or_else(|| {
                let have: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
                ApiError::bad_request(format!(
                    "the manifest names weight file '{path}' but the upload has no part '{base}' (parts: {have:?})"
                ))
            })?;
            chunks.push(data.clone());
            spans.push(FileSpan { name: path.clone(), len: data.len() });
        }
        let data = WeightData::from_chunks(chunks);
        check_group(group, &data, &spans)?;
        weight_data.append(data);
    }
    let mut artifacts = parsed.artifacts;
    artifacts.weight_data = weight_data;
    Ok(artifacts)
}

fn malformed(e: MultipartError) -> ApiError {
    ApiError { status: e.status(), message: format!("malformed multipart upload: {}", e.body_text()) }
}
