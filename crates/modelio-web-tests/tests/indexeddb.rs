//! `indexeddb://` in Chromium: the conformance suite (`io_core::testkit::run_suite`) against the
//! browser's real storage, through the facade.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
async fn indexeddb_conformance_suite() {
    use io_core::testkit::{Capabilities, Target};
    let t = Target::new(modelio::registry(), "indexeddb", |p| format!("indexeddb://{p}"))
        .capabilities(Capabilities::STORE)
        .prefix("suite/");
    // Runs every case, then fails once listing every failing case.
    io_core::testkit::run_suite(&t).await;
}
