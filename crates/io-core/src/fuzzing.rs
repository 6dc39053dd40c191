//! Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay test, so both exercise
//! exactly the same code. Each must never panic, whatever the input.

use crate::artifacts::{WeightSpec, BROWSER_ORDER};
use crate::{codec, ModelJson, WeightData};

/// Parses arbitrary bytes as model.json; when that works, the re-serialized document must parse
/// to the same value.
pub fn model_json(bytes: &[u8]) {
    if let Ok(doc) = ModelJson::parse(bytes, "fuzz") {
        let again =
            ModelJson::parse(&doc.to_bytes(BROWSER_ORDER), "fuzz-again").expect("re-serialized model.json parses");
        assert_eq!(again.weights_manifest, doc.weights_manifest);
        for g in &doc.weights_manifest {
            let _ = codec::layout(&g.weights, &WeightData::default(), &[]);
        }
    }
}

/// Input layout: a little-endian u16 `n`, then `n` bytes of weight-specs JSON, then the weight
/// bytes (split into two buffers at the middle, to exercise cross-buffer reads). Decoding must
/// either succeed with exactly the specs' element counts or fail with an error.
pub fn decode_weights(bytes: &[u8]) {
    if bytes.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([bytes[0], bytes[1]]) as usize;
    let rest = &bytes[2..];
    let (json, data) = rest.split_at(n.min(rest.len()));
    let Ok(specs) = serde_json::from_slice::<Vec<WeightSpec>>(json) else { return };
    let mid = data.len() / 2;
    let wd = WeightData::from_chunks(vec![data[..mid].to_vec().into(), data[mid..].to_vec().into()]);
    if let Ok(tensors) = codec::decode_weights(&specs, &wd) {
        for (t, s) in tensors.iter().zip(&specs) {
            assert_eq!(Some(t.tensor.len()), s.num_elements().ok());
        }
    }
}
