//! Quantization, dequantization and sharding against the Python converter's own output
//! (`tensorflowjs` 4.22 `write_weights`, `fixtures/tfjs/converter_write_weights/`), byte for byte:
//! the weight files, and the manifest with the converter's number text for `min` and `scale`.
use io_core::convert::{Conversion, QuantizeTo, Selection};
use io_core::files::{self, NamedFiles, PathPolicy, WeightFiles, KEYED};
use io_core::{codec, ModelArtifacts, ModelJson, Options, WeightData, WeightSpec, DEFAULT_SHARD_SIZE};

use crate::{json, read};

/// The model `m` exactly as TF.js handed it to a save handler.
fn tfjs_model(m: &str) -> ModelArtifacts {
    let a = json(&format!("node_savehandler/{m}/artifacts.json"));
    let specs: Vec<WeightSpec> = serde_json::from_value(a["weightSpecs"].clone()).unwrap();
    let data = WeightData::single(read(&format!("node_savehandler/{m}/weightData.bin")));
    ModelArtifacts::new(a["modelTopology"].clone(), specs, data)
}

/// Converts `m`, writes it as the converter lays files out, and compares with case `case`.
fn check_case(m: &str, case: &str, conversion: Conversion) -> ModelArtifacts {
    let converted = conversion.apply(&tfjs_model(m)).unwrap();
    let files = files::split(&converted, "t://m", KEYED, &WeightFiles::Shards(DEFAULT_SHARD_SIZE)).unwrap();
    let dir = format!("converter_write_weights/{case}");
    // The weight files, byte for byte.
    let names: Vec<&str> = files.weights.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["group1-shard1of1.bin"], "{case}");
    assert_eq!(files.weights[0].1.to_vec(), read(&format!("{dir}/group1-shard1of1.bin")), "{case}: weight bytes");
    // The manifest: same keys, order and number text (serde_json keeps the text of numbers).
    let model_json: serde_json::Value = serde_json::from_slice(&files.model_json).unwrap();
    let want = json(&format!("{dir}/weights_manifest.json"));
    assert_eq!(model_json["weightsManifest"], want, "{case}: manifest");
    let text = String::from_utf8(read(&format!("{dir}/weights_manifest.json"))).unwrap();
    for spec in &converted.weight_specs {
        let q = spec.quantization.as_ref().unwrap();
        let ours = serde_json::to_string(q).unwrap();
        let python_style = ours.replace(',', ", ").replace(':', ": ");
        assert!(text.contains(&python_style), "{case}: {python_style} not in {text}");
    }
    converted
}

#[test]
fn uint8_uint16_float16_match_the_converter_byte_for_byte() {
    check_case("b", "b_quant_uint8", Conversion::new().quantize(QuantizeTo::Uint8, Selection::All));
    check_case("b", "b_quant_uint16", Conversion::new().quantize(QuantizeTo::Uint16, Selection::All));
    check_case("b", "b_quant_float16", Conversion::new().quantize(QuantizeTo::Float16, Selection::All));
}

#[test]
fn mixed_map_matches_the_converter_byte_for_byte() {
    // Patterns for both dtypes, and a pattern plus the fallthrough: the same map.
    for c in [
        Conversion::new()
            .quantize(QuantizeTo::Uint8, Selection::patterns("*/kernel"))
            .quantize(QuantizeTo::Float16, Selection::patterns("*/bias")),
        Conversion::new()
            .quantize(QuantizeTo::Uint8, Selection::patterns("*/kernel"))
            .quantize(QuantizeTo::Float16, Selection::All),
    ] {
        check_case("a", "a_quant_mixed", c);
    }
}

/// Dequantizing the converter's files gives what TF.js and Python's `read_weights` load.
#[test]
fn dequantize_matches_tfjs_and_python() {
    for case in ["b_quant_uint8", "b_quant_uint16", "b_quant_float16"] {
        let dir = format!("converter_write_weights/{case}");
        let parsed = ModelJson::parse(&read(&format!("{dir}/model.json")), "t").unwrap();
        let named = NamedFiles::new(
            [("group1-shard1of1.bin".to_string(), read(&format!("{dir}/group1-shard1of1.bin")).into())],
            "t",
        )
        .unwrap();
        let model =
            futures::executor::block_on(files::assemble(parsed, &named, "t", PathPolicy::Basename, &Options::new()))
                .unwrap();
        let plain = Conversion::new().dequantize().apply(&model).unwrap();
        assert!(plain.weight_specs.iter().all(|s| s.quantization.is_none()));
        assert_eq!(plain.weight_data.len(), 724);
        let tfjs = json(&format!("{dir}/tfjs_load_result.json"));
        let python = json(&format!("{dir}/python_dequantized.json"));
        for t in codec::decode_weights(&plain.weight_specs, &plain.weight_data).unwrap() {
            let ours: Vec<f32> = t.tensor.to_f32_vec().unwrap();
            let as_f32 = |v: &serde_json::Value| -> Vec<f32> {
                v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
            };
            assert_eq!(ours, as_f32(&tfjs["loadedWeights"][&t.name]), "{case} {} vs TF.js", t.name);
            assert_eq!(ours, as_f32(&python[&t.name]["values"]), "{case} {} vs Python", t.name);
        }
        // Quantizing the dequantized uint8 model again gives the converter's bytes back.
        if case == "b_quant_uint8" {
            let again = Conversion::new().quantize(QuantizeTo::Uint8, Selection::All).apply(&plain).unwrap();
            assert_eq!(again.weight_data.to_vec(), read(&format!("{dir}/group1-shard1of1.bin")));
        }
    }
}

/// Model c (4.4 MB) in the converter's default 4 MiB shards: the same two files.
#[test]
fn default_shards_match_the_converter() {
    let dir = "converter_write_weights/c_sharded";
    let shards = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
    let parsed = ModelJson::parse(&read(&format!("{dir}/model.json")), "t").unwrap();
    let named =
        NamedFiles::new(shards.iter().map(|s| (s.to_string(), read(&format!("{dir}/{s}")).into())), "t").unwrap();
    let model =
        futures::executor::block_on(files::assemble(parsed, &named, "t", PathPolicy::Basename, &Options::new()))
            .unwrap();
    let files = files::split(&model, "t://m", KEYED, &WeightFiles::Shards(DEFAULT_SHARD_SIZE)).unwrap();
    for ((name, data), want) in files.weights.iter().zip(shards) {
        assert_eq!(name, want);
        assert!(data.to_vec() == read(&format!("{dir}/{want}")), "{want} differs");
    }
    let model_json: serde_json::Value = serde_json::from_slice(&files.model_json).unwrap();
    assert_eq!(model_json["weightsManifest"], json(&format!("{dir}/weights_manifest.json")));
}
