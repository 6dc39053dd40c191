//! modelio in a web page: a plain wasm-bindgen app (see `index.html` and the README).
//!
//! The page calls these functions; each returns a `Promise` of a JSON string that the page renders.
//! Saves and loads report byte progress to a JS callback (`modelio::Options::on_progress`).
//! The model is TF.js's own download of a small dense model (`fixtures/tfjs/chromium_downloads`),
//! read with [`modelio::ModelJson`] as a TF.js app would read it from `browserFiles`.
//! On native targets this crate is empty.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod web {
    use modelio::{ModelArtifacts, ModelJson, Options, WeightData};
    use wasm_bindgen::prelude::*;

    fn demo_model() -> Result<ModelArtifacts, JsValue> {
        let json = include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.json");
        let bin = include_bytes!("../../../fixtures/tfjs/chromium_downloads/fixture-d/fixture-d.weights.bin");
        let mut a = ModelJson::parse(json, "fixture-d.json").map_err(err)?.artifacts;
        a.weight_data = WeightData::single(bin.to_vec());
        Ok(a)
    }

    fn err(e: modelio::Error) -> JsValue {
        JsValue::from_str(&e.to_string())
    }

    /// Options reporting byte progress to `on_progress(bytes, total)` (`total` undefined when unknown).
    fn progress(on_progress: Option<js_sys::Function>) -> Options {
        match on_progress {
            Some(f) => Options::new().on_progress(move |p| {
                let total = p.total.map_or(JsValue::UNDEFINED, |t| JsValue::from_f64(t as f64));
                let _ = f.call2(&JsValue::NULL, &JsValue::from_f64(p.bytes as f64), &total);
            }),
            None => Options::new(),
        }
    }

    /// Saves the demo model to `url` (e.g. `opfs://demo`), reporting bytes written to
    /// `on_progress(bytes, total)`; resolves to the saved model's info (JSON).
    #[wasm_bindgen]
    pub async fn save_demo(url: String, on_progress: Option<js_sys::Function>) -> Result<String, JsValue> {
        let res = modelio::save_with(&url, &demo_model()?, &progress(on_progress)).await.map_err(err)?;
        Ok(serde_json::to_string(&res.model_artifacts_info).expect("info serializes"))
    }

    /// Every stored model (`modelio::list_models`): a JSON object `{url: info}`.
    #[wasm_bindgen]
    pub async fn list_models() -> Result<String, JsValue> {
        let all = modelio::list_models().await.map_err(err)?;
        Ok(serde_json::to_string(&all).expect("infos serialize"))
    }

    /// Loads the model at `url`, reporting bytes read to `on_progress(bytes, total)`, and summarizes
    /// its weights: `[{name, shape, dtype, count, min, max, mean}]`.
    #[wasm_bindgen]
    pub async fn weights_summary(url: String, on_progress: Option<js_sys::Function>) -> Result<String, JsValue> {
        let a = modelio::load_with(&url, &progress(on_progress)).await.map_err(err)?;
        let tensors = modelio::decode_weights(&a.weight_specs, &a.weight_data).map_err(err)?;
        let rows: Vec<serde_json::Value> = tensors
            .iter()
            .map(|t| {
                let v = t.tensor.to_f64_vec().unwrap_or_default();
                let (min, max) =
                    v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
                let mean = if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
                serde_json::json!({
                    "name": t.name, "shape": t.tensor.shape, "dtype": t.tensor.dtype().as_str(),
                    "count": v.len(), "min": min, "max": max, "mean": mean,
                })
            })
            .collect();
        Ok(serde_json::Value::Array(rows).to_string())
    }

    /// Removes the model at `url`.
    #[wasm_bindgen]
    pub async fn remove_model(url: String) -> Result<(), JsValue> {
        modelio::remove_model(&url).await.map_err(err).map(|_| ())
    }
}
