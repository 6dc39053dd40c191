//! Registered schemes equal the enabled features. `cargo xtask test-all` runs this with no
//! features, each feature alone, and all of them.

#[test]
fn registered_schemes_equal_enabled_features() {
    let want = modelio::enabled_schemes();
    assert_eq!(modelio::registry().schemes(), want, "features: {:?}", modelio::enabled_features());
    // Every scheme of an enabled feature resolves to exactly one plugin (no double registration).
    let regs = modelio::registry().registrations();
    for s in &want {
        assert_eq!(regs.iter().filter(|(sc, _)| sc == s).count(), 1, "{s}: {regs:?}");
    }
}

#[test]
fn registry_is_idempotent() {
    let before = modelio::registry().registrations();
    // Register every inventory submission again (other statics than the plugins' `register` uses):
    // (scheme, plugin) pairs must not be doubled.
    for reg in io_core::inventory::iter::<io_core::SchemeRegistration> {
        modelio::registry().register(reg);
    }
    assert_eq!(modelio::registry().registrations(), before);
}

#[test]
fn disabled_known_scheme_names_the_feature() {
    for (scheme, feature) in io_core::KNOWN_SCHEMES {
        if modelio::registry().schemes().iter().any(|s| s == scheme) {
            continue;
        }
        let url = format!("{scheme}://x");
        let err = match modelio::registry().load_handler(&url) {
            Err(e) => e,
            Ok(_) => panic!("{url} resolved with its plugin off"),
        };
        let msg = err.to_string();
        assert!(msg.contains(&format!("`{feature}`")), "{msg}");
    }
}

#[test]
fn unknown_scheme_lists_registered() {
    let err = futures::executor::block_on(modelio::load("gopher://x")).unwrap_err();
    assert!(matches!(err, modelio::Error::UnsupportedScheme { .. }), "{err}");
    assert!(err.to_string().contains("registered schemes"), "{err}");
}

#[test]
fn object_storage_features_register_their_schemes() {
    let schemes = modelio::registry().schemes();
    let native = cfg!(not(target_arch = "wasm32"));
    for (on, feature, scheme) in [
        (cfg!(feature = "s3"), "s3", "s3"),
        (cfg!(feature = "gcs"), "gcs", "gs"),
        (cfg!(feature = "azure"), "azure", "az"),
    ] {
        let want = on && native;
        assert_eq!(schemes.iter().any(|s| s == scheme), want, "feature {feature} on: {on}; schemes {schemes:?}");
        assert_eq!(modelio::enabled_features().contains(&feature), want, "{:?}", modelio::enabled_features());
        if !want {
            // Off: the URL names the feature that turns it on.
            let err = futures::executor::block_on(modelio::load(&format!("{scheme}://bucket/model"))).unwrap_err();
            assert!(err.to_string().contains(&format!("`{feature}`")), "{err}");
        }
    }
}

#[test]
fn opfs_is_browser_only() {
    // The Origin Private File System exists only in the browser: natively the `opfs` feature adds
    // no scheme, and `opfs://` names the feature like any scheme without its plugin.
    assert!(!modelio::registry().schemes().iter().any(|s| s == "opfs"));
    assert!(!modelio::enabled_features().contains(&"opfs"));
    let err = futures::executor::block_on(modelio::load("opfs://m")).unwrap_err();
    assert!(matches!(err, modelio::Error::SchemeDisabled { .. }), "{err}");
    assert!(err.to_string().contains("`opfs`"), "{err}");
    assert!(err.to_string().contains("in a browser build (wasm32)"), "{err}");
}
