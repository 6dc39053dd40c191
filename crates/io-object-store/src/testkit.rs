//! Real object storage servers for tests (feature `testkit`), each on free loopback ports and
//! killed when dropped:
//!
//! - [`Weed`]: SeaweedFS (`weed server -s3`: master, volume server, filer and S3 gateway in one
//!   process) in a temporary folder, for `s3://`. The binary is `$MODELIO_WEED` (what
//!   `cargo xtask test-all` installs; `cargo xtask weed` installs it and prints its path), else
//!   `weed` on `PATH`.
//! - [`Azurite`]: Microsoft's Azure Storage emulator (Blob service, in memory), for `az://`.
//!   `$MODELIO_AZURITE` (`cargo xtask azurite`), else `azurite-blob` on `PATH`.
//!
//! Without the binary, `start` panics saying how to get it: the object storage tests fail instead
//! of passing without a server.
//!
//! Every listener binds 127.0.0.1. With no identities configured, SeaweedFS's gateway accepts any
//! access key and anonymous requests, so a browser or TF.js in Node can read a model straight from
//! `http://127.0.0.1:PORT/BUCKET/NAME/model.json`.
//!
//! ```no_run
//! let weed = io_object_store::testkit::Weed::start();
//! weed.create_bucket("models");
//! let config = weed.config("models", "team");
//! let registry = io_core::Registry::new();
//! io_object_store::register(&registry);
//! registry.mount_configured("team://", "s3", &config).unwrap();
//! ```

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use io_core::Config;

/// How long SeaweedFS gets to answer on S3 after its start (it usually takes 3 to 20 s).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// Starts are tried this often (a port picked free may be taken before weed binds it).
const START_ATTEMPTS: usize = 3;

/// A SeaweedFS server with an S3 gateway on loopback, killed (SIGKILL) when dropped.
///
/// The process is also killed if the thread that started it ends (`PR_SET_PDEATHSIG`), so a test
/// process that dies leaves no server behind: start it from the thread that outlives its use (a
/// `harness = false` test's `main`, or the `#[test]` that owns it), not into a `static` from
/// whichever test thread comes first.
pub struct Weed {
    child: Child,
    dir: tempfile::TempDir,
    s3_port: u16,
    started_in: Duration,
}

impl std::fmt::Debug for Weed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Weed({}, pid {}, {})", self.endpoint(), self.child.id(), self.dir.path().display())
    }
}

/// The `weed` binary: `$MODELIO_WEED`, else `weed` on `PATH`; panics saying how to get it.
pub fn weed_binary() -> PathBuf {
    server_binary(
        "MODELIO_WEED",
        "weed",
        "SeaweedFS's `weed` is needed for the object storage tests (a real S3 server on loopback)",
        "`cargo xtask weed` installs SeaweedFS and prints the path of its `weed`",
        "`MODELIO_WEED=$(cargo xtask weed) cargo test -p io-object-store`",
    )
}

/// A test server's binary: `$env` (a file), else `name` on `PATH`; else a panic saying `what` is
/// needed and how to get it (`install` for a bad `$env`, `run_alone` to run the tests without xtask).
fn server_binary(env: &str, name: &str, what: &str, install: &str, run_alone: &str) -> PathBuf {
    if let Some(b) = std::env::var_os(env).filter(|b| !b.is_empty()).map(PathBuf::from) {
        assert!(b.is_file(), "{env}={} is not a file; {install}", b.display());
        return b;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|b| b.is_file()))
        .unwrap_or_default();
    on_path.unwrap_or_else(|| {
        panic!(
            "{what}, and neither {env} nor PATH has it. Run `cargo xtask test-all` (it installs it), or {run_alone}."
        )
    })
}

impl Weed {
    /// Starts SeaweedFS on free loopback ports in a new temporary folder and waits until its S3
    /// gateway answers; panics with the end of its log if it does not within 90 s.
    pub fn start() -> Weed {
        let weed = weed_binary();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(&weed) {
                Ok(w) => return w,
                // Exited early (a port taken meanwhile, say): try again on other ports.
                Err(log) => last = log,
            }
        }
        panic!("SeaweedFS ({}) did not start {START_ATTEMPTS} times; its last log ends with:\n{last}", weed.display());
    }

    fn try_start(weed: &Path) -> Result<Weed, String> {
        let dir = tempfile::Builder::new().prefix("modelio-weed-").tempdir().expect("a temporary folder for SeaweedFS");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("SeaweedFS data folder");
        let [master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc] = free_ports::<8>();
        let log = std::fs::File::create(dir.path().join("weed.log")).expect("SeaweedFS log file");
        let mut cmd = Command::new(weed);
        cmd.arg("server")
            .arg(format!("-dir={}", data.display()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-metricsPort=0", "-master.telemetry=false"])
            .args(["-master.volumeSizeLimitMB=64", "-volume.max=0"])
            .arg(format!("-master.port={master}"))
            .arg(format!("-master.port.grpc={master_grpc}"))
            .arg(format!("-volume.port={volume}"))
            .arg(format!("-volume.port.grpc={volume_grpc}"))
            .arg(format!("-filer.port={filer}"))
            .arg(format!("-filer.port.grpc={filer_grpc}"))
            .arg(format!("-filer.localSocket={}", dir.path().join("filer.sock").display()))
            .args(["-s3", "-s3.port.iceberg=0", "-s3.port.lance=0"])
            .arg(format!("-s3.port={s3}"))
            .arg(format!("-s3.port.grpc={s3_grpc}"))
            .arg(format!("-s3.localSocket={}", dir.path().join("s3.sock").display()))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log);
        kill_with_parent(&mut cmd);
        let t0 = Instant::now();
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", weed.display()));
        let mut w = Weed { child, dir, s3_port: s3, started_in: Duration::ZERO };
        loop {
            if let Ok(Some(status)) = w.child.try_wait() {
                return Err(format!("(weed exited: {status})\n{}", w.log_tail(40)));
            }
            if w.request("GET", "/", &[]).is_ok() {
                w.started_in = t0.elapsed();
                return Ok(w);
            }
            if t0.elapsed() > START_TIMEOUT {
                panic!(
                    "SeaweedFS's S3 gateway did not answer on {} within {START_TIMEOUT:?}; its log ends with:\n{}",
                    w.endpoint(),
                    w.log_tail(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The S3 endpoint, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.s3_port)
    }

    /// The S3 gateway's port.
    pub fn s3_port(&self) -> u16 {
        self.s3_port
    }

    /// How long the start took until S3 answered.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The server's temporary folder (data and `weed.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last `lines` lines of the server's log.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Creates the bucket `name` (an anonymous `PUT /name`; S3 bucket names have 3 to 63
    /// characters); panics if the server refuses.
    pub fn create_bucket(&self, name: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{name}"), &[])
            .unwrap_or_else(|e| panic!("creating bucket {name} on {}: {e}\n{}", self.endpoint(), self.log_tail(20)));
        assert!(
            status == 200,
            "creating bucket {name} on {}: HTTP {status}: {}",
            self.endpoint(),
            String::from_utf8_lossy(&body)
        );
    }

    /// The `object_store` S3 configuration of this server (`endpoint`, `allow_http`, `region`,
    /// dummy credentials) as `(key, value)` pairs, for [`crate::Service::build`].
    pub fn s3_options(&self) -> Vec<(&'static str, String)> {
        vec![
            ("endpoint", self.endpoint()),
            ("allow_http", "true".into()),
            ("region", "us-east-1".into()),
            ("access_key_id", "modelio-test".into()),
            ("secret_access_key", "modelio-test-secret".into()),
        ]
    }

    /// The configuration of a `s3` store of `bucket` with every model under `prefix`, for
    /// `Registry::mount_configured(.., "s3", &config)`.
    pub fn config(&self, bucket: &str, prefix: &str) -> Config {
        let mut c: Config = self.s3_options().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        c.insert("bucket".into(), bucket.into());
        c.insert("prefix".into(), prefix.into());
        c
    }

    /// The environment `object_store`'s `AmazonS3Builder::from_env` reads, pointing at this server
    /// (for the registered, environment-configured `s3://` scheme).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", "modelio-test".into()),
            ("AWS_SECRET_ACCESS_KEY", "modelio-test-secret".into()),
        ]
    }

    /// One plain HTTP/1.1 request to the S3 gateway without credentials (anonymous): the status
    /// and the body.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.s3_port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        s.set_write_timeout(Some(Duration::from_secs(30)))?;
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.s3_port,
            body.len()
        );
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        let mut reply = Vec::new();
        s.read_to_end(&mut reply)?;
        let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
        let status_line = reply.split(|b| *b == b'\n').next().ok_or_else(bad)?;
        let status = std::str::from_utf8(status_line)
            .ok()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .ok_or_else(bad)?;
        let body_at = reply.windows(4).position(|w| w == b"\r\n\r\n").map_or(reply.len(), |p| p + 4);
        Ok((status, reply[body_at..].to_vec()))
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        // SIGTERM takes SeaweedFS up to half a minute; its data is thrown away anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `N` distinct free loopback ports (held together while picked, then released).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> =
        (0..N).map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a loopback port")).collect();
    let ports: Vec<u16> = listeners.iter().map(|l| l.local_addr().expect("local address").port()).collect();
    ports.try_into().expect("N ports")
}

/// The child gets SIGKILL when the thread that spawned it ends (Linux), so a crashed test leaves
/// no server running.
#[cfg(target_os = "linux")]
fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec here.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_with_parent(_: &mut Command) {}

/// Azurite's `azurite-blob`: `$MODELIO_AZURITE` (what `cargo xtask test-all` installs from npm),
/// else `azurite-blob` on `PATH`; panics saying how to get it.
pub fn azurite_binary() -> PathBuf {
    server_binary(
        "MODELIO_AZURITE",
        "azurite-blob",
        "Azurite's `azurite-blob` is needed for the az:// tests (an Azure Blob emulator on loopback)",
        "`cargo xtask azurite` installs it",
        "`MODELIO_AZURITE=$(cargo xtask azurite) cargo test -p io-object-store --features azure --test azure`",
    )
}

/// Creates a container on Azurite: one `PUT ?restype=container` signed with the emulator's
/// well-known development key (`object_store` has no container API). Args: port, container.
const AZURITE_CREATE_CONTAINER_JS: &str = r#"
const crypto = require('crypto');
const [port, container] = process.argv.slice(1);
const account = 'devstoreaccount1';
const key = Buffer.from('Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==', 'base64');
const date = new Date().toUTCString();
const version = '2021-08-06';
const toSign = ['PUT', '', '', '', '', '', '', '', '', '', '', '', `x-ms-date:${date}`, `x-ms-version:${version}`,
  `/${account}/${account}/${container}\nrestype:container`].join('\n');
const sig = crypto.createHmac('sha256', key).update(toSign, 'utf8').digest('base64');
fetch(`http://127.0.0.1:${port}/${account}/${container}?restype=container`, {
  method: 'PUT',
  headers: { 'x-ms-date': date, 'x-ms-version': version, Authorization: `SharedKey ${account}:${sig}` },
}).then(async (r) => {
  if (r.status !== 201) { console.error(r.status, await r.text()); process.exit(1); }
}, (e) => { console.error(String(e)); process.exit(1); });
"#;

/// Azurite's Blob service (Microsoft's Azure Storage emulator), in memory on a free loopback port;
/// killed when dropped (and when the thread that started it ends, as [`Weed`]).
pub struct Azurite {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    started_in: Duration,
}

impl std::fmt::Debug for Azurite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Azurite({}, pid {})", self.endpoint(), self.child.id())
    }
}

impl Azurite {
    /// Starts Azurite's Blob service and waits until it listens; panics with its log otherwise.
    pub fn start() -> Azurite {
        let bin = azurite_binary();
        let mut last = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = tempfile::Builder::new().prefix("modelio-azurite-").tempdir().expect("a temporary folder");
            let [port] = free_ports::<1>();
            let log = std::fs::File::create(dir.path().join("azurite.log")).expect("log file");
            let mut cmd = Command::new(&bin);
            cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .args(["--inMemoryPersistence", "--silent", "--skipApiVersionCheck", "--disableTelemetry"])
                .arg("--disableProductStyleUrl")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log);
            kill_with_parent(&mut cmd);
            let t0 = Instant::now();
            let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let mut a = Azurite { child, dir, port, started_in: Duration::ZERO };
            loop {
                if let Ok(Some(status)) = a.child.try_wait() {
                    last = format!("(exited: {status})\n{}", a.log());
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    a.started_in = t0.elapsed();
                    return a;
                }
                if t0.elapsed() > START_TIMEOUT {
                    panic!("Azurite did not listen on {} within {START_TIMEOUT:?}:\n{}", a.endpoint(), a.log());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        panic!("Azurite ({}) did not start {START_ATTEMPTS} times:\n{last}", bin.display());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("azurite.log")).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT` (the account is the first path part: `/devstoreaccount1/CONTAINER`).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How long the start took until it listened.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// Creates the container `name` (needs `node`); panics if refused.
    pub fn create_container(&self, name: &str) {
        let out = Command::new("node")
            .args(["-e", AZURITE_CREATE_CONTAINER_JS, &self.port.to_string(), name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run node to create an Azurite container: {e}"));
        assert!(
            out.status.success(),
            "creating container {name} on {}: {}",
            self.endpoint(),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The environment `object_store` reads for the emulator: `AZURE_STORAGE_USE_EMULATOR` and
    /// `AZURITE_BLOB_STORAGE_URL` (read even by configured stores that set `use_emulator`).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![("AZURE_STORAGE_USE_EMULATOR", "true".into()), ("AZURITE_BLOB_STORAGE_URL", self.endpoint())]
    }

    /// The configuration of an `az` store of `container` under `prefix` (with [`Azurite::env`] set).
    pub fn config(&self, container: &str, prefix: &str) -> Config {
        [
            ("bucket".to_string(), container.to_string()),
            ("prefix".to_string(), prefix.to_string()),
            ("use_emulator".to_string(), "true".to_string()),
        ]
        .into()
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
