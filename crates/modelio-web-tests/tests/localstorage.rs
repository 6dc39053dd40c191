//! `localstorage://` in Chromium: the conformance suite against `window.localStorage`, through the
//! facade. Fixture model c (4.4 MB of weights, 11.7 MB by Chromium's count once base64-encoded)
//! does not fit in Chromium's 10 MiB localStorage quota (it does not for TF.js either), so the
//! store does not declare `large_models` (the suite skips `round_trip_c`) and c is checked to fail
//! with `QuotaExceeded`.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn localstorage_conformance_suite() {
    use io_core::testkit::*;
    // Every case but the round trip of model c, which does not fit: checked below to fail with
    // QuotaExceeded. `run_suite` runs them all, then fails once listing every failing case.
    let t = Target::new(modelio::registry(), "localstorage", |p| format!("localstorage://{p}"))
        .capabilities(Capabilities::STORE.without(Capability::LargeModels))
        .prefix("suite/");
    run_suite(&t).await;
    let err = modelio::save("localstorage://suite/rt/c", &fixtures::model("c")).await.unwrap_err();
    assert!(matches!(err, modelio::Error::QuotaExceeded { .. }), "{err}");
}

/// A model over Chromium's localStorage quota fails with QuotaExceeded (with sizes), leaves no key
/// of its own behind, and the model saved before at that path is intact.
#[wasm_bindgen_test]
async fn localstorage_quota_exceeded_keeps_previous_model() {
    let url = "localstorage://quota/m";
    let a = io_core::testkit::fixtures::model("a");
    modelio::save(url, &a).await.expect("save a");
    let keys_before = local_keys();
    // 8 MiB of weights: about 11 M base64 characters, 22 MB by Chromium's count (quota 10 MiB).
    let n = 2 * 1024 * 1024;
    let (specs, data) = io_core::encode_weights(
        &[io_core::NamedTensor {
            name: "big/kernel".into(),
            tensor: io_core::Tensor::new(vec![n], io_core::TensorData::F32(vec![0.5; n])).unwrap(),
        }],
        None,
    );
    let mut big = a.clone();
    big.weight_specs = specs;
    big.weight_data = io_core::WeightData::single(data);
    let err = modelio::save(url, &big).await.expect_err("an 8 MiB model cannot fit in localStorage");
    match &err {
        modelio::Error::QuotaExceeded { needed, available, .. } => {
            assert!(*needed > 20_000_000, "needed {needed}");
            assert!(*available <= 10 * 1024 * 1024 && *available < *needed, "available {available}");
        }
        other => panic!("expected QuotaExceeded, got {other}"),
    }
    assert_eq!(local_keys(), keys_before, "the failed save left keys behind or removed some");
    io_core::testkit::assert_same_model("after quota error", &modelio::load(url).await.expect("load"), &a);
    // A new path: nothing at all is left behind.
    let err = modelio::save("localstorage://quota/new", &big).await.expect_err("too big");
    assert!(matches!(err, modelio::Error::QuotaExceeded { .. }), "{err}");
    assert!(!local_keys().iter().any(|k| k.contains("quota/new")), "partial model left behind");
}

fn local_keys() -> Vec<String> {
    let s = web_sys::window().unwrap().local_storage().unwrap().unwrap();
    let mut v: Vec<String> = (0..s.length().unwrap()).filter_map(|i| s.key(i).unwrap()).collect();
    v.sort();
    v
}
