//! The router and model management, on the example `memory://` store and the facade's schemes.
use io_core::testkit::fixtures;
use io_core::Error;
use modelio_example_memory as _;

fn block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

#[test]
fn urls_need_a_scheme() {
    let err = block(modelio::load("my-model")).unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
    assert!(err.to_string().contains("SCHEME://PATH"), "{err}");
}

#[test]
fn save_refuses_inconsistent_artifacts_before_writing() {
    let mut m = fixtures::model("a");
    m.weight_data = io_core::WeightData::single(vec![0u8; 10]);
    let err = block(modelio::save("memory://router/bad", &m)).unwrap_err();
    assert!(matches!(err, Error::WeightsMismatch { .. }), "{err}");
    assert!(matches!(block(modelio::load("memory://router/bad")), Err(Error::NotFound { .. })));
}

#[test]
fn list_models_keys_are_scheme_urls() {
    block(modelio::save("memory://router/listed", &fixtures::model("a"))).unwrap();
    let all = block(modelio::list_models()).unwrap();
    assert!(all.contains_key("memory://router/listed"), "{:?}", all.keys());
}

#[test]
fn move_to_a_non_store_is_refused_before_anything_happens() {
    block(modelio::save("memory://router/mv-src", &fixtures::model("a"))).unwrap();
    // gopher:// is unknown: the move fails and the source is still there.
    assert!(block(modelio::move_model("memory://router/mv-src", "gopher://x")).is_err());
    block(modelio::load("memory://router/mv-src")).unwrap();
}

#[test]
fn remove_on_a_scheme_that_is_not_a_store() {
    let err = block(modelio::remove_model("gopher://x")).unwrap_err();
    assert!(matches!(err, Error::UnsupportedScheme { .. }), "{err}");
}
