//! Replays the fuzz corpus (`fuzz/corpus/*`) through the same entry points the fuzz targets use,
//! so regressions found by fuzzing are caught by the normal test run without nightly.
use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        out.push((p.clone(), std::fs::read(&p).unwrap()));
    }
    assert!(!out.is_empty(), "empty corpus {}", dir.display());
    out
}

#[test]
fn model_json_corpus() {
    for (p, bytes) in corpus("model_json") {
        let r = std::panic::catch_unwind(|| io_core::fuzzing::model_json(&bytes));
        assert!(r.is_ok(), "panic on {}", p.display());
    }
}

#[test]
fn decode_weights_corpus() {
    for (p, bytes) in corpus("decode_weights") {
        let r = std::panic::catch_unwind(|| io_core::fuzzing::decode_weights(&bytes));
        assert!(r.is_ok(), "panic on {}", p.display());
    }
}

proptest::proptest! {
    #[test]
    fn decode_never_panics_on_random_input(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        io_core::fuzzing::decode_weights(&bytes);
        io_core::fuzzing::model_json(&bytes);
    }
}
