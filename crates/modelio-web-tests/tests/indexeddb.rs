//! `indexeddb://` in Chromium: the conformance suite (`io_core::testkit::run_suite`) against the
//! browser's real storage, through the facade.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn indexeddb_conformance_suite() {
    let t = io_core::testkit::Target {
        registry: modelio::registry(),
        scheme: "indexeddb".into(),
        url: Box::new(|p| format!("indexeddb://{p}")),
        can_list: true,
        prefix: "suite/".into(),
    };
    io_core::testkit::run_suite(&t).await;
}
