//! External programs the tests compare against (Python's converter, `safetensors` with numpy).

use std::path::PathBuf;
use std::process::Command;

/// A Python interpreter that imports every module in `modules`, for oracle tests.
///
/// `MODELIO_PYTHON` names the interpreter `cargo xtask test-all` prepared (a venv with numpy,
/// safetensors and tensorflowjs): when it is set, it must import the modules, or this panics, so a
/// broken setup fails the test instead of skipping it. When it is not set, `python3` is tried, and
/// `None` means "not available here" (the caller says it skipped).
pub fn python(modules: &[&str]) -> Option<PathBuf> {
    let probe = |py: &PathBuf| {
        let script = format!(
            "import importlib.util, sys; sys.exit(any(importlib.util.find_spec(m) is None for m in {modules:?}))"
        );
        Command::new(py).args(["-c", &script]).output().is_ok_and(|o| o.status.success())
    };
    if let Some(py) = std::env::var_os("MODELIO_PYTHON").map(PathBuf::from) {
        assert!(
            probe(&py),
            "MODELIO_PYTHON={} does not import {modules:?}; `cargo xtask test-all` sets it up",
            py.display()
        );
        return Some(py);
    }
    Some(PathBuf::from("python3")).filter(probe)
}

/// The TF.js peer folder (`$MODELIO_PEER_DIR`, set by `cargo xtask test-all`, else `<workspace>/peer`),
/// checked to hold TF.js, tfjs-node's `file://` handler and `script`; panics saying how to get it.
pub fn peer(script: &str) -> PathBuf {
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let dir = std::env::var_os("MODELIO_PEER_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("peer"));
    let need = [
        dir.join("node_modules/@tensorflow/tfjs/package.json"),
        dir.join(".cache/tfjs-node/package/dist/io/file_system.js"),
        dir.join(script),
    ];
    for f in &need {
        assert!(
            f.exists(),
            "the TF.js peer is not installed: {} is missing. Run `cargo xtask test-all` (it runs `npm ci` in peer/ \
             and unpacks tfjs-node's file handler), or set MODELIO_PEER_DIR.",
            f.display()
        );
    }
    dir
}

/// Runs `node peer/file_interop.js CMD ARGS` (real TF.js 4.22 with tfjs-node's `file://` handler:
/// `predict <model.json> <expected.json>...` or `save <src model.json> <dest folder>`) and parses
/// the JSON it prints.
pub fn tfjs_file(cmd: &str, args: &[&std::path::Path]) -> serde_json::Value {
    let dir = peer("file_interop.js");
    let out = Command::new("node")
        .arg(dir.join("file_interop.js"))
        .arg(cmd)
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run `node` (needed for the TF.js interop tests; Debian: apt-get install nodejs): {e}")
        });
    assert!(out.status.success(), "node file_interop.js {cmd} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad output from node ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}
