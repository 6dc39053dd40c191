//! `modelio info` on the TF.js fixtures, through `file://`.

mod common;

use common::{fixture_json, fixture_url, Sandbox};
use serde_json::{json, Value};

fn info_json(args: &[&str]) -> Value {
    let sb = Sandbox::new();
    let mut all = vec!["info", "--json"];
    all.extend_from_slice(args);
    sb.ok(&all).json()
}

/// Expected `(count, min, max, sum)` of a list of values, summed in order in f64.
fn expected_stats(values: &[f64]) -> (usize, f64, f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (values.len(), min, max, values.iter().sum())
}

fn assert_stats(weight: &Value, values: &[f64]) {
    let (count, min, max, sum) = expected_stats(values);
    let s = &weight["stats"];
    let name = &weight["name"];
    assert_eq!(s["count"], json!(count), "{name}");
    let close = |key: &str, want: f64| {
        let got = s[key].as_f64().unwrap_or_else(|| panic!("{name}: stats.{key} missing: {s}"));
        assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{name}: stats.{key} = {got}, expected {want}");
    };
    close("min", min);
    close("max", max);
    close("sum", sum);
    close("mean", sum / count as f64);
}

#[test]
fn json_describes_model_a_as_tfjs_wrote_it() {
    let expected = fixture_json("models/a/expected.json");
    let url = fixture_url("node_file/a");
    let r = info_json(&[&url]);
    assert_eq!(r["url"], json!(url));
    assert_eq!(r["format"], "layers-model");
    assert_eq!(r["generatedBy"], "TensorFlow.js tfjs-layers v4.22.0");
    assert_eq!(r["convertedBy"], Value::Null);
    assert_eq!(r["topology"]["type"], "JSON");
    assert_eq!(r["topology"]["className"], "Sequential");
    assert!(r["topology"]["bytes"].as_u64().unwrap() > 100);
    assert_eq!(r["weightCount"], 4);
    assert_eq!(r["weightBytes"], expected["weightDataBytes"]);
    assert_eq!(r["bytesPerDtype"], json!({"float32": 92}));
    let weights = r["weights"].as_array().unwrap();
    let specs = expected["weightSpecs"].as_array().unwrap();
    assert_eq!(weights.len(), specs.len());
    for (w, spec) in weights.iter().zip(specs) {
        assert_eq!((&w["name"], &w["shape"], &w["dtype"]), (&spec["name"], &spec["shape"], &spec["dtype"]));
        assert_eq!(w["quantization"], Value::Null);
        assert!(w.get("stats").is_none(), "no stats without --stats: {w}");
    }
    assert_eq!(weights[0]["bytes"], 48);
}

#[test]
fn stats_match_the_formula_weights_of_model_a() {
    let r = info_json(&["--stats", &fixture_url("node_file/a")]);
    // models/a/expected.json: generic formula (((i * 37 + 11 * k) % 64) - 32) / 64, k = weight index.
    for (k, w) in r["weights"].as_array().unwrap().iter().enumerate() {
        let n: u64 = w["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product();
        let values: Vec<f64> = (0..n).map(|i| ((((i * 37 + 11 * k as u64) % 64) as f64) - 32.0) / 64.0).collect();
        assert_stats(w, &values);
    }
}

#[test]
fn stats_are_of_dequantized_values_as_tfjs_decodes_them() {
    let case = "converter_write_weights/b_quant_uint8";
    let loaded = fixture_json(&format!("{case}/tfjs_load_result.json"))["loadedWeights"].clone();
    let r = info_json(&["--stats", &fixture_url(case)]);
    assert_eq!(r["convertedBy"], "TensorFlow.js Converter v4.22.0");
    assert_eq!(r["topology"]["className"], "Model");
    let weights = r["weights"].as_array().unwrap();
    assert_eq!(weights.len(), 8);
    let stored: u64 = weights.iter().map(|w| w["bytes"].as_u64().unwrap()).sum();
    assert_eq!(r["bytesPerDtype"], json!({ "uint8": stored }), "every weight is stored as uint8");
    assert_eq!(r["weightBytes"], json!(stored));
    for w in weights {
        assert_eq!(w["quantization"]["dtype"], "uint8", "{w}");
        assert!(w["quantization"]["scale"].as_f64().unwrap() > 0.0);
        let name = w["name"].as_str().unwrap();
        let values: Vec<f64> = loaded[name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert_stats(w, &values);
    }
}

#[test]
fn text_lists_summary_and_one_row_per_weight() {
    let sb = Sandbox::new();
    let url = fixture_url("converter_write_weights/b_quant_uint8");
    let out = sb.ok(&["info", "--stats", &url]).stdout;
    assert!(out.contains("format:          layers-model"), "{out}");
    assert!(out.contains("topology:        Model (JSON, "), "{out}");
    assert!(out.contains("bytes per dtype: uint8: "), "{out}");
    let header = out.lines().find(|l| l.starts_with("name")).expect("table header");
    for col in ["shape", "dtype", "quantization", "bytes", "count", "min", "max", "mean", "sum"] {
        assert!(header.contains(col), "{header}");
    }
    let row = out.lines().find(|l| l.starts_with("conv_b/kernel ")).expect("row of conv_b/kernel");
    assert!(row.contains("[3,3,2,3]") && row.contains("float32") && row.contains("uint8 scale="), "{row}");
}

#[test]
fn a_missing_model_fails_with_one_line() {
    let sb = Sandbox::new();
    let url = sb.file_url("nothing-here/model.json");
    let line = sb.fails(&["info", &url]);
    assert!(line.contains("nothing-here"), "{line}");
}

#[test]
fn shards_that_do_not_match_the_manifest_name_weight_and_file() {
    let sb = Sandbox::new();
    let dir = sb.path().join("broken");
    std::fs::create_dir(&dir).unwrap();
    let src = common::fixture("node_file/a");
    std::fs::copy(src.join("model.json"), dir.join("model.json")).unwrap();
    std::fs::write(dir.join("weights.bin"), vec![0u8; 50]).unwrap();
    let line = sb.fails(&["info", &sb.file_url("broken/model.json")]);
    assert!(line.contains("weights.bin") && line.contains("dense_a"), "{line}");
}

#[test]
fn optimizer_weights_show_their_group() {
    let sb = Sandbox::new();
    let url = fixture_url("node_file/d");
    let r = sb.ok(&["info", "--json", &url]).json();
    assert_eq!(r["weightCount"], 13);
    assert_eq!(r["bytesPerDtype"], json!({"float32": 276, "int32": 4}));
    let optimizer: Vec<&Value> =
        r["weights"].as_array().unwrap().iter().filter(|w| w["group"] == "optimizer").collect();
    assert_eq!(optimizer.len(), 9, "{r}");
    let text = sb.ok(&["info", &url]).stdout;
    let header = text.lines().find(|l| l.starts_with("name")).unwrap();
    assert!(header.contains("group"), "{text}");
    assert_eq!(text.lines().filter(|l| l.ends_with("optimizer")).count(), 9, "{text}");
}
