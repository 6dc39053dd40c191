//! Issue 12 against a real server on 127.0.0.1:0: upload limits, the store quota, immutable versions
//! (no mixed model.json/weights pairs under concurrent uploads and loads), shards served as stored
//! with ranges, and error messages without server paths.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use io_core::files::ModelFiles;
use io_core::testkit::{assert_same_model, fixtures};
use io_core::{LoadHandler, SaveHandler, WeightData};
use io_http::multipart::MultipartBody;
use io_http::HttpHandler;
use reqwest::{header, StatusCode};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// POSTs a multipart body made of `json` and `parts`; status and text.
async fn post(url: &str, json: &str, parts: &[(&str, Vec<u8>)]) -> (StatusCode, String) {
    let files = ModelFiles {
        model_json: Bytes::from(json.to_string()),
        weights: parts.iter().map(|(n, b)| (n.to_string(), WeightData::single(b.clone()))).collect(),
    };
    let body = MultipartBody::for_files(&files, "b0undary");
    let r = client()
        .post(url)
        .header(header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// model.json of one group with `paths` and a float32 weight of `n` elements.
fn doc(paths: &[&str], n: usize) -> String {
    serde_json::json!({
        "modelTopology": {"class_name": "Sequential"},
        "format": "layers-model",
        "weightsManifest": [{"paths": paths, "weights": [{"name": "w", "shape": [n], "dtype": "float32"}]}],
    })
    .to_string()
}

async fn save(url: &str, m: &io_core::ModelArtifacts) -> io_core::SaveResult {
    HttpHandler::new(url).save(m, &Default::default()).await.unwrap_or_else(|e| panic!("save to {url}: {e}"))
}

fn file_store(dir: &tempfile::TempDir) -> String {
    format!("file://{}/models", dir.path().display())
}

#[tokio::test]
async fn upload_limits_refuse_with_messages_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let s = support::start("", |c| {
        c.store = store.clone();
        c.max_model_json_bytes = 4000;
        c.max_upload_parts = 4;
        c.max_manifest_paths = 3;
    })
    .await;
    let url = s.model("m");
    let ok = doc(&["w.bin"], 4);
    assert_eq!(post(&url, &ok, &[("w.bin", vec![1; 16])]).await.0, StatusCode::OK);
    let big_json = format!("{}{}", &ok[..ok.len() - 1], format_args!(",\"pad\":\"{}\"}}", "x".repeat(5000)));
    type Case<'a> = (&'a str, String, Vec<(&'a str, Vec<u8>)>, StatusCode, &'a str);
    let cases: Vec<Case> = vec![
        (
            "model.json too big",
            big_json,
            vec![("w.bin", vec![0; 16])],
            StatusCode::PAYLOAD_TOO_LARGE,
            "over 4000 bytes",
        ),
        (
            "too many parts",
            doc(&["a.bin", "b.bin", "c.bin"], 16),
            vec![("a.bin", vec![0; 16]), ("b.bin", vec![0; 16]), ("c.bin", vec![0; 16]), ("d.bin", vec![0; 16])],
            StatusCode::PAYLOAD_TOO_LARGE,
            "more than 4 parts",
        ),
        (
            "too many paths",
            doc(&["a.bin", "b.bin", "c.bin", "d.bin"], 4),
            vec![("a.bin", vec![0; 4])],
            StatusCode::PAYLOAD_TOO_LARGE,
            "names 4 weight files; this server accepts at most 3",
        ),
        (
            "a path named twice",
            doc(&["w.bin", "w.bin"], 4),
            vec![("w.bin", vec![0; 8])],
            StatusCode::BAD_REQUEST,
            "duplicate file basename 'w.bin'",
        ),
        (
            "one part named three times (would multiply bytes on disk)",
            doc(&["w.bin", "./w.bin", "x/w.bin"], 12),
            vec![("w.bin", vec![0; 16])],
            StatusCode::BAD_REQUEST,
            "duplicate file basename 'w.bin'",
        ),
        (
            "a part the manifest does not name",
            doc(&["w.bin"], 4),
            vec![("w.bin", vec![0; 16]), ("extra.bin", vec![0; 1 << 16])],
            StatusCode::BAD_REQUEST,
            "part 'extra.bin' that the manifest of its model.json does not name",
        ),
        (
            "more bytes than declared",
            doc(&["w.bin"], 4),
            vec![("w.bin", vec![0; 17])],
            StatusCode::BAD_REQUEST,
            "holds more bytes than the weights of its manifest group declare",
        ),
        (
            "fewer bytes than declared",
            doc(&["w.bin"], 4),
            vec![("w.bin", vec![0; 15])],
            StatusCode::BAD_REQUEST,
            "declare 16 bytes; its files hold 15",
        ),
        (
            "the same part twice",
            doc(&["w.bin"], 4),
            vec![("w.bin", vec![0; 8]), ("w.bin", vec![0; 8])],
            StatusCode::BAD_REQUEST,
            "two files are named 'w.bin'",
        ),
    ];
    for (case, json, parts, status, says) in cases {
        let (got, text) = post(&url, &json, &parts).await;
        assert_eq!(got, status, "{case}: {text}");
        assert!(text.contains(says), "{case}: {text}");
        assert!(!text.contains(&dir.path().display().to_string()), "{case}: a server path in {text}");
    }
    let versions: serde_json::Value =
        client().get(format!("{url}/versions")).send().await.unwrap().json().await.unwrap();
    assert_eq!(versions["versions"].as_array().unwrap().len(), 1, "only the good upload was stored: {versions}");
    let weights = client().get(support::weights_url(&s, "m").await).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&weights[..], &[1; 16]);
}

#[tokio::test]
async fn the_store_quota_gives_507_with_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let s = support::start("", |c| {
        c.store = store.clone();
        c.max_store_bytes = Some(3000);
    })
    .await;
    save(&s.model("one"), &fixtures::model("a")).await;
    let r = HttpHandler::new(s.model("two")).save(&fixtures::model("b"), &Default::default()).await.unwrap_err();
    match r {
        io_core::Error::HttpStatus { status: 507, .. } => {}
        e => panic!("over the quota: {e}"),
    }
    let body = MultipartBody::for_artifacts(&fixtures::model("b"), "q").unwrap();
    let r = client()
        .post(s.model("two"))
        .header(header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
    let text = r.text().await.unwrap();
    assert!(text.contains("quota is 3000 bytes") && text.contains("this upload needs"), "{text}");
    let list: serde_json::Value =
        client().get(format!("{}/models", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_object().unwrap().keys().collect::<Vec<_>>(), ["one"]);
}

/// Versions: each save is one, `--keep-versions 2` keeps two, old URLs of a removed version are 404,
/// version files are immutable, `GET /models` lists names only, and a restarted server serves the same.
#[tokio::test]
async fn versions_are_immutable_listed_pruned_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let s = support::start("", |c| {
        c.store = store.clone();
        c.version_grace = Duration::ZERO;
    })
    .await;
    let mut jsons = Vec::new();
    for m in ["a", "b", "c"] {
        let body = MultipartBody::for_artifacts(&fixtures::model(m), "v").unwrap();
        let r = client()
            .put(s.model("team/m"))
            .header(header::CONTENT_TYPE, body.content_type())
            .body(body.to_bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v = r.headers()["modelio-version"].to_str().unwrap().to_string();
        jsons.push(format!("{}/@v/{v}/model.json", s.model("team/m")));
    }
    let listed: serde_json::Value =
        client().get(format!("{}/versions", s.model("team/m"))).send().await.unwrap().json().await.unwrap();
    let items = listed["versions"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    assert_eq!(format!("{}{}", s.base, items[0]["modelJson"].as_str().unwrap()), jsons[2], "newest first");
    assert_eq!(items[1]["info"]["weightDataBytes"], 724, "{listed}");
    assert_eq!(client().get(&jsons[0]).send().await.unwrap().status(), StatusCode::NOT_FOUND, "pruned");
    for (i, m) in [(1, "b"), (2, "c")] {
        let r = client().get(&jsons[i]).send().await.unwrap();
        assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
        let back = HttpHandler::new(&jsons[i]).load(&Default::default()).await.unwrap();
        assert_same_model(&format!("version {i}"), &back, &fixtures::model(m));
    }
    let list: serde_json::Value =
        client().get(format!("{}/models", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_object().unwrap().keys().collect::<Vec<_>>(), ["team/m"], "{list}");
    assert_eq!(list["team/m"]["weightDataBytes"], fixtures::weight_bytes("c").len());

    let again = support::start("", |c| c.store = store.clone()).await;
    let json = format!("{}/model.json", again.model("team/m"));
    let back = HttpHandler::new(&json).load(&Default::default()).await.unwrap();
    assert_same_model("after a restart", &back, &fixtures::model("c"));
    let r = client().get(&json).send().await.unwrap();
    assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
    let again_listed: serde_json::Value =
        client().get(format!("{}/versions", again.model("team/m"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(again_listed, listed);
}

/// A version beyond `keep_versions` stays for `version_grace` after it was replaced (a load that
/// read its model.json can still fetch its weights), and a save after that deletes it.
#[tokio::test]
async fn a_replaced_version_stays_for_the_grace_period() {
    let s = support::start("grace", |c| c.version_grace = Duration::from_millis(1500)).await;
    let mut weights = Vec::new();
    for m in ["a", "b", "c"] {
        save(&s.model("g"), &fixtures::model(m)).await;
        weights.push(support::weights_url(&s, "g").await);
    }
    let r = client().get(&weights[0]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "replaced moments ago: kept for the grace period");
    assert_eq!(r.bytes().await.unwrap(), fixtures::weight_bytes("a"));
    let listed: serde_json::Value =
        client().get(format!("{}/versions", s.model("g"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["versions"].as_array().unwrap().len(), 3, "{listed}");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    save(&s.model("g"), &fixtures::model("a")).await;
    for (i, w) in weights.iter().enumerate().take(2) {
        let status = client().get(w).send().await.unwrap().status();
        assert_eq!(status, StatusCode::NOT_FOUND, "version {i}: replaced longer ago than the grace: deleted");
    }
    assert_eq!(client().get(&weights[2]).send().await.unwrap().status(), StatusCode::OK, "the previous version");
    let listed: serde_json::Value =
        client().get(format!("{}/versions", s.model("g"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["versions"].as_array().unwrap().len(), 2, "{listed}");
}

/// 20 uploaders and 20 loaders on one name, models of equal size whose bytes say which upload they
/// come from: every (model.json, weights) pair a loader completes comes from one upload.
async fn no_mixed_pairs_on(store: String) {
    let s = Arc::new(
        support::start("mix", |c| {
            c.store = store.clone();
            // Every uploader at once (the default admits 4 and answers 503 to the rest).
            c.limits.max_concurrent_uploads = 64;
        })
        .await,
    );
    let model = |i: usize| {
        let mut m = fixtures::model("a");
        m.weight_data = WeightData::single(vec![i as u8; m.weight_data.len()]);
        m.user_defined_metadata = Some(serde_json::json!({ "writer": i }).into());
        m
    };
    save(&s.model("m"), &model(0)).await;
    let (done, complete, failed) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut tasks = Vec::new();
    for w in 1..=20usize {
        let (s, done, m) = (s.clone(), done.clone(), model(w));
        tasks.push(tokio::spawn(async move {
            for _ in 0..3 {
                save(&s.model("m"), &m).await;
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for _ in 0..20 {
        let (s, done, complete, failed) = (s.clone(), done.clone(), complete.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            let c = client();
            while done.load(Ordering::SeqCst) < 20 {
                let r = c.get(format!("{}/model.json", s.model("m"))).send().await.unwrap();
                let status = r.status();
                let json: serde_json::Value = r.json().await.unwrap();
                assert_eq!(status, StatusCode::OK, "the latest model.json always answers: {json}");
                let writer = json["userDefinedMetadata"]["writer"].as_u64().unwrap() as u8;
                let path = json["weightsManifest"][0]["paths"][0].as_str().unwrap();
                let r = c.get(format!("{}/{path}", s.model("m"))).send().await.unwrap();
                if r.status() == StatusCode::NOT_FOUND {
                    failed.fetch_add(1, Ordering::SeqCst); // the version was pruned meanwhile: an error, not a mix
                    continue;
                }
                assert_eq!(r.status(), StatusCode::OK);
                let bytes = r.bytes().await.unwrap();
                assert!(
                    bytes.iter().all(|&b| b == writer),
                    "model.json of upload {writer} with weights {:?}",
                    &bytes[..4]
                );
                complete.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (ok, err) = (complete.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    eprintln!("{store}: {ok} consistent pairs, {err} loads of a pruned version (404), no mixed pair");
    assert!(ok > 20, "too few loads completed: {ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_and_loads_never_mix_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    no_mixed_pairs_on(file_store(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_and_loads_never_mix_on_a_memory_store() {
    no_mixed_pairs_on("memory://mixing".into()).await;
}

/// A converter-style model put in the store folder by another tool is served with its 4 shards;
/// ranges work; a file it does not have is 404 without server paths; a FIFO in a model folder does
/// not stall anything.
#[tokio::test]
async fn shards_stay_shards_with_ranges_and_fifos_do_not_stall() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let m = fixtures::model("d");
    modelio::registry().save_with(&format!("{store}/conv"), &m, &io_core::Options::new().shard_size(70)).await.unwrap();
    let s = support::start("", |c| c.store = store.clone()).await;
    let json: serde_json::Value =
        client().get(format!("{}/model.json", s.model("conv"))).send().await.unwrap().json().await.unwrap();
    let paths: Vec<&str> =
        json["weightsManifest"][0]["paths"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    assert_eq!(paths, ["group1-shard1of4.bin", "group1-shard2of4.bin", "group1-shard3of4.bin", "group1-shard4of4.bin"]);
    let all = fixtures::weight_bytes("d");
    for (i, p) in paths.iter().enumerate() {
        let r = client().get(format!("{}/{p}", s.model("conv"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::ACCEPT_RANGES], "bytes");
        assert_eq!(&r.bytes().await.unwrap()[..], &all[i * 70..((i + 1) * 70).min(all.len())]);
    }
    let shard2 = format!("{}/group1-shard2of4.bin", s.model("conv"));
    let r = client().get(&shard2).header(header::RANGE, "bytes=10-19").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes 10-19/70");
    assert_eq!(&r.bytes().await.unwrap()[..], &all[80..90]);
    let r = client().get(&shard2).header(header::RANGE, "bytes=-5").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await.unwrap()[..], &all[135..140]);
    let r = client().get(&shard2).header(header::RANGE, "bytes=70-").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */70");
    let back = HttpHandler::new(format!("{}/model.json", s.model("conv"))).load(&Default::default()).await.unwrap();
    assert_same_model("the sharded model via the server", &back, &m);

    // Versioned files take ranges too.
    save(&s.model("up"), &fixtures::model("d")).await;
    let w = support::weights_url(&s, "up").await;
    let r = client().get(&w).header(header::RANGE, "bytes=0-3").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&r.bytes().await.unwrap()[..], &all[..4]);

    for missing in ["group1-shard9of9.bin", "weights.bin", "model.weights.bin"] {
        let r = client().get(format!("{}/{missing}", s.model("conv"))).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{missing}");
        let text = r.text().await.unwrap();
        assert!(!text.contains(&dir.path().display().to_string()), "{text}");
        assert!(text.contains("has no file"), "{text}");
    }
    let r = client().get(format!("{}/@v/0000000000001-0123456789ab/model.json", s.model("up"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(!r.text().await.unwrap().contains(&dir.path().display().to_string()));

    // A FIFO in place of a shard: model.json is served (the weights are not read for it), the FIFO
    // is refused at once, and other requests go on.
    let shard = dir.path().join("models/conv/group1-shard3of4.bin");
    std::fs::remove_file(&shard).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(&shard).status().unwrap().success());
    let quick = std::time::Duration::from_secs(5);
    let c = reqwest::Client::builder().timeout(quick).build().unwrap();
    assert_eq!(c.get(format!("{}/model.json", s.model("conv"))).send().await.unwrap().status(), StatusCode::OK);
    let r = c.get(format!("{}/group1-shard3of4.bin", s.model("conv"))).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r.text().await.unwrap().contains("not a regular file"));
    assert_eq!(c.get(&shard2).send().await.unwrap().status(), StatusCode::OK);
}

/// A name cannot be both a model and a prefix of other models: 409 with a message, nothing deleted.
async fn nested_names_conflict_on(s: &support::Running) {
    save(&s.model("a"), &fixtures::model("a")).await;
    save(&s.model("x/y"), &fixtures::model("b")).await;
    for (name, says) in [("a/b", "model 'a' exists"), ("a/b/c", "model 'a' exists"), ("x", "models lie under 'x'")] {
        let body = MultipartBody::for_artifacts(&fixtures::model("c"), "n").unwrap();
        let r = client()
            .post(s.model(name))
            .header(header::CONTENT_TYPE, body.content_type())
            .body(body.to_bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CONFLICT, "{name}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{name}: {text}");
    }
    for (name, m) in [("a", "a"), ("x/y", "b")] {
        let back = HttpHandler::new(format!("{}/model.json", s.model(name))).load(&Default::default()).await.unwrap();
        assert_same_model(&format!("{name} after the refused saves"), &back, &fixtures::model(m));
    }
    let list: serde_json::Value =
        client().get(format!("{}/models", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(list.as_object().unwrap().keys().collect::<Vec<_>>(), ["a", "x/y"]);
}

#[tokio::test]
async fn nested_names_conflict_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    nested_names_conflict_on(&support::start("", |c| c.store = store.clone()).await).await;
}

#[tokio::test]
async fn nested_names_conflict_on_a_memory_store() {
    nested_names_conflict_on(&support::start("nested", |_| {}).await).await;
}

/// An upload refused before its body is read (here 409 for a nested name) is answered, not cut: a
/// client that sends its body after the head (as browsers and HTTP clients do, the body in later
/// writes) reads the status and message, instead of a reset connection because the server closed
/// with the body unread (the server reads and drops the rest first, up to `conn::LINGER_BYTES`).
#[tokio::test]
async fn a_refused_upload_is_answered_while_its_body_is_still_coming() {
    use std::io::{Read, Write};
    let s = support::start("linger", |_| {}).await;
    save(&s.model("a"), &fixtures::model("a")).await;
    let files = ModelFiles {
        model_json: Bytes::from(doc(&["w.bin"], 1 << 18)),
        weights: vec![("w.bin".to_string(), WeightData::single(vec![7u8; 1 << 20]))],
    };
    let body = MultipartBody::for_files(&files, "b0undary");
    let url = reqwest::Url::parse(&s.model("a/b")).unwrap();
    let (addr, path) = (format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()), url.path().to_string());
    let answer = tokio::task::spawn_blocking(move || {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
            body.content_type(),
            body.to_bytes().len()
        );
        c.write_all(head.as_bytes()).unwrap();
        // The server has the head and could answer now; the body follows a moment later.
        std::thread::sleep(Duration::from_millis(300));
        // In pieces, as a client streams a file: a server that closed with the body unread resets
        // the connection, and the next write fails (hyper's client then gives up on the answer).
        let bytes = body.to_bytes();
        let mut sent = Ok(());
        for piece in bytes.chunks(128 << 10) {
            sent = c.write_all(piece).map_err(|e| e.to_string());
            if sent.is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        (sent, String::from_utf8_lossy(&got).into_owned())
    })
    .await
    .unwrap();
    let (sent, text) = answer;
    assert!(sent.is_ok(), "the server cut the upload off before answering: {sent:?} ({text:?})");
    assert!(text.starts_with("HTTP/1.1 409"), "{text}");
    assert!(text.contains("model 'a' exists"), "{text}");
}

/// Long, non-NFC and invisible names are 400 without server paths; a corrupt model does not break
/// `GET /models`.
#[tokio::test]
async fn name_rules_and_a_corrupt_model_in_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let s = support::start("", |c| c.store = store.clone()).await;
    let body = MultipartBody::for_artifacts(&fixtures::model("a"), "n").unwrap();
    let long_segment = "x".repeat(256);
    let y = "y".repeat(200);
    let long_name = [y.as_str(); 6].join("/");
    for (name, says) in [
        (long_segment.as_str(), "at most 255"),
        (long_name.as_str(), "at most 1024"),
        ("u%CC%88", "NFC"),
        ("a%E2%80%AEb", "invisible or bidirectional"),
        ("a%E2%80%8Bb", "invisible or bidirectional"),
        (".modelio/versions/a", "reserved"),
    ] {
        let r = client()
            .post(s.model(name))
            .header(header::CONTENT_TYPE, body.content_type())
            .body(body.to_bytes())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{name}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{name}: {text}");
        assert!(!text.contains(&dir.path().display().to_string()), "{text}");
    }
    save(&s.model("good"), &fixtures::model("a")).await;
    std::fs::create_dir_all(dir.path().join("models/bad")).unwrap();
    std::fs::write(dir.path().join("models/bad/model.json"), b"{ not json").unwrap();
    let r = client().get(format!("{}/models", s.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let list: serde_json::Value = r.json().await.unwrap();
    assert_eq!(list["good"]["weightDataBytes"], 92, "{list}");
    let err = list["bad"]["error"].as_str().unwrap_or_else(|| panic!("{list}"));
    assert!(err.contains("not valid JSON") && !err.contains(&dir.path().display().to_string()), "{err}");
}

/// The names `GET /models` lists.
async fn listed(base: &str) -> Vec<String> {
    let list: serde_json::Value = client().get(format!("{base}/models")).send().await.unwrap().json().await.unwrap();
    list.as_object().unwrap().keys().cloned().collect()
}

/// Uploads fixture model `m` to `url`: status and text.
async fn upload(url: &str, m: &str) -> (StatusCode, String) {
    let body = MultipartBody::for_artifacts(&fixtures::model(m), "q").unwrap();
    let r = client()
        .post(url)
        .header(header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .send()
        .await
        .unwrap();
    (r.status(), r.text().await.unwrap())
}

/// A name nested deeper than the store's listing reaches would be a model that `GET /models` does not
/// list and the quota does not count (any number of them past `--max-store-bytes`): such names are
/// refused, and the deepest accepted one is listed and counted (models a + b are over the quota).
#[tokio::test]
async fn deeply_nested_names_are_listed_and_counted_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let s = support::start("", |c| {
        c.store = store.clone();
        c.max_store_bytes = Some(3000);
    })
    .await;
    let deep = ["s"; 20].join("/");
    let (status, text) = upload(&s.model(&deep), "a").await;
    if status == StatusCode::OK {
        assert_eq!(listed(&s.base).await, [deep], "an accepted model is listed");
        assert_eq!(upload(&s.model("x"), "b").await.0, StatusCode::INSUFFICIENT_STORAGE, "and counted by the quota");
        return;
    }
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("segments"), "{text}");
    let deepest = ["s"; 15].join("/");
    assert_eq!(upload(&s.model(&deepest), "a").await.0, StatusCode::OK);
    assert_eq!(listed(&s.base).await, [deepest]);
    assert_eq!(upload(&s.model("x"), "b").await.0, StatusCode::INSUFFICIENT_STORAGE, "the deepest name is counted");
}
