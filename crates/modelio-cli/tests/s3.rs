//! `modelio cp / ls / info / mv / rm` on `s3://` against a real S3 server: SeaweedFS on loopback
//! (`io_object_store::testkit::Weed`; `cargo xtask test-all` installs it), configured through the
//! environment exactly as `object_store` reads it (`AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, ...).

mod common;

use common::{fixture_url, Run, Sandbox};
use io_object_store::testkit::Weed;
use serde_json::Value;

#[test]
fn cp_ls_info_mv_rm_through_a_bucket() {
    let weed = Weed::start();
    weed.create_bucket("cli-models");
    let sb = Sandbox::new();
    let run = |args: &[&str]| Run::from(sb.command(args).envs(weed.env()).output().expect("run modelio"));
    let ok = |args: &[&str]| {
        let r = run(args);
        assert_eq!(r.code, 0, "modelio {args:?} failed: {r:?}");
        r
    };
    let content = |url: &str| {
        let mut v = ok(&["info", "--json", "--stats", url]).json();
        v.as_object_mut().unwrap().remove("url");
        v
    };
    let src = fixture_url("node_file/a");
    let r = ok(&["cp", &src, "s3://cli-models/team/a"]);
    assert_eq!(r.stdout, format!("copied {src} -> s3://cli-models/team/a (92 weight bytes)\n"));
    // The layout in the bucket, read anonymously over plain HTTP as a browser would.
    let (status, body) = weed.request("GET", "/cli-models/team/a/model.json", &[]).expect("GET model.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_slice(&body).expect("model.json");
    let shard = doc["weightsManifest"][0]["paths"][0].as_str().expect("a weight path").to_string();
    let (status, weights) = weed.request("GET", &format!("/cli-models/team/a/{shard}"), &[]).expect("GET weights");
    assert_eq!((status, weights.len()), (200, 92));

    assert_eq!(content("s3://cli-models/team/a"), content(&src));
    ok(&["-q", "cp", "s3://cli-models/team/a", &sb.file_url("back/a")]);
    assert_eq!(content(&sb.file_url("back/a")), content(&src));

    let listed = ok(&["ls", "--json", "s3://cli-models/"]).json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["s3://cli-models/team/a"], "{listed}");
    assert_eq!(listed["s3://cli-models/team/a"]["weightDataBytes"], 92);

    let r = ok(&["mv", "s3://cli-models/team/a", "s3://cli-models/team/b"]);
    assert_eq!(r.stdout, "moved s3://cli-models/team/a -> s3://cli-models/team/b (92 weight bytes)\n");
    let listed = ok(&["ls", "--json", "s3://cli-models/team"]).json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["s3://cli-models/team/b"], "{listed}");
    assert_eq!(weed.request("GET", "/cli-models/team/a/model.json", &[]).unwrap().0, 404, "the source is gone");

    let r = ok(&["rm", "s3://cli-models/team/b"]);
    assert_eq!(r.stdout, "removed s3://cli-models/team/b (92 weight bytes)\n");
    assert!(ok(&["ls", "--json", "s3://cli-models/"]).json().as_object().unwrap().is_empty());

    // One error line naming the bucket, status 1.
    let r = run(&["ls", "s3://no-such-bucket/"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.starts_with("modelio: error: ") && r.stderr.contains("s3://no-such-bucket/"), "{r:?}");
    let r = run(&["info", "s3://cli-models/missing"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("s3://cli-models/missing"), "{r:?}");
}

/// A running `modelio serve` process over a bucket; killed on drop.
struct Served(std::process::Child, String);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Two `modelio serve` processes over one bucket behave as one service: a model uploaded through
/// one loads through the other, a new version uploaded through the second is served by the first
/// after its revalidation (1 s), and both list the same versions.
#[test]
fn two_servers_over_one_bucket_are_one_service() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let weed = Weed::start();
    weed.create_bucket("served");
    let sb = Sandbox::new();
    let token = "s3-serve-token-0123456789abcdef";
    let serve = || {
        let mut child = sb
            .command(&["serve", "--addr", "127.0.0.1:0", "--store", "s3://served/models", "-q"])
            .envs(weed.env())
            .env("MODELIO_TOKEN", token)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line:?}")).to_string();
        Served(child, base)
    };
    let (one, two) = (serve(), serve());
    let run = |args: &[&str]| {
        Run::from(sb.command(args).envs(weed.env()).env("MODELIO_HTTP_TOKEN", token).output().expect("run modelio"))
    };
    let content = |url: &str| {
        let r = run(&["info", "--json", "--stats", url]);
        assert_eq!(r.code, 0, "info {url}: {r:?}");
        let mut v = r.json();
        v.as_object_mut().unwrap().remove("url");
        v
    };
    let (a, b) = (fixture_url("node_file/a"), fixture_url("converter_write_weights/b_quant_uint8"));
    let r = run(&["-q", "cp", &a, &format!("{}/models/m", one.1)]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        content(&format!("{}/models/m/model.json", two.1)),
        content(&a),
        "uploaded through one, loaded through two"
    );
    // The bucket holds the versions as models: what the server wrote is a modelio store.
    let listed = run(&["ls", "--json", "s3://served/models"]).json();
    assert!(listed.as_object().unwrap().keys().any(|k| k == "s3://served/models/m"), "{listed}");

    // Warm one's cache, then replace the model through two.
    assert_eq!(content(&format!("{}/models/m/model.json", one.1)), content(&a));
    let r = run(&["-q", "cp", &b, &format!("{}/models/m", two.1)]);
    assert_eq!(r.code, 0, "{r:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let now = content(&format!("{}/models/m/model.json", one.1));
        if now == content(&b) {
            break;
        }
        assert_eq!(now, content(&a), "one serves the old model or the new one, never a mix");
        assert!(std::time::Instant::now() < deadline, "one still serves the old model after 5 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let versions = |base: &str| {
        let v: Value = rt.block_on(async {
            let r = reqwest::get(format!("{base}/models/m/versions")).await.unwrap();
            assert_eq!(r.status(), 200);
            r.json().await.unwrap()
        });
        v["versions"].as_array().unwrap().iter().map(|x| x["version"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    let (v1, v2) = (versions(&one.1), versions(&two.1));
    assert_eq!(v1.len(), 2, "{v1:?}");
    assert_eq!(v1, v2, "both servers list the same versions");
}

/// `modelio gc` deletes a crashed save's objects and versions two saves back, keeps the current and
/// the previous version, and with the default `--older-than 1h` spares young objects.
#[test]
fn gc_collects_what_crashed_and_replaced_saves_left() {
    let weed = Weed::start();
    weed.create_bucket("cli-gc");
    let sb = Sandbox::new();
    let run = |args: &[&str]| Run::from(sb.command(args).envs(weed.env()).output().expect("run modelio"));
    let src = fixture_url("node_file/a");
    for _ in 0..3 {
        assert_eq!(run(&["-q", "cp", &src, "s3://cli-gc/m"]).code, 0);
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let crashed = "/cli-gc/m/1000-0123456789ab.group1-shard1of1.bin";
    assert_eq!(weed.request("PUT", crashed, b"left by a killed save").unwrap().0, 200);
    let objects = || {
        let (status, body) = weed.request("GET", "/cli-gc?list-type=2&prefix=m/", &[]).unwrap();
        assert_eq!(status, 200);
        String::from_utf8_lossy(&body).matches(".bin</Key>").count()
    };
    assert_eq!(objects(), 4, "three versions (kept by the save's 1 h leftover age) and the crash");
    let r = run(&["gc", "s3://cli-gc/"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("deleted s3://cli-gc/m/1000-0123456789ab.group1-shard1of1.bin\n"), "{r:?}");
    assert!(r.stdout.contains("collected 1 objects (21 bytes) under s3://cli-gc/"), "{r:?}");
    assert_eq!(objects(), 3);
    let r = run(&["gc", "--older-than", "0s", "s3://cli-gc/"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("collected 1 objects (92 bytes)"), "the first version: {r:?}");
    assert_eq!(objects(), 2, "the current and the previous version");
    assert_eq!(run(&["info", "s3://cli-gc/m"]).code, 0);
    // A store with nothing to collect says so.
    let r = run(&["gc", &sb.file_url("models")]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("gc"), "{r:?}");
}
