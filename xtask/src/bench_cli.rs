//! `cargo xtask bench cli`: the `modelio` command side by side with the limits (issue 7).
//!
//! One run on this machine, release builds, page cache warm:
//! 1. `file://` load of a generated 256 MiB float32 model in 64 shards, in-process (`modelio::load`,
//!    modelio-cli's `load_time` example, best of 5) vs reading the 64 shard files into one fresh
//!    buffer in-process (the limit; its page faults included); also the whole `modelio info`
//!    process and the spawn cost of the binary (`modelio --version`);
//! 2. peak RSS of that load (`/usr/bin/time -v`) vs the target 1.15 x weight bytes + 40 MiB;
//! 3. native `indexeddb://` and `localstorage://` save (`modelio cp file://… store://…`) and load
//!    (`modelio info store://…`) of a 4 MiB model (3 MiB for localstorage: 4 MiB in base64 is over
//!    Chromium's 10 MiB localStorage quota, as it would be for TF.js), and base64 throughput;
//! 4. `modelio serve` (every GET checked against a read token) vs Debian's nginx serving the same
//!    files of a 4 MiB model from the server's `file://` store folder, GET throughput with `wrk`;
//! 5. the server's peak RSS while it receives a 1 GiB upload, over its idle RSS.
//!
//! The table is printed and written into the `## cli` section of BENCHMARKS.md (other sections are
//! left alone). The model generator, the nginx runner, `/usr/bin/time -v` parsing and the section
//! writer are `bench_http`'s, shared.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::bench_http::{
    free_port, start_server, stop, timed, write_model, write_model_sized, write_section, SHARDS, SHARD_BYTES,
};
use crate::{root, run, Res};

const MIB: u64 = 1 << 20;
/// The token of the benchmarked `modelio serve` (reads and writes).
const BENCH_TOKEN: &str = "bench-token-0123456789abcdef";
pub(crate) const RUNS: usize = 5;

/// One result row: what, the measured value, the reference, and how they compare.
pub(crate) struct Row {
    pub(crate) what: String,
    pub(crate) value: String,
    pub(crate) reference: String,
    pub(crate) verdict: String,
}

/// Runs the whole benchmark and writes BENCHMARKS.md.
pub fn run_all() -> Res {
    run(crate::cargo().args(["build", "--release", "-p", "modelio-cli", "--bins", "--example", "load_time"]))?;
    let bin = crate::target_dir().join("release/modelio");
    let work = root().join("target/bench-cli");
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut rows = Vec::new();

    let big = work.join("m256");
    write_model(&big)?;
    rows.extend(file_load(&bin, &big)?);
    let home = work.join("home");
    let _ = std::fs::remove_dir_all(&home);
    rows.extend(stores(&bin, &work, &home)?);
    rows.push(base64_throughput());
    rows.extend(serve_vs_nginx(&bin, &work)?);

    let body = format!(
        "## cli\n\n`cargo xtask bench cli` (the `modelio` command, native stores, `modelio serve`). Machine: {}. \
         Release build, page cache warm, best of {RUNS} runs (wrk: best of {WRK_ROUNDS} rounds of {WRK_SECONDS} s, the servers interleaved; \
         `modelio serve` logs every request, one line to a file written in batches, and is compared with nginx \
         doing the same (`access_log … buffer=64k flush=50ms`) and with nginx's `access_log off`). The limit and `modelio::load` are \
         timed in-process (buffers dropped outside the timing); `modelio` commands as whole processes. \
         The limit reads into one fresh `Vec` (one page fault per 4 KiB inside the copies); modelio's file load reads \
         into one allocation populated ahead by a helper thread (`io_core::buffer`), so its faults overlap the copies \
         on the other core and it can beat that limit.\n\n{}\n",
        machine(),
        render(&rows)
    );
    println!("{body}");
    write_section(&root().join("BENCHMARKS.md"), "## cli", &body)
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.join("model.json").display())
}

/// Best wall time of `RUNS` runs of a command (which must succeed).
pub(crate) fn best_of(make: impl FnMut() -> Command) -> Result<Duration, String> {
    best_of_n(RUNS, make)
}

/// Best wall time of `n` runs of a command (which must succeed).
pub(crate) fn best_of_n(n: usize, mut make: impl FnMut() -> Command) -> Result<Duration, String> {
    let mut best = Duration::MAX;
    for _ in 0..n {
        let mut cmd = make();
        let t = Instant::now();
        let out = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).output().map_err(|e| e.to_string())?;
        let dt = t.elapsed();
        if !out.status.success() {
            return Err(format!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        best = best.min(dt);
    }
    Ok(best)
}

/// The limit: the shard files read into one fresh buffer (allocated per run, so its page faults count).
fn read_shards_limit(dir: &Path) -> Result<Duration, String> {
    let files: Vec<PathBuf> = (1..=SHARDS).map(|s| dir.join(format!("group1-shard{s}of{SHARDS}.bin"))).collect();
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let t = Instant::now();
        let mut buf: Vec<u8> = Vec::with_capacity(SHARDS * SHARD_BYTES);
        for f in &files {
            std::fs::File::open(f).and_then(|mut h| h.read_to_end(&mut buf)).map_err(|e| e.to_string())?;
        }
        let dt = t.elapsed();
        assert_eq!(buf.len(), SHARDS * SHARD_BYTES);
        std::hint::black_box(&buf);
        best = best.min(dt);
    }
    Ok(best)
}

fn file_load(bin: &Path, dir: &Path) -> Result<Vec<Row>, String> {
    let url = file_url(dir);
    // Warm the page cache, so both sides read from memory.
    best_of(|| info_cmd(bin, &url))?;
    let limit = read_shards_limit(dir)?;
    let spawn = best_of(|| {
        let mut c = Command::new(bin);
        c.arg("--version");
        c
    })?;
    let load = best_of(|| info_cmd(bin, &url))?;
    let in_process = load_time(&url)?;
    let ratio = in_process.as_secs_f64() / limit.as_secs_f64();
    let weight_bytes = (SHARDS * SHARD_BYTES) as u64;
    let (_, rss_kib) = timed(bin, &["-q".into(), "info".into(), url.clone()], &root())?;
    let rss = rss_kib * 1024;
    let rss_target = (1.15 * weight_bytes as f64) as u64 + 40 * MIB;
    Ok(vec![
        Row {
            what: "file:// load, 256 MiB in 64 shards (`modelio::load` in one process)".into(),
            value: ms(in_process),
            reference: format!("{} read into one fresh buffer", ms(limit)),
            verdict: verdict(ratio, 1.25, "x the limit"),
        },
        Row {
            what: "the same as a command (`modelio info`: process start, load, check, exit)".into(),
            value: ms(load),
            reference: format!("`modelio --version`: {}", ms(spawn)),
            verdict: format!("{:.2}x the limit", load.as_secs_f64() / limit.as_secs_f64()),
        },
        Row {
            what: "peak RSS of that load".into(),
            value: format!("{:.1} MiB", rss as f64 / MIB as f64),
            reference: format!("target {:.1} MiB (1.15 x weights + 40 MiB)", rss_target as f64 / MIB as f64),
            verdict: verdict(rss as f64 / rss_target as f64, 1.0, "x the target"),
        },
    ])
}

/// Best in-process load time of `url` (the `load_time` example of modelio-cli).
pub(crate) fn load_time(url: &str) -> Result<Duration, String> {
    load_time_n(url, RUNS)
}

/// Best time of `runs` loads of `url` in one process (the `load_time` example of modelio-cli).
pub(crate) fn load_time_n(url: &str, runs: usize) -> Result<Duration, String> {
    let exe = crate::target_dir().join("release/examples/load_time");
    let out =
        Command::new(&exe).args([url, &runs.to_string()]).output().map_err(|e| format!("{}: {e}", exe.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match (out.status.success(), text.trim().parse::<f64>()) {
        (true, Ok(secs)) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{} {url} failed: {}", exe.display(), String::from_utf8_lossy(&out.stderr).trim())),
    }
}

pub(crate) fn info_cmd(bin: &Path, url: &str) -> Command {
    let mut c = Command::new(bin);
    c.args(["-q", "info", url]);
    c
}

fn stores(bin: &Path, work: &Path, home: &Path) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (scheme, mib) in [("indexeddb", 4usize), ("localstorage", 3)] {
        let dir = work.join(format!("m{mib}"));
        write_model_sized(&dir, mib, 1 << 20)?;
        let src = file_url(&dir);
        let dst = format!("{scheme}://bench-{mib}mib");
        let with_home = |args: &[&str]| {
            let mut c = Command::new(bin);
            c.arg("-q").args(args).env("MODELIO_HOME", home);
            c
        };
        let file_only = best_of(|| info_with(bin, home, &src))?;
        let save = best_of(|| with_home(&["cp", &src, &dst]))?;
        let load = best_of(|| info_with(bin, home, &dst))?;
        let rate = |d: Duration| format!("{:.0} MiB/s", mib as f64 / d.as_secs_f64());
        rows.push(Row {
            what: format!("{scheme}:// save of a {mib} MiB model (`modelio cp file:// …`)"),
            value: format!("{} ({})", ms(save), rate(save)),
            reference: format!("file:// load alone {}", ms(file_only)),
            verdict: "-".into(),
        });
        rows.push(Row {
            what: format!("{scheme}:// load of that model (`modelio info`)"),
            value: format!("{} ({})", ms(load), rate(load)),
            reference: format!("file:// load {}", ms(file_only)),
            verdict: format!("{:.2}x file://", load.as_secs_f64() / file_only.as_secs_f64()),
        });
    }
    Ok(rows)
}

fn info_with(bin: &Path, home: &Path, url: &str) -> Command {
    let mut c = info_cmd(bin, url);
    c.env("MODELIO_HOME", home);
    c
}

/// base64 (standard alphabet, as TF.js's localStorage values) encode and decode of 4 MiB.
fn base64_throughput() -> Row {
    let data: Vec<u8> = (0..4 * MIB as usize).map(|i| (i * 31 % 251) as u8).collect();
    let engine = base64::engine::general_purpose::STANDARD;
    let (mut enc, mut dec) = (Duration::MAX, Duration::MAX);
    for _ in 0..RUNS {
        let t = Instant::now();
        let text = engine.encode(&data);
        enc = enc.min(t.elapsed());
        let t = Instant::now();
        let back = engine.decode(text.as_bytes()).expect("valid base64");
        dec = dec.min(t.elapsed());
        assert_eq!(back.len(), data.len());
    }
    let rate = |d: Duration| 4.0 / d.as_secs_f64();
    Row {
        what: "base64 of 4 MiB (`base64` crate, standard alphabet)".into(),
        value: format!("encode {:.0} MiB/s, decode {:.0} MiB/s", rate(enc), rate(dec)),
        reference: "-".into(),
        verdict: "-".into(),
    }
}

/// A server process, stopped (SIGTERM) on drop, also on error paths.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

fn serve_vs_nginx(bin: &Path, work: &Path) -> Result<Vec<Row>, String> {
    let not_run = |why: String| {
        Ok(vec![Row {
            what: "`modelio serve` vs nginx, GET throughput (wrk)".into(),
            value: "not measured".into(),
            reference: "-".into(),
            verdict: why,
        }])
    };
    if let Err(e) = install_debian(&["nginx", "wrk"]) {
        return not_run(e);
    }
    let store = work.join("serve-store");
    let Some((server, base)) = start_modelio_serve(bin, &store)? else {
        return not_run("`modelio serve` is not available in this build".into());
    };
    // The 4 MiB model is uploaded (io-http, as TF.js would, with the write token); nginx then serves
    // the very files the server's file:// store holds, and `modelio serve` the same model through its
    // routes, checking the token of every GET (--require-read-token).
    run(Command::new(bin)
        .args(["-q", "cp", &file_url(&work.join("m4")), &format!("{base}/models/bench")])
        .env("MODELIO_HTTP_TOKEN", BENCH_TOKEN))?;
    // The upload is stored as an immutable version (`.modelio/versions/bench/VERSION/`): nginx serves
    // that folder; `modelio serve` the latest model.json and the versioned weight URL it names (what
    // TF.js fetches).
    let versions = store.join(".modelio/versions/bench");
    let version = std::fs::read_dir(&versions)
        .map_err(|e| format!("{}: {e}", versions.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .next()
        .ok_or("the upload stored no version")?;
    let vdir = versions.join(&version);
    let shard = std::fs::read_dir(&vdir)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .find(|n| n.ends_with(".bin"))
        .ok_or("the version has no weight file")?;
    // Two nginx: one logging every request to a file, as Debian's nginx.conf does and as `modelio
    // serve` does (its request log goes to a file too, in batches: so does nginx's, with
    // `buffer=64k flush=50ms`), and one with `access_log off`.
    let logged_dir = work.join("nginx-logged");
    let quiet_dir = work.join("nginx-quiet");
    for d in [&logged_dir, &quiet_dir] {
        std::fs::create_dir_all(d.join("tmp")).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let access_log = logged_dir.join("access.log");
    let (logged_port, quiet_port) = (free_port()?, free_port()?);
    let (nginx, nginx_name) = start_server(&logged_dir, &vdir, logged_port, Some(&access_log))?;
    let nginx = Server(nginx);
    let (quiet, _) = start_server(&quiet_dir, &vdir, quiet_port, None)?;
    let quiet = Server(quiet);
    let mut rows = Vec::new();
    let ours_weights = format!("@v/{version}/{shard}");
    for (label, ours, theirs) in
        [("model.json", "model.json", "model.json"), ("4 MiB weights", ours_weights.as_str(), shard.as_str())]
    {
        // Rounds of the three, interleaved, so that other work on the machine weighs on all alike;
        // the best of each.
        let (mut mine, mut logged, mut unlogged) = (0f64, 0f64, 0f64);
        for _ in 0..WRK_ROUNDS {
            mine = mine.max(wrk(&format!("{base}/models/bench/{ours}"), Some(BENCH_TOKEN))?);
            logged = logged.max(wrk(&format!("http://127.0.0.1:{logged_port}/{version}/{theirs}"), None)?);
            unlogged = unlogged.max(wrk(&format!("http://127.0.0.1:{quiet_port}/{version}/{theirs}"), None)?);
            // The logs grow by some 100 MB a round: keep the disk's work out of the next round.
            let _ = std::fs::write(&access_log, b"");
            let _ = std::fs::write(serve_log(&store), b"");
        }
        rows.push(Row {
            what: format!(
                "GET {label}: `modelio serve` with a read token, request log to a file (wrk, 2 threads, 8 \
                 connections, {WRK_SECONDS} s, best of {WRK_ROUNDS})"
            ),
            value: format!("{mine:.0} req/s"),
            reference: format!(
                "{nginx_name} logging each request to a file (`access_log` in batches, `buffer=64k flush=50ms`): {logged:.0} req/s; \
                 with `access_log off`: {unlogged:.0} req/s"
            ),
            verdict: format!(
                "{}; {:.2}x nginx with `access_log off`",
                verdict_min(mine / logged, 0.8, "x nginx logging"),
                mine / unlogged
            ),
        });
    }
    drop(quiet);
    drop(nginx);
    rows.push(upload_rss(bin, work, &server, &base)?);
    drop(server);
    Ok(rows)
}

/// The server's peak RSS while it receives a 1 GiB upload (256 shards of 4 MiB, sent by `modelio cp`
/// as TF.js sends it) into its `file://` store, over its RSS before.
fn upload_rss(bin: &Path, work: &Path, server: &Server, base: &str) -> Result<Row, String> {
    let big = work.join("m1g");
    write_model_sized(&big, 256, SHARD_BYTES)?;
    let status = |key: &str| -> Result<u64, String> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).map_err(|e| e.to_string())?;
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| format!("no {key} in /proc/PID/status"))
    };
    // The GETs before raised the peak: reset it (Linux: `5` to clear_refs resets VmHWM to VmRSS).
    std::fs::write(format!("/proc/{}/clear_refs", server.0.id()), "5").map_err(|e| format!("clear_refs: {e}"))?;
    let before = status("VmRSS:")?;
    run(Command::new(bin)
        .args(["-q", "cp", &file_url(&big), &format!("{base}/models/big")])
        .env("MODELIO_HTTP_TOKEN", BENCH_TOKEN))?;
    let peak = status("VmHWM:")?;
    let stored: u64 = walk_bytes(&work.join("serve-store/.modelio/versions/big"));
    if stored < 1 << 30 {
        return Err(format!("the 1 GiB upload stored only {stored} bytes"));
    }
    let over = peak.saturating_sub(before);
    Ok(Row {
        what: "peak RSS of `modelio serve` receiving a 1 GiB upload (file:// store, streamed to disk)".into(),
        value: format!("{} MiB ({} MiB before)", peak / MIB, before / MIB),
        reference: "target: under 100 MiB beyond the idle server".into(),
        verdict: if over < 100 * MIB {
            format!("met: +{} MiB", over / MIB)
        } else {
            format!("missed: +{} MiB", over / MIB)
        },
    })
}

/// The bytes of the files under `dir`, recursively.
fn walk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Starts `modelio serve` on 127.0.0.1:0 and reads its address from the first stdout line.
fn start_modelio_serve(bin: &Path, store: &Path) -> Result<Option<(Server, String)>, String> {
    let _ = std::fs::remove_dir_all(store);
    let log_path = serve_log(store);
    let log = std::fs::File::create(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
    let mut child = Command::new(bin)
        .args(["serve", "--addr", "127.0.0.1:0", "--store", &format!("file://{}", store.display())])
        .args(["--require-read-token", "-q"])
        .env("MODELIO_TOKEN", BENCH_TOKEN)
        .stdout(Stdio::piped())
        // Its request log goes to a file, as nginx's access log does (a pipe nobody reads would
        // fill and stall it).
        .stderr(log)
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().expect("piped")).read_line(&mut line).map_err(|e| e.to_string())?;
    match line.trim().strip_prefix("listening on ") {
        Some(base) => Ok(Some((Server(child), base.to_string()))),
        None => {
            let _ = child.wait();
            Ok(None)
        }
    }
}

/// Where `modelio serve` over `store` logs (beside the store folder).
fn serve_log(store: &Path) -> PathBuf {
    store.with_extension("log")
}

/// Rounds of the GET throughput measurements, and the seconds of each `wrk` run.
const WRK_ROUNDS: usize = 3;
const WRK_SECONDS: u32 = 5;

/// Requests per second `wrk` reports for `url`.
fn wrk(url: &str, token: Option<&str>) -> Result<f64, String> {
    let mut c = Command::new("wrk");
    c.args(["-t2", "-c8", &format!("-d{WRK_SECONDS}s"), url]);
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = c.output().map_err(|e| format!("wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !text.contains("Non-2xx") && out.status.success() {
        if let Some(v) = text.lines().find_map(|l| l.trim().strip_prefix("Requests/sec:")) {
            return v.trim().parse().map_err(|e| format!("wrk output: {e}"));
        }
    }
    Err(format!("wrk {url} failed or got non-2xx responses: {text}"))
}

fn install_debian(packages: &[&str]) -> Res {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| !Command::new("dpkg").args(["-s", p]).output().is_ok_and(|o| o.status.success()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get").args(["install", "-y"]).args(&missing))
        .map_err(|e| format!("{e} (installing {} needs root and Debian's apt)", missing.join(", ")))
}

pub(crate) fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `ratio` against a ceiling: met, or missed by how much.
pub(crate) fn verdict(ratio: f64, max: f64, unit: &str) -> String {
    match ratio <= max {
        true => format!("{ratio:.2}{unit} (target <= {max}: met)"),
        false => format!("{ratio:.2}{unit} (target <= {max}: MISSED by {:.0}%)", (ratio / max - 1.0) * 100.0),
    }
}

/// `ratio` against a floor: met, or missed by how much.
fn verdict_min(ratio: f64, min: f64, unit: &str) -> String {
    match ratio >= min {
        true => format!("{ratio:.2}{unit} (target >= {min}: met)"),
        false => format!("{ratio:.2}{unit} (target >= {min}: MISSED by {:.0}%)", (1.0 - ratio / min) * 100.0),
    }
}

pub(crate) fn render(rows: &[Row]) -> String {
    let mut t = String::from("| measurement | modelio | reference | ratio / target |\n|---|---|---|---|\n");
    for r in rows {
        let _ = writeln!(t, "| {} | {} | {} | {} |", r.what, r.value, r.reference, r.verdict);
    }
    t
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_string()))
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0)))
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {:.1} GiB RAM, Linux {}", mem as f64 / (1 << 20) as f64, kernel.trim())
}
