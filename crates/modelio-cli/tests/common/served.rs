//! A real `modelio serve` child process for the server tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::Sandbox;

/// A running `modelio serve` whose stderr goes to a file; killed on drop.
pub struct Served {
    pub child: Child,
    pub base: String,
    pub token: Option<String>,
    pub log: std::path::PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Stops it with SIGTERM, asserts exit 0, and returns its stderr.
    pub fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let exit = self.child.wait().unwrap();
        assert_eq!(exit.code(), Some(0), "graceful stop exits 0");
        std::fs::read_to_string(&self.log).unwrap()
    }
}

/// Starts `modelio serve --addr 127.0.0.1:0 --store file://./models EXTRA…` in `sb` with `env`
/// (RUST_LOG and MODELIO_TOKEN unset otherwise); its stderr goes to a file in `sb`.
pub fn serve(sb: &Sandbox, extra: &[&str], env: &[(&str, &str)]) -> Served {
    let log = sb.path().join(format!("serve-{}.log", extra.len()));
    let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--store", "file://./models"];
    args.extend_from_slice(extra);
    let mut cmd = sb.command(&args);
    cmd.env_remove("RUST_LOG").env_remove("MODELIO_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .expect("spawn serve");
    // Stdout is read on a thread (the server must never block on a full pipe): the first line is the
    // address; `token: TOKEN` follows at once when the server made one, else the usage summary (or,
    // with -q, nothing).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).expect("serve printed its address");
    let base =
        first.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {first:?}")).to_string();
    let token =
        rx.recv_timeout(Duration::from_secs(3)).ok().and_then(|l| l.trim().strip_prefix("token: ").map(str::to_string));
    Served { child, base, token, log }
}
