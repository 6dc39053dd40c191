//! The TF.js 4.22 reference models (`fixtures/tfjs` at the repository root; see its README),
//! embedded so that tests run anywhere, including wasm32 in a browser.

use serde_json::Value;

use crate::artifacts::{ModelArtifacts, WeightSpec};
use crate::info::ModelArtifactsInfo;
use crate::json::RawJson;
use crate::weights::WeightData;

/// The fixture model names.
pub const MODELS: [&str; 4] = ["a", "b", "c", "d"];

macro_rules! fx {
    ($p:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/tfjs/", $p))
    };
}

fn artifacts_json(name: &str) -> &'static [u8] {
    match name {
        "a" => fx!("node_savehandler/a/artifacts.json"),
        "b" => fx!("node_savehandler/b/artifacts.json"),
        "c" => fx!("node_savehandler/c/artifacts.json"),
        "d" => fx!("node_savehandler/d/artifacts.json"),
        _ => panic!("no fixture model {name:?}"),
    }
}

/// The raw weight bytes of fixture model `name`, exactly as TF.js's save handler received them.
pub fn weight_bytes(name: &str) -> Vec<u8> {
    match name {
        "a" => fx!("node_savehandler/a/weightData.bin").to_vec(),
        "b" => fx!("node_savehandler/b/weightData.bin").to_vec(),
        "c" => [
            &fx!("converter_write_weights/c_sharded/group1-shard1of2.bin")[..],
            &fx!("converter_write_weights/c_sharded/group1-shard2of2.bin")[..],
        ]
        .concat(),
        "d" => fx!("node_savehandler/d/weightData.bin").to_vec(),
        _ => panic!("no fixture model {name:?}"),
    }
}

/// The artifacts TF.js's save handler received for fixture model `name` (`a`, `b`, `c`, `d`).
pub fn model(name: &str) -> ModelArtifacts {
    let text = std::str::from_utf8(artifacts_json(name)).expect("fixture is UTF-8");
    let mut a = ModelArtifacts::default();
    let mut fields = Vec::new();
    for (k, v) in RawJson::parse_object(text).expect("fixture JSON") {
        if k == "weightSpecs" {
            a.weight_specs = v.deserialize_into::<Vec<WeightSpec>>().expect("fixture specs");
        } else if !k.starts_with('_') {
            fields.push((k, v));
        }
    }
    a.apply_json_object(fields, "fixture", false).expect("fixture fields");
    a.weight_data = WeightData::single(weight_bytes(name));
    a
}

/// The `ModelArtifactsInfo` TF.js's save returned for fixture model `name`.
pub fn info(name: &str) -> ModelArtifactsInfo {
    let v: Value = serde_json::from_slice(artifacts_json(name)).expect("fixture JSON");
    serde_json::from_value(v["_saveResultFromHandler"]["modelArtifactsInfo"].clone()).expect("fixture info")
}
