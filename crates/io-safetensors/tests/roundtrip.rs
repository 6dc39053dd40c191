//! TF.js → safetensors → TF.js on the TF.js fixtures (real files), quantized weights, bounded
//! reads of hostile headers, and (when Python has `safetensors` and `numpy`) the export read by Python.

use std::io::Write;

use io_core::artifacts::BROWSER_ORDER;
use io_core::convert::{Conversion, QuantizeTo, Selection};
use io_core::testkit::fixtures;
use io_core::{Error, Limits, ModelArtifacts, ModelJson, Options, Registry};
use io_safetensors::SafetensorsHandler;

fn registry() -> Registry {
    let r = Registry::new();
    io_safetensors::register(&r);
    r
}

fn json(a: &ModelArtifacts) -> Vec<u8> {
    ModelJson::for_artifacts(a, vec![]).to_bytes(BROWSER_ORDER)
}

fn assert_same(a: &ModelArtifacts, b: &ModelArtifacts, what: &str) {
    assert_eq!(String::from_utf8(json(a)).unwrap(), String::from_utf8(json(b)).unwrap(), "{what}: model.json");
    assert_eq!(a.weight_data.to_vec(), b.weight_data.to_vec(), "{what}: weight bytes");
}

fn round_trip(model: &ModelArtifacts, path: &std::path::Path) -> ModelArtifacts {
    let url = format!("safetensors://{}", path.display());
    let r = registry();
    futures::executor::block_on(r.save(&url, model)).unwrap();
    futures::executor::block_on(r.load(&url)).unwrap()
}

#[test]
fn fixtures_round_trip_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    for name in fixtures::MODELS {
        let model = fixtures::model(name);
        let back = round_trip(&model, &dir.path().join(format!("{name}.safetensors")));
        assert_same(&model, &back, name);
    }
    // No temporary files are left next to the exports.
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(left.len(), fixtures::MODELS.len(), "{left:?}");
}

#[test]
fn quantized_weights_round_trip_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    for to in [QuantizeTo::Uint8, QuantizeTo::Uint16, QuantizeTo::Float16] {
        let model = Conversion::new().quantize(to, Selection::All).apply(&fixtures::model("a")).unwrap();
        let back = round_trip(&model, &dir.path().join(format!("q-{}.safetensors", to.as_str())));
        assert_same(&model, &back, to.as_str());
    }
}

#[test]
fn dequantized_export_holds_float32() {
    let dir = tempfile::tempdir().unwrap();
    let q = Conversion::new().quantize(QuantizeTo::Uint8, Selection::All).apply(&fixtures::model("a")).unwrap();
    let url = format!("safetensors://{}", dir.path().join("d.safetensors").display());
    let r = registry();
    let opts = Options::new().convert(Conversion::new().dequantize());
    futures::executor::block_on(r.save_with(&url, &q, &opts)).unwrap();
    let back = futures::executor::block_on(r.load(&url)).unwrap();
    assert!(back.weight_specs.iter().all(|s| s.quantization.is_none() && s.dtype == io_core::DType::Float32));
    assert_eq!(back.weight_data.len(), fixtures::model("a").weight_data.len());
}

fn write_raw(path: &std::path::Path, header: &[u8], n_override: Option<u64>, data: &[u8]) {
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&n_override.unwrap_or(header.len() as u64).to_le_bytes()).unwrap();
    f.write_all(header).unwrap();
    f.write_all(data).unwrap();
}

#[test]
fn hostile_headers_fail_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.safetensors");
    let load = |opts: &Options| SafetensorsHandler::new(&p).load_sync(opts);
    // A huge declared header length: refused from the first 8 bytes.
    write_raw(&p, b"{}", Some(1 << 40), b"");
    assert!(matches!(load(&Options::new()), Err(Error::TooLarge { .. })), "{:?}", load(&Options::new()));
    // A header length past the end of the file.
    write_raw(&p, b"{}", Some(1000), b"");
    assert!(matches!(load(&Options::new()), Err(Error::InvalidModel { .. })));
    // A tensor whose range leaves the data, or does not match its shape.
    write_raw(&p, br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, None, &[0; 8]);
    assert!(load(&Options::new()).is_err());
    write_raw(&p, br#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, None, &[0; 16]);
    assert!(load(&Options::new()).is_err());
    // Data over the weight limit: refused before reading.
    write_raw(&p, br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, None, &[0; 16]);
    let small = Options::new().limits(Limits { max_weight_bytes: 8, ..Limits::default() });
    assert!(matches!(load(&small), Err(Error::TooLarge { .. })));
    // A foreign file (no model.json): weights only, in file order.
    let a = load(&Options::new()).unwrap();
    assert_eq!(a.weight_specs.len(), 1);
    assert_eq!(a.weight_data.len(), 16);
    // Trailing bytes after the tensors.
    write_raw(&p, br#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, None, &[0; 17]);
    assert!(load(&Options::new()).is_err());
    // A FIFO-like non-file: a folder is refused.
    assert!(SafetensorsHandler::new(dir.path()).load_sync(&Options::new()).is_err());
}

#[test]
fn python_reads_the_export() {
    let Some(python) = io_core::testkit::oracle::python(&["safetensors", "numpy"]) else {
        println!("SKIPPED: no Python with `safetensors` and `numpy` (MODELIO_PYTHON; `cargo xtask test-all` sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for name in fixtures::MODELS {
        let model = fixtures::model(name);
        let path = dir.path().join(format!("{name}.safetensors"));
        round_trip(&model, &path);
        let script = r#"
import sys, json
from safetensors.numpy import load_file
from safetensors import safe_open
t = load_file(sys.argv[1])
with safe_open(sys.argv[1], framework="np") as f:
    meta = f.metadata()
print(json.dumps({"tensors": {k: [str(v.dtype), list(v.shape), v.tobytes().hex()] for k, v in t.items()},
                  "has_model_json": "modelio.model.json" in meta}))
"#;
        let out = std::process::Command::new(&python).args(["-c", script]).arg(&path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["has_model_json"], true);
        let ranges = io_core::codec::layout(&model.weight_specs, &model.weight_data, &[]).unwrap();
        assert_eq!(v["tensors"].as_object().unwrap().len(), model.weight_specs.len(), "{name}");
        for (spec, range) in model.weight_specs.iter().zip(ranges) {
            let t = &v["tensors"][&spec.name];
            let np = match (spec.dtype.as_str(), &spec.quantization) {
                ("float32", None) => "float32",
                ("int32", None) => "int32",
                ("bool", None) => "bool",
                _ => continue,
            };
            assert_eq!(t[0], np, "{name}/{}", spec.name);
            let shape: Vec<usize> = serde_json::from_value(t[1].clone()).unwrap();
            assert_eq!(shape, spec.shape, "{name}/{}", spec.name);
            let hex: String = model.weight_data.slice(range).iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(t[2].as_str().unwrap(), hex, "{name}/{}", spec.name);
        }
        println!("python read {name}: {} tensors identical", model.weight_specs.len());
    }
}

/// A weight named `__metadata__` (the header's reserved key) cannot be a safetensors tensor: the
/// save is refused naming it, and nothing is written (no file the load would then refuse); in the
/// sharded layout too.
#[test]
fn a_weight_named_like_the_metadata_key_is_refused_at_save() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = fixtures::model("a");
    model.weight_specs[1].name = "__metadata__".into();
    let r = registry();
    for path in [dir.path().join("m.safetensors"), dir.path().join("s/model.safetensors.index.json")] {
        let url = format!("safetensors://{}", path.display());
        match futures::executor::block_on(r.save(&url, &model)) {
            Err(Error::Unsupported { reason, .. }) => assert!(reason.contains("'__metadata__'"), "{reason}"),
            other => panic!("{url}: {other:?}"),
        }
        assert!(!path.exists(), "{url}: nothing written");
    }
}
