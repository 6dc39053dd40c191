//! TF.js's IndexedDB layout (`tfjs-core/src/io/indexed_db.ts`, TF.js 4.22): database
//! [`DATABASE`] version [`VERSION`], object stores [`MODELS_STORE`] and [`INFO_STORE`] keyed by
//! `modelPath`, and the shape of their records. Nothing here depends on the storage medium.
//!
//! - `model_info_store`: `{modelPath, modelArtifactsInfo}`
//! - `models_store`: `{modelPath, modelArtifacts: {modelTopology, format, generatedBy, convertedBy,
//!   trainingConfig?, userDefinedMetadata?, …, weightData: ArrayBuffer, weightSpecs}, modelArtifactsInfo}`
//!
//! with `modelArtifactsInfo.dateSaved` a `Date`.

use io_core::artifacts::Field;
use io_core::{Error, ModelArtifacts, ModelArtifactsInfo, RawJson, Result, Topology};

use crate::database::{Value, KEY_PATH};

/// The database name.
pub const DATABASE: &str = "tensorflowjs";
/// The database version.
pub const VERSION: u32 = 1;
/// The store of whole models.
pub const MODELS_STORE: &str = "models_store";
/// The store of model infos (what listing reads).
pub const INFO_STORE: &str = "model_info_store";

/// Fields of `modelArtifacts` before `weightData, weightSpecs`, in the order TF.js's layers
/// models hand them to the save handler (the order the fixtures show).
const ARTIFACT_ORDER: &[Field] = &[
    Field::ModelTopology,
    Field::Format,
    Field::GeneratedBy,
    Field::ConvertedBy,
    Field::TrainingConfig,
    Field::Signature,
    Field::UserDefinedMetadata,
    Field::ModelInitializer,
    Field::InitializerSignature,
];

fn info_value(info: &ModelArtifactsInfo) -> Value {
    let fields = RawJson::object_entries(&info.to_json()).expect("info is a JSON object");
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| match (k.as_str(), v.as_string()) {
                ("dateSaved", Some(iso)) => (k, Value::Date(iso)),
                _ => (k, Value::Json(v)),
            })
            .collect(),
    )
}

fn path_value(path: &str) -> (String, Value) {
    (KEY_PATH.to_string(), Value::Json(RawJson::string(path)))
}

/// The `model_info_store` record.
pub fn info_record(path: &str, info: &ModelArtifactsInfo) -> Value {
    Value::Object(vec![path_value(path), ("modelArtifactsInfo".into(), info_value(info))])
}

/// The `models_store` record.
pub fn model_record(path: &str, artifacts: &ModelArtifacts, info: &ModelArtifactsInfo) -> Value {
    let mut fields: Vec<(String, Value)> = Vec::new();
    if let Some(Topology::GraphDef(b)) = &artifacts.model_topology {
        fields.push(("modelTopology".into(), Value::Bytes(io_core::WeightData::single(b.clone()))));
    }
    fields.extend(artifacts.json_fields(ARTIFACT_ORDER, true).into_iter().map(|(k, v)| (k, Value::Json(v))));
    fields.push(("weightData".into(), Value::Bytes(artifacts.weight_data.clone())));
    fields.push(("weightSpecs".into(), Value::Json(RawJson::weight_specs(&artifacts.weight_specs))));
    Value::Object(vec![
        path_value(path),
        ("modelArtifacts".into(), Value::Object(fields)),
        ("modelArtifactsInfo".into(), info_value(info)),
    ])
}

/// The info of a record of either store.
pub fn info_of(record: &Value, url: &str) -> Result<ModelArtifactsInfo> {
    let v = record
        .field("modelArtifactsInfo")
        .and_then(Value::to_raw_json)
        .ok_or_else(|| malformed(url, "no modelArtifactsInfo"))?;
    // io-core's own JSON reader, not serde_json: the wasm carries no serde deserializers
    // (BENCHMARKS.md "wasm size").
    ModelArtifactsInfo::from_json(v.as_str()).map_err(|e| malformed(url, &format!("modelArtifactsInfo: {e}")))
}

/// The model of a `models_store` record.
pub fn artifacts_of(record: &Value, url: &str) -> Result<ModelArtifacts> {
    let Some(Value::Object(fields)) = record.field("modelArtifacts") else {
        return Err(malformed(url, "no modelArtifacts object"));
    };
    let mut a = ModelArtifacts::default();
    let mut json = Vec::new();
    for (k, v) in fields {
        match (k.as_str(), v) {
            ("weightData", Value::Bytes(b)) => a.weight_data = b.clone(),
            ("modelTopology", Value::Bytes(b)) => a.model_topology = Some(Topology::GraphDef(b.to_bytes())),
            ("weightSpecs", v) => {
                let v = v.to_raw_json().ok_or_else(|| malformed(url, "weightSpecs holds a buffer"))?;
                a.weight_specs = io_core::json::weight_specs_from_json(v.as_str())
                    .map_err(|e| malformed(url, &format!("weightSpecs: {e}")))?;
            }
            (k, v) => {
                json.push((
                    k.to_string(),
                    v.to_raw_json().ok_or_else(|| malformed(url, &format!("'{k}' holds a buffer")))?,
                ));
            }
        }
    }
    a.apply_json_object(json, url, true)?;
    Ok(a)
}

fn malformed(url: &str, what: &str) -> Error {
    Error::invalid_model(url, format!("malformed IndexedDB record: {what}"))
}
