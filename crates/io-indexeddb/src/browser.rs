//! The browser backend: the page's real IndexedDB as an [`IdbDatabase`], with raw `web-sys` and a
//! small helper turning an `IDBRequest` / `IDBTransaction` into a future.
//!
//! Like TF.js, every operation opens database [`DATABASE`] version [`VERSION`] (creating both object
//! stores with key path `modelPath` on upgrade), runs one transaction and closes the connection,
//! so TF.js on the same page can open the database at any time. Records are structured-clone
//! values: dates are JS `Date`s, weight data is one `ArrayBuffer`. A `QuotaExceededError` becomes
//! [`Error::QuotaExceeded`] with the size of the write and the origin's free space
//! (`navigator.storage.estimate()`); the transaction is then aborted, so nothing was written.

use io_core::{Error, Result, WeightData};
use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbObjectStoreParameters, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::database::{IdbDatabase, Value, WriteOp, KEY_PATH};
use crate::layout::{DATABASE, INFO_STORE, MODELS_STORE, VERSION};
use crate::SCHEME;

/// The page's IndexedDB (database `tensorflowjs`, shared with TF.js on the same origin).
#[derive(Clone, Default)]
pub struct BrowserIndexedDb;

use io_store_support::web::{is_quota_exceeded as is_quota, js_error_text as js_text};

fn err(location: &str, what: &str, e: &JsValue) -> Error {
    io_store_support::web::js_storage_error(SCHEME, location, what, e)
}

/// Resolves with the request's result on `success`, rejects with its error on `error`.
async fn request(req: &IdbRequest) -> std::result::Result<JsValue, JsValue> {
    let p = Promise::new(&mut |resolve, reject| {
        let (r1, r2) = (req.clone(), req.clone());
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &r1.result().unwrap_or(JsValue::UNDEFINED));
        });
        let bad = Closure::once_into_js(move |_: web_sys::Event| {
            let e = r2.error().ok().flatten().map(JsValue::from).unwrap_or(JsValue::UNDEFINED);
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(bad.unchecked_ref()));
    });
    JsFuture::from(p).await
}

/// Resolves on `complete`, rejects with the transaction's error on `error` / `abort`.
fn completion(tx: &IdbTransaction) -> JsFuture {
    let p = Promise::new(&mut |resolve, reject| {
        let t = tx.clone();
        let ok = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let bad: Closure<dyn FnMut(web_sys::Event)> = Closure::new(move |_: web_sys::Event| {
            let e = t.error().map(JsValue::from).unwrap_or_else(|| JsValue::from_str("transaction aborted"));
            let _ = reject.call1(&JsValue::NULL, &e);
        });
        tx.set_oncomplete(Some(ok.unchecked_ref()));
        tx.set_onerror(Some(bad.as_ref().unchecked_ref()));
        tx.set_onabort(Some(bad.as_ref().unchecked_ref()));
        bad.forget();
    });
    JsFuture::from(p)
}

async fn open() -> Result<web_sys::IdbDatabase> {
    let factory = web_sys::window()
        .ok_or_else(|| Error::storage(SCHEME, "", "no window"))?
        .indexed_db()
        .map_err(|e| err("", "indexedDB is not accessible", &e))?
        .ok_or_else(|| Error::storage(SCHEME, "", "indexedDB is not available"))?;
    let req = factory.open_with_u32(DATABASE, VERSION).map_err(|e| err(DATABASE, "opening the database", &e))?;
    let r = req.clone();
    let upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        let Ok(db) = r.result().and_then(|d| d.dyn_into::<web_sys::IdbDatabase>()) else {
            return;
        };
        for store in [MODELS_STORE, INFO_STORE] {
            if !db.object_store_names().contains(store) {
                let params = IdbObjectStoreParameters::new();
                params.set_key_path(&JsValue::from_str(KEY_PATH));
                let _ = db.create_object_store_with_optional_parameters(store, &params);
            }
        }
    });
    req.set_onupgradeneeded(Some(upgrade.unchecked_ref()));
    let db = request(&req).await.map_err(|e| err(DATABASE, "opening the database", &e))?;
    db.dyn_into().map_err(|_| Error::storage(SCHEME, DATABASE, "open() did not give a database"))
}

/// A record as a structured-clone value.
fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Json(j) => js_sys::JSON::parse(j.as_str()).expect("valid JSON"),
        Value::Date(iso) => js_sys::Date::new(&JsValue::from_str(iso)).into(),
        Value::Bytes(b) => {
            let out = js_sys::Uint8Array::new_with_length(b.len() as u32);
            let mut at = 0u32;
            for c in b.chunks() {
                out.subarray(at, at + c.len() as u32).copy_from(c);
                at += c.len() as u32;
            }
            out.buffer().into()
        }
        Value::Object(fields) => {
            let o = Object::new();
            for (k, v) in fields {
                let _ = Reflect::set(&o, &JsValue::from_str(k), &to_js(v));
            }
            o.into()
        }
    }
}

/// A structured-clone value as a record: dates and buffers anywhere, objects kept as objects down
/// to the fields of `modelArtifacts` (depth 2), deeper data as plain JSON.
fn from_js(v: &JsValue, depth: usize, url: &str) -> Result<Value> {
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Value::Bytes(WeightData::single(js_sys::Uint8Array::new(b).to_vec())));
    }
    if let Some(d) = v.dyn_ref::<js_sys::Date>() {
        return Ok(Value::Date(String::from(d.to_iso_string())));
    }
    if depth < 2 && v.is_object() && !Array::is_array(v) {
        let o: &Object = v.unchecked_ref();
        let mut fields = Vec::new();
        for k in Object::keys(o).iter() {
            let key = k.as_string().unwrap_or_default();
            let fv = Reflect::get(o, &k).map_err(|e| err(url, "reading a record", &e))?;
            fields.push((key, from_js(&fv, depth + 1, url)?));
        }
        return Ok(Value::Object(fields));
    }
    if v.is_undefined() {
        return Ok(Value::Json(io_core::RawJson::null()));
    }
    let text = js_sys::JSON::stringify(v).map_err(|e| err(url, "reading a record", &e))?;
    let text = String::from(text);
    io_core::RawJson::parse_text(&text)
        .map(Value::Json)
        .map_err(|e| Error::storage(SCHEME, url, format!("record is not JSON: {e}")))
}

async fn free_space() -> Option<(u64, u64)> {
    let storage = web_sys::window()?.navigator().storage();
    let est = JsFuture::from(storage.estimate().ok()?).await.ok()?;
    let num = |k: &str| Reflect::get(&est, &JsValue::from_str(k)).ok().and_then(|v| v.as_f64()).map(|f| f as u64);
    Some((num("quota")?, num("usage")?))
}

fn size(v: &Value) -> u64 {
    match v {
        Value::Json(j) => j.as_str().len() as u64,
        Value::Date(_) => 8,
        Value::Bytes(b) => b.len() as u64,
        Value::Object(f) => f.iter().map(|(k, v)| k.len() as u64 + size(v)).sum(),
    }
}

impl BrowserIndexedDb {
    async fn read(&self, store: &'static str, key: Option<&str>) -> Result<JsValue> {
        let db = open().await?;
        let r = async {
            let tx = db.transaction_with_str(store).map_err(|e| err(store, "starting a transaction", &e))?;
            let os = tx.object_store(store).map_err(|e| err(store, "opening the object store", &e))?;
            let req = match key {
                Some(k) => os.get(&JsValue::from_str(k)),
                None => os.get_all(),
            }
            .map_err(|e| err(key.unwrap_or(store), "reading", &e))?;
            request(&req).await.map_err(|e| err(key.unwrap_or(store), "reading", &e))
        }
        .await;
        db.close();
        r
    }
}

#[io_core::async_trait(?Send)]
impl IdbDatabase for BrowserIndexedDb {
    async fn get(&self, store: &'static str, key: &str) -> Result<Option<Value>> {
        let v = self.read(store, Some(key)).await?;
        if v.is_undefined() {
            return Ok(None);
        }
        Ok(Some(from_js(&v, 0, key)?))
    }

    async fn get_all(&self, store: &'static str) -> Result<Vec<Value>> {
        let v = self.read(store, None).await?;
        Array::from(&v).iter().map(|r| from_js(&r, 0, store)).collect()
    }

    async fn write(&self, ops: Vec<WriteOp>, url: &str) -> Result<()> {
        let mut stores: Vec<&'static str> = Vec::new();
        for op in &ops {
            let (WriteOp::Put { store, .. }
            | WriteOp::Delete { store, .. }
            | WriteOp::Rename { store, .. }
            | WriteOp::Copy { store, .. }) = op;
            if !stores.contains(store) {
                stores.push(store);
            }
        }
        if stores.is_empty() {
            return Ok(());
        }
        let db = open().await?;
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let r = async {
            let tx = db
                .transaction_with_str_sequence_and_mode(&names, IdbTransactionMode::Readwrite)
                .map_err(|e| err(url, "starting a transaction", &e))?;
            let done = completion(&tx);
            let step = async {
                for op in &ops {
                    match op {
                        WriteOp::Put { store, value } => {
                            tx.object_store(store).and_then(|s| s.put(&to_js(value))).map_err(|e| err(url, "put", &e))?;
                        }
                        WriteOp::Delete { store, key } => {
                            tx.object_store(store).and_then(|s| s.delete(&JsValue::from_str(key))).map_err(|e| err(url, "delete", &e))?;
                        }
                        WriteOp::Rename { store, from, to } => {
                            let os = tx.object_store(store).map_err(|e| err(url, "rename", &e))?;
                            let req = os.get(&JsValue::from_str(from)).map_err(|e| err(url, "rename", &e))?;
                            let rec = request(&req).await.map_err(|e| err(url, "rename", &e))?;
                            if rec.is_undefined() {
                                return Err(Error::NotFound { url: url.to_string(), detail: format!("no record '{from}' in {store} to move") });
                            }
                            Reflect::set(&rec, &JsValue::from_str(KEY_PATH), &JsValue::from_str(to)).map_err(|e| err(url, "rename", &e))?;
                            os.put(&rec).map_err(|e| err(url, "rename", &e))?;
                            os.delete(&JsValue::from_str(from)).map_err(|e| err(url, "rename", &e))?;
                        }
                        WriteOp::Copy { store, from, to, date_saved } => {
                            // The record stays a JS value: its weight buffer is cloned by IndexedDB,
                            // never copied into wasm memory.
                            let os = tx.object_store(store).map_err(|e| err(url, "copy", &e))?;
                            let req = os.get(&JsValue::from_str(from)).map_err(|e| err(url, "copy", &e))?;
                            let rec = request(&req).await.map_err(|e| err(url, "copy", &e))?;
                            if rec.is_undefined() {
                                return Err(Error::NotFound { url: url.to_string(), detail: format!("no record '{from}' in {store} to copy") });
                            }
                            Reflect::set(&rec, &JsValue::from_str(KEY_PATH), &JsValue::from_str(to)).map_err(|e| err(url, "copy", &e))?;
                            let info = Reflect::get(&rec, &JsValue::from_str("modelArtifactsInfo")).map_err(|e| err(url, "copy", &e))?;
                            if info.is_object() {
                                let date = js_sys::Date::new(&JsValue::from_str(date_saved));
                                Reflect::set(&info, &JsValue::from_str("dateSaved"), &date).map_err(|e| err(url, "copy", &e))?;
                            }
                            os.put(&rec).map_err(|e| err(url, "copy", &e))?;
                        }
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = step {
                let _ = tx.abort();
                let _ = done.await;
                return Err(e);
            }
            match done.await {
                Ok(_) => Ok(()),
                Err(e) if is_quota(&e) => {
                    let needed: u64 = ops.iter().map(|op| if let WriteOp::Put { value, .. } = op { size(value) } else { 0 }).sum();
                    let (quota, usage) = free_space().await.unwrap_or((0, 0));
                    Err(Error::QuotaExceeded {
                        url: url.to_string(),
                        needed,
                        available: quota.saturating_sub(usage),
                        detail: format!(
                            "{}; navigator.storage.estimate(): quota {quota} bytes, usage {usage} bytes; the transaction was aborted, the model that was there is unchanged",
                            js_text(&e)
                        ),
                    })
                }
                Err(e) => Err(err(url, "the write transaction failed (nothing was written)", &e)),
            }
        }
        .await;
        db.close();
        r
    }
}
