//! The real `modelio` binary on model folders holding FIFOs and devices: `info` fails promptly with
//! one clear line, and `modelio serve` answers errors for such a model while it keeps serving the
//! others (every request here has a client-side time limit, so a stall fails the test).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{fixture, Run, Sandbox};

/// A copy of fixture `node_file/a` (model.json and its 92-byte weights.bin) in `dir`.
fn model_a(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for f in ["model.json", "weights.bin"] {
        std::fs::copy(fixture("node_file/a").join(f), dir.join(f)).unwrap();
    }
}

fn mkfifo(p: &Path) {
    let _ = std::fs::remove_file(p);
    let ok = std::process::Command::new("mkfifo").arg(p).status().expect("mkfifo runs").success();
    assert!(ok, "mkfifo {}", p.display());
}

/// Runs the binary with a time limit of `limit` (killed and failed past it).
fn run_within(sb: &Sandbox, args: &[&str], limit: Duration) -> Run {
    let mut child = sb.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn modelio");
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return Run::from(child.wait_with_output().unwrap());
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("modelio {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn info_on_fifos_and_devices_fails_promptly_with_one_line() {
    let sb = Sandbox::new();
    let fifo_weights = sb.path().join("fifo-weights");
    model_a(&fifo_weights);
    mkfifo(&fifo_weights.join("weights.bin"));
    let zero_weights = sb.path().join("zero-weights");
    model_a(&zero_weights);
    std::fs::remove_file(zero_weights.join("weights.bin")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", zero_weights.join("weights.bin")).unwrap();
    let fifo_json = sb.path().join("fifo-json");
    model_a(&fifo_json);
    mkfifo(&fifo_json.join("model.json"));
    for (dir, file) in [(&fifo_weights, "weights.bin"), (&zero_weights, "weights.bin"), (&fifo_json, "model.json")] {
        let url = format!("file://{}", dir.display());
        for args in [vec!["info", url.as_str()], vec!["info", "--json", "--stats", url.as_str()]] {
            let r = run_within(&sb, &args, Duration::from_secs(5));
            assert_eq!(r.code, 1, "{args:?}: {r:?}");
            let lines: Vec<&str> = r.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{args:?}: one line: {r:?}");
            assert!(lines[0].starts_with("modelio: error: "), "{r:?}");
            assert!(lines[0].contains(&format!("'{file}' is not a regular file")), "{args:?}: {}", lines[0]);
            assert!(lines[0].contains(&dir.join(file).display().to_string()), "names the path: {}", lines[0]);
            assert!(r.stdout.is_empty(), "{r:?}");
        }
    }
}

/// A running `modelio serve`; killed on drop.
struct Served {
    child: Child,
    base: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_answers_errors_for_a_fifo_model_and_keeps_serving_the_others() {
    let sb = Sandbox::new();
    model_a(&sb.path().join("models/good"));
    model_a(&sb.path().join("models/bad"));
    mkfifo(&sb.path().join("models/bad/weights.bin"));
    let mut child = sb
        .command(&["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
    let server = Served { child, base };

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let get = |path: &str| {
            let (client, url) = (client.clone(), format!("{}{path}", server.base));
            async move {
                let r = client.get(&url).send().await.unwrap_or_else(|e| panic!("GET {url}: {e}"));
                let status = r.status().as_u16();
                (status, r.bytes().await.unwrap_or_else(|e| panic!("GET {url} body: {e}")))
            }
        };
        let t = Instant::now();
        let (bad1, bad2, good, list) = tokio::join!(
            get("/models/bad/weights.bin"),
            get("/models/bad/weights.bin"),
            get("/models/good/weights.bin"),
            get("/models"),
        );
        assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
        for (status, body) in [bad1, bad2] {
            let text = String::from_utf8_lossy(&body);
            assert!(status >= 400, "{status} {text}");
            assert!(
                text.contains("not a regular file") && !text.contains(&*sb.path().to_string_lossy()),
                "{status} {text}"
            );
        }
        assert_eq!(good.0, 200);
        assert_eq!(good.1.as_ref(), std::fs::read(fixture("node_file/a/weights.bin")).unwrap());
        assert_eq!(list.0, 200, "{}", String::from_utf8_lossy(&list.1));
        let listed: serde_json::Value = serde_json::from_slice(&list.1).unwrap();
        assert_eq!(listed["good"]["weightDataBytes"], 92, "{listed}");
        // Afterwards the server still answers (nothing is stuck on the FIFO).
        let (status, _) = get("/models/good/model.json").await;
        assert_eq!(status, 200);
        // model.json is served without reading the weights (the FIFO is never opened for it).
        let (status, _) = get("/models/bad/model.json").await;
        assert_eq!(status, 200);
    });
}
