//! `cargo xtask <command>`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! - `test-all`: installs what the tests need and is missing (npm peer, Python oracles, SeaweedFS's
//!   `weed` for the s3:// tests, Azurite for az://, wasm32 target, wasm-bindgen-cli, Debian's
//!   chromium + chromium-driver), then runs every test: the native workspace (unit, integration,
//!   doc), the facade's feature matrix, and the wasm32 tests in headless Chromium.
//! - `weed`: installs SeaweedFS (when missing) and prints the path of its `weed` binary, for
//!   running the s3:// tests alone: `MODELIO_WEED=$(cargo xtask weed) cargo test -p io-object-store`.
//! - `azurite`: the same for Azurite's `azurite-blob` (the az:// tests, `MODELIO_AZURITE`).
//! - `test-browser`: only the wasm32 tests in headless Chromium and the web demo, built as it ships and
//!   held to its gzipped wasm budget (part of `test-all`).
//! - `lint`: `cargo fmt --check` and `cargo clippy --all-targets -- -D warnings`, natively and for
//!   wasm32 (the libraries and browser tests that build there).
//! - `bench [NAME]`: criterion benchmarks, the peak memory of parsing a big model.json (`json-memory`),
//!   the side-by-side benchmarks against TF.js (`http`, `cli`; `s3`: modelio against curl on a
//!   local SeaweedFS; `browser`: modelio in wasm32 against TF.js in one headless Chromium, stores,
//!   http and a model over 2 GiB), and the web demo's shipped wasm size (`wasm-size`: on stable, and
//!   with nightly's own std when a nightly toolchain with `rust-src` is there).
//! - `fuzz [TARGET|all] [SECONDS|RUNS]`: runs cargo-fuzz on every target (model_json,
//!   decode_weights, assemble, upload) or one, one at a time with one job, for 60 s each or as
//!   given: `cargo xtask fuzz all 10M` runs each for 10 million executions. Installs cargo-fuzz;
//!   runs on stable with `RUSTC_BOOTSTRAP=1` (`MODELIO_FUZZ_TOOLCHAIN=nightly` for nightly).

use std::path::{Path, PathBuf};
use std::process::{exit, Command};

mod bench_cli;
mod bench_http;
mod bench_s3;
mod install;

type Res = Result<(), String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("test-all") => test_all(),
        Some("test-browser") => install::npm_peer().and_then(|peer| test_browser(&peer)),
        Some("lint") => lint(),
        Some("weed") => install::seaweedfs().map(|w| println!("{}", w.display())),
        Some("azurite") => install::azurite().map(|a| println!("{}", a.display())),
        Some("bench") => bench(args.get(1).map(String::as_str)),
        Some("fuzz") => fuzz(args.get(1).map(String::as_str), args.get(2).map(String::as_str)),
        _ => {
            eprintln!(
                "usage: cargo xtask <test-all | test-browser | weed | azurite | lint | bench [NAME] | fuzz [TARGET|all] [SECONDS|RUNS]>"
            );
            exit(2)
        }
    };
    if let Err(e) = r {
        eprintln!("xtask: error: {e}");
        exit(1);
    }
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` in the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// Runs a command in the workspace root, failing with the command line when it fails.
pub fn run(cmd: &mut Command) -> Res {
    cmd.current_dir(cmd.get_current_dir().map(Path::to_path_buf).unwrap_or_else(root));
    let line = format!("{cmd:?}");
    eprintln!("xtask: $ {line}");
    let st = cmd.status().map_err(|e| format!("cannot start {line}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("command failed ({st}): {line}"))
    }
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // A one-off build of every test target gains nothing from incremental caches, which take
    // about a third of target/ (gigabytes); a developer's own setting wins.
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        c.env("CARGO_INCREMENTAL", "0");
    }
    c
}

/// Warns when the disk holding target/ has less room than a full test build takes.
fn check_disk_space() {
    const NEEDED_GIB: u64 = 20;
    let target = target_dir();
    let probe = if target.exists() { target } else { root() };
    let Ok(out) = Command::new("df").args(["-Pk"]).arg(&probe).output() else { return };
    let text = String::from_utf8_lossy(&out.stdout);
    let avail_kib = text.lines().nth(1).and_then(|l| l.split_whitespace().nth(3)).and_then(|v| v.parse::<u64>().ok());
    if let Some(kib) = avail_kib {
        let gib = kib / (1024 * 1024);
        if gib < NEEDED_GIB {
            eprintln!(
                "xtask: warning: {gib} GiB free on the disk of {} (a full test-all build takes about {NEEDED_GIB} GiB); \
                 the build may fail with \"No space left on device\"",
                probe.display()
            );
        }
    }
}

/// Facade feature sets whose registered schemes are checked: none, each alone, all.
const FEATURE_SETS: &[&str] = &[
    "",
    "localstorage",
    "indexeddb",
    "opfs",
    "downloads",
    "http",
    "file",
    "safetensors",
    "zip",
    "s3",
    "gcs",
    "azure",
    "localstorage,indexeddb,opfs,downloads,http,file,safetensors,zip,s3,gcs,azure",
];

/// Crates with wasm32 tests that run in headless Chromium (`wasm-bindgen-test`).
const WASM_TEST_PACKAGES: &[&str] = &["modelio-web-tests"];

fn test_all() -> Res {
    let t0 = std::time::Instant::now();
    check_disk_space();
    let peer = install::npm_peer()?;
    let python = install::python_oracle()?;
    let weed = install::seaweedfs()?;
    let azurite = install::azurite()?;
    // Native: every unit, integration and doc test of the workspace. Tests that reach the native
    // localstorage:// / indexeddb:// stores through the global registry use a profile under target/,
    // never the user's own modelio profile.
    let profile = root().join("target").join("test-profile");
    run(cargo()
        .args(["test", "--workspace"])
        .env("MODELIO_PEER_DIR", &peer)
        .env("MODELIO_HOME", &profile)
        .env("MODELIO_PYTHON", &python)
        .env("MODELIO_WEED", &weed)
        .env("MODELIO_AZURITE", &azurite))?;
    // The facade's features: registered schemes == enabled features.
    for set in FEATURE_SETS {
        let mut c = cargo();
        c.args(["test", "-p", "modelio", "--test", "features", "--no-default-features"]);
        if !set.is_empty() {
            c.args(["--features", set]);
        }
        run(&mut c)?;
    }
    // az:// on Azurite (the azure feature is off in the workspace build, see io-object-store's
    // Cargo.toml).
    run(cargo()
        .args(["test", "-p", "io-object-store", "--features", "azure", "--test", "azure"])
        .env("MODELIO_AZURITE", &azurite))?;
    // Weights into tensor crates (features off in the workspace build): Dense forward passes
    // against TF.js's predictions, and the predict_candle example.
    run(cargo().args(["test", "-p", "io-tensors", "--features", "ndarray,candle"]))?;
    // wasm32 in a real browser.
    test_browser(&peer)?;
    eprintln!("xtask: test-all passed in {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// A Node test server on 127.0.0.1 (port 0), stopped when dropped. The script prints `PORT <n>`
/// first and exits when its stdin closes.
struct LoopbackServer {
    child: std::process::Child,
    origin: String,
}

impl LoopbackServer {
    fn start(script: &str) -> Result<Self, String> {
        use std::io::BufRead;
        let mut child = Command::new("node")
            .arg(script)
            .current_dir(root())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start node {script}: {e}"))?;
        let mut line = String::new();
        let out = child.stdout.take().ok_or("no stdout")?;
        std::io::BufReader::new(out).read_line(&mut line).map_err(|e| e.to_string())?;
        let port =
            line.trim().strip_prefix("PORT ").ok_or_else(|| format!("{script} printed {line:?}, not PORT <n>"))?;
        eprintln!("xtask: {script} listens on 127.0.0.1:{port}");
        Ok(LoopbackServer { child, origin: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The most the web demo's shipped wasm (every browser scheme: localstorage, indexeddb, opfs, http,
/// downloads) may weigh gzipped (`gzip -9`), in bytes. Not the 150 KB target of issue 15, which is
/// not reached (BENCHMARKS.md "wasm size" says what stands in the way): the size measured with the
/// `wasm-release` profile and wasm-bindgen without names, with `opfs://` (188,410 bytes, rustc 1.95
/// stable, when it was set; 190,386 since the browser loads read byte streams through one buffer)
/// plus 2.5%, so that growth fails the test. Lower it when the wasm shrinks. (The nightly build with
/// std's immediate-abort panics, 173,319 bytes, is measured by `bench wasm-size` only: CI stays on
/// stable.)
const WEB_DEMO_WASM_GZ_BUDGET: u64 = 193_120;

/// Builds the web demo's wasm as an app ships it (README "How small is the wasm") into
/// examples/web-demo/pkg. Returns the shipped `.wasm`.
fn web_demo_wasm() -> Result<PathBuf, String> {
    ship_wasm("modelio-web-demo", "examples/web-demo/pkg")
}

/// Builds the wasm32 cdylib `package` as an app ships it: the `wasm-release` profile, then
/// wasm-bindgen (`--target web`) without the name and producers sections, into `out_dir` (relative
/// to the workspace root). Returns the shipped `.wasm`.
fn ship_wasm(package: &str, out_dir: &str) -> Result<PathBuf, String> {
    run(cargo().args(["build", "--profile", "wasm-release", "--target", "wasm32-unknown-unknown", "-p", package]))?;
    bindgen_shipped(&target_dir(), package, Path::new(out_dir))
}

/// wasm-bindgen (`--target web`, without the name and producers sections) over `package`'s
/// `wasm-release` build in the target dir `target`, into `out_dir` (relative to the workspace root,
/// or absolute). Returns the shipped `.wasm`.
fn bindgen_shipped(target: &Path, package: &str, out_dir: &Path) -> Result<PathBuf, String> {
    let stem = package.replace('-', "_");
    let wasm = target.join(format!("wasm32-unknown-unknown/wasm-release/{stem}.wasm"));
    run(Command::new("wasm-bindgen")
        .args(["--target", "web", "--remove-name-section", "--remove-producers-section"])
        .arg("--out-dir")
        .arg(out_dir)
        .arg(&wasm))?;
    Ok(root().join(out_dir).join(format!("{stem}_bg.wasm")))
}

/// The flags of the smallest build (README "How small is the wasm"): std compiled for the app
/// with panics that abort at once (no panic messages, locations or formatting machinery) and
/// `Debug` formatting compiled out. Nightly only; `cargo build -Zbuild-std=std,panic_abort`.
const NIGHTLY_SIZE_RUSTFLAGS: &str =
    "-Zlocation-detail=none -Zfmt-debug=none -Cpanic=immediate-abort -Zunstable-options";

/// [`ship_wasm`] with a nightly toolchain building std itself ([`NIGHTLY_SIZE_RUSTFLAGS`]), into
/// `out_dir`. `None` (said why on stderr) when there is no nightly toolchain or its `rust-src` can
/// not be added: only `bench wasm-size` measures it, CI's budget holds the stable build.
fn ship_wasm_nightly(package: &str, out_dir: &Path) -> Result<Option<PathBuf>, String> {
    let nightly = || {
        let mut c = Command::new("rustup");
        c.args(["run", "nightly"]);
        for v in ["RUSTC", "RUSTUP_TOOLCHAIN", "RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO"] {
            c.env_remove(v);
        }
        c
    };
    let Some(sysroot) = nightly().args(["rustc", "--print", "sysroot"]).output().ok().filter(|o| o.status.success())
    else {
        eprintln!("xtask: no nightly toolchain (rustup toolchain install nightly): the nightly build is not measured");
        return Ok(None);
    };
    let src = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim()).join("lib/rustlib/src/rust/library");
    if !src.exists() {
        let added = Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]).status();
        if !matches!(added, Ok(s) if s.success()) {
            eprintln!("xtask: nightly has no rust-src and rustup could not add it: the nightly build is not measured");
            return Ok(None);
        }
    }
    let mut build = nightly();
    build.args(["cargo", "build", "-Zbuild-std=std,panic_abort", "--profile", "wasm-release"]);
    build.args(["--target", "wasm32-unknown-unknown", "-p", package]);
    let target = target_dir().join("nightly-size");
    build.env("RUSTFLAGS", NIGHTLY_SIZE_RUSTFLAGS).env("CARGO_TARGET_DIR", &target);
    if std::env::var_os("CARGO_INCREMENTAL").is_none() {
        build.env("CARGO_INCREMENTAL", "0");
    }
    run(&mut build)?;
    bindgen_shipped(&target, package, out_dir).map(Some)
}

/// The size of `file` and of its `gzip -9` output, in bytes.
fn gzipped_size(file: &Path) -> Result<(u64, u64), String> {
    let raw = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?.len();
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(file)
        .output()
        .map_err(|e| format!("cannot run gzip (Debian: apt-get install gzip): {e}"))?;
    if !out.status.success() {
        return Err(format!("gzip -9 {} failed ({})", file.display(), out.status));
    }
    Ok((raw, out.stdout.len() as u64))
}

/// Builds the example web page (examples/web-demo) as it ships, holds its gzipped wasm to
/// [`WEB_DEMO_WASM_GZ_BUDGET`], and clicks through it in headless Chromium;
/// the screenshot lands in target/web-demo/.
fn web_demo(peer: &Path) -> Res {
    let wasm = web_demo_wasm()?;
    let (raw, gz) = gzipped_size(&wasm)?;
    eprintln!("xtask: web demo wasm: {raw} bytes, {gz} bytes gzipped (budget {WEB_DEMO_WASM_GZ_BUDGET})");
    if gz > WEB_DEMO_WASM_GZ_BUDGET {
        return Err(format!(
            "the web demo's wasm is {gz} bytes gzipped, over its budget of {WEB_DEMO_WASM_GZ_BUDGET} bytes \
             (xtask WEB_DEMO_WASM_GZ_BUDGET; see BENCHMARKS.md \"wasm size\" for where the bytes go)"
        ));
    }
    let target = target_dir();
    let shot = target.join("web-demo/screenshot.png");
    std::fs::create_dir_all(target.join("web-demo")).map_err(|e| e.to_string())?;
    run(Command::new("node").arg("examples/web-demo/test/demo.mjs").arg(&shot).env("MODELIO_PEER_DIR", peer))
}

/// The wasm32 tests in headless Chromium (with the loopback HTTP server they use) and the web demo.
fn test_browser(peer: &Path) -> Res {
    if WASM_TEST_PACKAGES.is_empty() {
        eprintln!("xtask: no wasm32 test packages yet");
        return Ok(());
    }
    let env = install::wasm_browser()?;
    let server = LoopbackServer::start("crates/modelio-web-tests/http-server.mjs")?;
    for p in WASM_TEST_PACKAGES {
        let mut c = cargo();
        c.args(["test", "--target", "wasm32-unknown-unknown", "-p", p]);
        c.env("MODELIO_TEST_HTTP_ORIGIN", &server.origin);
        for (k, v) in &env {
            c.env(k, v);
        }
        run(&mut c)?;
    }
    web_demo(peer)?;
    serve_origins(peer)
}

/// `modelio serve` against pages on an allowed and a foreign origin in Chromium, with TF.js.
fn serve_origins(peer: &Path) -> Res {
    run(cargo().args(["build", "-p", "modelio-cli", "--bin", "modelio"]))?;
    let target = target_dir();
    run(Command::new("node")
        .arg("crates/modelio-cli/tests/browser/origins.mjs")
        .arg(target.join("debug/modelio"))
        .env("MODELIO_PEER_DIR", peer))
}

/// Libraries built for the browser (wasm32), linted for that target too: code behind
/// `cfg(target_arch = "wasm32")` / `cfg(target_os = "linux")` differs between the two. (Their
/// native dev-dependencies do not build there; the browser tests are linted with their own crate.)
const WASM_LINT_LIBS: &[&str] = &[
    "io-core",
    "io-http",
    "io-localstorage",
    "io-indexeddb",
    "io-opfs",
    "io-downloads",
    "io-store-support",
    "modelio",
    "modelio-web-demo",
    "modelio-browser-bench",
];

fn lint() -> Res {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    install::wasm_target()?;
    let mut libs = cargo();
    libs.args(["clippy", "--target", "wasm32-unknown-unknown", "--lib"]);
    for p in WASM_LINT_LIBS {
        libs.args(["-p", p]);
    }
    run(libs.args(["--", "-D", "warnings"]))?;
    for p in WASM_TEST_PACKAGES {
        run(cargo().args([
            "clippy",
            "--target",
            "wasm32-unknown-unknown",
            "--tests",
            "-p",
            p,
            "--",
            "-D",
            "warnings",
        ]))?;
    }
    Ok(())
}

fn bench(name: Option<&str>) -> Res {
    match name {
        None => {
            run(cargo().args(["bench", "-p", "io-core", "--bench", "codec"]))?;
            run(cargo().args(["bench", "-p", "io-core", "--bench", "model_json_memory"]))
        }
        Some("codec") => run(cargo().args(["bench", "-p", "io-core", "--bench", "codec"])),
        Some("convert") => run(cargo().args(["bench", "-p", "io-core", "--bench", "convert"])),
        // Peak RSS of parsing a 21 MB model.json in a child process, and its ratio to the size.
        Some("json-memory") => run(cargo().args(["bench", "-p", "io-core", "--bench", "model_json_memory"])),
        Some("http") => bench_http::run_bench(),
        Some("cli") => bench_cli::run_all(),
        Some("s3") => bench_s3::run_all(),
        Some("upload") => run(cargo().args(["bench", "-p", "modelio-server", "--bench", "upload"])),
        Some("safetensors") => run(cargo().args(["bench", "-p", "io-safetensors", "--bench", "export"])),
        // The web demo's shipped wasm, raw and gzipped (BENCHMARKS.md "wasm size").
        Some("wasm-size") => {
            install::wasm_bindgen_cli()?;
            let (raw, gz) = gzipped_size(&web_demo_wasm()?)?;
            println!("web demo wasm: {raw} bytes, {gz} bytes gzipped (gzip -9; budget {WEB_DEMO_WASM_GZ_BUDGET})");
            match ship_wasm_nightly("modelio-web-demo", &target_dir().join("web-demo-nightly/pkg"))? {
                Some(wasm) => {
                    let (raw, gz) = gzipped_size(&wasm)?;
                    println!("web demo wasm, nightly std with immediate-abort panics: {raw} bytes, {gz} bytes gzipped");
                }
                None => println!("web demo wasm, nightly std: not measured (see above)"),
            }
            Ok(())
        }
        // modelio (wasm32) against TF.js in one headless Chromium (BENCHMARKS.md "browser").
        Some("browser") => bench_browser(),
        Some(other) => Err(format!(
            "unknown benchmark '{other}'; available: codec, convert, json-memory, http, cli, s3, upload, safetensors, \
             wasm-size, browser"
        )),
    }
}

/// `cargo xtask bench browser`: builds examples/browser-bench as an app ships (the `wasm-release`
/// profile, wasm-bindgen without names) into its page/pkg, then runs its node script, which drives
/// one headless Chromium with modelio and TF.js on the same page and prints the BENCHMARKS.md table
/// (arguments after `browser` go to the script: `--runs N`, `--only SUBSTRING`, `--no-big`; the
/// results as JSON land in target/browser-bench.json).
fn bench_browser() -> Res {
    let peer = install::npm_peer()?;
    install::wasm_browser()?;
    ship_wasm("modelio-browser-bench", "examples/browser-bench/page/pkg")?;
    let json = target_dir().join("browser-bench.json");
    run(Command::new("node")
        .arg("examples/browser-bench/bench.mjs")
        .args(std::env::args().skip(3))
        .arg("--json")
        .arg(&json)
        .env("MODELIO_PEER_DIR", &peer))
}

/// Every fuzz target (fuzz/fuzz_targets), run in this order by `cargo xtask fuzz`.
const FUZZ_TARGETS: &[&str] = &["model_json", "decode_weights", "assemble", "upload"];

/// How long (or how many executions) one fuzz target runs.
enum FuzzBudget {
    Seconds(u64),
    Runs(u64),
}

/// Runs cargo-fuzz on one target or on every target, one after the other, one job each (libFuzzer
/// `-jobs=1`, inputs up to 64 KiB), growing `fuzz/corpus/<target>`. The budget is seconds
/// (`60`, the default) or a number of executions (`10M`, `500k`, `runs=N`). A crash stops the run
/// with its input under `fuzz/artifacts/<target>/`.
///
/// cargo-fuzz needs nightly compiler flags (`-Zsanitizer=address`): it runs on the default
/// (stable) toolchain with `RUSTC_BOOTSTRAP=1`, so no nightly is needed;
/// `MODELIO_FUZZ_TOOLCHAIN=nightly` uses `cargo +nightly fuzz` instead. With `-jobs=1` libFuzzer
/// runs the fuzzer in one child process and prints its log (`fuzz/fuzz-0.log`) when it ends.
fn fuzz(target: Option<&str>, budget: Option<&str>) -> Res {
    let budget = parse_fuzz_budget(budget.unwrap_or("60"))?;
    let targets: Vec<&str> = match target {
        None | Some("all") => FUZZ_TARGETS.to_vec(),
        Some(t) if FUZZ_TARGETS.contains(&t) => vec![t],
        Some(t) => return Err(format!("unknown fuzz target '{t}'; available: {}", FUZZ_TARGETS.join(", "))),
    };
    install::cargo_fuzz()?;
    let nightly = std::env::var("MODELIO_FUZZ_TOOLCHAIN").as_deref() == Ok("nightly");
    for t in targets {
        let mut c = Command::new("cargo");
        if nightly {
            c.arg("+nightly");
        } else {
            c.env("RUSTC_BOOTSTRAP", "1");
        }
        // Always fuzz/target: its sanitizer builds would thrash a target dir shared with normal builds.
        c.env_remove("CARGO_TARGET_DIR");
        c.args(["fuzz", "run", t, &format!("corpus/{t}"), "--", "-jobs=1", "-workers=1", "-max_len=65536"]);
        match budget {
            FuzzBudget::Seconds(s) => c.arg(format!("-max_total_time={s}")),
            FuzzBudget::Runs(n) => c.arg(format!("-runs={n}")),
        };
        run(c.current_dir(root().join("fuzz")))?;
    }
    Ok(())
}

fn parse_fuzz_budget(s: &str) -> Result<FuzzBudget, String> {
    let bad = || format!("fuzz budget '{s}': give seconds (60) or executions (10M, 500k, runs=N)");
    if let Some(n) = s.strip_prefix("runs=") {
        return n.parse().map(FuzzBudget::Runs).map_err(|_| bad());
    }
    let (digits, scale) = match s.char_indices().last() {
        Some((i, 'M' | 'm')) => (&s[..i], 1_000_000),
        Some((i, 'k' | 'K')) => (&s[..i], 1_000),
        _ => return s.parse().map(FuzzBudget::Seconds).map_err(|_| bad()),
    };
    digits.parse::<u64>().map(|n| FuzzBudget::Runs(n * scale)).map_err(|_| bad())
}
