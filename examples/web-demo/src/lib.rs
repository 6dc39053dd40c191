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

    /// The page gets JSON text; it is written by the browser's `JSON.stringify`, so the page's wasm
    /// carries no JSON writer or float formatting of its own (README "How small is the wasm").
    fn json(v: &JsValue) -> String {
        js_sys::JSON::stringify(v).map(String::from).unwrap_or_default()
    }

    fn set(o: &js_sys::Object, k: &str, v: &JsValue) {
        let _ = js_sys::Reflect::set(o, &k.into(), v);
    }

    /// `ModelArtifactsInfo` as TF.js's object (absent counts left out).
    fn info_object(info: &modelio::ModelArtifactsInfo) -> js_sys::Object {
        let o = js_sys::Object::new();
        set(&o, "dateSaved", &info.date_saved.as_str().into());
        set(&o, "modelTopologyType", &info.model_topology_type.as_str().into());
        for (k, n) in [
            ("modelTopologyBytes", info.model_topology_bytes),
            ("weightSpecsBytes", info.weight_specs_bytes),
            ("weightDataBytes", info.weight_data_bytes),
        ] {
            if let Some(n) = n {
                set(&o, k, &JsValue::from_f64(n as f64));
            }
        }
        o
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
        Ok(json(&info_object(&res.model_artifacts_info)))
    }

    /// Every stored model (`modelio::list_models`): a JSON object `{url: info}`.
    #[wasm_bindgen]
    pub async fn list_models() -> Result<String, JsValue> {
        let all = modelio::list_models().await.map_err(err)?;
        let out = js_sys::Object::new();
        for (url, info) in &all {
            set(&out, url, &info_object(info));
        }
        Ok(json(&out))
    }

    /// Loads the model at `url`, reporting bytes read to `on_progress(bytes, total)`, and summarizes
    /// its weights: `[{name, shape, dtype, count, min, max, mean}]`.
    #[wasm_bindgen]
    pub async fn weights_summary(url: String, on_progress: Option<js_sys::Function>) -> Result<String, JsValue> {
        let a = modelio::load_with(&url, &progress(on_progress)).await.map_err(err)?;
        let tensors = modelio::decode_weights(&a.weight_specs, &a.weight_data).map_err(err)?;
        let rows = js_sys::Array::new();
        for t in &tensors {
            let v = t.tensor.to_f64_vec().unwrap_or_default();
            let (min, max) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
            let mean = if v.is_empty() { 0.0 } else { v.iter().sum::<f64>() / v.len() as f64 };
            let row = js_sys::Object::new();
            set(&row, "name", &t.name.as_str().into());
            let shape: js_sys::Array = t.tensor.shape.iter().map(|&d| JsValue::from_f64(d as f64)).collect();
            set(&row, "shape", &shape);
            set(&row, "dtype", &t.tensor.dtype().as_str().into());
            set(&row, "count", &JsValue::from_f64(v.len() as f64));
            for (k, x) in [("min", min), ("max", max), ("mean", mean)] {
                set(&row, k, &JsValue::from_f64(x)); // a non-finite number becomes null, as before
            }
            rows.push(&row);
        }
        Ok(json(&rows))
    }

    /// Removes the model at `url`.
    #[wasm_bindgen]
    pub async fn remove_model(url: String) -> Result<(), JsValue> {
        modelio::remove_model(&url).await.map_err(err).map(|_| ())
    }
}
