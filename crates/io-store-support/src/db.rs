//! One SQLite database of the profile, set up for several processes at once.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, RwLock};
use std::time::Duration;

use io_core::{Error, Result};
use rusqlite::{Connection, Transaction, TransactionBehavior};

/// How long a write waits for another process's write transaction before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// An open SQLite database: WAL journal (readers never block the writer), `synchronous=FULL`,
/// a [`BUSY_TIMEOUT`], one connection per process guarded by a mutex, and an optional quota that
/// [`Db::write_within_quota`] enforces.
pub struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    store: &'static str,
    quota: RwLock<Option<u64>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).field("store", &self.store).finish()
    }
}

impl Db {
    /// Opens (creating the file and its folder if needed) the database at `path` for the store
    /// named `store` (used in errors), and runs `schema` (idempotent DDL) in one write transaction.
    pub fn open(path: &Path, store: &'static str, schema: &str) -> Result<Db> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io("creating the profile folder", parent, e))?;
        }
        let err = |e: rusqlite::Error| {
            Error::storage(store, path.display().to_string(), format!("opening the database: {e}"))
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        let mode = wal_mode(&conn).map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(
                store,
                path.display().to_string(),
                format!("cannot use WAL journal mode (got '{mode}')"),
            ));
        }
        conn.execute_batch("PRAGMA synchronous=FULL;").map_err(err)?;
        let db = Db { conn: Mutex::new(conn), path: path.to_path_buf(), store, quota: RwLock::new(None) };
        db.write("", |tx| tx.execute_batch(schema).at(store, "schema"))?;
        Ok(db)
    }

    /// Sets the quota in bytes (`None`: no quota). Applies to later writes of this process.
    pub fn set_quota(&self, quota: Option<u64>) {
        *self.quota.write().unwrap_or_else(|p| p.into_inner()) = quota;
    }

    /// The quota in bytes, `None` when unlimited.
    pub fn quota(&self) -> Option<u64> {
        *self.quota.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, location: &str, what: &str, e: rusqlite::Error) -> Error {
        Error::storage(self.store, location, format!("{what} in {}: {e}", self.path.display()))
    }

    /// Runs `f` in one read transaction: every query in it sees the same snapshot.
    pub fn read<T>(&self, location: &str, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.transaction(location, TransactionBehavior::Deferred, "read", f)
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`, waiting up to [`BUSY_TIMEOUT`] for
    /// other writers) and commits if it returns `Ok`; on `Err` nothing it did is kept.
    pub fn write<T>(&self, location: &str, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        self.transaction(location, TransactionBehavior::Immediate, "write", f)
    }

    fn transaction<T>(
        &self,
        location: &str,
        behavior: TransactionBehavior,
        kind: &str,
        f: impl FnOnce(&Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(behavior)
            .map_err(|e| self.fail(location, &format!("starting a {kind}"), e))?;
        let out = f(&tx)?; // dropping `tx` on error rolls it back
        tx.commit().map_err(|e| self.fail(location, &format!("committing a {kind}"), e))?;
        Ok(out)
    }
}

impl Db {
    /// [`Db::write`] under [`Db::quota`]: `f` makes the changes and returns the bytes it wrote;
    /// `used_sql` is a query giving the bytes all entries count. If the store grew and is now
    /// over the quota, [`crate::check_quota`] fails the write (rolled back) with `cause` explaining
    /// how bytes are counted.
    pub fn write_within_quota(
        &self,
        url: &str,
        used_sql: &str,
        cause: &str,
        f: impl FnOnce(&Transaction<'_>) -> Result<u64>,
    ) -> Result<()> {
        let (store, quota) = (self.store, self.quota());
        self.write(url, |tx| {
            let used = || tx.query_row(used_sql, [], |r| r.get::<_, i64>(0)).at(store, url).map(|n| n.max(0) as u64);
            let before = used()?;
            let written = f(tx)?;
            let after = used()?;
            if after > before {
                crate::check_quota(quota, after.saturating_sub(written), written, url, cause)?;
            }
            Ok(())
        })
    }
}

/// Switches `conn` to WAL and returns the journal mode SQLite reports. Switching needs an
/// exclusive lock, and when several processes create the database at once SQLite can answer
/// `SQLITE_BUSY` at once instead of calling the busy handler (it does so to avoid a deadlock), so
/// this retries with a short backoff for up to [`BUSY_TIMEOUT`].
fn wal_mode(conn: &Connection) -> rusqlite::Result<String> {
    let start = std::time::Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// Turns SQLite errors into [`Error::Storage`] naming the store and the model path or key.
pub trait SqlContext<T> {
    /// The result with its error as [`Error::Storage`] `{store, location}`.
    fn at(self, store: &'static str, location: &str) -> Result<T>;
}

impl<T> SqlContext<T> for rusqlite::Result<T> {
    fn at(self, store: &'static str, location: &str) -> Result<T> {
        self.map_err(|e| Error::storage_from(store, location, e))
    }
}
