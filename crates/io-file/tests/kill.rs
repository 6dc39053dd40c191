//! `kill -9` at random moments during saves: afterwards the folder always loads as exactly one of
//! the models that were being saved, never a mix or a half-written file.
//!
//! The test re-executes its own binary as a child (test `child_saver`, active only with the
//! environment variable below) that saves two models into one folder in a loop, alternating a
//! small unsharded model and a 4.4 MB model in 1 MiB shards, and kills it with SIGKILL.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use io_core::testkit::fixtures;
use io_core::ModelArtifacts;
use io_file::FileHandler;

const TRIALS: usize = 60;
const CHILD_ENV: &str = "IO_FILE_KILL_TEST_CHILD_DIR";
/// When set, the child saves this many rounds and exits instead of looping until killed.
const ROUNDS_ENV: &str = "IO_FILE_KILL_TEST_ROUNDS";

fn models() -> [(ModelArtifacts, Option<usize>); 2] {
    let tagged = |name: &str| {
        let mut m = fixtures::model(name);
        m.user_defined_metadata = Some(serde_json::json!({ "model": name }).into());
        m
    };
    [(tagged("a"), None), (tagged("c"), Some(1 << 20))]
}

fn handler(dir: &Path, shard: Option<usize>) -> FileHandler {
    let h = FileHandler::new(dir);
    match shard {
        Some(s) => h.shard_size(s),
        None => h,
    }
}

/// The child: saves forever, or `$IO_FILE_KILL_TEST_ROUNDS` rounds (does nothing as a normal test).
#[test]
fn child_saver() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else { return };
    let dir = Path::new(&dir);
    let rounds = std::env::var(ROUNDS_ENV).ok().and_then(|r| r.parse().ok()).unwrap_or(usize::MAX);
    let models = models();
    for _ in 0..rounds {
        for (m, shard) in &models {
            handler(dir, *shard).save_sync(m).expect("child save");
        }
    }
}

fn spawn_child(dir: &Path, rounds: Option<usize>) -> std::process::Child {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_saver", "--test-threads=1"]).env(CHILD_ENV, dir).stdout(Stdio::null());
    if let Some(r) = rounds {
        c.env(ROUNDS_ENV, r.to_string());
    } else {
        c.stderr(Stdio::null());
    }
    c.spawn().unwrap()
}

#[test]
fn concurrent_saves_from_processes_end_with_one_complete_model() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    let mut children: Vec<_> = (0..3).map(|_| spawn_child(&dir, Some(5))).collect();
    let models = models();
    for c in &mut children {
        assert!(c.wait().unwrap().success(), "a saving process failed");
    }
    let got = FileHandler::new(&dir).load_sync().unwrap();
    assert!(which(&got, &models).is_some(), "the folder holds no complete model");
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "temporary folders are left");
}

fn which(got: &ModelArtifacts, models: &[(ModelArtifacts, Option<usize>)]) -> Option<usize> {
    models.iter().position(|(m, _)| {
        got.model_topology == m.model_topology
            && got.weight_specs == m.weight_specs
            && got.user_defined_metadata == m.user_defined_metadata
            && got.weight_data.to_vec() == m.weight_data.to_vec()
    })
}

/// Temporary folders of the saving process `pid` (named `.m.tmp-<pid>-<random>`).
fn temp_folders_of(root: &Path, pid: u32) -> usize {
    let prefix = format!(".m.tmp-{pid}-");
    std::fs::read_dir(root)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with(&prefix))
        .count()
}

#[test]
fn kill_9_during_saves_never_tears_a_model() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("m");
    let models = models();
    handler(&dir, models[0].1).save_sync(&models[0].0).unwrap();
    let mut rng = u64::from(std::process::id()) | 1;
    let (mut seen, mut mid_save) = ([0usize; 2], 0usize);
    for trial in 0..TRIALS {
        let mut child = spawn_child(&dir, None);
        // Wait until the child is inside its save loop (a temporary folder exists), then a random moment.
        let start = Instant::now();
        while temp_folders_of(root.path(), child.id()) == 0 && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_micros(200));
        }
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_micros(rng % 250_000));
        let pid = child.id();
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if temp_folders_of(root.path(), pid) > 0 {
            mid_save += 1;
        }
        let got = FileHandler::new(&dir)
            .load_sync()
            .unwrap_or_else(|e| panic!("trial {trial}: the folder does not load: {e}"));
        let i = which(&got, &models).unwrap_or_else(|| panic!("trial {trial}: the folder holds a torn model"));
        seen[i] += 1;
    }
    eprintln!(
        "{TRIALS} kills: {mid_save} left a save unfinished; loaded model a {} times, c {} times",
        seen[0], seen[1]
    );
    assert!(mid_save > 0, "no kill interrupted a save: the test did not test anything");
    // The next save removes what the killed children left behind.
    handler(&dir, None).save_sync(&models[0].0).unwrap();
    assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 1, "leftovers of killed saves were not cleaned");
}
