//! model.json parsing and writing, against files TF.js wrote.
use io_core::artifacts::{BROWSER_ORDER, NODE_FILE_ORDER};
use io_core::testkit::fixtures;
use io_core::{Error, ModelArtifactsInfo, ModelJson};

use crate::read;

#[test]
fn node_file_model_json_round_trips_byte_for_byte() {
    for m in ["a", "b", "d"] {
        let bytes = read(&format!("node_file/{m}/model.json"));
        let parsed = ModelJson::parse(&bytes, "model.json").unwrap();
        assert_eq!(parsed.artifacts.converted_by, Some(None), "convertedBy null stays null");
        assert_eq!(parsed.to_bytes(NODE_FILE_ORDER), bytes, "model {m}");
    }
}

#[test]
fn browser_download_json_is_reproduced_from_artifacts() {
    for (m, name) in [("a", "fixture-a"), ("d", "fixture-d")] {
        let want = read(&format!("chromium_downloads/{name}/{name}.json"));
        let doc = ModelJson::for_artifacts(&fixtures::model(m), vec![format!("./{name}.weights.bin")]);
        assert_eq!(String::from_utf8(doc.to_bytes(BROWSER_ORDER)).unwrap(), String::from_utf8(want).unwrap());
    }
}

#[test]
fn info_byte_counts_match_tfjs() {
    for m in fixtures::MODELS {
        let got = ModelArtifactsInfo::for_artifacts(&fixtures::model(m));
        let want = fixtures::info(m);
        assert_eq!(
            (got.model_topology_bytes, got.weight_specs_bytes, got.weight_data_bytes),
            (want.model_topology_bytes, want.weight_specs_bytes, want.weight_data_bytes),
            "model {m}"
        );
        assert_eq!(got.date_saved.len(), "2026-11-25T19:32:34.925Z".len());
        assert!(got.date_saved.ends_with('Z'));
    }
}

#[test]
fn converter_quantization_numbers_survive_exactly() {
    let bytes = read("converter_write_weights/a_quant_mixed/model.json");
    let parsed = ModelJson::parse(&bytes, "model.json").unwrap();
    let want: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let got: serde_json::Value = serde_json::from_slice(&parsed.to_bytes(BROWSER_ORDER)).unwrap();
    assert_eq!(got["weightsManifest"].to_string(), want["weightsManifest"].to_string());
    assert_eq!(got["convertedBy"], "TensorFlow.js Converter v4.22.0");
}

#[test]
fn unknown_fields_survive() {
    let src = br#"{"modelTopology":{"x":1},"weightsManifest":[],"futureField":{"k":[1,2.50]},"format":"graph-model"}"#;
    let parsed = ModelJson::parse(src, "m").unwrap();
    let out = String::from_utf8(parsed.to_bytes(BROWSER_ORDER)).unwrap();
    assert_eq!(
        out,
        r#"{"modelTopology":{"x":1},"format":"graph-model","weightsManifest":[],"futureField":{"k":[1,2.50]}}"#
    );
}

#[test]
fn malformed_model_json_errors_say_what_and_where() {
    let cases: [(&[u8], &str); 6] = [
        (b"<!DOCTYPE html><html>", "got HTML"),
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "must be a JSON object"),
        (br#"{"weightsManifest":[]}"#, "no 'modelTopology'"),
        (br#"{"modelTopology":{}}"#, "no 'weightsManifest'"),
        (br#"{"modelTopology":{},"weightsManifest":[{"paths":["a"],"weights":[{"name":"w","shape":[-1],"dtype":"float32"}]}]}"#, "'weightsManifest' is malformed"),
    ];
    for (src, want) in cases {
        let err = ModelJson::parse(src, "http://h/m/model.json").unwrap_err();
        assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
        let msg = err.to_string();
        assert!(msg.contains(want) && msg.contains("http://h/m/model.json"), "{msg}");
    }
}

#[test]
fn whitespace_in_model_json_is_dropped_and_the_rest_kept_byte_for_byte() {
    for m in ["a", "b", "d"] {
        let compact = read(&format!("node_file/{m}/model.json"));
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&compact).unwrap()).unwrap();
        assert_ne!(pretty, compact);
        let parsed = ModelJson::parse(&pretty, "model.json").unwrap();
        assert_eq!(String::from_utf8(parsed.to_bytes(NODE_FILE_ORDER)).unwrap(), String::from_utf8(compact).unwrap());
    }
}

#[test]
fn a_duplicate_top_level_key_takes_its_last_value_at_its_first_place() {
    let src = br#"{"x":1,"modelTopology":{"a":1},"weightsManifest":[],"y":2,"x":3,"modelTopology":{"b":2}}"#;
    let out = ModelJson::parse(src, "m").unwrap().to_bytes(BROWSER_ORDER);
    assert_eq!(String::from_utf8(out).unwrap(), r#"{"modelTopology":{"b":2},"weightsManifest":[],"x":3,"y":2}"#);
}

#[test]
fn model_json_over_the_size_cap_is_refused_naming_place_size_and_cap() {
    let bytes = read("node_file/a/model.json");
    let n = bytes.len() as u64;
    ModelJson::parse_with_limit(&bytes, "file:///m/model.json", n).expect("exactly at the cap");
    let err = ModelJson::parse_with_limit(&bytes, "file:///m/model.json", n - 10).unwrap_err();
    assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("file:///m/model.json") && msg.contains(&format!("{n} bytes")), "{msg}");
    assert!(msg.contains(&format!("limit of {} bytes", n - 10)), "{msg}");
    // A reader that stopped after cap + 1 bytes does not know the size.
    let msg = io_core::artifacts::check_model_json_size(101, "u", 100).unwrap_err().to_string();
    assert!(msg.contains("more than 100 bytes") && msg.contains("limit of 100 bytes"), "{msg}");
    assert_eq!(io_core::artifacts::MAX_MODEL_JSON_BYTES, 256 << 20);
}
