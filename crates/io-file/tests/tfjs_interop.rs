//! Interop with real TensorFlow.js 4.22 in Node, using tfjs-node's own `file://` handler
//! (`peer/file_interop.js`): TF.js loads what modelio saved and predicts exactly; modelio loads
//! what TF.js saved. The peer is installed by `cargo xtask test-all`; without it these tests fail.

use std::path::{Path, PathBuf};

use io_core::testkit::{assert_same_model, fixtures};
use io_file::FileHandler;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn node(args: &[&Path], cmd: &str) -> serde_json::Value {
    io_core::testkit::oracle::tfjs_file(cmd, args)
}

fn expected(m: &str) -> PathBuf {
    workspace().join(format!("fixtures/tfjs/models/{m}/expected.json"))
}

#[test]
fn tfjs_loads_models_saved_by_modelio_and_predicts_exactly() {
    let root = tempfile::tempdir().unwrap();
    let mut args = Vec::new();
    for (m, shard) in [("a", None), ("b", None), ("c", None), ("d", None), ("b", Some(256)), ("c", Some(1 << 20))] {
        let dir = root.path().join(format!("{m}-{}", shard.unwrap_or(0)));
        let h = FileHandler::new(&dir);
        let h = if let Some(s) = shard { h.shard_size(s) } else { h };
        h.save_sync(&fixtures::model(m)).unwrap();
        args.push(dir.join("model.json"));
        args.push(expected(m));
    }
    let res = node(&args.iter().map(PathBuf::as_path).collect::<Vec<_>>(), "predict");
    let res = res.as_array().unwrap();
    assert_eq!(res.len(), 6);
    for r in res {
        assert_eq!(r["bitExact"], true, "TF.js's prediction differs from the expected output: {r}");
    }
}

#[test]
fn modelio_loads_a_live_tfjs_file_save_and_resaves_it_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    for m in ["a", "b", "d"] {
        let src = workspace().join(format!("fixtures/tfjs/node_file/{m}/model.json"));
        let tfjs_dir = root.path().join(format!("tfjs-{m}"));
        let info = node(&[&src, &tfjs_dir], "save");
        let saved_bytes = info["modelArtifactsInfo"]["weightDataBytes"].as_u64().expect("TF.js's save result");
        let loaded = FileHandler::new(&tfjs_dir).load_sync().unwrap();
        assert_eq!(loaded.weight_data.len() as u64, saved_bytes, "{m}");
        if m != "d" {
            // d was saved without its optimizer (TF.js's default), so only a and b equal the fixture.
            assert_same_model(&format!("live TF.js save of {m}"), &loaded, &fixtures::model(m));
        }
        let ours = root.path().join(format!("modelio-{m}"));
        FileHandler::new(&ours).save_sync(&loaded).unwrap();
        for f in ["model.json", "weights.bin"] {
            assert!(
                std::fs::read(ours.join(f)).unwrap() == std::fs::read(tfjs_dir.join(f)).unwrap(),
                "{m}: {f} differs from TF.js's"
            );
        }
    }
}
