//! Quantization against the real converter: runs `tensorflowjs` 4.22's `write_weights` (Python)
//! on weights chosen to hit the edge cases (no zero in the range, constant weights, ties, tiny
//! and huge ranges whose `min`/`scale` print in exponent form, float16 subnormals and overflow,
//! int32/bool/string/complex64 weights the converter skips), for several `quantization_dtype_map`s
//! and a small shard size, and compares every file byte for byte and the manifest by value (with
//! the number text).
//!
//! Needs Python with numpy and `tensorflowjs` (no TensorFlow): `cargo xtask test-all` prepares one
//! and passes it in `MODELIO_PYTHON` (see `io_core::testkit::oracle::python`); run alone without
//! it and without them in `python3`, the test says it skipped.
use std::path::PathBuf;
use std::process::Command;

use io_core::convert::{Conversion, QuantizeTo, Selection};
use io_core::files::{self, WeightFiles, KEYED};
use io_core::{encode_weights, ModelArtifacts, NamedTensor, Tensor, TensorData, WeightData};
use serde_json::{json, Value};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0 // [-1, 1)
    }
}

fn tensors() -> Vec<NamedTensor> {
    let mut r = Lcg(7);
    let f = |name: &str, v: Vec<f32>| NamedTensor {
        name: name.into(),
        tensor: Tensor::new(vec![v.len()], TensorData::F32(v)).unwrap(),
    };
    let mut ts = vec![
        f("emb/table", (0..300).map(|_| r.next() * 3.0).collect()),
        f("dense/kernel", (0..97).map(|_| r.next() * 0.1).collect()),
        f("dense/bias", (0..5).map(|_| r.next().abs() + 0.5).collect()), // all positive: no nudge
        f("neg/w", (0..33).map(|_| -r.next().abs() - 2.0).collect()),    // all negative
        f("const/w", vec![0.25; 7]),
        f("zero/w", vec![0.0; 3]),
        f("tiny/w", (0..40).map(|_| r.next() * 1e-6).collect()), // min/scale in exponent form
        f("huge/w", (0..40).map(|_| r.next() * 3e19).collect()),
        // Exact ties for uint8 (range -1..1.55 with 255 steps of 0.01) and edge values.
        f("ties/w", (0..=255).map(|i| (i as f32) * 0.01 - 1.0).chain([0.0, -0.0, 1.55]).collect()),
        // float16: ties, subnormals, overflow to infinity, negative zero.
        f("f16/w", vec![1.0 + 2f32.powi(-11), 1.0 + 3.0 * 2f32.powi(-11), 6e-8, 3e-5, 65520.0, 1e6, -0.0, 0.1, -7e-6]),
        f("scalar", vec![0.75]),
    ];
    ts.last_mut().unwrap().tensor.shape = vec![];
    ts.push(NamedTensor {
        name: "emb/ids".into(),
        tensor: Tensor::new(vec![4], TensorData::I32(vec![1, -5, 7, 1 << 30])).unwrap(),
    });
    ts.push(NamedTensor {
        name: "mask".into(),
        tensor: Tensor::new(vec![3], TensorData::Bool(vec![1, 0, 1])).unwrap(),
    });
    ts.push(NamedTensor {
        name: "vocab".into(),
        tensor: Tensor::new(vec![2], TensorData::String(vec![b"hello".to_vec(), "h\u{e9}".into()])).unwrap(),
    });
    ts.push(NamedTensor {
        name: "z".into(),
        tensor: Tensor::new(vec![2], TensorData::Complex64(vec![1.0, -2.0, 0.5, 3.0])).unwrap(),
    });
    ts
}

fn conversion(map: &Value) -> Conversion {
    let mut c = Conversion::new();
    for (dtype, sel) in map.as_object().unwrap() {
        let to = match dtype.as_str() {
            "uint8" => QuantizeTo::Uint8,
            "uint16" => QuantizeTo::Uint16,
            _ => QuantizeTo::Float16,
        };
        let sel = match sel {
            Value::Bool(true) => Selection::All,
            v => Selection::Patterns(v.as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect()),
        };
        c = c.quantize(to, sel);
    }
    c
}

#[test]
fn quantization_matches_the_python_converter() {
    let Some(py) = io_core::testkit::oracle::python(&["numpy", "tensorflowjs"]) else {
        eprintln!(
            "SKIPPED convert_oracle: no Python with numpy and tensorflowjs (set MODELIO_PYTHON; see this file's docs)"
        );
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/write_weights.py");
    let (specs, bytes) = encode_weights(&tensors(), None);
    let model = ModelArtifacts::new(json!({}), specs.clone(), WeightData::single(bytes.clone()));
    let maps = [
        (json!({"uint8": true}), 4 << 20),
        (json!({"uint16": true}), 100),
        (json!({"float16": true}), 64),
        (json!({"uint8": ["emb/*", "*/kernel"], "float16": true}), 4 << 20),
        (json!({"float16": ["f16/*", "scalar"], "uint16": ["[a-e]*/w", "tiny/?"], "uint8": ["huge*", "ties/w"]}), 333),
        // Refused by both: two dtypes match `f16/w`; two fallthroughs.
        (json!({"uint16": ["[a-f]*/w"], "float16": ["f16/*"]}), 100),
        (json!({"uint16": true, "float16": true}), 100),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, (map, shard)) in maps.iter().enumerate() {
        let dir = tmp.path().join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("cfg.json");
        std::fs::write(&cfg, json!({"specs": specs, "shard_size": shard, "map": map}).to_string()).unwrap();
        let data = dir.join("data.bin");
        std::fs::write(&data, &bytes).unwrap();
        let out = dir.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let run = Command::new(&py).arg(&script).arg(&cfg).arg(&data).arg(&out).output().unwrap();
        let ours = conversion(map).apply(&model);
        if !run.status.success() {
            let why = String::from_utf8_lossy(&run.stderr);
            assert!(why.contains("ValueError"), "converter failed: {why}");
            assert!(ours.is_err(), "case {i} {map}: the converter refused ({why}) but modelio did not");
            continue;
        }
        let converted = ours.unwrap();
        let files = files::split(&converted, "t://m", KEYED, &WeightFiles::Shards(*shard)).unwrap();
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join("weights_manifest.json")).unwrap()).unwrap();
        let ours: Value = serde_json::from_slice(&files.model_json).unwrap();
        assert_eq!(ours["weightsManifest"], manifest, "case {i} {map}: manifest");
        let written = manifest[0]["paths"].as_array().unwrap().len();
        assert!(written >= 1 && written == files.weights.len(), "case {i}: {written} files");
        for (name, data) in &files.weights {
            let theirs = std::fs::read(out.join(name)).unwrap();
            assert!(data.to_vec() == theirs, "case {i} {map}: {name} differs");
        }
        // Something was quantized, and the skipped dtypes were left alone.
        let quantized = converted.weight_specs.iter().filter(|s| s.quantization.is_some()).count();
        assert!(quantized >= 3, "case {i}: {quantized}");
        for s in &converted.weight_specs {
            if s.dtype != io_core::DType::Float32 {
                assert!(s.quantization.is_none(), "{} was quantized", s.name);
            }
        }
    }
}
