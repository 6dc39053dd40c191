//! Real TF.js 4.22 in Node against the server: it loads models modelio uploaded, saves them back with
//! `model.save('http://…')`, loads its own copies and predicts the fixtures' outputs bit for bit.
//! Needs `node` and the npm peer (`cargo xtask test-all` installs it; MODELIO_PEER_DIR or `<workspace>/peer`).

mod support;

use std::path::PathBuf;
use std::process::Command;

use io_core::testkit::fixtures;
use io_core::SaveHandler;
use io_http::HttpHandler;

fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The peer folder with TF.js installed, or a panic saying how to get it.
fn peer_dir() -> PathBuf {
    let dir = std::env::var_os("MODELIO_PEER_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("peer"));
    assert!(
        dir.join("node_modules/@tensorflow/tfjs/package.json").exists(),
        "TF.js peer missing: {} has no node_modules/@tensorflow/tfjs; run `cargo xtask test-all` (npm ci in peer/) or set MODELIO_PEER_DIR",
        dir.display()
    );
    assert!(
        Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()),
        "`node` is not on PATH; the TF.js interop tests need Node 20 (Debian: apt-get install nodejs)"
    );
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tfjs_saves_to_and_loads_from_the_server() {
    interop_on(support::start("interop", |_| {}).await).await;
}

/// The same on a `file://` store, where uploads are streamed to disk and weights streamed back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tfjs_saves_to_and_loads_from_the_server_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}/models", dir.path().display());
    interop_on(support::start("", |c| c.store = store.clone()).await).await;
}

/// The same on an `s3://` store: a real SeaweedFS on loopback (`cargo xtask test-all` installs it).
#[test]
fn tfjs_saves_to_and_loads_from_the_server_on_an_s3_store() {
    // The server process is owned by this test's thread (killed when it ends).
    let weed = io_object_store::testkit::Weed::start();
    weed.create_bucket("interop");
    // A configured bucket mounted from code (the environment-configured s3:// is the CLI's test).
    modelio::registry().mount_configured("s3://interop/", "s3", &weed.config("interop", "")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        interop_on(support::start("", |c| c.store = "s3://interop/models".into()).await).await;
    });
}

async fn interop_on(s: support::Running) {
    let peer = peer_dir();
    for m in fixtures::MODELS {
        HttpHandler::new(s.model(&format!("src/{m}"))).save(&fixtures::model(m), &Default::default()).await.unwrap();
    }
    let (base, fx) = (s.base.clone(), workspace().join("fixtures/tfjs"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node").arg(peer.join("http_interop.js")).arg(&base).arg(&fx).current_dir(&peer).output()
    })
    .await
    .unwrap()
    .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "node failed: {}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in:\n{stdout}"));
    let res: serde_json::Value = serde_json::from_str(line).unwrap();
    for m in fixtures::MODELS {
        let r = &res[m];
        assert_eq!(r["saveStatus"], serde_json::json!([200]), "model {m}: {r}");
        assert_eq!(r["bitExact"], true, "model {m}: TF.js's prediction after the round trip differs: {r}");
        // What TF.js uploaded is what TF.js's own save handler produces, bit for bit.
        let stored = modelio::registry().load(&support::stored(&s, &format!("tfjs/{m}")).await).await.unwrap();
        let want = fixtures::model(m);
        assert!(stored.weight_data.to_vec() == want.weight_data.to_vec(), "model {m}: weights TF.js uploaded differ");
        assert_eq!(stored.weight_specs, want.weight_specs, "model {m}");
        assert_eq!(stored.model_topology, want.model_topology, "model {m}");
    }
    assert_eq!(res["d"]["optimizer"], "Adam");
}

/// On a bucket the server reads a model's model.json alone and each weight file when it is asked
/// for, never the whole model: with one shard object deleted behind its back, model.json and the
/// other shards are still served (the missing one is 404), ranges are cut from the stored object.
#[test]
fn on_a_bucket_each_file_is_read_on_request() {
    use io_core::{DType, ModelArtifacts, WeightData, WeightSpec};
    let weed = io_object_store::testkit::Weed::start();
    weed.create_bucket("files");
    modelio::registry().mount_configured("s3://files/", "s3", &weed.config("files", "")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let s = support::start("", |c| c.store = "s3://files/models".into()).await;
        let n = (10usize << 20) / 4;
        let data: Vec<u8> = (0..n * 4).map(|i| (i % 251) as u8).collect();
        let m = ModelArtifacts::new(
            serde_json::json!({"class_name": "Sequential"}),
            vec![WeightSpec::new("w", vec![n], DType::Float32)],
            WeightData::single(data.clone()),
        );
        HttpHandler::new(s.model("big")).save(&m, &Default::default()).await.unwrap();
        // The version's objects: converter-style 4 MiB shards, the last one deleted in the bucket.
        let stored = support::stored(&s, "big").await;
        let key = stored.strip_prefix("s3://").unwrap().to_string();
        let version = key.rsplit('/').next().unwrap().to_string();
        let own: serde_json::Value =
            reqwest::get(format!("{}/@v/{version}/model.json", s.model("big"))).await.unwrap().json().await.unwrap();
        let files: Vec<String> = own["weightsManifest"][0]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().trim_start_matches("./").to_string())
            .collect();
        assert_eq!(files.len(), 3, "{own}");
        let (status, body) = weed.request("DELETE", &format!("/{key}/{}", files[2]), b"").unwrap();
        assert!(status < 300, "deleting the object: {status} {}", String::from_utf8_lossy(&body));

        let latest = reqwest::get(format!("{}/model.json", s.model("big"))).await.unwrap();
        assert_eq!(latest.status(), 200, "model.json is served without reading the weights");
        let latest: serde_json::Value = latest.json().await.unwrap();
        let urls: Vec<String> = latest["weightsManifest"][0]["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| format!("{}/{}", s.model("big"), p.as_str().unwrap()))
            .collect();
        let first = reqwest::get(&urls[0]).await.unwrap();
        assert_eq!(first.status(), 200);
        assert_eq!(first.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(first.bytes().await.unwrap() == data[..4 << 20], "the first shard's bytes");
        let part = reqwest::Client::new().get(&urls[1]).header("range", "bytes=100-199").send().await.unwrap();
        assert_eq!(part.status(), 206);
        assert!(part.bytes().await.unwrap() == data[(4 << 20) + 100..(4 << 20) + 200], "a range of the second shard");
        let gone = reqwest::get(&urls[2]).await.unwrap();
        assert_eq!(gone.status(), 404, "the deleted shard");
    });
}
