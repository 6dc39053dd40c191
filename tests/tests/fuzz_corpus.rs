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

#[test]
fn assemble_corpus() {
    for (p, bytes) in corpus("assemble") {
        let r = std::panic::catch_unwind(|| io_core::fuzzing::assemble(&bytes));
        assert!(r.is_ok(), "panic on {}", p.display());
    }
}

#[test]
fn upload_corpus() {
    for (p, bytes) in corpus("upload") {
        let r = std::panic::catch_unwind(|| modelio_server::fuzzing::upload(&bytes));
        assert!(r.is_ok(), "panic on {}", p.display());
    }
}

/// The seeds made from real TF.js files are accepted, so the targets reach past parsing: every
/// policy for the plain models (the dup/outside-path seeds are refused by some policies), and
/// every captured upload.
#[test]
fn fixture_seeds_are_accepted() {
    for (p, bytes) in corpus("assemble") {
        let name = p.file_name().unwrap().to_str().unwrap();
        if name.starts_with("seed-node_file") || name.starts_with("seed-chromium") || name.starts_with("seed-converter")
        {
            assert_eq!(io_core::fuzzing::assemble(&bytes), 3, "{name}");
        }
    }
    for (p, bytes) in corpus("upload") {
        if p.file_name().unwrap().to_str().unwrap().starts_with("seed-") {
            assert!(modelio_server::fuzzing::upload(&bytes), "{}", p.display());
        }
    }
}

proptest::proptest! {
    #[test]
    fn decode_never_panics_on_random_input(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        io_core::fuzzing::decode_weights(&bytes);
        io_core::fuzzing::model_json(&bytes);
        io_core::fuzzing::assemble(&bytes);
        modelio_server::fuzzing::upload(&bytes);
    }
}
