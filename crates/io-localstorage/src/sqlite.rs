//! The native [`WebStorage`]: an SQLite database in the profile folder.
//!
//! Table `items (key, value_id, cost)` indexes the keys; table `item_values (id, value)` holds the
//! values, so renaming a key re-keys one small row and never copies a (possibly megabytes long) value.

use std::path::Path;

use io_core::{Error, Result};
use io_store_support::rusqlite::{params, OptionalExtension, Transaction};
use io_store_support::{Db, SqlContext};

use crate::storage::{quota_cost, KvOp, WebStorage, CHROMIUM_QUOTA_BYTES, QUOTA_RULE};

/// File name of the store inside the profile folder.
pub const DB_FILE: &str = "localstorage.sqlite3";

const STORE: &str = "localstorage";

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS item_values (id INTEGER PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    key      TEXT PRIMARY KEY NOT NULL,
    value_id INTEGER NOT NULL,
    cost     INTEGER NOT NULL -- bytes counted against the quota (2 per UTF-16 code unit of key and value)
) WITHOUT ROWID;";

/// Web Storage in an SQLite database: keys in byte order, a quota counted as Chromium counts it
/// ([`QUOTA_RULE`], default [`CHROMIUM_QUOTA_BYTES`]), every batch one transaction.
#[derive(Debug)]
pub struct SqliteStorage {
    db: Db,
}

impl SqliteStorage {
    /// Opens (or creates) the store in `folder` (a profile folder) with Chromium's quota.
    pub fn open_in(folder: &Path) -> Result<Self> {
        Self::open(&folder.join(DB_FILE))
    }

    /// Opens (or creates) the store in the database file `path`, with Chromium's quota.
    pub fn open(path: &Path) -> Result<Self> {
        let db = Db::open(path, STORE, SCHEMA)?;
        db.set_quota(Some(CHROMIUM_QUOTA_BYTES));
        Ok(SqliteStorage { db })
    }

    /// The database (its file, and its quota: [`Db::set_quota`] / [`Db::quota`]).
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Bytes the stored entries count against the quota.
    pub fn used_bytes(&self) -> Result<u64> {
        self.db.read("", |tx| tx.query_row(USED_SQL, [], |r| r.get::<_, i64>(0)).at(STORE, "").map(|n| n as u64))
    }
}

const USED_SQL: &str = "SELECT COALESCE(SUM(cost), 0) FROM items";

fn get(tx: &Transaction<'_>, key: &str) -> Result<Option<String>> {
    tx.query_row("SELECT v.value FROM items i JOIN item_values v ON v.id = i.value_id WHERE i.key = ?1", [key], |r| {
        r.get(0)
    })
    .optional()
    .at(STORE, key)
}

fn remove(tx: &Transaction<'_>, key: &str) -> Result<()> {
    tx.execute("DELETE FROM item_values WHERE id = (SELECT value_id FROM items WHERE key = ?1)", [key])
        .at(STORE, key)?;
    tx.execute("DELETE FROM items WHERE key = ?1", [key]).at(STORE, key).map(drop)
}

fn put(tx: &Transaction<'_>, key: &str, value: &str) -> Result<()> {
    remove(tx, key)?;
    tx.execute("INSERT INTO item_values (value) VALUES (?1)", [value]).at(STORE, key)?;
    tx.execute(
        "INSERT INTO items (key, value_id, cost) VALUES (?1, ?2, ?3)",
        params![key, tx.last_insert_rowid(), quota_cost(key, value) as i64],
    )
    .at(STORE, key)
    .map(drop)
}

fn apply(tx: &Transaction<'_>, op: &KvOp, url: &str) -> Result<Option<u64>> {
    Ok(match op {
        KvOp::Set(k, v) => {
            put(tx, k, v)?;
            Some(quota_cost(k, v))
        }
        KvOp::Remove(k) => {
            remove(tx, k)?;
            None
        }
        KvOp::Rename { from, to } => {
            remove(tx, to)?;
            // Re-key the index row: the value is neither read nor copied.
            let key_delta = quota_cost(to, "") as i64 - quota_cost(from, "") as i64;
            let cost: Option<i64> = tx
                .query_row(
                    "UPDATE items SET key = ?2, cost = cost + ?3 WHERE key = ?1 RETURNING cost",
                    params![from, to, key_delta],
                    |r| r.get(0),
                )
                .optional()
                .at(STORE, from)?;
            let cost = cost.ok_or_else(|| Error::NotFound {
                url: url.to_string(),
                detail: format!("key '{from}' vanished before it could be moved to '{to}'"),
            })?;
            Some(cost as u64)
        }
    })
}

impl WebStorage for SqliteStorage {
    fn get(&self, key: &str) -> Result<Option<String>> {
        self.db.read(key, |tx| get(tx, key))
    }

    fn key(&self, index: usize) -> Result<Option<String>> {
        self.db.read("", |tx| {
            tx.query_row("SELECT key FROM items ORDER BY key LIMIT 1 OFFSET ?1", [index as i64], |r| r.get(0))
                .optional()
                .at(STORE, "")
        })
    }

    fn length(&self) -> Result<usize> {
        self.db
            .read("", |tx| tx.query_row("SELECT COUNT(*) FROM items", [], |r| r.get::<_, i64>(0)).at(STORE, ""))
            .map(|n| n as usize)
    }

    fn keys(&self) -> Result<Vec<String>> {
        self.db.read("", |tx| {
            let mut st = tx.prepare("SELECT key FROM items ORDER BY key").at(STORE, "")?;
            let rows = st.query_map([], |r| r.get(0)).at(STORE, "")?;
            rows.collect::<std::result::Result<Vec<String>, _>>().at(STORE, "")
        })
    }

    fn get_many(&self, keys: &[String]) -> Result<Vec<Option<String>>> {
        self.db.read(keys.first().map_or("", |k| k.as_str()), |tx| keys.iter().map(|k| get(tx, k)).collect())
    }

    fn batch(&self, ops: &[KvOp], url: &str) -> Result<()> {
        let cause = format!("{} entries written; {QUOTA_RULE}", ops.len());
        self.db.write_within_quota(url, USED_SQL, &cause, |tx| {
            let mut written = 0;
            for op in ops {
                written += apply(tx, op, url)?.unwrap_or(0);
            }
            Ok(written)
        })
    }
}
