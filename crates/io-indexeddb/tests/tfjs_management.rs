//! Replays TF.js's model-management session (`fixtures/tfjs/chromium_model_management/steps.json`)
//! on native stores loaded with exactly what TF.js wrote in Chromium, and compares every
//! SNAPSHOT: the localStorage keys, the keys of both IndexedDB stores, and `listModels()`.
//!
//! Known, intended differences: a move within one store is an atomic rename that keeps the model's
//! `dateSaved` (TF.js copies, so the date changes), and the failed indexeddb -> localstorage move
//! over quota keeps `indexeddb://big` (TF.js loses it).

use std::collections::BTreeMap;

use io_core::testkit::fixtures;
use io_core::{Error, Registry};
use io_indexeddb::layout::{INFO_STORE, MODELS_STORE};
use io_indexeddb::{IdbDatabase, Value};
use io_localstorage::WebStorage;
use serde_json::Value as Json;

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

fn fixture(rel: &str) -> Json {
    let p = format!("{}/../../fixtures/tfjs/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("fixture JSON")
}

struct Session {
    r: Registry,
    steps: Vec<Json>,
    imported: BTreeMap<String, Json>,
}

impl Session {
    fn snapshot(&self, label: &str) -> &Json {
        let s = self.steps.iter().find(|s| s["label"] == label).unwrap_or_else(|| panic!("no step {label}"));
        &s["value"]
    }

    /// Compares the stores with TF.js's SNAPSHOT `label`; `extra_idb` are IndexedDB models modelio
    /// keeps where TF.js lost them.
    fn check(&self, label: &str, extra_idb: &[&str]) {
        let want = self.snapshot(label);
        let sorted = |v: &Json| {
            let mut v: Vec<String> = v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect();
            v.sort();
            v
        };
        let ls = io_localstorage::native_store().unwrap();
        let mut got = ls.keys().unwrap();
        got.sort();
        assert_eq!(got, sorted(&want["localStorageKeys"]), "{label}: localStorage keys");
        let idb = io_indexeddb::native_database().unwrap();
        for store in [MODELS_STORE, INFO_STORE] {
            let got: Vec<String> = run(idb.get_all(store))
                .unwrap()
                .iter()
                .map(|r| r.field("modelPath").and_then(Value::to_json).unwrap().as_str().unwrap().to_string())
                .collect();
            let mut want = sorted(&want["idbKeys"][store]);
            want.extend(extra_idb.iter().map(|s| s.to_string()));
            want.sort();
            assert_eq!(got, want, "{label}: keys of {store}");
        }
        let got = run(self.r.list_models()).unwrap();
        let want = want["listModels"].as_object().unwrap();
        let mut want_keys: Vec<&String> = want.keys().collect();
        let extra: Vec<String> = extra_idb.iter().map(|p| format!("indexeddb://{p}")).collect();
        want_keys.extend(extra.iter());
        want_keys.sort();
        assert_eq!(got.keys().collect::<Vec<_>>(), want_keys, "{label}: listModels keys");
        for (url, info) in &got {
            let mut info = serde_json::to_value(info).unwrap();
            if let Some(w) = want.get(url) {
                let mut w = w.clone();
                if self.imported.get(url) != Some(&w) {
                    // Saved during the session: TF.js's date is its own clock's.
                    w.as_object_mut().unwrap().remove("dateSaved");
                    info.as_object_mut().unwrap().remove("dateSaved");
                }
                assert_eq!(info, w, "{label}: info of {url}");
            }
        }
    }
}

#[test]
fn replays_tfjs_model_management_on_tfjs_written_stores() {
    let home = tempfile::tempdir().unwrap();
    io_store_support::set_home(Some(home.path().to_path_buf()));
    let r = Registry::new();
    io_localstorage::register(&r);
    io_indexeddb::register(&r);
    io_localstorage::import_dump(
        &*io_localstorage::native_store().unwrap(),
        &fixture("chromium_localstorage/a_d_b/localstorage.json"),
    )
    .unwrap();
    run(io_indexeddb::import_dump(
        &*io_indexeddb::native_database().unwrap(),
        &fixture("chromium_indexeddb/a_d_b/indexeddb.json"),
    ))
    .unwrap();
    let steps = fixture("chromium_model_management/steps.json")["steps"].as_array().unwrap().clone();
    let mut s = Session { r, steps, imported: BTreeMap::new() };
    s.imported = s.snapshot("SNAPSHOT before model management")["listModels"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    s.check("SNAPSHOT before model management", &[]);

    run(s.r.copy_model("localstorage://fixture-a", "indexeddb://fixture-a-copy")).unwrap();
    run(s.r.copy_model("localstorage://fixture-a", "localstorage://fixture-a-copy2")).unwrap();
    s.check("SNAPSHOT after copies", &[]);

    run(s.r.move_model("localstorage://fixture-a-copy2", "indexeddb://fixture-a-moved")).unwrap();
    run(s.r.move_model("indexeddb://fixture-d", "indexeddb://fixture-d-renamed")).unwrap();
    s.check("SNAPSHOT after moves", &[]);

    run(s.r.remove_model("indexeddb://fixture-a-copy")).unwrap();
    run(s.r.remove_model("localstorage://dir/sub/model-b")).unwrap();
    s.check("SNAPSHOT after removes", &[]);
    for url in ["localstorage://nonexistent", "indexeddb://nonexistent"] {
        assert!(matches!(run(s.r.remove_model(url)), Err(Error::NotFound { .. })), "{url}");
    }
    assert!(matches!(
        run(s.r.copy_model("localstorage://fixture-a", "localstorage://fixture-a")),
        Err(Error::SamePath(_))
    ));

    let c = fixtures::model("c");
    run(s.r.save("indexeddb://big", &c)).unwrap();
    let err = run(s.r.save("localstorage://big-direct", &c));
    assert!(matches!(err, Err(Error::QuotaExceeded { .. })), "{err:?}");
    s.check("SNAPSHOT after big saves", &[]);

    let err = run(s.r.move_model("indexeddb://big", "localstorage://big"));
    assert!(matches!(err, Err(Error::QuotaExceeded { .. })), "{err:?}");
    // TF.js lost indexeddb://big here; modelio still has it, intact.
    s.check("SNAPSHOT after failed cross-medium move (is indexeddb://big still there?)", &["big"]);
    io_core::testkit::assert_same_model("big", &run(s.r.load("indexeddb://big")).unwrap(), &c);
}
