//! indexeddb:// against real SQLite files: record shapes equal to what TF.js wrote in Chromium,
//! reading TF.js's records, and model management across stores (the conformance suite:
//! `tests/conformance.rs`).

use std::sync::{Arc, OnceLock};

use io_core::testkit::{self, fixtures};
use io_core::{Error, Registry};
use io_indexeddb::layout::{INFO_STORE, MODELS_STORE};
use io_indexeddb::{IdbDatabase, IndexedDbModels, SqliteDatabase, Value};
use io_store_support::PathStore;
use modelio_example_memory as _;
use serde_json::Value as Json;

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A registry with indexeddb://, localstorage:// and the example memory:// store, whose profile
/// folder is a temporary folder of this test process.
fn registry() -> &'static Registry {
    static R: OnceLock<(tempfile::TempDir, Registry)> = OnceLock::new();
    &R.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        io_store_support::set_home(Some(dir.path().to_path_buf()));
        let r = Registry::from_inventory();
        io_indexeddb::register(&r);
        io_localstorage::register(&r);
        (dir, r)
    })
    .1
}

fn fresh() -> (tempfile::TempDir, Arc<SqliteDatabase>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = SqliteDatabase::open_in(dir.path()).expect("open database");
    (dir, Arc::new(db))
}

fn fixture(rel: &str) -> Json {
    let p = format!("{}/../../fixtures/tfjs/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("fixture JSON")
}

/// Replaces every `{"__type":"Date",...}` by a placeholder, so records compare without dates, and
/// writes numbers as JS does (the dump was written by Python: `1e-07` for JavaScript's `1e-7`).
fn undated(v: &mut Json) {
    match v {
        Json::Object(m) if m.get("__type") == Some(&Json::from("Date")) => *v = Json::from("<date>"),
        Json::Number(n) => *v = Json::Number(io_core::Quantization::js_number(n.as_f64().expect("finite"))),
        Json::Object(m) => m.values_mut().for_each(undated),
        Json::Array(a) => a.iter_mut().for_each(undated),
        _ => {}
    }
}

#[test]
fn records_have_the_shape_tfjs_writes_in_chromium() {
    let (_dir, db) = fresh();
    let m = IndexedDbModels::new(db.clone());
    for (path, name) in [("fixture-a", "a"), ("fixture-d", "d"), ("dir/sub/model-b", "b")] {
        run(m.save(path, &fixtures::model(name), &Default::default())).expect("save");
    }
    let want = fixture("chromium_indexeddb/a_d_b/indexeddb.json");
    for store in [INFO_STORE, MODELS_STORE] {
        let mut got: Json = run(db.get_all(store)).unwrap().iter().map(Value::to_dump).collect();
        let mut want = want["objectStores"][store]["records"].clone();
        undated(&mut got);
        undated(&mut want);
        // serde_json's Value compares objects ignoring order; compare the text to check key order too.
        assert_eq!(got.to_string(), want.to_string(), "records of {store} differ from TF.js's");
    }
}

#[test]
fn reads_what_tfjs_wrote_in_chromium() {
    let (_dir, db) = fresh();
    run(io_indexeddb::import_dump(&*db, &fixture("chromium_indexeddb/a_d_b/indexeddb.json"))).expect("import");
    let m = IndexedDbModels::new(db);
    for (path, name) in [("fixture-a", "a"), ("fixture-d", "d"), ("dir/sub/model-b", "b")] {
        let got = run(m.load(path, &Default::default())).unwrap_or_else(|e| panic!("load {path}: {e}"));
        testkit::assert_same_model(path, &got, &fixtures::model(name));
    }
    let steps = fixture("chromium_model_management/steps.json");
    let listed = steps["steps"].as_array().unwrap().iter().find(|s| s["label"] == "listModels after saves").unwrap();
    let mut want: Vec<(String, Json)> = listed["value"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("indexeddb://").map(|p| (p.to_string(), v.clone())))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let mut got: Vec<(String, Json)> =
        run(m.list()).unwrap().into_iter().map(|(p, i)| (p, serde_json::to_value(i).unwrap())).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want, "list equals TF.js's listModels() for indexeddb://, dates included");
}

#[test]
fn optional_quota() {
    let (_dir, db) = fresh();
    let m = IndexedDbModels::new(db.clone());
    run(m.save("q", &fixtures::model("a"), &Default::default())).expect("no quota by default");
    db.db().set_quota(Some(50_000));
    match run(m.save("q", &fixtures::model("c"), &Default::default())) {
        Err(Error::QuotaExceeded { needed, available, url, .. }) => {
            assert_eq!(url, "indexeddb://q");
            assert!(needed > 4_404_000 && available == 50_000, "{needed} {available}");
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    testkit::assert_same_model("kept", &run(m.load("q", &Default::default())).unwrap(), &fixtures::model("a"));
}

/// TF.js's moveModel indexeddb -> localstorage over quota loses the model (fixture steps.json);
/// modelio's move fails with QuotaExceeded and the IndexedDB model is still there, intact.
#[test]
fn failed_move_to_localstorage_over_quota_loses_nothing() {
    let r = registry();
    let c = fixtures::model("c");
    run(r.save("indexeddb://tfjs-loss/big", &c)).expect("save big");
    let err = run(r.move_model("indexeddb://tfjs-loss/big", "localstorage://tfjs-loss/big"));
    assert!(matches!(err, Err(Error::QuotaExceeded { .. })), "{err:?}");
    testkit::assert_same_model("still there", &run(r.load("indexeddb://tfjs-loss/big")).unwrap(), &c);
    assert!(matches!(run(r.load("localstorage://tfjs-loss/big")), Err(Error::NotFound { .. })));
    let all = run(r.list_models()).unwrap();
    assert!(all.contains_key("indexeddb://tfjs-loss/big") && !all.contains_key("localstorage://tfjs-loss/big"));
}

/// list/copy/move/remove across indexeddb://, localstorage:// and memory://.
#[test]
fn model_management_across_stores() {
    let r = registry();
    let (a, d) = (fixtures::model("a"), fixtures::model("d"));
    run(r.save("localstorage://mgmt/a", &a)).unwrap();
    run(r.save("indexeddb://mgmt/d", &d)).unwrap();
    let copied = run(r.copy_model("localstorage://mgmt/a", "indexeddb://mgmt/a-copy")).unwrap();
    let moved = run(r.move_model("indexeddb://mgmt/d", "memory://mgmt/d")).unwrap();
    run(r.move_model("memory://mgmt/d", "localstorage://mgmt/d")).unwrap();
    run(r.move_model("indexeddb://mgmt/a-copy", "indexeddb://mgmt/a-renamed")).unwrap();
    let all = run(r.list_models()).unwrap();
    for k in ["localstorage://mgmt/a", "localstorage://mgmt/d", "indexeddb://mgmt/a-renamed"] {
        assert!(all.contains_key(k), "{k} missing from {:?}", all.keys().collect::<Vec<_>>());
    }
    for k in ["indexeddb://mgmt/d", "memory://mgmt/d", "indexeddb://mgmt/a-copy"] {
        assert!(!all.contains_key(k), "{k} still listed");
    }
    assert_eq!(all["indexeddb://mgmt/a-renamed"], copied, "rename keeps the info");
    assert_eq!(moved.weight_data_bytes, Some(280));
    testkit::assert_same_model("moved twice", &run(r.load("localstorage://mgmt/d")).unwrap(), &d);
    testkit::assert_same_model("renamed", &run(r.load("indexeddb://mgmt/a-renamed")).unwrap(), &a);
    let removed = run(r.remove_model("indexeddb://mgmt/a-renamed")).unwrap();
    assert_eq!(removed, copied);
    assert!(matches!(run(r.remove_model("indexeddb://mgmt/a-renamed")), Err(Error::NotFound { .. })));
}

/// A binary (GraphDef) topology is kept as a buffer in IndexedDB, as TF.js keeps its ArrayBuffer;
/// localStorage refuses it, as TF.js does, and writes nothing.
#[test]
fn binary_topology() {
    let r = registry();
    let mut m = fixtures::model("a");
    m.model_topology = Some(io_core::Topology::GraphDef(bytes::Bytes::from_static(b"\x0a\x03abc\x12\x00")));
    let info = run(r.save("indexeddb://graphdef/m", &m)).unwrap().model_artifacts_info;
    assert_eq!((info.model_topology_type.as_str(), info.model_topology_bytes), ("GraphDef", Some(7)));
    testkit::assert_same_model("graphdef", &run(r.load("indexeddb://graphdef/m")).unwrap(), &m);
    let err = run(r.save("localstorage://graphdef/m", &m));
    assert!(matches!(err, Err(Error::Unsupported { .. })), "{err:?}");
    assert!(matches!(run(r.load("localstorage://graphdef/m")), Err(Error::NotFound { .. })));
}

/// What a server reads of a stored model (`ModelStore::read_model_json` / `read_file`): the
/// model.json without touching the weights (it still answers with the weights' blob gone from the
/// database, where a load fails), and the weights as the one file `model.weights.bin`, read only
/// within the limit the manifest declares.
#[test]
fn model_json_and_weights_are_read_apart() {
    let (_dir, db) = fresh();
    let m = IndexedDbModels::new(db.clone());
    let mut model = fixtures::model("a");
    model.model_topology = Some(io_core::Topology::GraphDef(bytes::Bytes::from_static(b"\x0a\x03abc\x12\x00")));
    run(m.save("x", &model, &Default::default())).expect("save");
    let want = io_core::ModelJson::for_artifacts(&model, vec![io_core::files::WEIGHTS_BIN.into()])
        .to_bytes(io_core::artifacts::BROWSER_ORDER);
    let json = run(m.read_model_json("x")).expect("read model.json").expect("read apart");
    assert_eq!(String::from_utf8_lossy(&json), String::from_utf8_lossy(&want));
    let len = model.weight_data.len() as u64;
    let weights = run(m.read_file("x", io_core::files::WEIGHTS_BIN, len)).expect("read weights").expect("read apart");
    assert_eq!(weights, model.weight_data.to_bytes());
    match run(m.read_file("x", io_core::files::WEIGHTS_BIN, len - 1)) {
        Err(Error::InvalidModel { detail, .. }) => assert!(detail.contains(&format!("{len} bytes")), "{detail}"),
        other => panic!("weights over the limit: {other:?}"),
    }
    assert_eq!(run(m.read_file("x", "group1-shard1of1.bin", len)).expect("no such file"), None);
    assert!(matches!(run(m.read_model_json("nothing-here")), Err(Error::NotFound { .. })));
    // The weights' blob gone: a load fails, model.json is still read (it never reads the weights).
    db.db()
        .write("test", |tx| {
            tx.execute_batch("DELETE FROM blobs WHERE length(data) > 7")
                .map_err(|e| Error::storage("test", "blobs", e.to_string()))
        })
        .expect("delete the weights blob");
    assert!(run(m.load("x", &Default::default())).is_err(), "the load reads the weights");
    assert_eq!(run(m.read_model_json("x")).expect("model.json without the weights").expect("apart"), json);
}
