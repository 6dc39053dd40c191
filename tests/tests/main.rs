//! Cross-crate tests, compiled into one binary (one link).
mod codec_fixtures;
mod convert_fixtures;
mod convert_oracle;
mod fuzz_corpus;
mod graphdef;
mod model_json;
mod router;

use std::path::PathBuf;

/// The repository's `fixtures/tfjs` folder (copied from TF.js 4.22 output; see its README).
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/tfjs").join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap()
}
