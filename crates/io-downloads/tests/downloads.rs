//! `downloads://` against TF.js's downloaded files, name collisions, the folder setting, and
//! `browser_files` with TF.js's errors.

use std::path::{Path, PathBuf};

use futures::executor::block_on;
use io_core::testkit::{assert_same_model, fixtures};
use io_core::{Error, LoadHandler, Registry};
use io_downloads::{browser_files, DownloadsHandler};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tfjs").join(rel)
}

fn json(p: &Path) -> serde_json::Map<String, Value> {
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// Same keys in the same order with the same values.
fn assert_same_json(got: &Path, want: &Path) {
    let (g, w) = (json(got), json(want));
    assert_eq!(g.keys().collect::<Vec<_>>(), w.keys().collect::<Vec<_>>(), "key order of {}", got.display());
    assert_eq!(g, w, "values of {} vs {}", got.display(), want.display());
    // And in fact byte for byte: numbers and escapes are written as JSON.stringify writes them.
    assert!(std::fs::read(got).unwrap() == std::fs::read(want).unwrap(), "bytes of {}", got.display());
}

#[test]
fn output_equals_tfjs_downloads_for_every_fixture_and_via_the_router() {
    let out = tempfile::tempdir().unwrap();
    // The only test that touches the environment: the router's handler reads the folder from it.
    std::env::set_var(io_downloads::DIR_ENV, out.path());
    let registry = Registry::new();
    io_downloads::register(&registry);
    assert_eq!(registry.schemes(), io_downloads::SCHEMES);
    for (case, prefix, model) in
        [("fixture-a", "fixture-a", "a"), ("fixture-d", "fixture-d", "d"), ("default", "", "a")]
    {
        let info = block_on(registry.save(&format!("downloads://{prefix}"), &fixtures::model(model))).unwrap();
        assert_eq!(info.model_artifacts_info.weight_data_bytes, fixtures::info(model).weight_data_bytes);
        let stem = if prefix.is_empty() { "model" } else { prefix };
        let (j, w) = (format!("{stem}.json"), format!("{stem}.weights.bin"));
        assert!(
            std::fs::read(out.path().join(&w)).unwrap()
                == std::fs::read(fixture(&format!("chromium_downloads/{case}/{w}"))).unwrap(),
            "{case}: weights differ from TF.js's download"
        );
        assert_same_json(&out.path().join(&j), &fixture(&format!("chromium_downloads/{case}/{j}")));
    }
    let err = block_on(registry.load("downloads://fixture-a")).unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { operation: "load", .. }) && err.to_string().contains("save-only"),
        "{err}"
    );
    let mut names: Vec<_> =
        std::fs::read_dir(out.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "fixture-a.json",
            "fixture-a.weights.bin",
            "fixture-d.json",
            "fixture-d.weights.bin",
            "model.json",
            "model.weights.bin"
        ]
    );
}

#[test]
fn never_overwrites_and_the_manifest_names_the_weights_written() {
    let out = tempfile::tempdir().unwrap();
    let models = [fixtures::model("a"), fixtures::model("d"), fixtures::model("b")];
    // Someone else's file holds the first weights name of the third save.
    std::fs::write(out.path().join("m (2).weights.bin"), b"not ours").unwrap();
    // A part file left by a crashed save long ago is removed; a fresh one (a save in progress) is not.
    let (stale, fresh) = (out.path().join(".m.1-0.modelio-part"), out.path().join(".m.2-0.modelio-part"));
    for p in [&stale, &fresh] {
        std::fs::write(p, b"partial").unwrap();
    }
    let two_hours_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(two_hours_ago).unwrap();
    let mut written = Vec::new();
    for m in &models {
        written.push(DownloadsHandler::new("m").dir(out.path()).save_files(m).unwrap());
    }
    let names: Vec<_> =
        written.iter().map(|f| f.model_json.file_name().unwrap().to_str().unwrap().to_string()).collect();
    assert_eq!(names, ["m.json", "m (1).json", "m (3).json"]);
    assert_eq!(std::fs::read(out.path().join("m (2).weights.bin")).unwrap(), b"not ours");
    assert!(!out.path().join("m (2).json").exists());
    for (f, m) in written.iter().zip(&models) {
        let manifest = json(&f.model_json)["weightsManifest"][0]["paths"].clone();
        let wname = f.weights.file_name().unwrap().to_str().unwrap();
        assert_eq!(manifest, serde_json::json!([format!("./{wname}")]));
        let back = block_on(browser_files(&f.model_json, vec![f.weights.clone()]).load(&Default::default())).unwrap();
        assert_same_model(wname, &back, m);
    }
    assert!(!stale.exists(), "a stale part file is removed");
    std::fs::remove_file(&fresh).expect("a fresh part file is kept");
    let hidden = std::fs::read_dir(out.path())
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(hidden, 0, "temporary files are removed");
}

#[test]
fn concurrent_saves_to_one_name_each_get_their_own_files() {
    let out = tempfile::tempdir().unwrap();
    let a = fixtures::model("a");
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| DownloadsHandler::new("same").dir(out.path()).save_files(&a).unwrap());
        }
    });
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 16);
    for k in 0..8 {
        let stem = if k == 0 { "same".to_string() } else { format!("same ({k})") };
        let files = vec![out.path().join(format!("{stem}.weights.bin"))];
        assert_same_model(
            &stem,
            &block_on(browser_files(out.path().join(format!("{stem}.json")), files).load(&Default::default())).unwrap(),
            &a,
        );
    }
}

#[test]
fn browser_files_loads_tfjs_downloads_and_converter_shards_with_tfjs_errors() {
    let dl = fixture("chromium_downloads/fixture-a");
    let back = block_on(
        browser_files(dl.join("fixture-a.json"), vec![dl.join("fixture-a.weights.bin")]).load(&Default::default()),
    )
    .unwrap();
    assert_same_model("browserFiles fixture-a", &back, &fixtures::model("a"));

    // Four shards in two groups, given in any order.
    let b2 = fixture("converter_write_weights/b_2groups_256B_shards");
    let shards = ["group2-shard2of2.bin", "group1-shard1of2.bin", "group2-shard1of2.bin", "group1-shard2of2.bin"]
        .map(|n| b2.join(n));
    let m = block_on(browser_files(b2.join("model.json"), shards.to_vec()).load(&Default::default())).unwrap();
    assert_eq!(m.weight_data.len(), 724);

    // The error TF.js gave in Chromium (fixtures/tfjs/chromium_model_management/steps.json).
    let steps: Value =
        serde_json::from_slice(&std::fs::read(fixture("chromium_model_management/steps.json")).unwrap()).unwrap();
    let tfjs_error = steps["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["label"] == "browserFiles with wrong weight file name")
        .and_then(|s| s["error"].as_str())
        .expect("the browserFiles error in steps.json")
        .trim_start_matches("page.evaluate: Error: ")
        .to_string();
    let other = tempfile::tempdir().unwrap();
    let renamed = other.path().join("renamed.bin");
    std::fs::copy(dl.join("fixture-a.weights.bin"), &renamed).unwrap();
    let err = block_on(browser_files(dl.join("fixture-a.json"), vec![renamed.clone()]).load(&Default::default()))
        .unwrap_err();
    assert!(err.to_string().contains(&tfjs_error), "{err} lacks TF.js's '{tfjs_error}'");

    let err = block_on(
        browser_files(dl.join("fixture-a.json"), vec![dl.join("fixture-a.weights.bin"), renamed])
            .load(&Default::default()),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains(
            "Mismatch in the number of files in weights manifest (1) and the number of weight files provided (2)."
        ),
        "{err}"
    );

    // A short weight file names the file and the byte counts.
    let short = other.path().join("fixture-a.weights.bin");
    std::fs::write(&short, &std::fs::read(dl.join("fixture-a.weights.bin")).unwrap()[..88]).unwrap();
    let err = block_on(browser_files(dl.join("fixture-a.json"), vec![short]).load(&Default::default())).unwrap_err();
    assert!(
        matches!(err, Error::WeightsMismatch { expected: 92, actual: 88, .. })
            && err.to_string().contains("fixture-a.weights.bin"),
        "{err}"
    );

    // No weight files: the model without weights, as TF.js.
    let topo = block_on(browser_files(dl.join("fixture-a.json"), vec![]).load(&Default::default())).unwrap();
    assert!(topo.model_topology.is_some() && topo.weight_specs.is_empty() && topo.weight_data.is_empty());
}
