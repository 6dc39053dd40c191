//! TF.js's localStorage layout: five keys per model and their value encodings
//! (`tfjs-core/src/io/local_storage.ts`, TF.js 4.22).
//!
//! | key | value |
//! |---|---|
//! | `tensorflowjs_models/P/info` | JSON `ModelArtifactsInfo`, `dateSaved` an ISO string |
//! | `tensorflowjs_models/P/model_topology` | JSON of `modelTopology` |
//! | `tensorflowjs_models/P/weight_specs` | JSON of `weightSpecs` |
//! | `tensorflowjs_models/P/weight_data` | standard base64 (with padding) of all weight bytes |
//! | `tensorflowjs_models/P/model_metadata` | JSON of the metadata fields in [`METADATA_ORDER`] |
//!
//! `P` may contain `/`. Nothing here depends on the storage medium.

use io_core::artifacts::METADATA_ORDER;
use io_core::{Error, ModelArtifacts, ModelArtifactsInfo, RawJson, Result, Topology, WeightData};
use io_store_support::base64;

/// Prefix of every key TF.js's localStorage route writes.
pub const PREFIX: &str = "tensorflowjs_models/";

/// The five key suffixes, in the order modelio writes them.
pub const SUFFIXES: [&str; 5] = ["info", "model_topology", "weight_specs", "weight_data", "model_metadata"];

const INFO: usize = 0;
const TOPOLOGY: usize = 1;
const SPECS: usize = 2;
const WEIGHTS: usize = 3;
const METADATA: usize = 4;

/// The five keys of the model at `path`, in [`SUFFIXES`] order.
pub fn keys(path: &str) -> [String; 5] {
    SUFFIXES.map(|s| format!("{PREFIX}{path}/{s}"))
}

/// The model path of an `info` key (TF.js's listing rule), `None` for any other key.
pub fn model_path_of_info_key(key: &str) -> Option<&str> {
    key.strip_prefix(PREFIX)?.strip_suffix("/info").filter(|p| !p.is_empty())
}

/// The five values for `artifacts` saved with `info`, in [`SUFFIXES`] order, exactly as TF.js
/// writes them. `url` is named in errors.
pub fn encode(artifacts: &ModelArtifacts, info: &ModelArtifactsInfo, url: &str) -> Result<[String; 5]> {
    io_core::files::check_json_topology(artifacts, url, "BrowserLocalStorage")?;
    let topology = match &artifacts.model_topology {
        Some(Topology::Json(v)) => v.as_str().to_string(),
        None | Some(Topology::GraphDef(_)) => "null".to_string(),
    };
    Ok([
        info.to_json(),
        topology,
        io_core::json::weight_specs_to_json(&artifacts.weight_specs),
        base64_of(&artifacts.weight_data),
        artifacts.to_json_text(METADATA_ORDER, false),
    ])
}

/// Reads a model back from its five values (`None` = key absent), in [`SUFFIXES`] order.
/// A missing `info` is [`Error::NotFound`]; a missing `model_metadata` is allowed (older TF.js).
pub fn decode(values: [Option<String>; 5], url: &str, path: &str) -> Result<(ModelArtifacts, ModelArtifactsInfo)> {
    let [info, topology, specs, weights, metadata] = values;
    let info = info.ok_or_else(|| Error::NotFound {
        url: url.to_string(),
        detail: format!("in local storage, there is no model with name '{path}'"),
    })?;
    let key = |i: usize| format!("{PREFIX}{path}/{}", SUFFIXES[i]);
    let missing =
        |i: usize| Error::invalid_model(url, format!("the model has an info entry but no '{}' entry", key(i)));
    let info = parse_info(&info, url, &key(INFO))?;
    let mut a = ModelArtifacts::default();
    let topology = read(RawJson::parse_text(&topology.ok_or_else(|| missing(TOPOLOGY))?), url, &key(TOPOLOGY))?;
    a.model_topology = (!topology.is_null()).then_some(Topology::Json(topology));
    let specs = specs.ok_or_else(|| missing(SPECS))?;
    a.weight_specs = read(io_core::json::weight_specs_from_json(&specs), url, &key(SPECS))?;
    let weights = weights.ok_or_else(|| missing(WEIGHTS))?;
    let bytes = base64::decode(weights.as_bytes())
        .map_err(|e| Error::invalid_model(url, format!("'{}' is not valid base64: {e}", key(WEIGHTS))))?;
    a.weight_data = WeightData::single(bytes);
    if let Some(m) = metadata {
        let obj = read(RawJson::parse_text(&m), url, &key(METADATA))?;
        if obj.kind() != "an object" {
            return Err(Error::invalid_model(url, format!("'{}' is not a JSON object", key(METADATA))));
        }
        let fields = RawJson::object_entries(obj.as_str())
            .map_err(|e| Error::invalid_model(url, format!("'{}' is malformed: {e}", key(METADATA))))?;
        a.apply_json_object(fields, url, false)?;
    }
    Ok((a, info))
}

/// The `info` entry's `ModelArtifactsInfo`, naming the key on failure.
pub fn parse_info(text: &str, url: &str, key: &str) -> Result<ModelArtifactsInfo> {
    read(ModelArtifactsInfo::from_json(text), url, key)
}

/// What one entry's JSON held, or an error naming the key.
fn read<T>(r: std::result::Result<T, io_core::json::text::JsonError>, url: &str, key: &str) -> Result<T> {
    r.map_err(|e| Error::invalid_model(url, format!("'{key}' is malformed: {e}")))
}

/// Standard base64 of all weight buffers, encoded without joining them first.
fn base64_of(data: &WeightData) -> String {
    base64::encode_pieces(data.len(), data.chunks().iter().map(|c| &c[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_key_parsing() {
        assert_eq!(model_path_of_info_key("tensorflowjs_models/dir/sub/model-b/info"), Some("dir/sub/model-b"));
        assert_eq!(model_path_of_info_key("tensorflowjs_models/a/weight_data"), None);
        assert_eq!(model_path_of_info_key("tensorflowjs_models//info"), None);
        assert_eq!(model_path_of_info_key("other/a/info"), None);
    }

    #[test]
    fn base64_of_chunks_equals_base64_of_joined() {
        let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for cut in [0, 1, 2, 3, 4, 500, 999] {
            let d = WeightData::from_chunks(vec![all[..cut].to_vec().into(), all[cut..].to_vec().into()]);
            assert_eq!(base64_of(&d), base64::encode(&all), "cut at {cut}");
        }
    }
}
