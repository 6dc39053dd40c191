//! modelio in a web page: a plain wasm-bindgen app (see `index.html` and the README).
//!
//! The page calls these functions; each returns a `Promise` of a JSON string that the page renders.
//! The model is TF.js's own download of a small dense model (`fixtures/tfjs/chromium_downloads`),
//! read with [`modelio::ModelJson`] as a TF.js app would read it from `browserFiles`.
//! On native targets this crate is empty.
#![warn(missing_docs)]

#[cfg(target_arch = "wasm32")]
mod web {
    use modelio::{ModelArtifacts, ModelJson, WeightData};
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

    /// Saves the demo model to `url` (e.g. `indexeddb://demo`); resolves to the saved model's info (JSON).
    #[wasm_bindgen]
    pub async fn save_demo(url: String) -> Result<String, JsValue> {
        let res = modelio::save(&url, &demo_model()?).await.map_err(err)?;
        Ok(serde_json::to_string(&res.model_artifacts_info).expect("info serializes"))
    }

    /// Every stored model (`modelio::list_models`): a JSON object `{url: info}`.
    #[wasm_bindgen]
    pub async fn list_models() -> Result<String, JsValue> {
        let all = modelio::list_models().await.map_err(err)?;
        Ok(serde_json::to_string(&all).expect("infos serialize"))
    }

    /// Loads the model at `url` and summarizes its weights: `[{name, shape, dtype, count, min, max, mean}]`.
    #[wasm_bindgen]
    pub async fn weights_summary(url: String) -> Result<String, JsValue> {
        let a = modelio::load(&url).await.map_err(err)?;
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
