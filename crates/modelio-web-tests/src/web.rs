use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// Starts `fetch(url)` now (a blob URL is resolved at this call) and returns its promise.
pub fn fetch_start(url: &str) -> js_sys::Promise {
    web_sys::window().expect("window").fetch_with_str(url)
}

/// The body of the response a `fetch` promise resolves to.
pub async fn response_bytes(p: js_sys::Promise) -> Result<Vec<u8>, JsValue> {
    let resp: web_sys::Response = JsFuture::from(p).await?.dyn_into()?;
    if !resp.ok() {
        return Err(JsValue::from_str(&format!("HTTP {}", resp.status())));
    }
    let buf = JsFuture::from(resp.array_buffer()?).await?;
    Ok(js_sys::Uint8Array::new(&buf).to_vec())
}

/// The bytes at `url`.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, JsValue> {
    response_bytes(fetch_start(url)).await
}

/// A `File` with `bytes`, named `name`.
pub fn file(bytes: &[u8], name: &str) -> web_sys::File {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::File::new_with_u8_array_sequence(&parts, name).expect("File")
}

/// TF.js 4.22's `tf.min.js` (from `peer/node_modules`, which `cargo xtask test-all` installs).
pub const TF_MIN_JS: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../peer/node_modules/@tensorflow/tfjs/dist/tf.min.js"));

#[wasm_bindgen(inline_js = r#"
export async function tfjs_ready() {
  await tf.setBackend('cpu');
  await tf.ready();
  return tf.version.tfjs + ' ' + tf.getBackend();
}
export async function tfjs_predict_from_files(files, inputShape, inputValues) {
  const m = await tf.loadLayersModel(tf.io.browserFiles(files));
  const y = m.predict(tf.tensor(inputValues, inputShape, 'float32'));
  return Array.from(await y.data());
}
export async function tfjs_predict_from_url(url, inputShape, inputValues) {
  const m = await tf.loadLayersModel(url);
  const y = m.predict(tf.tensor(inputValues, inputShape, 'float32'));
  return Array.from(await y.data());
}
export async function tfjs_list_models() {
  return JSON.stringify(await tf.io.listModels());
}
export async function tfjs_save_from_memory(artifactsJson, weightBytes, url) {
  // Key order as a layers model's save gives it: weightData right before weightSpecs.
  const a = {};
  for (const [k, v] of Object.entries(JSON.parse(artifactsJson))) {
    if (k === 'weightSpecs') a.weightData = weightBytes.slice().buffer;
    a[k] = v;
  }
  const r = await tf.io.getSaveHandlers(url)[0].save(a);
  return JSON.stringify(r.modelArtifactsInfo);
}
export async function tfjs_load_raw(url) {
  const a = await tf.io.getLoadHandlers(url)[0].load();
  const w = a.weightData;
  const bytes = w == null ? new Uint8Array(0) : new Uint8Array(Array.isArray(w) ? await new Blob(w).arrayBuffer() : w);
  delete a.weightData;
  return [JSON.stringify(a), bytes];
}
export async function idb_record_shape(path) {
  const db = await new Promise((res, rej) => { const r = indexedDB.open('tensorflowjs', 1); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const get = (store) => new Promise((res, rej) => { const r = db.transaction(store).objectStore(store).get(path); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
  const m = await get('models_store'), i = await get('model_info_store');
  db.close();
  const kind = (v) => v instanceof Date ? 'Date' : v instanceof ArrayBuffer ? 'ArrayBuffer(' + v.byteLength + ')' : Array.isArray(v) ? 'Array' : typeof v;
  const shape = (o) => Object.keys(o).map(k => k + ':' + kind(o[k])).join(',');
  return [shape(m), shape(m.modelArtifacts), shape(m.modelArtifactsInfo), shape(i), shape(i.modelArtifactsInfo)].join(' | ');
}
"#)]
extern "C" {
    /// `tf.setBackend('cpu')`; returns `"<version> <backend>"`.
    #[wasm_bindgen(catch)]
    async fn tfjs_ready() -> Result<JsValue, JsValue>;
    /// `tf.loadLayersModel(tf.io.browserFiles(files))`, then `predict` on the input; the output values.
    #[wasm_bindgen(catch)]
    pub async fn tfjs_predict_from_files(
        files: js_sys::Array,
        shape: Vec<u32>,
        values: Vec<f32>,
    ) -> Result<JsValue, JsValue>;
    /// `tf.loadLayersModel(url)`, then `predict` on the input; the output values.
    #[wasm_bindgen(catch)]
    pub async fn tfjs_predict_from_url(url: &str, shape: Vec<u32>, values: Vec<f32>) -> Result<JsValue, JsValue>;
    /// `JSON.stringify(await tf.io.listModels())`.
    #[wasm_bindgen(catch)]
    pub async fn tfjs_list_models() -> Result<JsValue, JsValue>;
    /// Saves artifacts (JSON without weightData, plus the weight bytes) with TF.js's own save handler for `url`.
    #[wasm_bindgen(catch)]
    pub async fn tfjs_save_from_memory(artifacts_json: &str, weights: &[u8], url: &str) -> Result<JsValue, JsValue>;
    /// Loads with TF.js's own load handler for `url`: `[artifacts JSON without weightData, weight bytes]`.
    #[wasm_bindgen(catch)]
    pub async fn tfjs_load_raw(url: &str) -> Result<JsValue, JsValue>;
    /// The shape of both IndexedDB records at `path` (field names and JS types, in order), read with plain JS.
    #[wasm_bindgen(catch)]
    pub async fn idb_record_shape(path: &str) -> Result<JsValue, JsValue>;
}

/// Puts real TF.js 4.22 on the page (once) as the global `tf`, on the cpu backend (bit-exact outputs).
pub async fn tfjs() -> String {
    let window = web_sys::window().expect("window");
    if !js_sys::Reflect::has(&window, &"tf".into()).unwrap_or(false) {
        let document = window.document().expect("document");
        let script: web_sys::HtmlScriptElement =
            document.create_element("script").expect("script").dyn_into().expect("script");
        script.set_text(TF_MIN_JS).expect("script text");
        document.head().expect("head").append_child(&script).expect("inject tf.min.js");
        assert!(js_sys::Reflect::has(&window, &"tf".into()).unwrap_or(false), "tf.min.js did not define `tf`");
    }
    tfjs_ready().await.expect("tf.setBackend('cpu')").as_string().unwrap_or_default()
}

/// A fixture model's `expected.json` (`fixtures/tfjs/models/<m>/`): input shape and values, output values.
pub struct Expected {
    /// Input shape.
    pub input_shape: Vec<u32>,
    /// Input values (float32).
    pub input: Vec<f32>,
    /// TF.js's output values on the cpu backend (float32).
    pub output: Vec<f32>,
}

/// The expected input and output of fixture model `m` (`a`..`d`).
pub fn expected(m: &str) -> Expected {
    let text: &str = match m {
        "a" => include_str!("../../../fixtures/tfjs/models/a/expected.json"),
        "b" => include_str!("../../../fixtures/tfjs/models/b/expected.json"),
        "c" => include_str!("../../../fixtures/tfjs/models/c/expected.json"),
        "d" => include_str!("../../../fixtures/tfjs/models/d/expected.json"),
        _ => panic!("no fixture model {m}"),
    };
    let v: serde_json::Value = serde_json::from_str(text).expect("expected.json");
    let f32s = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array().expect("array").iter().map(|x| x.as_f64().expect("number") as f32).collect()
    };
    let input_shape: Vec<u32> =
        v["input"]["shape"].as_array().expect("shape").iter().map(|x| x.as_u64().expect("dim") as u32).collect();
    // Large inputs are given by the formula `((j % 13) - 6) / 8` (see `weightFormulas.input`).
    let input = match &v["input"]["values"] {
        serde_json::Value::Array(_) => f32s(&v["input"]["values"]),
        _ => (0..input_shape.iter().product::<u32>()).map(|j| ((j % 13) as f32 - 6.0) / 8.0).collect(),
    };
    Expected { input_shape, input, output: f32s(&v["output"]["values"]) }
}

/// `Vec<f32>` from a JS array of numbers.
pub fn f32_vec(v: &JsValue) -> Vec<f32> {
    js_sys::Array::from(v).iter().map(|x| x.as_f64().expect("number") as f32).collect()
}
