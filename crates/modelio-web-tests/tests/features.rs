//! On wasm32 in Chromium, the facade's features behave as on native: registered schemes == enabled
//! features (the same check as `crates/modelio/tests/features.rs`), and `inventory` registrations
//! survive wasm-ld (each plugin module that submits has an exported anchor).
#![cfg(target_arch = "wasm32")]

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn enabled_schemes() -> Vec<String> {
    modelio::enabled_schemes().into_iter().map(String::from).collect()
}

#[wasm_bindgen_test]
fn registered_schemes_equal_enabled_features() {
    assert!(!modelio::enabled_features().contains(&"file"), "file:// is native only");
    let want = enabled_schemes();
    assert!(want.iter().any(|s| s == "downloads"), "downloads:// works in the browser: {want:?}");
    assert!(want.iter().any(|s| s == "opfs"), "opfs:// is a default feature in the browser: {want:?}");
    assert_eq!(modelio::registry().schemes(), want, "features: {:?}", modelio::enabled_features());
    let regs = modelio::registry().registrations();
    for s in &want {
        assert_eq!(regs.iter().filter(|(sc, _)| sc == s).count(), 1, "{s}: {regs:?}");
    }
}

#[wasm_bindgen_test]
fn inventory_registrations_survive_wasm_ld() {
    // A registry built only from `inventory` (no explicit `register` calls) sees every enabled
    // plugin's schemes: the anchors keep the submitting code units linked.
    let from_inventory = modelio::Registry::from_inventory().schemes();
    assert_eq!(from_inventory, enabled_schemes());
}

#[wasm_bindgen_test]
fn disabled_known_scheme_names_the_feature() {
    let err = match modelio::registry().load_handler("file://./model") {
        Err(e) => e,
        Ok(_) => panic!("file:// resolved in the browser"),
    };
    assert!(matches!(err, modelio::Error::SchemeDisabled { .. }), "{err}");
    assert!(err.to_string().contains("`file`"), "{err}");
    assert!(err.to_string().contains("in a native build"), "{err}");
}

#[wasm_bindgen_test]
async fn unknown_scheme_lists_registered() {
    let err = modelio::load("gopher://x").await.unwrap_err();
    assert!(matches!(err, modelio::Error::UnsupportedScheme { .. }), "{err}");
    assert!(err.to_string().contains("downloads"), "{err}");
}
