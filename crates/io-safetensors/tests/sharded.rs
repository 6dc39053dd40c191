//! The Hugging Face sharded layout (`model.safetensors.index.json` + `model-0000I-of-0000N.safetensors`):
//! round trips, torn saves detected, hostile indexes refused, stale shards removed, Python's
//! `safetensors` reading the shards the index names, and real TF.js (Node) predicting exactly with a
//! model that went TF.js → safetensors (sharded and single) → TF.js's file layout.

use std::path::Path;

use io_core::artifacts::BROWSER_ORDER;
use io_core::testkit::{fixtures, oracle};
use io_core::{Error, Limits, ModelArtifacts, ModelJson, Options, Registry};
use io_safetensors::SafetensorsHandler;

fn registry() -> Registry {
    let r = Registry::new();
    io_safetensors::register(&r);
    io_file::register(&r);
    r
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn json(a: &ModelArtifacts) -> Vec<u8> {
    ModelJson::for_artifacts(a, vec![]).to_bytes(BROWSER_ORDER)
}

fn assert_same(a: &ModelArtifacts, b: &ModelArtifacts, what: &str) {
    assert_eq!(String::from_utf8(json(a)).unwrap(), String::from_utf8(json(b)).unwrap(), "{what}: model.json");
    assert!(a.weight_data.to_vec() == b.weight_data.to_vec(), "{what}: weight bytes differ");
}

fn index_url(dir: &Path) -> String {
    format!("safetensors://{}/model.safetensors.index.json", dir.display())
}

fn shards(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    v.sort();
    v
}

#[test]
fn fixtures_round_trip_through_shards() {
    let r = registry();
    for m in fixtures::MODELS {
        let dir = tempfile::tempdir().unwrap();
        let model = fixtures::model(m);
        let url = index_url(dir.path());
        run(r.save_with(&url, &model, &Options::new().shard_size(4096))).unwrap();
        let got = run(r.load(&url)).unwrap();
        assert_same(&got, &model, m);
        let n = shards(dir.path()).len();
        let expect_many = model.weight_data.len() > 8192;
        assert!(n >= 1 && (!expect_many || n > 1), "{m}: {n} shards for {} bytes", model.weight_data.len());
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("model.safetensors.index.json")).unwrap()).unwrap();
        assert_eq!(index["metadata"]["total_size"], model.weight_data.len() as u64, "{m}");
        assert_eq!(index["weight_map"].as_object().unwrap().len(), model.weight_specs.len(), "{m}");
        assert!(shards(dir.path()).iter().all(|s| s.starts_with("model-") && s.contains("-of-")), "{m}");
    }
}

#[test]
fn resaving_with_fewer_shards_removes_the_stale_ones() {
    let r = registry();
    let dir = tempfile::tempdir().unwrap();
    let url = index_url(dir.path());
    let c = fixtures::model("c");
    run(r.save_with(&url, &c, &Options::new().shard_size(1 << 16))).unwrap();
    assert!(shards(dir.path()).len() >= 2);
    let a = fixtures::model("a");
    run(r.save(&url, &a)).unwrap();
    assert_eq!(shards(dir.path()), ["model-00001-of-00001.safetensors"]);
    assert_same(&run(r.load(&url)).unwrap(), &a, "a over c");
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")));
}

#[test]
fn a_shard_of_another_save_is_detected() {
    let r = registry();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let c = fixtures::model("c");
    let opts = Options::new().shard_size(1 << 20);
    run(r.save_with(&index_url(one.path()), &c, &opts)).unwrap();
    run(r.save_with(&index_url(two.path()), &c, &opts)).unwrap();
    // Same names, same tensors, but from another save: as if a save had been torn between renames.
    let first = &shards(one.path())[0];
    std::fs::copy(two.path().join(first), one.path().join(first)).unwrap();
    let err = run(r.load(&index_url(one.path()))).unwrap_err();
    assert!(matches!(err, Error::InvalidModel { .. }), "{err}");
    assert!(err.to_string().contains(first) && err.to_string().contains("another save"), "{err}");
}

#[test]
fn hostile_indexes_are_refused_before_reading_shards() {
    let dir = tempfile::tempdir().unwrap();
    let index = dir.path().join("model.safetensors.index.json");
    let load = |opts: &Options| SafetensorsHandler::new(&index).load_sync(opts);
    for bad in ["../x.safetensors", "/etc/passwd", "a/b.safetensors", ""] {
        std::fs::write(&index, serde_json::json!({"weight_map": {"w": bad}}).to_string()).unwrap();
        let err = load(&Options::new()).unwrap_err();
        assert!(err.to_string().contains("not a file name"), "{bad}: {err}");
    }
    // A missing shard names the file.
    std::fs::write(&index, r#"{"weight_map": {"w": "gone.safetensors"}}"#).unwrap();
    let err = load(&Options::new()).unwrap_err();
    assert!(err.to_string().contains("gone.safetensors"), "{err}");
    // Shards over the weight limit fail before any is read.
    let r = registry();
    run(r.save_with(&index_url(dir.path()), &fixtures::model("c"), &Options::new().shard_size(1 << 20))).unwrap();
    let small = Options::new().limits(Limits { max_weight_bytes: 1000, ..Limits::default() });
    assert!(matches!(load(&small), Err(Error::TooLarge { .. })));
    // An index bigger than the header bound is not read.
    let tiny = Options::new().limits(Limits { max_model_json_bytes: 10, ..Limits::default() });
    std::fs::write(&index, vec![b' '; 3 << 20]).unwrap();
    assert!(matches!(load(&tiny), Err(Error::TooLarge { .. })));
}

#[test]
fn python_reads_the_shards_the_index_names() {
    let Some(python) = oracle::python(&["safetensors", "numpy"]) else {
        println!("SKIPPED: no Python with `safetensors` and `numpy` (MODELIO_PYTHON; `cargo xtask test-all` sets it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let model = fixtures::model("c");
    run(registry().save_with(&index_url(dir.path()), &model, &Options::new().shard_size(1 << 20))).unwrap();
    let script = r#"
import sys, json, os
from safetensors.numpy import load_file
index = json.load(open(sys.argv[1]))
out = {}
for name, shard in index["weight_map"].items():
    t = load_file(os.path.join(os.path.dirname(sys.argv[1]), shard))[name]
    out[name] = [str(t.dtype), list(t.shape), t.tobytes().hex()]
print(json.dumps(out))
"#;
    let idx = dir.path().join("model.safetensors.index.json");
    let out = std::process::Command::new(&python).args(["-c", script]).arg(&idx).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ranges = io_core::codec::layout(&model.weight_specs, &model.weight_data, &[]).unwrap();
    for (spec, range) in model.weight_specs.iter().zip(ranges) {
        let t = &v[&spec.name];
        assert_eq!(t[0], "float32", "{}", spec.name);
        assert_eq!(t[1], serde_json::json!(spec.shape), "{}", spec.name);
        let want: String = model.weight_data.slice(range).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(t[2].as_str().unwrap(), want, "{}", spec.name);
    }
}

/// TF.js saves each fixture with its own `file://` handler; modelio exports that to safetensors
/// (one file, and sharded) and imports it back to TF.js's file layout: the files equal TF.js's
/// byte for byte, and TF.js loads the re-imported model and predicts the expected output exactly.
#[test]
fn tfjs_to_safetensors_to_tfjs_is_byte_identical_and_predicts_exactly() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = tempfile::tempdir().unwrap();
    let r = registry();
    let mut predict = Vec::new();
    for m in ["a", "b", "d"] {
        let src = workspace.join(format!("fixtures/tfjs/node_file/{m}/model.json"));
        let tfjs = root.path().join(format!("tfjs-{m}"));
        oracle::tfjs_file("save", &[&src, &tfjs]);
        let from = format!("file://{}", tfjs.display());
        for (kind, st, opts) in [
            ("single", format!("safetensors://{}/{m}.safetensors", root.path().display()), Options::new()),
            ("sharded", index_url(&root.path().join(format!("st-{m}"))), Options::new().shard_size(64)),
        ] {
            run(r.copy_with(&from, &st, &opts)).unwrap();
            let back = root.path().join(format!("back-{kind}-{m}"));
            run(r.copy_model(&st, &format!("file://{}", back.display()))).unwrap();
            for f in ["model.json", "weights.bin"] {
                assert!(
                    std::fs::read(back.join(f)).unwrap() == std::fs::read(tfjs.join(f)).unwrap(),
                    "{kind} {m}: {f} differs from TF.js's"
                );
            }
            predict.push(back.join("model.json"));
            predict.push(workspace.join(format!("fixtures/tfjs/models/{m}/expected.json")));
        }
    }
    let res = oracle::tfjs_file("predict", &predict.iter().map(|p| p.as_path()).collect::<Vec<_>>());
    let res = res.as_array().unwrap();
    assert_eq!(res.len(), 6);
    for r in res {
        assert_eq!(r["bitExact"], true, "TF.js's prediction differs from the expected output: {r}");
    }
}
