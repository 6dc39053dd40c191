//! `modelio serve` on 127.0.0.1:0 with a `file://` store, used by the CLI itself (io-http uploads
//! and loads) and by a plain HTTP client.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use common::{fixture_url, Sandbox};
use serde_json::Value;

/// A running `modelio serve`; killed on drop if the test did not stop it.
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

fn serve(sb: &Sandbox, extra: &[&str]) -> Served {
    let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--allow-anonymous-writes"];
    args.extend_from_slice(extra);
    let mut child = sb.command(&args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
    assert!(base.starts_with("http://127.0.0.1:") && !base.ends_with(":0"), "{base}");
    Served { child, base }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn serves_the_default_store_folder_to_tfjs_urls() {
    let sb = Sandbox::new();
    // No --store: the default `file://./models`, relative to the working directory (the sandbox).
    let server = serve(&sb, &[]);
    let src = fixture_url("converter_write_weights/b_quant_uint8");
    let dst = format!("{}/models/team/b", server.base);
    let r = sb.ok(&["cp", &src, &dst]);
    assert!(r.stdout.starts_with(&format!("copied {src} -> {dst} (")), "{r:?}");
    assert!(sb.path().join("models/team/b/model.json").is_file(), "saved into ./models");
    // A name that is a prefix of a model is refused (409), and nothing is deleted.
    let line = sb.fails(&["cp", &src, &format!("{}/models/team", server.base)]);
    assert!(line.contains("409") && line.contains("models lie under 'team'"), "{line}");
    assert!(sb.path().join("models/team/b/model.json").is_file());

    let info_of = |url: &str| {
        let mut v = sb.ok(&["info", "--json", "--stats", url]).json();
        v.as_object_mut().unwrap().remove("url");
        v
    };
    assert_eq!(info_of(&format!("{dst}/model.json")), info_of(&src));

    rt().block_on(async {
        let model_json = reqwest::get(format!("{dst}/model.json")).await.unwrap();
        assert_eq!(model_json.status(), 200);
        let doc: Value = model_json.json().await.unwrap();
        assert_eq!(doc["format"], "layers-model");
        // The latest model.json points at the immutable files of its version, as the store keeps them.
        let path = doc["weightsManifest"][0]["paths"][0].as_str().unwrap().to_string();
        assert!(path.starts_with("@v/") && path.ends_with("/group1-shard1of1.bin"), "{path}");
        let weights = reqwest::get(format!("{dst}/{path}")).await.unwrap();
        assert_eq!(weights.status(), 200);
        assert_eq!(weights.headers()["cache-control"], "public, max-age=31536000, immutable");
        let missing = reqwest::get(format!("{}/models/nothing/model.json", server.base)).await.unwrap();
        assert_eq!(missing.status(), 404);
    });
}

#[test]
fn serves_a_native_store_and_stops_on_sigterm() {
    let sb = Sandbox::new();
    let mut server = serve(&sb, &["--store", "indexeddb://served"]);
    let dst = format!("{}/models/a", server.base);
    sb.ok(&["-q", "cp", &fixture_url("node_file/a"), &dst]);
    let listed = sb.ok(&["ls", "--json", "indexeddb://"]).json();
    // The server keeps each save as a version under a hidden prefix, and a pointer at the name.
    assert_eq!(listed["indexeddb://served/a"]["weightDataBytes"], 0, "the pointer: {listed}");
    let versions: Vec<&Value> = listed
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("indexeddb://served/.modelio/versions/a/"))
        .map(|(_, v)| v)
        .collect();
    assert_eq!(versions.len(), 1, "{listed}");
    assert_eq!(versions[0]["weightDataBytes"], 92, "{listed}");
    let client = reqwest::Client::new();
    rt().block_on(async {
        let list: Value = client.get(format!("{}/models", server.base)).send().await.unwrap().json().await.unwrap();
        assert_eq!(list["a"]["weightDataBytes"], 92, "{list}");
        // Served from the store file by file: model.json names the version's one weight file.
        let json: Value = client.get(format!("{dst}/model.json")).send().await.unwrap().json().await.unwrap();
        let file = json["weightsManifest"][0]["paths"][0].as_str().expect("a weight path").to_string();
        assert!(file.starts_with("@v/") && file.ends_with("/model.weights.bin"), "{json}");
        let weights = client.get(format!("{dst}/{file}")).send().await.unwrap();
        assert_eq!(weights.status(), 200);
        assert_eq!(weights.bytes().await.unwrap().len(), 92);
        assert_eq!(client.delete(&dst).send().await.unwrap().status(), 200);
        assert_eq!(client.get(format!("{dst}/model.json")).send().await.unwrap().status(), 404);
    });
    assert!(sb.ok(&["ls", "--json", "indexeddb://"]).json().as_object().unwrap().is_empty());
    let status = std::process::Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "graceful stop exits 0");
}

#[test]
fn an_address_in_use_is_one_error_line() {
    let sb = Sandbox::new();
    let server = serve(&sb, &["-q"]);
    let addr = server.base.trim_start_matches("http://");
    let line = sb.fails(&["serve", "--addr", addr]);
    assert!(line.contains(addr) && line.contains("cannot listen"), "{line}");
}
