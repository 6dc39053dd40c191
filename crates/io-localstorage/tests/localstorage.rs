//! localstorage:// against real SQLite files: byte equality with what TF.js wrote in Chromium, the
//! quota, and Web Storage semantics (the conformance suite: `tests/conformance.rs`).

use std::sync::Arc;

use io_core::testkit::{self, fixtures};
use io_core::Error;
use io_localstorage::{layout, KvOp, LocalStorageModels, SqliteStorage, WebStorage, CHROMIUM_QUOTA_BYTES};
use io_store_support::PathStore;
use serde_json::Value;

fn fresh() -> (tempfile::TempDir, Arc<SqliteStorage>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let s = SqliteStorage::open_in(dir.path()).expect("open store");
    (dir, Arc::new(s))
}

fn fixture(rel: &str) -> Value {
    let p = format!("{}/../../fixtures/tfjs/{rel}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(&p).unwrap_or_else(|e| panic!("{p}: {e}"))).expect("fixture JSON")
}

fn without_date(info: &str) -> Value {
    let mut v: Value = serde_json::from_str(info).expect("info JSON");
    v.as_object_mut().expect("object").remove("dateSaved");
    v
}

#[test]
fn saves_exactly_what_tfjs_writes_in_chromium() {
    futures::executor::block_on(saves_exactly_what_tfjs_writes_in_chromium_async())
}

async fn saves_exactly_what_tfjs_writes_in_chromium_async() {
    let (_dir, s) = fresh();
    let m = LocalStorageModels::new(s.clone());
    for (path, name) in [("fixture-a", "a"), ("fixture-d", "d"), ("dir/sub/model-b", "b")] {
        m.save(path, &fixtures::model(name), &Default::default()).await.expect("save");
    }
    let want = fixture("chromium_localstorage/a_d_b/localstorage.json");
    let want = want["items"].as_object().expect("items");
    let mut got_keys = s.keys().expect("keys");
    got_keys.sort();
    let mut want_keys: Vec<String> = want.keys().cloned().collect();
    want_keys.sort();
    assert_eq!(got_keys, want_keys, "the same 15 keys as TF.js");
    for key in want_keys {
        let got = s.get(&key).expect("get").expect("value");
        let want = want[&key].as_str().expect("string");
        if key.ends_with("/info") {
            assert_eq!(without_date(&got), without_date(want), "{key}");
            let date = serde_json::from_str::<Value>(&got).unwrap()["dateSaved"].as_str().unwrap().to_string();
            assert!(date.len() == 24 && date.ends_with('Z') && date.as_bytes()[10] == b'T', "ISO date {date}");
        } else {
            assert_eq!(got, want, "value of {key} differs from TF.js's");
        }
    }
}

#[test]
fn reads_what_tfjs_wrote_in_chromium() {
    futures::executor::block_on(reads_what_tfjs_wrote_in_chromium_async())
}

async fn reads_what_tfjs_wrote_in_chromium_async() {
    let (_dir, s) = fresh();
    io_localstorage::import_dump(&*s, &fixture("chromium_localstorage/a_d_b/localstorage.json")).expect("import");
    let m = LocalStorageModels::new(s);
    for (path, name) in [("fixture-a", "a"), ("fixture-d", "d"), ("dir/sub/model-b", "b")] {
        let got = m.load(path, &Default::default()).await.unwrap_or_else(|e| panic!("load {path}: {e}"));
        testkit::assert_same_model(path, &got, &fixtures::model(name));
    }
    // list_models equals TF.js's listModels() at the same point (steps.json), dates included.
    let steps = fixture("chromium_model_management/steps.json");
    let listed = steps["steps"].as_array().unwrap().iter().find(|s| s["label"] == "listModels after saves").unwrap();
    let mut want: Vec<(String, Value)> = listed["value"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, v)| k.strip_prefix("localstorage://").map(|p| (p.to_string(), v.clone())))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let mut got: Vec<(String, Value)> =
        m.list().await.unwrap().into_iter().map(|(p, i)| (p, serde_json::to_value(i).unwrap())).collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
}

#[test]
fn a_model_bigger_than_the_quota_fails_and_keeps_the_old_model() {
    futures::executor::block_on(a_model_bigger_than_the_quota_fails_and_keeps_the_old_model_async())
}

async fn a_model_bigger_than_the_quota_fails_and_keeps_the_old_model_async() {
    let (_dir, s) = fresh();
    assert_eq!(s.db().quota(), Some(CHROMIUM_QUOTA_BYTES));
    let m = LocalStorageModels::new(s.clone());
    m.save("big", &fixtures::model("a"), &Default::default()).await.expect("save a");
    let before = s.keys().unwrap().into_iter().map(|k| (s.get(&k).unwrap(), k)).collect::<Vec<_>>();
    let used = s.used_bytes().unwrap();
    // Model c: 4,404,000 weight bytes = 5,872,000 base64 characters = 11,744,000 bytes > 10 MiB.
    match m.save("big", &fixtures::model("c"), &Default::default()).await {
        Err(Error::QuotaExceeded { url, needed, available, detail }) => {
            assert_eq!(url, "localstorage://big");
            assert!(needed > 2 * 5_872_000, "needed {needed} covers the base64 weights in UTF-16");
            let a_cost: u64 = layout::keys("big")
                .iter()
                .map(|k| s.get(k).unwrap().map_or(0, |v| io_localstorage::quota_cost(k, &v)))
                .sum();
            assert_eq!(available, CHROMIUM_QUOTA_BYTES - (used - a_cost), "available = quota - other entries");
            assert!(detail.contains("UTF-16"), "detail says how bytes are counted: {detail}");
        }
        other => panic!("expected QuotaExceeded, got {other:?}"),
    }
    let after = s.keys().unwrap().into_iter().map(|k| (s.get(&k).unwrap(), k)).collect::<Vec<_>>();
    assert_eq!(before, after, "nothing changed");
    testkit::assert_same_model("old model", &m.load("big", &Default::default()).await.unwrap(), &fixtures::model("a"));
    // Without a quota the same model fits.
    s.db().set_quota(None);
    m.save("big", &fixtures::model("c"), &Default::default()).await.expect("no quota");
    testkit::assert_same_model("c", &m.load("big", &Default::default()).await.unwrap(), &fixtures::model("c"));
}

#[test]
fn web_storage_semantics() {
    let (_dir, s) = fresh();
    assert_eq!((s.length().unwrap(), s.key(0).unwrap()), (0, None));
    s.set("b", "2").unwrap();
    s.set("a", "1").unwrap();
    s.set("b", "3").unwrap();
    assert_eq!(s.length().unwrap(), 2);
    assert_eq!(
        (s.key(0).unwrap().as_deref(), s.key(1).unwrap().as_deref(), s.key(2).unwrap()),
        (Some("a"), Some("b"), None)
    );
    assert_eq!(s.get("b").unwrap().as_deref(), Some("3"));
    s.remove("a").unwrap();
    s.remove("a").unwrap();
    assert_eq!(s.get("a").unwrap(), None);
    assert_eq!(s.used_bytes().unwrap(), io_localstorage::quota_cost("b", "3"));
    // UTF-16 counting: a non-BMP character is 2 code units = 4 bytes; "é" is 1 unit = 2 bytes.
    assert_eq!(io_localstorage::quota_cost("é", "😀"), 6);
    // A failing batch changes nothing.
    let err = s.batch(&[KvOp::Set("x".into(), "1".into()), KvOp::Rename { from: "nope".into(), to: "y".into() }], "t");
    assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
    assert_eq!(s.get("x").unwrap(), None);
    s.db().set_quota(Some(10));
    assert!(matches!(s.set("k", "12345"), Err(Error::QuotaExceeded { needed: 12, available: 6, .. })));
    s.remove("b").unwrap();
}
