//! The IndexedDB-like trait the TF.js record layout is written against.
//!
//! A backend implements [`IdbDatabase`] for one database with object stores keyed by the
//! [`KEY_PATH`] field of their records: natively [`crate::SqliteDatabase`]; in the browser the real
//! IndexedDB through `web-sys` (another crate's job). Records are [`Value`]s: the part of the
//! structured-clone algorithm TF.js's records use.

use io_core::{Error, MaybeSendSync, RawJson, Result, WeightData};
use io_store_support::base64;

/// The key path of both TF.js object stores.
pub const KEY_PATH: &str = "modelPath";

/// A structured-clone value as TF.js's records hold it.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Plain JSON data (strings, numbers, arrays, objects, null), as its compact text.
    Json(RawJson),
    /// A JS `Date`, as its ISO string (`2026-11-25T19:33:05.337Z`).
    Date(String),
    /// An `ArrayBuffer` (natively a blob; the buffers are written one after the other).
    Bytes(WeightData),
    /// An object whose fields may hold dates or buffers, in key order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// The field `key` of an object.
    pub fn field(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The record as [`WriteOp::Copy`] writes it at `to`: its [`KEY_PATH`] field set to `to`, and
    /// its `modelArtifactsInfo.dateSaved` (when it has one) set to `date_saved`.
    pub fn copied_as(mut self, to: &str, date_saved: &str) -> Value {
        if let Value::Object(fields) = &mut self {
            for (k, v) in fields.iter_mut() {
                match (k.as_str(), v) {
                    (KEY_PATH, v) => *v = Value::Json(RawJson::string(to)),
                    ("modelArtifactsInfo", Value::Object(info)) => {
                        for (ik, iv) in info.iter_mut() {
                            if ik == "dateSaved" {
                                *iv = Value::Date(date_saved.to_string());
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        self
    }

    /// The value as plain JSON text (dates as ISO strings); `None` if it holds a buffer.
    pub fn to_raw_json(&self) -> Option<RawJson> {
        match self {
            Value::Json(v) => Some(v.clone()),
            Value::Date(iso) => Some(RawJson::string(iso)),
            Value::Bytes(_) => None,
            // Written as text (not through a `serde_json::Value`: no second JSON writer in the wasm).
            Value::Object(fields) => {
                let mut out = String::new();
                let mut o = io_core::json::text::ObjectWriter::new(&mut out);
                for (k, v) in fields {
                    o.raw(k, v.to_raw_json()?.as_str());
                }
                o.finish();
                Some(RawJson::parse_text(&out).expect("an object of JSON values is JSON"))
            }
        }
    }

    /// The value as a plain JSON tree (dates as ISO strings); `None` if it holds a buffer. For small
    /// values (info, paths); see [`Value::to_raw_json`].
    pub fn to_json(&self) -> Option<serde_json::Value> {
        Some(match self {
            Value::Json(v) => v.to_value(),
            Value::Date(iso) => serde_json::Value::String(iso.clone()),
            Value::Bytes(_) => return None,
            Value::Object(fields) => serde_json::Value::Object(
                fields.iter().map(|(k, v)| Some((k.clone(), v.to_json()?))).collect::<Option<_>>()?,
            ),
        })
    }

    /// The value in the JSON dump format of the TF.js fixtures (the inverse of [`Value::from_dump`]).
    pub fn to_dump(&self) -> serde_json::Value {
        match self {
            Value::Json(v) => v.to_value(),
            Value::Date(iso) => serde_json::json!({ "__type": "Date", "iso": iso }),
            Value::Bytes(b) => {
                let text = base64::encode_pieces(b.len(), b.chunks().iter().map(|c| &c[..]));
                serde_json::json!({ "__type": "ArrayBuffer", "byteLength": b.len(), "base64": text })
            }
            Value::Object(f) => serde_json::Value::Object(f.iter().map(|(k, v)| (k.clone(), v.to_dump())).collect()),
        }
    }

    /// Reads the JSON dump format of the TF.js fixtures (`fixtures/tfjs/chromium_indexeddb`):
    /// `{"__type":"ArrayBuffer","base64":…}` is a buffer, `{"__type":"Date","iso":…}` a date, and
    /// numbers are JS numbers (the dump's `1e-07` reads as JavaScript's `1e-7`).
    pub fn from_dump(v: &serde_json::Value) -> Result<Value> {
        let bad = |what: &str| Error::invalid_model("IndexedDB dump", what.to_string());
        let serde_json::Value::Object(obj) = v else { return Ok(Value::Json(RawJson::from_value(&js_numbers(v)))) };
        match obj.get("__type").and_then(|t| t.as_str()) {
            Some("ArrayBuffer") => {
                let b64 =
                    obj.get("base64").and_then(|b| b.as_str()).ok_or_else(|| bad("ArrayBuffer without base64"))?;
                let bytes = base64::decode(b64.as_bytes()).map_err(|e| bad(&format!("bad base64: {e}")))?;
                Ok(Value::Bytes(WeightData::single(bytes)))
            }
            Some("Date") => Ok(Value::Date(
                obj.get("iso").and_then(|i| i.as_str()).ok_or_else(|| bad("Date without iso"))?.to_string(),
            )),
            _ => Ok(Value::Object(
                obj.iter().map(|(k, v)| Ok((k.clone(), Value::from_dump(v)?))).collect::<Result<_>>()?,
            )),
        }
    }
}

/// `v` with every number as a JS number (a double), written as `JSON.stringify` writes it.
fn js_numbers(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) => serde_json::Value::Number(io_core::Quantization::js_number(f)),
            None => v.clone(),
        },
        serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(js_numbers).collect()),
        serde_json::Value::Object(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), js_numbers(v))).collect())
        }
        other => other.clone(),
    }
}

/// Which buffers [`IdbDatabase::get_partial`] reads: given a buffer's field path in the record and
/// its byte length, whether to read it.
pub type BufferSelect<'s> = dyn for<'p, 'q> Fn(&'p [&'q str], u64) -> bool + Sync + 's;

/// One change in an [`IdbDatabase::write`] transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteOp {
    /// `store.put(value)`: the key is the value's [`KEY_PATH`] field.
    Put {
        /// Object store name.
        store: &'static str,
        /// The record.
        value: Value,
    },
    /// `store.delete(key)`; nothing happens if absent.
    Delete {
        /// Object store name.
        store: &'static str,
        /// The key.
        key: String,
    },
    /// Moves the record at `from` to `to` (its [`KEY_PATH`] field set to `to`), replacing any
    /// record at `to`. If `from` is absent the whole transaction fails with
    /// [`io_core::Error::NotFound`]. (In IndexedDB: `get` then `put` then `delete` in the same
    /// readwrite transaction.)
    Rename {
        /// Object store name.
        store: &'static str,
        /// Source key.
        from: String,
        /// Destination key.
        to: String,
    },
    /// Copies the record at `from` to `to`, replacing any record at `to`: the copy has its
    /// [`KEY_PATH`] field set to `to` and its `modelArtifactsInfo.dateSaved` (when it has one) set
    /// to `date_saved`, as a save at that time would write it. If `from` is absent the whole
    /// transaction fails with [`io_core::Error::NotFound`]. (In IndexedDB: `get` then `put` in the
    /// same readwrite transaction; the weights never leave the database's side.)
    Copy {
        /// Object store name.
        store: &'static str,
        /// Source key.
        from: String,
        /// Destination key.
        to: String,
        /// The copy's `dateSaved`, ISO 8601 (`2026-11-25T19:33:05.337Z`).
        date_saved: String,
    },
}

/// An IndexedDB-like database: object stores of [`Value`] records keyed by [`KEY_PATH`].
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait IdbDatabase: MaybeSendSync {
    /// `store.get(key)`.
    async fn get(&self, store: &'static str, key: &str) -> Result<Option<Value>>;

    /// `store.getAll()`, in key order.
    async fn get_all(&self, store: &'static str) -> Result<Vec<Value>>;

    /// Applies `ops` in one readwrite transaction over the stores they name: all or, on any error
    /// (quota, a missing rename source, I/O), none. `url` names the model in errors.
    async fn write(&self, ops: Vec<WriteOp>, url: &str) -> Result<()>;

    /// Whether [`IdbDatabase::get_partial`] leaves unselected buffers unread (otherwise it reads
    /// the whole record, as [`IdbDatabase::get`]).
    fn reads_buffers_apart(&self) -> bool {
        false
    }

    /// `store.get(key)` reading only the buffers `select` picks, by their field path in the record
    /// (e.g. `["modelArtifacts", "weightData"]`) and byte length; the others come back as empty
    /// [`Value::Bytes`] when [`IdbDatabase::reads_buffers_apart`]. By default (a backend that cannot
    /// leave buffers unread) the whole record, as [`IdbDatabase::get`].
    async fn get_partial(&self, store: &'static str, key: &str, select: &BufferSelect<'_>) -> Result<Option<Value>> {
        let _ = select;
        self.get(store, key).await
    }
}
