//! modelio's side of `cargo xtask bench browser` (BENCHMARKS.md "browser"): a wasm-bindgen module that
//! saves, loads and copies generated models with the facade, on the page where TF.js does the same.
//!
//! The page builds a model.json (`page/model.mjs`, shared with the loopback server) and hands it to
//! [`make_model`]; the weight bytes are generated here with the same formula ([`value`]), so modelio
//! and TF.js hold the same model, each in its own memory (wasm memory here, an `ArrayBuffer` there).
//! Every other function is one facade call (`modelio::save`, `load`, `copy_model`), timed by the page.
//! On native targets this crate only has [`value`].
#![warn(missing_docs)]

/// The float32 value at index `k` of a bench model's weight data (all weights one after the other):
/// `((k * 2654435761) mod 2^32) / 2^32 - 0.5`, rounded to float32. `page/model.mjs` computes the same.
pub fn value(k: u32) -> f32 {
    (f64::from(k.wrapping_mul(2_654_435_761)) / 4_294_967_296.0 - 0.5) as f32
}

#[cfg(target_arch = "wasm32")]
mod web {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use modelio::{ModelArtifacts, ModelJson, WeightData};
    use wasm_bindgen::prelude::*;

    thread_local! {
        /// Models made by [`make_model`], by id.
        static MODELS: RefCell<HashMap<String, ModelArtifacts>> = RefCell::new(HashMap::new());
    }

    fn err(e: modelio::Error) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    /// Makes the model of `model_json` (its topology and weight specs) with generated float32
    /// weights ([`super::value`]) in one buffer, kept under `id` for [`save`].
    #[wasm_bindgen]
    pub fn make_model(id: String, model_json: String) -> Result<f64, JsValue> {
        let mut a = ModelJson::parse(model_json.as_bytes(), "bench model.json").map_err(err)?.artifacts;
        let bytes: usize = a.weight_specs.iter().map(|w| w.fixed_byte_len().unwrap_or(0)).sum();
        let mut data = Vec::with_capacity(bytes);
        for k in 0..(bytes / 4) as u32 {
            data.extend_from_slice(&super::value(k).to_le_bytes());
        }
        a.weight_data = WeightData::single(data);
        MODELS.with(|m| m.borrow_mut().insert(id, a));
        Ok(bytes as f64)
    }

    /// Drops the model made under `id`.
    #[wasm_bindgen]
    pub fn free_model(id: String) {
        MODELS.with(|m| m.borrow_mut().remove(&id));
    }

    /// `modelio::save(url, model id)`; resolves to the weight bytes saved.
    #[wasm_bindgen]
    pub async fn save(id: String, url: String) -> Result<f64, JsValue> {
        let a = MODELS
            .with(|m| m.borrow().get(&id).cloned())
            .ok_or_else(|| JsValue::from_str(&format!("no model '{id}' (make_model first)")))?;
        let r = modelio::save(&url, &a).await.map_err(err)?;
        Ok(r.model_artifacts_info.weight_data_bytes.unwrap_or(0) as f64)
    }

    /// `modelio::load(url)`, the artifacts dropped after; resolves to the weight bytes loaded.
    #[wasm_bindgen]
    pub async fn load(url: String) -> Result<f64, JsValue> {
        let a = modelio::load(&url).await.map_err(err)?;
        Ok(a.weight_data.len() as f64)
    }

    /// `modelio::copy_model(src, dst)`; resolves to the weight bytes of the copy.
    #[wasm_bindgen]
    pub async fn copy(src: String, dst: String) -> Result<f64, JsValue> {
        let info = modelio::copy_model(&src, &dst).await.map_err(err)?;
        Ok(info.weight_data_bytes.unwrap_or(0) as f64)
    }

    /// `modelio::remove_model(url)`.
    #[wasm_bindgen]
    pub async fn remove(url: String) -> Result<(), JsValue> {
        modelio::remove_model(&url).await.map_err(err).map(|_| ())
    }

    /// Loads `url` and checks it: every weight's bytes against the generator when `weight` is
    /// empty, else the weight named `weight` alone, decoded to float32 (`codec::decode_weight`).
    /// Resolves to JSON `{bytes, buffers, largest_buffer, weight, values, mismatches}`.
    #[wasm_bindgen]
    pub async fn load_check(url: String, weight: String) -> Result<String, JsValue> {
        let a = modelio::load(&url).await.map_err(err)?;
        let ranges = modelio::codec::layout(&a.weight_specs, &a.weight_data, &[]).map_err(err)?;
        let mut values = 0u64;
        let mut mismatches = 0u64;
        for (spec, range) in a.weight_specs.iter().zip(ranges) {
            if !weight.is_empty() && spec.name != weight {
                continue;
            }
            let first = (range.start / 4) as u32;
            if weight.is_empty() {
                // Bytes against the generator, buffer piece by piece (no decode, no copy).
                let mut k = first;
                let mut carry: Vec<u8> = Vec::new();
                a.weight_data.for_each_piece(range, |piece| {
                    carry.extend_from_slice(piece);
                    let whole = carry.len() / 4 * 4;
                    for c in carry[..whole].chunks_exact(4) {
                        values += 1;
                        if f32::from_le_bytes([c[0], c[1], c[2], c[3]]).to_bits() != super::value(k).to_bits() {
                            mismatches += 1;
                        }
                        k = k.wrapping_add(1);
                    }
                    carry.drain(..whole);
                });
            } else {
                let t = modelio::codec::decode_weight(spec, &a.weight_data, range).map_err(err)?;
                let v = t.to_f64_vec().ok_or_else(|| JsValue::from_str("weight is not numeric"))?;
                for (j, x) in v.iter().enumerate() {
                    values += 1;
                    if (*x as f32).to_bits() != super::value(first + j as u32).to_bits() {
                        mismatches += 1;
                    }
                }
            }
        }
        let chunks = a.weight_data.chunks();
        Ok(serde_json::json!({
            "bytes": a.weight_data.len(),
            "buffers": chunks.len(),
            "largest_buffer": chunks.iter().map(|c| c.len()).max().unwrap_or(0),
            "weight": weight,
            "values": values,
            "mismatches": mismatches,
        })
        .to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_is_the_formula_of_page_model_mjs() {
        assert_eq!(super::value(0), -0.5);
        // 2654435761 / 2^32 - 0.5, rounded to float32.
        assert_eq!(super::value(1), (2_654_435_761f64 / 4_294_967_296.0 - 0.5) as f32);
        assert!((0..1000).map(super::value).all(|v| (-0.5..0.5).contains(&v)));
    }
}
