//! Real child processes on one profile folder: concurrent saving, listing and removing in both
//! stores, and `kill -9` in the middle of saves (the model is the old or the new one, never torn).
//!
//! The children are this test binary again, running the `child` test with `MODELIO_CHILD` set.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use io_core::testkit::{assert_same_model, fixtures};
use io_core::{Error, ModelArtifacts, Registry};
use io_indexeddb::{IndexedDbModels, SqliteDatabase};
use io_localstorage::{LocalStorageModels, SqliteStorage};
use io_store_support::PathStore;

const ROLE: &str = "MODELIO_CHILD";
const SCHEMES: [&str; 2] = ["localstorage", "indexeddb"];
/// Kill trials per store (so 2 × this in all).
const KILL_TRIALS: u64 = 30;
/// Rounds of save/list/load/remove per child in the concurrency test.
const ROUNDS: usize = 25;

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// A model tagged with `tag` in its userDefinedMetadata; `big` uses fixture c (4.4 MB of weights).
fn tagged(big: bool, tag: u64) -> ModelArtifacts {
    let mut m = fixtures::model(if big { "c" } else { "a" });
    m.user_defined_metadata = Some(serde_json::json!({ "tag": tag }).into());
    m
}

fn registry() -> Registry {
    // Children take the profile folder from MODELIO_HOME; lift localstorage's quota for model c.
    io_localstorage::native_store().expect("open localstorage").db().set_quota(None);
    let r = Registry::new();
    io_localstorage::register(&r);
    io_indexeddb::register(&r);
    r
}

/// The child side: does nothing unless started by a test below.
#[test]
fn child() {
    let Ok(role) = std::env::var(ROLE) else { return };
    let r = registry();
    let parts: Vec<&str> = role.split(':').collect();
    match parts.as_slice() {
        ["save-forever", scheme] => {
            for i in 0.. {
                run(r.save(&format!("{scheme}://crash/m"), &tagged(i % 2 == 1, i))).expect("save");
            }
        }
        ["mixed", id] => mixed_workload(&r, id),
        _ => panic!("unknown role {role}"),
    }
}

fn mixed_workload(r: &Registry, id: &str) {
    for i in 0..ROUNDS {
        for scheme in SCHEMES {
            let own = |k: usize| format!("{scheme}://proc{id}/m{k}");
            let m = tagged(false, i as u64);
            run(r.save(&own(i % 3), &m)).unwrap_or_else(|e| panic!("child {id} save: {e}"));
            let back = run(r.load(&own(i % 3))).unwrap_or_else(|e| panic!("child {id} load: {e}"));
            assert_same_model("own model", &back, &m);
            let all = run(r.list_models()).unwrap_or_else(|e| panic!("child {id} list: {e}"));
            assert!(all.contains_key(&own(i % 3)), "own model not listed");
            if i % 4 == 3 {
                match run(r.remove_model(&own((i + 1) % 3))) {
                    Ok(_) | Err(Error::NotFound { .. }) => {}
                    Err(e) => panic!("child {id} remove: {e}"),
                }
            }
        }
    }
    // Leave a final model whose content the parent checks.
    for scheme in SCHEMES {
        run(r.save(&format!("{scheme}://proc{id}/final"), &tagged(false, 1000))).expect("final save");
    }
}

fn spawn(home: &Path, role: &str) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(io_store_support::HOME_ENV, home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// The two stores of the profile folder `home`, opened directly.
/// Loads a model by path from one store.
type Loader = Arc<dyn Fn(&str) -> Result<ModelArtifacts, Error>>;

fn stores(home: &Path) -> [(&'static str, Loader); 2] {
    let ls = LocalStorageModels::new(Arc::new(SqliteStorage::open_in(home).expect("open localstorage")));
    let idb = IndexedDbModels::new(Arc::new(SqliteDatabase::open_in(home).expect("open indexeddb")));
    [
        ("localstorage", Arc::new(move |p: &str| run(ls.load(p, &Default::default())))),
        ("indexeddb", Arc::new(move |p: &str| run(idb.load(p, &Default::default())))),
    ]
}

#[test]
fn concurrent_processes_do_not_corrupt_each_other() {
    let home = tempfile::tempdir().expect("temp dir");
    let children: Vec<Child> = (0..3).map(|id| spawn(home.path(), &format!("mixed:{id}"))).collect();
    for (id, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("wait");
        assert!(out.status.success(), "child {id} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    for (scheme, load) in stores(home.path()) {
        for id in 0..3 {
            let got = load(&format!("proc{id}/final")).unwrap_or_else(|e| panic!("{scheme} proc{id}: {e}"));
            assert_same_model(&format!("{scheme} proc{id}"), &got, &tagged(false, 1000));
        }
    }
}

/// A small deterministic pseudo-random sequence (no dependency), for kill delays.
fn next(seed: &mut u64) -> u64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    *seed >> 33
}

#[test]
fn kill_9_during_saves_leaves_the_old_or_the_new_model() {
    let home = tempfile::tempdir().expect("temp dir");
    let stores = stores(home.path());
    let mut seed = 0x5eed;
    for (scheme, load) in stores {
        let mut kinds = [0u32; 3];
        // An old model is there before any child starts.
        let prior = tagged(false, u64::MAX);
        match scheme {
            "localstorage" => run(LocalStorageModels::new(Arc::new(SqliteStorage::open_in(home.path()).unwrap()))
                .save("crash/m", &prior, &Default::default())),
            _ => run(IndexedDbModels::new(Arc::new(SqliteDatabase::open_in(home.path()).unwrap())).save(
                "crash/m",
                &prior,
                &Default::default(),
            )),
        }
        .expect("prior save");
        for trial in 0..KILL_TRIALS {
            let mut child = spawn(home.path(), &format!("save-forever:{scheme}"));
            std::thread::sleep(Duration::from_millis(20 + next(&mut seed) % 400));
            child.kill().expect("kill -9"); // SIGKILL on Unix
            child.wait().expect("reap");
            let got =
                load("crash/m").unwrap_or_else(|e| panic!("{scheme} trial {trial}: model unreadable after kill: {e}"));
            let tag = got.user_defined_metadata.as_ref().and_then(|u| u.to_value()["tag"].as_u64()).expect("tag");
            let want = if tag == u64::MAX { prior.clone() } else { tagged(tag % 2 == 1, tag) };
            assert_same_model(&format!("{scheme} trial {trial} (tag {tag})"), &got, &want);
            kinds[if tag == u64::MAX { 0 } else { 1 + (tag % 2) as usize }] += 1;
        }
        eprintln!(
            "{scheme}: kill -9 trials ended with: prior model {}, small model {}, big model {}",
            kinds[0], kinds[1], kinds[2]
        );
    }
}
