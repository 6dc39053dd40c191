//! Runs the real `modelio` binary in a temporary profile and working folder.
#![allow(dead_code)]

pub mod served;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary world for the binary: the working directory, with the profile (`MODELIO_HOME`) in
/// `home/` and the downloads folder (`MODELIO_DOWNLOADS_DIR`) in `downloads/`.
pub struct Sandbox {
    /// The temporary folder (removed on drop).
    pub dir: tempfile::TempDir,
}

/// What a run produced.
#[derive(Debug)]
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Stdout as UTF-8.
    pub stdout: String,
    /// Stderr as UTF-8.
    pub stderr: String,
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Self {
        Sandbox { dir: tempfile::tempdir().expect("temp dir") }
    }

    /// The sandbox folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A command for the binary with `MODELIO_HOME` and the working directory set to the sandbox.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_modelio"));
        c.args(args).current_dir(self.path()).envs(self.envs());
        c
    }

    /// The environment of every run: profile and downloads folders inside the sandbox.
    pub fn envs(&self) -> [(&'static str, PathBuf); 2] {
        [("MODELIO_HOME", self.path().join("home")), ("MODELIO_DOWNLOADS_DIR", self.path().join("downloads"))]
    }

    /// Runs the binary on a pseudo-terminal (util-linux `script`), asserts success, and returns
    /// everything the terminal received (stdout and stderr together).
    pub fn on_terminal(&self, args: &[&str]) -> String {
        let exe = env!("CARGO_BIN_EXE_modelio");
        let line: Vec<String> = std::iter::once(exe).chain(args.iter().copied()).map(|a| format!("'{a}'")).collect();
        let out = Command::new("script")
            .args(["-qec", &line.join(" "), "/dev/null"])
            .current_dir(self.path())
            .envs(self.envs())
            .output()
            .expect("util-linux `script` runs");
        assert!(out.status.success(), "modelio {args:?} on a terminal: {out:?}");
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs the binary to completion.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run modelio"))
    }

    /// Runs the binary and asserts it succeeded.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert_eq!(r.code, 0, "modelio {args:?} failed: {r:?}");
        r
    }

    /// Runs the binary, asserts exit status 1 and exactly one stderr line `modelio: error: ...`,
    /// and returns that line.
    pub fn fails(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 1, "modelio {args:?} should fail with status 1: {r:?}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one stderr line expected: {r:?}");
        assert!(lines[0].starts_with("modelio: error: "), "{r:?}");
        assert!(r.stdout.is_empty(), "nothing on stdout on failure: {r:?}");
        lines[0].to_string()
    }

    /// A `file://` URL for `rel` inside the sandbox (absolute, so it does not depend on the cwd).
    pub fn file_url(&self, rel: &str) -> String {
        format!("file://{}", self.path().join(rel).display())
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8(o.stdout).expect("utf-8 stdout"),
            stderr: String::from_utf8(o.stderr).expect("utf-8 stderr"),
        }
    }
}

impl Run {
    /// Stdout parsed as one JSON document.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// `fixtures/tfjs/<rel>` of the repository.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tfjs").join(rel)
}

/// A `file://` URL of a fixture's `model.json`.
pub fn fixture_url(rel: &str) -> String {
    format!("file://{}", fixture(rel).join("model.json").canonicalize().expect("fixture exists").display())
}

/// A fixture JSON file, parsed.
pub fn fixture_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixture(rel)).expect("fixture file");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// A minimal static file server (HTTP/1.1 `GET`, one response per connection) on 127.0.0.1 port 0,
/// serving `root`. Returns `http://127.0.0.1:PORT`. It runs until the test process exits.
pub fn serve_files(root: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 2).unwrap_or(false) {
                    line.clear();
                }
                let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                let path = path.split('?').next().unwrap_or("");
                let file = root.join(path.trim_start_matches('/'));
                let (status, body) = match std::fs::read(&file) {
                    Ok(b) if !path.contains("..") => ("200 OK", b),
                    _ => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                let mut w = &stream;
                let _ = w.write_all(head.as_bytes()).and_then(|()| w.write_all(&body));
            });
        }
    });
    base
}
