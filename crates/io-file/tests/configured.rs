//! A configured `file://` instance mounted at its own URL prefix (`Registry::mount_configured`).

use futures::executor::block_on;
use io_core::testkit::{assert_same_model, fixtures};
use io_core::{Config, Error, Options, Registry};

fn mounted(root: &std::path::Path, extra: &[(&str, &str)]) -> Registry {
    let r = Registry::new();
    io_file::register(&r);
    let mut cfg: Config = [("root".to_string(), root.display().to_string())].into();
    cfg.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    r.mount_configured("models://", "file", &cfg).unwrap();
    r
}

#[test]
fn a_rooted_store_saves_loads_lists_moves_and_removes_under_its_root() {
    let root = tempfile::tempdir().unwrap();
    let r = mounted(root.path(), &[("shard_size", "1000000")]);
    let a = fixtures::model("c");
    block_on(r.save("models://team/m", &a)).unwrap();
    assert!(root.path().join("team/m/model.json").is_file());
    assert!(root.path().join("team/m/group1-shard1of5.bin").is_file(), "the configured shard size applies");
    assert_same_model("rooted", &block_on(r.load("models://team/m")).unwrap(), &a);

    let all = block_on(r.list_models()).unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["models://team/m"]);
    assert_eq!(block_on(r.list_under("models://team")).unwrap().keys().collect::<Vec<_>>(), ["team/m"]);

    block_on(r.move_model("models://team/m", "models://other")).unwrap();
    assert!(!root.path().join("team/m").exists() && root.path().join("other/model.json").is_file());
    block_on(r.remove_model("models://other")).unwrap();
    assert!(block_on(r.list_models()).unwrap().is_empty());
    // Plain file:// URLs still go to the unconfigured plugin.
    let elsewhere = tempfile::tempdir().unwrap();
    let url = format!("file://{}", elsewhere.path().join("x").display());
    block_on(r.save(&url, &a)).unwrap();
    assert!(elsewhere.path().join("x/weights.bin").is_file());
}

#[test]
fn paths_cannot_leave_the_root_and_bad_config_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let r = mounted(root.path(), &[]);
    for bad in ["models://../escape", "models://a/../../b", "models://a/..\\..\\b"] {
        let e = block_on(r.save(bad, &fixtures::model("a"))).unwrap_err();
        assert!(matches!(e, Error::InvalidUrl { .. }), "{bad}: {e}");
    }
    assert!(!root.path().parent().unwrap().join("escape").exists());
    // A leading `/` is relative to the root, like every other path of the store.
    block_on(r.save("models:///etc/x", &fixtures::model("a"))).unwrap();
    assert!(root.path().join("etc/x/model.json").is_file());
    let plain = Registry::new();
    io_file::register(&plain);
    let e = plain.mount_configured("m://", "file", &Config::new()).unwrap_err();
    assert!(e.to_string().contains("root"), "{e}");
    let e = plain.mount_configured("m://", "file", &[("rooot".to_string(), "/x".to_string())].into()).unwrap_err();
    assert!(e.to_string().contains("unknown key"), "{e}");
}

#[test]
fn a_cancelled_save_leaves_the_previous_model() {
    let root = tempfile::tempdir().unwrap();
    let r = mounted(root.path(), &[]);
    let a = fixtures::model("a");
    block_on(r.save("models://m", &a)).unwrap();
    let cancel = io_core::Cancel::new();
    cancel.cancel();
    let e =
        block_on(r.save_with("models://m", &fixtures::model("d"), &Options::new().cancel_with(cancel))).unwrap_err();
    assert!(matches!(e, Error::Cancelled { .. }), "{e}");
    assert_same_model("after cancel", &block_on(r.load("models://m")).unwrap(), &a);
}

#[test]
fn file_loads_and_saves_report_byte_progress() {
    let root = tempfile::tempdir().unwrap();
    let r = mounted(root.path(), &[("shard_size", "100000")]);
    let c = fixtures::model("c");
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = seen.clone();
    let opts = Options::new().on_progress(move |p| s.lock().unwrap().push(p));
    block_on(r.save_with("models://c", &c, &opts)).unwrap();
    let saved: Vec<_> = std::mem::take(&mut *seen.lock().unwrap());
    assert!(saved.len() > 2 && saved.windows(2).all(|w| w[0].bytes <= w[1].bytes), "{saved:?}");
    block_on(r.load_with("models://c", &opts)).unwrap();
    let loaded = seen.lock().unwrap().clone();
    let total = c.weight_data.len() as u64;
    assert!(loaded.len() > 2, "one report per shard at least: {loaded:?}");
    assert_eq!(loaded.last().map(|p| (p.bytes, p.total)), Some((total, Some(total))));
}
