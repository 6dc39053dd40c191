//! The native [`IdbDatabase`]: the database `tensorflowjs` as an SQLite file in the profile folder.
//!
//! Table `records (store, key, value, size)` holds each record's [`Value`] as tagged JSON (buffers
//! replaced by `{"blob":{"index":i,"byteLength":n}}`); table `blobs (id, data)` holds the buffers as
//! SQLite blobs, written buffer by buffer (never base64, never joined in memory), and
//! `record_blobs (store, key, idx, blob_id)` links them to their record, so a rename re-keys two
//! small rows and never copies weight bytes.

use std::io::Write;
use std::path::Path;

use io_core::{Error, Result, WeightData};
use io_store_support::rusqlite::{params, DatabaseName, OptionalExtension, Transaction};
use io_store_support::{Db, SqlContext};
use serde::{Deserialize, Serialize};

use crate::database::{BufferSelect, IdbDatabase, Value, WriteOp, KEY_PATH};
use crate::layout::{DATABASE, INFO_STORE, MODELS_STORE, VERSION};

const STORE: &str = "indexeddb";

/// File of the database inside the profile folder: `indexeddb/tensorflowjs.sqlite3`.
pub fn db_file(folder: &Path) -> std::path::PathBuf {
    folder.join("indexeddb").join(format!("{DATABASE}.sqlite3"))
}

fn schema() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS object_stores (name TEXT PRIMARY KEY NOT NULL, key_path TEXT NOT NULL);
         INSERT OR IGNORE INTO object_stores VALUES ('{MODELS_STORE}', '{KEY_PATH}'), ('{INFO_STORE}', '{KEY_PATH}');
         CREATE TABLE IF NOT EXISTS records (
             store TEXT NOT NULL, key TEXT NOT NULL,
             value TEXT NOT NULL, -- the record as tagged JSON
             size INTEGER NOT NULL, -- bytes counted against the quota: value text + blobs
             PRIMARY KEY (store, key)) WITHOUT ROWID;
         CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
         CREATE TABLE IF NOT EXISTS record_blobs (
             store TEXT NOT NULL, key TEXT NOT NULL, idx INTEGER NOT NULL, blob_id INTEGER NOT NULL,
             PRIMARY KEY (store, key, idx)) WITHOUT ROWID;
         PRAGMA user_version = {VERSION};"
    )
}

const USED_SQL: &str = "SELECT COALESCE(SUM(size), 0) FROM records";
const QUOTA_RULE: &str = "a record counts the bytes of its JSON text plus its buffers";

/// A record as stored: [`Value`] with buffers moved out to the `blobs` table.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Stored {
    Json(io_core::RawJson),
    Date(String),
    #[serde(rename_all = "camelCase")]
    Blob {
        index: usize,
        byte_length: u64,
    },
    Object(Vec<(String, Stored)>),
}

fn to_stored<'a>(v: &'a Value, blobs: &mut Vec<&'a WeightData>) -> Stored {
    match v {
        Value::Json(j) => Stored::Json(j.clone()),
        Value::Date(d) => Stored::Date(d.clone()),
        Value::Bytes(b) => {
            blobs.push(b);
            Stored::Blob { index: blobs.len() - 1, byte_length: b.len() as u64 }
        }
        Value::Object(f) => Stored::Object(f.iter().map(|(k, v)| (k.clone(), to_stored(v, blobs))).collect()),
    }
}

/// Reads buffer `index` (at a field path, of a byte length) of a record.
type ReadBlob<'a> = dyn FnMut(usize, &[String], u64) -> Result<WeightData> + 'a;

/// The record of `s`, its buffers read by `blob(index, field path, byte length)` (which may leave one
/// empty).
fn from_stored(s: Stored, path: &mut Vec<String>, blob: &mut ReadBlob<'_>) -> Result<Value> {
    Ok(match s {
        Stored::Json(j) => Value::Json(j),
        Stored::Date(d) => Value::Date(d),
        Stored::Blob { index, byte_length } => Value::Bytes(blob(index, path, byte_length)?),
        Stored::Object(f) => Value::Object(
            f.into_iter()
                .map(|(k, v)| {
                    path.push(k.clone());
                    let v = from_stored(v, path, blob);
                    path.pop();
                    Ok((k, v?))
                })
                .collect::<Result<_>>()?,
        ),
    })
}

/// The IndexedDB database `tensorflowjs` in an SQLite file. No quota unless one is set
/// ([`Db::set_quota`] on [`SqliteDatabase::db`]).
#[derive(Debug)]
pub struct SqliteDatabase {
    db: Db,
}

impl SqliteDatabase {
    /// Opens (or creates) the database in the profile folder `folder`.
    pub fn open_in(folder: &Path) -> Result<Self> {
        Self::open(&db_file(folder))
    }

    /// Opens (or creates) the database file `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(SqliteDatabase { db: Db::open(path, STORE, &schema())? })
    }

    /// The SQLite database (file, quota).
    pub fn db(&self) -> &Db {
        &self.db
    }
}

fn read_record(tx: &Transaction<'_>, store: &str, key: &str) -> Result<Option<Value>> {
    read_record_with(tx, store, key, &|_, _| true)
}

/// The record at `key`, reading only the buffers `select` picks (by field path and byte length);
/// the others are left empty and never leave the database.
fn read_record_with(tx: &Transaction<'_>, store: &str, key: &str, select: &BufferSelect<'_>) -> Result<Option<Value>> {
    let text: Option<String> = tx
        .query_row("SELECT value FROM records WHERE store = ?1 AND key = ?2", [store, key], |r| r.get(0))
        .optional()
        .at(STORE, key)?;
    let Some(text) = text else { return Ok(None) };
    let stored: Stored = serde_json::from_str(&text)
        .map_err(|e| Error::storage(STORE, key, format!("corrupt record in '{store}': {e}")))?;
    let mut blob = |idx: usize, path: &[String], byte_length: u64| -> Result<WeightData> {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if !select(&path, byte_length) {
            return Ok(WeightData::default());
        }
        let data: Vec<u8> = tx
            .query_row(
                "SELECT data FROM blobs WHERE id = (SELECT blob_id FROM record_blobs WHERE store = ?1 AND key = ?2 AND idx = ?3)",
                params![store, key, idx as i64],
                |r| r.get(0),
            )
            .at(STORE, key)?;
        Ok(WeightData::single(data))
    };
    from_stored(stored, &mut Vec::new(), &mut blob).map(Some)
}

fn delete(tx: &Transaction<'_>, store: &str, key: &str) -> Result<()> {
    tx.execute("DELETE FROM records WHERE store = ?1 AND key = ?2", [store, key]).at(STORE, key)?;
    tx.execute(
        "DELETE FROM blobs WHERE id IN (SELECT blob_id FROM record_blobs WHERE store = ?1 AND key = ?2)",
        [store, key],
    )
    .at(STORE, key)?;
    tx.execute("DELETE FROM record_blobs WHERE store = ?1 AND key = ?2", [store, key]).at(STORE, key)?;
    Ok(())
}

fn key_of(value: &Value) -> Result<String> {
    value
        .field(KEY_PATH)
        .and_then(Value::to_json)
        .and_then(|k| k.as_str().map(String::from))
        .ok_or_else(|| Error::storage(STORE, "", format!("a record to put has no string '{KEY_PATH}' (the key path)")))
}

/// Writes `value` under its key, replacing any record there; returns the bytes it counts.
fn put(tx: &Transaction<'_>, store: &str, value: &Value) -> Result<u64> {
    let key = key_of(value)?;
    delete(tx, store, &key)?;
    let mut blobs = Vec::new();
    let text = serde_json::to_string(&to_stored(value, &mut blobs)).expect("records serialize");
    let mut size = text.len() as u64;
    for (idx, data) in blobs.iter().enumerate() {
        tx.execute("INSERT INTO blobs (data) VALUES (zeroblob(?1))", [data.len() as i64]).at(STORE, &key)?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO record_blobs (store, key, idx, blob_id) VALUES (?1, ?2, ?3, ?4)",
            params![store, key, idx as i64, id],
        )
        .at(STORE, &key)?;
        let mut blob = tx.blob_open(DatabaseName::Main, "blobs", "data", id, false).at(STORE, &key)?;
        for chunk in data.chunks() {
            blob.write_all(chunk).map_err(|e| Error::storage(STORE, key.as_str(), format!("writing a blob: {e}")))?;
        }
        size += data.len() as u64;
    }
    tx.execute(
        "INSERT INTO records (store, key, value, size) VALUES (?1, ?2, ?3, ?4)",
        params![store, key, text, size as i64],
    )
    .at(STORE, &key)?;
    Ok(size)
}

/// Moves a record to a new key without touching its blobs (they are re-keyed, not copied).
fn rename(tx: &Transaction<'_>, store: &str, from: &str, to: &str, url: &str) -> Result<u64> {
    let row: Option<(String, i64)> = tx
        .query_row("SELECT value, size FROM records WHERE store = ?1 AND key = ?2", [store, from], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .at(STORE, from)?;
    let Some((text, size)) = row else {
        return Err(Error::NotFound {
            url: url.to_string(),
            detail: format!("'{from}' vanished from '{store}' before it could be renamed"),
        });
    };
    let corrupt = |e: String| Error::storage(STORE, from, format!("corrupt record in '{store}': {e}"));
    let Stored::Object(mut fields) = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))? else {
        return Err(corrupt("not an object".into()));
    };
    for (k, v) in fields.iter_mut() {
        if k == KEY_PATH {
            *v = Stored::Json(io_core::RawJson::string(to));
        }
    }
    let new_text = serde_json::to_string(&Stored::Object(fields)).expect("records serialize");
    let new_size = (size as u64).saturating_sub(text.len() as u64) + new_text.len() as u64;
    delete(tx, store, to)?;
    tx.execute("UPDATE record_blobs SET key = ?3 WHERE store = ?1 AND key = ?2", [store, from, to]).at(STORE, from)?;
    tx.execute(
        "UPDATE records SET key = ?3, value = ?4, size = ?5 WHERE store = ?1 AND key = ?2",
        params![store, from, to, new_text, new_size as i64],
    )
    .at(STORE, from)?;
    Ok(new_size)
}

fn apply(tx: &Transaction<'_>, op: &WriteOp, url: &str) -> Result<u64> {
    match op {
        WriteOp::Put { store, value } => put(tx, store, value),
        WriteOp::Delete { store, key } => delete(tx, store, key).map(|_| 0),
        WriteOp::Rename { store, from, to } => rename(tx, store, from, to, url),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl IdbDatabase for SqliteDatabase {
    async fn get(&self, store: &'static str, key: &str) -> Result<Option<Value>> {
        self.db.read(key, |tx| read_record(tx, store, key))
    }

    async fn get_all(&self, store: &'static str) -> Result<Vec<Value>> {
        self.db.read("", |tx| {
            let mut st = tx.prepare("SELECT key FROM records WHERE store = ?1 ORDER BY key").at(STORE, store)?;
            let keys = st
                .query_map([store], |r| r.get::<_, String>(0))
                .at(STORE, store)?
                .collect::<std::result::Result<Vec<_>, _>>()
                .at(STORE, store)?;
            keys.iter().filter_map(|k| read_record(tx, store, k).transpose()).collect()
        })
    }

    async fn write(&self, ops: Vec<WriteOp>, url: &str) -> Result<()> {
        self.db.write_within_quota(url, USED_SQL, QUOTA_RULE, |tx| ops.iter().map(|op| apply(tx, op, url)).sum())
    }

    fn reads_buffers_apart(&self) -> bool {
        true
    }

    async fn get_partial(&self, store: &'static str, key: &str, select: &BufferSelect<'_>) -> Result<Option<Value>> {
        self.db.read(key, |tx| read_record_with(tx, store, key, select))
    }
}
