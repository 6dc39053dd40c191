//! Profile folder resolution and the shared store, in one test (they change process-wide state).

use std::path::{Path, PathBuf};

use io_store_support::{home, platform_data_dir, set_home, Db, Shared, HOME_ENV};

#[test]
fn profile_folder_resolution_and_shared_reopen() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // Platform default when nothing is set.
    std::env::remove_var(HOME_ENV);
    set_home(None);
    if let Some(d) = platform_data_dir() {
        assert_eq!(home().unwrap(), d.join("modelio"));
    }
    // MODELIO_HOME wins over the platform folder; the in-code override wins over both.
    std::env::set_var(HOME_ENV, a.path());
    assert_eq!(home().unwrap(), a.path());
    set_home(Some(b.path().to_path_buf()));
    assert_eq!(home().unwrap(), b.path());

    // Shared opens in the current folder and reopens when it changes.
    static SHARED: Shared<(PathBuf, Db)> = Shared::new();
    let open = |folder: &Path| {
        let p = folder.join("sub").join("t.sqlite3");
        Db::open(&p, "test", "CREATE TABLE IF NOT EXISTS t (x INTEGER)").map(|db| (p, db))
    };
    let first = SHARED.get(open).unwrap();
    assert!(first.0.starts_with(b.path()) && first.0.exists(), "created with its folder");
    assert!(std::sync::Arc::ptr_eq(&first, &SHARED.get(open).unwrap()), "reused");
    set_home(None);
    let second = SHARED.get(open).unwrap();
    assert!(second.0.starts_with(a.path()), "reopened in MODELIO_HOME after the override was cleared");

    // Writes are all or nothing.
    let db = &second.1;
    let failed: io_core::Result<()> = db.write("", |tx| {
        tx.execute("INSERT INTO t VALUES (1)", []).unwrap();
        Err(io_core::Error::not_found("x"))
    });
    assert!(failed.is_err());
    let n: i64 = db.read("", |tx| Ok(tx.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap())).unwrap();
    assert_eq!(n, 0, "the failed write was rolled back");
    std::env::remove_var(HOME_ENV);
}
