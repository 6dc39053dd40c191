//! `downloads://` in Chromium: the two files (names and Blob contents) equal what TF.js 4.22
//! downloaded (`fixtures/tfjs/chromium_downloads`), clicks happen in later tasks, object URLs are
//! revoked afterwards; and TF.js loads what modelio downloaded (`browserFiles`) and predicts exactly.
#![cfg(target_arch = "wasm32")]

use std::cell::RefCell;
use std::rc::Rc;

use io_core::testkit::fixtures;
use modelio_web_tests::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

struct Captured {
    name: String,
    href: String,
    body: js_sys::Promise,
}

/// Saves `model` to `url` and returns the captured downloads, in click order, with their bytes.
async fn save_and_capture(url: &str, model: &io_core::ModelArtifacts) -> Vec<(String, String, Vec<u8>)> {
    let captured: Rc<RefCell<Vec<Captured>>> = Rc::default();
    let c = captured.clone();
    io_downloads::browser::set_download_observer(Some(Rc::new(move |a: &web_sys::HtmlAnchorElement| {
        c.borrow_mut().push(Captured { name: a.download(), href: a.href(), body: fetch_start(&a.href()) });
    })));
    let sync_calls = captured.borrow().len();
    let fut = modelio::save(url, model);
    let res = fut.await.unwrap_or_else(|e| panic!("save {url}: {e}"));
    io_downloads::browser::set_download_observer(None);
    assert_eq!(sync_calls, 0);
    assert_eq!(res.model_artifacts_info.weight_data_bytes, Some(model.weight_data.len() as u64));
    let list: Vec<Captured> = captured.take();
    let mut out = Vec::new();
    for c in list {
        let bytes = response_bytes(c.body).await.unwrap_or_else(|e| panic!("reading blob of {}: {e:?}", c.name));
        out.push((c.name, c.href, bytes));
    }
    out
}

async fn check_against_fixture(url: &str, model: &str, dir: &str, json: &[u8], bin: &[u8]) {
    let mut m = fixtures::model(model);
    if dir == "default" {
        // The default-name capture was made with model a.
        m = fixtures::model("a");
    }
    let files = save_and_capture(url, &m).await;
    assert_eq!(files.len(), 2, "two downloads, got {:?}", files.iter().map(|f| &f.0).collect::<Vec<_>>());
    let prefix = if dir == "default" { "model" } else { dir };
    assert_eq!(files[0].0, format!("{prefix}.json"), "model.json is clicked first");
    assert_eq!(files[1].0, format!("{prefix}.weights.bin"));
    assert!(files[0].1.starts_with("blob:"), "object URL: {}", files[0].1);
    assert_eq!(
        String::from_utf8_lossy(&files[0].2),
        String::from_utf8_lossy(json),
        "{prefix}.json differs from TF.js's"
    );
    assert!(
        files[1].2 == bin,
        "{prefix}.weights.bin differs from TF.js's ({} vs {} bytes)",
        files[1].2.len(),
        bin.len()
    );
    for (name, href, _) in &files {
        assert!(fetch_bytes(href).await.is_err(), "object URL of {name} was not revoked");
    }
}

#[wasm_bindgen_test]
async fn downloads_equal_tfjs_fixture_a() {
    check_against_fixture(
        "downloads://fixture-a",
        "a",
        "fixture-a",
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-a/fixture-a.json"),
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-a/fixture-a.weights.bin"),
    )
    .await;
}

#[wasm_bindgen_test]
async fn downloads_equal_tfjs_fixture_d_with_optimizer() {
    check_against_fixture(
        "downloads://fixture-d",
        "d",
        "fixture-d",
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.json"),
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.weights.bin"),
    )
    .await;
}

#[wasm_bindgen_test]
async fn downloads_default_name_is_model() {
    check_against_fixture(
        "downloads://",
        "a",
        "default",
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/default/model.json"),
        include_bytes!("../../../fixtures/tfjs/chromium_downloads/default/model.weights.bin"),
    )
    .await;
}

#[wasm_bindgen_test]
async fn downloads_many_weight_buffers_give_the_same_file() {
    let mut m = fixtures::model("b");
    let all = m.weight_data.to_bytes();
    m.weight_data = io_core::WeightData::from_chunks(vec![all.slice(0..5), all.slice(5..77), all.slice(77..)]);
    let files = save_and_capture("downloads://chunks", &m).await;
    assert_eq!(files[1].2, all.to_vec());
}

#[wasm_bindgen_test]
async fn downloads_cannot_load() {
    let err = match modelio::load("downloads://fixture-a").await {
        Err(e) => e,
        Ok(_) => panic!("downloads:// loaded a model"),
    };
    assert!(matches!(err, modelio::Error::Unsupported { .. }), "{err}");
}

#[wasm_bindgen_test]
async fn browser_files_load_what_tfjs_downloaded() {
    let json = include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.json");
    let bin = include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.weights.bin");
    let got = io_downloads::browser::load_files(&file(json, "fixture-d.json"), &[file(bin, "fixture-d.weights.bin")])
        .await
        .expect("load picked files");
    io_core::testkit::assert_same_model("browserFiles d", &got, &fixtures::model("d"));
    // A weight file the manifest does not name, and a short one, are clear errors.
    let err =
        io_downloads::browser::load_files(&file(json, "fixture-d.json"), &[file(bin, "other.bin")]).await.unwrap_err();
    assert!(err.to_string().contains("fixture-d.weights.bin"), "{err}");
    // As TF.js's browserFiles: the model.json alone gives the topology without weights.
    let alone = io_downloads::browser::load_files(&file(json, "fixture-d.json"), &[]).await.expect("model.json alone");
    assert!(alone.weight_specs.is_empty() && alone.weight_data.is_empty() && alone.model_topology.is_some());
    let err =
        io_downloads::browser::load_files(&file(json, "fixture-d.json"), &[file(&bin[..10], "fixture-d.weights.bin")])
            .await
            .unwrap_err();
    assert!(matches!(err, modelio::Error::WeightsMismatch { .. }), "{err}");
}

#[wasm_bindgen_test]
async fn tfjs_loads_what_modelio_downloaded_and_predicts_exactly() {
    let version = tfjs().await;
    assert_eq!(version, "4.22.0 cpu");
    for m in ["a", "b", "d"] {
        let files = save_and_capture(&format!("downloads://interop-{m}"), &fixtures::model(m)).await;
        let picked = js_sys::Array::new();
        for (name, _, bytes) in &files {
            picked.push(&file(bytes, name));
        }
        let e = expected(m);
        let out = tfjs_predict_from_files(picked, e.input_shape.clone(), e.input.clone())
            .await
            .expect("TF.js load + predict");
        assert_eq!(f32_vec(&out), e.output, "model {m}: TF.js output on modelio's download");
    }
}
