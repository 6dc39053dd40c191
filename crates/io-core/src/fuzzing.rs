//! Entry points shared by the fuzz targets (`fuzz/`) and the corpus replay test, so both exercise
//! exactly the same code. Each must never panic, whatever the input.

use bytes::Bytes;

use crate::artifacts::{WeightSpec, BROWSER_ORDER};
use crate::files::{self, NamedFiles, PathPolicy};
use crate::{codec, ModelJson, Options, WeightData};

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

/// Splits fuzz input into model.json and named files (the `assemble` target's input layout): a
/// little-endian u16 `n` and `n` bytes of model.json, then records until the input ends, each a u8
/// `k`, `k` bytes of file name (lossy UTF-8), a little-endian u16 `m` and `m` bytes of file data.
/// Lengths running past the end are cut at the end. [`encode_files`] writes this layout.
pub fn split_files(bytes: &[u8]) -> (&[u8], Vec<(String, Bytes)>) {
    fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = rest.split_at(n.min(rest.len()));
        *rest = tail;
        head
    }
    fn len16(rest: &mut &[u8]) -> usize {
        match take(rest, 2) {
            [a, b] => u16::from_le_bytes([*a, *b]) as usize,
            [a] => *a as usize,
            _ => 0,
        }
    }
    let mut rest = bytes;
    let n = len16(&mut rest);
    let json = take(&mut rest, n);
    let mut files = Vec::new();
    while !rest.is_empty() {
        let k = take(&mut rest, 1)[0] as usize;
        let name = String::from_utf8_lossy(take(&mut rest, k)).into_owned();
        let m = len16(&mut rest);
        files.push((name, Bytes::copy_from_slice(take(&mut rest, m))));
    }
    (json, files)
}

/// The `assemble` target's input for `json` and `files` (see [`split_files`]); for seeding the
/// corpus. Lengths must fit (model.json and files under 64 KiB, names under 256 bytes).
pub fn encode_files(json: &[u8], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&u16::try_from(json.len()).expect("model.json under 64 KiB").to_le_bytes());
    out.extend_from_slice(json);
    for (name, data) in files {
        out.push(u8::try_from(name.len()).expect("name under 256 bytes"));
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&u16::try_from(data.len()).expect("file under 64 KiB").to_le_bytes());
        out.extend_from_slice(data);
    }
    out
}

/// model.json and named weight files (input layout: [`split_files`]) through
/// [`files::assemble`](crate::files::assemble) from [`NamedFiles`], under each [`PathPolicy`]:
/// it must not panic, and a model it returns must pass [`codec::layout`] (its weight data exactly
/// what its specs describe). Returns how many of the policies gave a model.
pub fn assemble(bytes: &[u8]) -> usize {
    let (json, files) = split_files(bytes);
    let Ok(doc) = ModelJson::parse(json, "fuzz") else { return 0 };
    let Ok(named) = NamedFiles::new(files, "fuzz") else { return 0 };
    let mut accepted = 0;
    for policy in [PathPolicy::Inside, PathPolicy::Any, PathPolicy::Basename] {
        let got =
            futures::executor::block_on(files::assemble(doc.clone(), &named, "fuzz://m", policy, &Options::new()));
        if let Ok(model) = got {
            if let Err(e) = codec::layout(&model.weight_specs, &model.weight_data, &[]) {
                panic!("assemble ({policy:?}) returned a model whose weights do not fit their specs: {e}");
            }
            accepted += 1;
        }
    }
    accepted
}
