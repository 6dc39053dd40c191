//! `file://` against TF.js's fixtures and the failure cases (the conformance suite: `tests/conformance.rs`).

use std::path::{Path, PathBuf};

use futures::executor::block_on;
use io_core::testkit::{assert_same_model, fixtures};
use io_core::{Error, LoadHandler, ModelArtifacts, Registry, SaveHandler};
use io_file::FileHandler;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tfjs").join(rel)
}

fn registry() -> &'static Registry {
    static R: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    R.get_or_init(|| {
        let r = Registry::new();
        io_file::register(&r);
        r
    })
}

fn url(p: &Path) -> String {
    format!("file://{}", p.display())
}

#[test]
fn registers_exactly_its_schemes() {
    assert_eq!(registry().schemes(), io_file::SCHEMES);
}

#[test]
fn save_writes_what_tfjs_node_writes_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    for m in ["a", "b", "d"] {
        let dir = root.path().join("deep/parents/are/created").join(m);
        block_on(registry().save(&url(&dir), &fixtures::model(m))).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        assert_eq!(names, ["model.json", "weights.bin"], "model {m}");
        for f in ["model.json", "weights.bin"] {
            let want = std::fs::read(fixture(&format!("node_file/{m}/{f}"))).unwrap();
            assert!(std::fs::read(dir.join(f)).unwrap() == want, "model {m}: {f} differs from tfjs-node's");
        }
    }
    assert_eq!(std::fs::read_dir(root.path().join("deep/parents/are/created")).unwrap().count(), 3, "no leftovers");
}

#[test]
fn loads_what_tfjs_node_saved_from_folder_or_model_json() {
    for m in ["a", "b", "d"] {
        let want = fixtures::model(m);
        for p in [fixture(&format!("node_file/{m}")), fixture(&format!("node_file/{m}/model.json"))] {
            let got = block_on(registry().load(&url(&p))).unwrap();
            assert_same_model(&format!("node_file {m} via {}", p.display()), &got, &want);
        }
    }
}

#[test]
fn loads_the_converters_sharded_and_quantized_layouts() {
    let c = block_on(registry().load(&url(&fixture("converter_write_weights/c_sharded")))).unwrap();
    assert_eq!(c.weight_data.chunks().len(), 2, "two shards stay two buffers");
    assert_eq!(c.weight_data.to_vec(), fixtures::weight_bytes("c"));
    assert_eq!(c.weight_specs, fixtures::model("c").weight_specs);

    // Two groups of 256-byte shards: the same tensors as model b, regrouped.
    let b2 =
        block_on(registry().load(&url(&fixture("converter_write_weights/b_2groups_256B_shards/model.json")))).unwrap();
    let b = fixtures::model("b");
    let (got, want) = (
        io_core::decode_weights(&b2.weight_specs, &b2.weight_data).unwrap(),
        io_core::decode_weights(&b.weight_specs, &b.weight_data).unwrap(),
    );
    assert_eq!(got.len(), want.len());
    for t in &want {
        assert_eq!(got.iter().find(|g| g.name == t.name), Some(t), "tensor {}", t.name);
    }

    for case in ["b_quant_uint8", "b_quant_uint16", "b_quant_float16", "a_quant_mixed"] {
        let m = block_on(registry().load(&url(&fixture(&format!("converter_write_weights/{case}"))))).unwrap();
        let dq = io_core::decode_weights(&m.weight_specs, &m.weight_data).unwrap();
        let expect: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fixture(&format!("converter_write_weights/{case}/tfjs_load_result.json"))).unwrap(),
        )
        .unwrap();
        assert!(!dq.is_empty(), "{case}");
        let weights = expect["loadedWeights"].as_object().expect("TF.js's dequantized weights");
        assert_eq!(weights.len(), dq.len(), "{case}");
        for t in &dq {
            let vals: Vec<f64> = weights[&t.name].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(t.tensor.to_f64_vec().unwrap(), vals, "{case}: {} differs from TF.js's dequantization", t.name);
        }
    }
}

#[test]
fn sharded_save_uses_converter_names_and_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sharded");
    let b = fixtures::model("b");
    block_on(FileHandler::new(&dir).shard_size(256).save(&b, &Default::default())).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    assert_eq!(
        json["weightsManifest"][0]["paths"],
        serde_json::json!(["group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"])
    );
    let sizes: Vec<u64> =
        (1..=3).map(|i| std::fs::metadata(dir.join(format!("group1-shard{i}of3.bin"))).unwrap().len()).collect();
    assert_eq!(sizes, [256, 256, 212]);
    assert_same_model("sharded", &block_on(FileHandler::new(&dir).load(&Default::default())).unwrap(), &b);
    // Saving unsharded over it removes the old shards: the folder is replaced as a whole.
    block_on(FileHandler::new(&dir).save(&b, &Default::default())).unwrap();
    assert!(!dir.join("group1-shard1of3.bin").exists());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn short_or_long_shard_names_file_and_byte_counts() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("c");
    copy_dir(&fixture("converter_write_weights/c_sharded"), &dir);
    let shard = dir.join("group1-shard2of2.bin");
    let full = std::fs::read(&shard).unwrap();
    for (bytes, actual) in
        [(&full[..full.len() - 4], 4_403_996u64), (&[&full[..], &[0u8; 4][..]].concat()[..], 4_404_004)]
    {
        std::fs::write(&shard, bytes).unwrap();
        let err = block_on(registry().load(&url(&dir))).unwrap_err();
        match &err {
            Error::WeightsMismatch { file, actual: a, expected, .. } => {
                assert_eq!(file.as_deref(), Some(shard.display().to_string().as_str()), "{err}");
                assert_eq!((*expected, *a), (4_404_000, actual), "{err}");
            }
            other => panic!("expected WeightsMismatch, got {other}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("group1-shard2of2.bin") && msg.contains("4404000") && msg.contains(&actual.to_string()),
            "{msg}"
        );
    }
}

#[test]
fn manifest_paths_outside_the_folder_are_refused_unless_allowed() {
    let root = tempfile::tempdir().unwrap();
    let a = fixtures::model("a");
    block_on(FileHandler::new(root.path().join("real")).save(&a, &Default::default())).unwrap();
    let json = std::fs::read_to_string(root.path().join("real/model.json")).unwrap();
    let outside = root.path().join("real/weights.bin");
    for (name, path) in [("up", "../real/weights.bin".to_string()), ("abs", outside.display().to_string())] {
        let dir = root.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("model.json"), json.replace("\"weights.bin\"", &format!("{path:?}"))).unwrap();
        let err = block_on(FileHandler::new(&dir).load(&Default::default())).unwrap_err();
        assert!(matches!(err, Error::InvalidModel { .. }) && err.to_string().contains(&path), "{name}: {err}");
        assert!(err.to_string().contains("allow_paths_outside_folder"), "{err}");
        let ok = block_on(FileHandler::new(&dir).allow_paths_outside_folder(true).load(&Default::default())).unwrap();
        assert_same_model(name, &ok, &a);
    }
}

#[test]
fn missing_model_is_not_found_and_file_target_is_refused() {
    let root = tempfile::tempdir().unwrap();
    for p in [root.path().join("none"), root.path().join("none/model.json")] {
        assert!(matches!(block_on(registry().load(&url(&p))), Err(Error::NotFound { .. })), "{}", p.display());
    }
    std::fs::create_dir(root.path().join("empty")).unwrap();
    assert!(matches!(block_on(registry().load(&url(&root.path().join("empty")))), Err(Error::NotFound { .. })));

    let file = root.path().join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    let err = block_on(registry().save(&url(&file), &fixtures::model("a"))).unwrap_err();
    assert!(err.to_string().contains("is not a folder"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    let mixed = root.path().join("mixed");
    std::fs::create_dir(&mixed).unwrap();
    std::fs::write(mixed.join("notes.txt"), b"mine").unwrap();
    let err = block_on(registry().save(&url(&mixed), &fixtures::model("a"))).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(std::fs::read(mixed.join("notes.txt")).unwrap(), b"mine");
}

#[test]
fn relative_urls_resolve_against_the_current_folder() {
    // Relative to the test's working directory (the crate folder): use a unique subfolder of target/.
    let rel = format!("../../target/io-file-relative-{}", std::process::id());
    let a = fixtures::model("a");
    block_on(registry().save(&format!("file://{rel}/m"), &a)).unwrap();
    let back = block_on(registry().load(&format!("file://{rel}/m/model.json"))).unwrap();
    assert_same_model("relative", &back, &a);
    std::fs::remove_dir_all(&rel).unwrap();
}

fn same(a: &ModelArtifacts, b: &ModelArtifacts) -> bool {
    a.model_topology == b.model_topology
        && a.weight_specs == b.weight_specs
        && a.weight_data.to_vec() == b.weight_data.to_vec()
        && a.user_defined_metadata == b.user_defined_metadata
}

#[test]
fn concurrent_saves_and_loads_from_threads_see_whole_models() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    let models: Vec<ModelArtifacts> = (0..4)
        .map(|i| {
            let mut m = fixtures::model(["a", "b", "d", "b"][i]);
            m.user_defined_metadata = Some(serde_json::json!({ "writer": i }).into());
            m
        })
        .collect();
    FileHandler::new(&dir).save_sync(&models[0]).unwrap();
    std::thread::scope(|s| {
        for (i, m) in models.iter().enumerate() {
            let h = FileHandler::new(&dir).shard_size(if i % 2 == 0 { 100 } else { 1 << 20 });
            s.spawn(move || (0..25).for_each(|_| drop(h.save_sync(m).unwrap())));
        }
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..50 {
                    let got = FileHandler::new(&dir).load_sync().expect("a load during saves");
                    assert!(models.iter().any(|m| same(&got, m)), "a load saw a mix of models");
                }
            });
        }
    });
    let got = FileHandler::new(&dir).load_sync().unwrap();
    assert!(models.iter().any(|m| same(&got, m)));
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "no temporary folders are left");
}

#[cfg(unix)]
#[test]
fn a_save_keeps_the_folder_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    FileHandler::new(&dir).save_sync(&fixtures::model("a")).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    FileHandler::new(&dir).save_sync(&fixtures::model("d")).unwrap();
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o750);
    assert_same_model("after re-save", &FileHandler::new(&dir).load_sync().unwrap(), &fixtures::model("d"));
}

#[test]
fn a_refused_save_leaves_the_old_model_untouched() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    let a = fixtures::model("a");
    FileHandler::new(&dir).save_sync(&a).unwrap();
    let before: Vec<_> = ["model.json", "weights.bin"].iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect();

    let mut short = fixtures::model("d");
    short.weight_data = io_core::WeightData::single(short.weight_data.to_vec()[..100].to_vec());
    let err = FileHandler::new(&dir).save_sync(&short).unwrap_err();
    assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");

    let mut graph = fixtures::model("d");
    graph.model_topology = Some(io_core::Topology::GraphDef(bytes_of(b"\x0a\x00")));
    let err = FileHandler::new(&dir).save_sync(&graph).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }) && err.to_string().contains("GraphDef"), "{err}");

    let after: Vec<_> = ["model.json", "weights.bin"].iter().map(|f| std::fs::read(dir.join(f)).unwrap()).collect();
    assert!(before == after, "the old model changed");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "a refused save left files behind");
}

fn bytes_of(b: &'static [u8]) -> bytes::Bytes {
    bytes::Bytes::from_static(b)
}

/// `file://` lists the model folders under a folder (not in `list_models`) and removes one whole.
#[test]
fn lists_under_a_folder_and_removes_a_model() {
    let root = tempfile::tempdir().unwrap();
    let base = url(root.path());
    let r = registry();
    block_on(r.save(&format!("{base}/a"), &fixtures::model("a"))).unwrap();
    block_on(r.save(&format!("{base}/team/b"), &fixtures::model("b"))).unwrap();
    std::fs::create_dir_all(root.path().join("empty/deeper")).unwrap();
    let listed = block_on(r.list_under(&base)).unwrap();
    let prefix = root.path().display().to_string();
    let names: Vec<String> = listed.keys().map(|k| k.strip_prefix(&prefix).unwrap().to_string()).collect();
    assert_eq!(names, ["/a", "/team/b"]);
    let info = &listed[&format!("{prefix}/team/b")];
    let want = fixtures::info("b");
    assert_eq!(
        (info.model_topology_bytes, info.weight_specs_bytes, info.weight_data_bytes),
        (want.model_topology_bytes, want.weight_specs_bytes, want.weight_data_bytes)
    );
    assert!(block_on(r.list_models()).unwrap().keys().all(|k| !k.starts_with("file://")));
    let removed = block_on(r.remove_model(&format!("{base}/a"))).unwrap();
    assert_eq!(removed.weight_data_bytes, Some(92));
    assert!(!root.path().join("a").exists());
    assert!(matches!(block_on(r.remove_model(&format!("{base}/a"))), Err(Error::NotFound { .. })));
    // A folder holding other files is not removed.
    std::fs::write(root.path().join("team/b/notes.txt"), "mine").unwrap();
    assert!(block_on(r.remove_model(&format!("{base}/team/b"))).is_err());
    assert!(root.path().join("team/b/notes.txt").exists());
    // Moving within file:// copies then removes the source.
    std::fs::remove_file(root.path().join("team/b/notes.txt")).unwrap();
    block_on(r.move_model(&format!("{base}/team/b"), &format!("{base}/moved"))).unwrap();
    assert!(!root.path().join("team/b").exists());
    assert_same_model("moved", &block_on(r.load(&format!("{base}/moved"))).unwrap(), &fixtures::model("b"));
}

/// A move between two spellings of one folder (`./m`, `m/`, absolute, through a symlink, its
/// model.json) is refused as a move onto itself: copying first and then removing the source would
/// remove the only copy.
#[test]
fn a_move_onto_the_same_folder_spelled_differently_keeps_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    block_on(FileHandler::new(&m).save(&fixtures::model("a"), &Default::default())).unwrap();
    std::os::unix::fs::symlink(&m, dir.path().join("link")).unwrap();
    let d = dir.path().display();
    for other in [
        format!("file://{d}/./m"),
        format!("file://{d}/m/"),
        format!("file://{d}/x/../m"),
        format!("file://{d}/link"),
        format!("file://{d}/m/model.json"),
    ] {
        match block_on(registry().move_model(&url(&m), &other)) {
            Err(Error::SamePath(_)) => {}
            r => panic!("move to {other}: {r:?}"),
        }
        let back = block_on(registry().load(&url(&m))).unwrap_or_else(|e| panic!("after a move to {other}: {e}"));
        assert_same_model(&other, &back, &fixtures::model("a"));
    }
}
