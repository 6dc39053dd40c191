//! Same-page interop with real TF.js 4.22 (`tf.min.js`, cpu backend) in Chromium, on the page's
//! own localStorage and IndexedDB:
//! - TF.js saves the fixture models; modelio loads them bit-exact.
//! - modelio saves; TF.js `loadLayersModel` loads and predicts the expected outputs exactly, and
//!   TF.js's own load handler returns the very weight bytes.
//! - `tf.io.listModels()` and `modelio::list_models()` agree (paths and infos).
//! - A move done by modelio from one store to the other, and a copy within IndexedDB, are what TF.js
//!   then sees.
#![cfg(target_arch = "wasm32")]

use std::collections::BTreeMap;

use io_core::testkit::fixtures;
use modelio::ModelArtifactsInfo;
use modelio_web_tests::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// The artifacts TF.js's save handler received (fixture `artifacts.json` without `_` keys).
fn fixture_artifacts_json(m: &str) -> String {
    let text: &str = match m {
        "a" => include_str!("../../../fixtures/tfjs/node_savehandler/a/artifacts.json"),
        "b" => include_str!("../../../fixtures/tfjs/node_savehandler/b/artifacts.json"),
        "c" => include_str!("../../../fixtures/tfjs/node_savehandler/c/artifacts.json"),
        "d" => include_str!("../../../fixtures/tfjs/node_savehandler/d/artifacts.json"),
        _ => unreachable!(),
    };
    let mut v: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).unwrap();
    v.retain(|k, _| !k.starts_with('_'));
    serde_json::to_string(&v).unwrap()
}

async fn tfjs_list() -> BTreeMap<String, ModelArtifactsInfo> {
    let text = tfjs_list_models().await.expect("tf.io.listModels").as_string().unwrap();
    serde_json::from_str(&text).expect("listModels JSON")
}

fn stores(m: &str) -> Vec<&'static str> {
    // Model c (4.4 MB of weights) is over localStorage's 10 MiB once base64-encoded as UTF-16.
    if m == "c" {
        vec!["indexeddb"]
    } else {
        vec!["localstorage", "indexeddb"]
    }
}

#[wasm_bindgen_test]
async fn tfjs_saves_modelio_loads_bit_exact() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    for m in fixtures::MODELS {
        for s in stores(m) {
            let url = format!("{s}://from-tfjs/{m}");
            let info = tfjs_save_from_memory(&fixture_artifacts_json(m), &fixtures::weight_bytes(m), &url)
                .await
                .unwrap_or_else(|e| panic!("TF.js save {url}: {e:?}"));
            let info: ModelArtifactsInfo = serde_json::from_str(&info.as_string().unwrap()).unwrap();
            let got = modelio::load(&url).await.unwrap_or_else(|e| panic!("modelio load {url}: {e}"));
            io_core::testkit::assert_same_model(&url, &got, &fixtures::model(m));
            let listed = modelio::list_models().await.unwrap();
            assert_eq!(listed.get(&url), Some(&info), "modelio lists TF.js's info for {url}");
        }
    }
}

#[wasm_bindgen_test]
async fn modelio_saves_tfjs_loads_and_predicts_exactly() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    for m in fixtures::MODELS {
        for s in stores(m) {
            let url = format!("{s}://from-modelio/{m}");
            modelio::save(&url, &fixtures::model(m)).await.unwrap_or_else(|e| panic!("modelio save {url}: {e}"));
            let e = expected(m);
            let out = tfjs_predict_from_url(&url, e.input_shape.clone(), e.input.clone())
                .await
                .unwrap_or_else(|err| panic!("TF.js loadLayersModel({url}): {err:?}"));
            assert_eq!(f32_vec(&out), e.output, "TF.js output on modelio's {url}");
            let raw = js_sys::Array::from(&tfjs_load_raw(&url).await.expect("TF.js load handler"));
            let bytes = js_sys::Uint8Array::new(&raw.get(1)).to_vec();
            assert!(bytes == fixtures::weight_bytes(m), "TF.js reads other weight bytes at {url}");
            let a: serde_json::Value = serde_json::from_str(&raw.get(0).as_string().unwrap()).unwrap();
            let specs: Vec<io_core::WeightSpec> = serde_json::from_value(a["weightSpecs"].clone()).unwrap();
            assert_eq!(specs, fixtures::model(m).weight_specs, "weightSpecs TF.js reads at {url}");
        }
    }
}

#[wasm_bindgen_test]
async fn list_models_agree_and_moves_are_seen_by_tfjs() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    modelio::save("localstorage://mv/src", &fixtures::model("d")).await.unwrap();
    modelio::save("indexeddb://mv/other", &fixtures::model("a")).await.unwrap();
    let ours = modelio::list_models().await.unwrap();
    assert_eq!(tfjs_list().await, ours, "tf.io.listModels() vs modelio::list_models()");
    assert!(ours.contains_key("localstorage://mv/src") && ours.contains_key("indexeddb://mv/other"));

    let info = modelio::move_model("localstorage://mv/src", "indexeddb://mv/dst").await.expect("move");
    let theirs = tfjs_list().await;
    assert!(!theirs.contains_key("localstorage://mv/src"), "TF.js still lists the moved model's source");
    assert_eq!(theirs.get("indexeddb://mv/dst").map(|i| i.weight_data_bytes), Some(info.weight_data_bytes));
    assert_eq!(theirs, modelio::list_models().await.unwrap());
    let e = expected("d");
    let out =
        tfjs_predict_from_url("indexeddb://mv/dst", e.input_shape.clone(), e.input.clone()).await.expect("TF.js load");
    assert_eq!(f32_vec(&out), e.output);

    // And a move within IndexedDB (modelio's one-transaction rename) is seen by TF.js too.
    modelio::move_model("indexeddb://mv/dst", "indexeddb://mv/renamed").await.expect("rename");
    let theirs = tfjs_list().await;
    assert!(!theirs.contains_key("indexeddb://mv/dst") && theirs.contains_key("indexeddb://mv/renamed"));
    let out = tfjs_predict_from_url("indexeddb://mv/renamed", e.input_shape.clone(), e.input.clone())
        .await
        .expect("TF.js load");
    assert_eq!(f32_vec(&out), e.output);

    // A copy within IndexedDB (the store's own: records copied in one transaction, the weights never
    // in wasm memory) is a model TF.js lists with a fresh dateSaved and loads.
    let before = modelio::list_models().await.unwrap()["indexeddb://mv/renamed"].clone();
    let copied = modelio::copy_model("indexeddb://mv/renamed", "indexeddb://mv/copy").await.expect("copy");
    let theirs = tfjs_list().await;
    assert_eq!(theirs.get("indexeddb://mv/copy"), Some(&copied), "TF.js lists the copy with its info");
    assert_eq!(theirs.get("indexeddb://mv/renamed"), Some(&before), "the source is unchanged");
    assert!(copied.date_saved > before.date_saved, "copy dated {} <= source {}", copied.date_saved, before.date_saved);
    let out =
        tfjs_predict_from_url("indexeddb://mv/copy", e.input_shape.clone(), e.input.clone()).await.expect("TF.js load");
    assert_eq!(f32_vec(&out), e.output);
}

/// modelio writes the very records and keys TF.js writes: IndexedDB records with the same fields,
/// field order and JS types (`dateSaved` a `Date`, `weightData` an `ArrayBuffer`); localStorage
/// values identical to TF.js's except the save date.
#[wasm_bindgen_test]
async fn records_and_keys_are_tfjs_shaped() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    for m in ["a", "d"] {
        for s in ["localstorage", "indexeddb"] {
            let theirs = format!("shape/tfjs/{m}");
            let ours = format!("shape/modelio/{m}");
            tfjs_save_from_memory(&fixture_artifacts_json(m), &fixtures::weight_bytes(m), &format!("{s}://{theirs}"))
                .await
                .expect("TF.js save");
            modelio::save(&format!("{s}://{ours}"), &fixtures::model(m)).await.expect("modelio save");
            if s == "indexeddb" {
                let t = idb_record_shape(&theirs).await.expect("read TF.js record").as_string().unwrap();
                let o = idb_record_shape(&ours).await.expect("read modelio record").as_string().unwrap();
                assert!(t.contains("dateSaved:Date") && t.contains("weightData:ArrayBuffer"), "{t}");
                assert_eq!(o, t, "IndexedDB record shape of model {m}");
            } else {
                let st = web_sys::window().unwrap().local_storage().unwrap().unwrap();
                for suffix in ["info", "model_topology", "weight_specs", "weight_data", "model_metadata"] {
                    let t = st.get_item(&format!("tensorflowjs_models/{theirs}/{suffix}")).unwrap();
                    let o = st.get_item(&format!("tensorflowjs_models/{ours}/{suffix}")).unwrap();
                    assert!(t.is_some(), "TF.js wrote no {suffix}");
                    if suffix == "info" {
                        let mut t: serde_json::Value = serde_json::from_str(&t.unwrap()).unwrap();
                        let mut o: serde_json::Value = serde_json::from_str(&o.expect("info")).unwrap();
                        t["dateSaved"] = serde_json::Value::Null;
                        o["dateSaved"] = serde_json::Value::Null;
                        assert_eq!(o.to_string(), t.to_string(), "localStorage info of model {m}");
                    } else {
                        assert!(o == t, "localStorage '{suffix}' of model {m} differs from TF.js's");
                    }
                }
            }
        }
    }
}
