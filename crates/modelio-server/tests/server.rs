//! The server over real HTTP: modelio's client and raw requests against every route and failure.

mod support;

use io_core::testkit::{assert_same_model, fixtures};
use io_core::{LoadHandler, SaveHandler};
use io_http::multipart::MultipartBody;
use io_http::HttpHandler;
use reqwest::{header, StatusCode};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn save(url: &str, m: &str) -> io_core::SaveResult {
    HttpHandler::new(url)
        .save(&fixtures::model(m), &Default::default())
        .await
        .unwrap_or_else(|e| panic!("save {m} to {url}: {e}"))
}

#[tokio::test]
async fn fixtures_round_trip_with_nested_names() {
    let s = support::start("rt", |_| {}).await;
    for m in fixtures::MODELS {
        let url = s.model(&format!("team/model-{m}"));
        let res = save(&url, m).await;
        assert_eq!(res.responses[0].status, 200);
        let back = HttpHandler::new(format!("{url}/model.json")).load(&Default::default()).await.unwrap();
        assert_same_model(&format!("model {m} via the server"), &back, &fixtures::model(m));
        let stored = modelio::registry().load(&support::stored(&s, &format!("team/model-{m}")).await).await.unwrap();
        assert_same_model(&format!("model {m} in the store"), &stored, &fixtures::model(m));
    }
}

#[tokio::test]
async fn list_info_and_delete() {
    list_info_and_delete_on(support::start("list", |_| {}).await).await;
}

/// The default kind of store, a folder via `file://`, lists and deletes too.
#[tokio::test]
async fn list_info_and_delete_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}/models", dir.path().display());
    let s = support::start("", |c| c.store = store.clone()).await;
    list_info_and_delete_on(s).await;
    assert!(dir.path().join("models/dir/two/model.json").is_file());
    assert!(dir.path().join("models/.modelio/versions/dir/two").is_dir());
    assert!(!dir.path().join("models/one").exists(), "the deleted model's folder is gone");
    assert!(!dir.path().join("models/.modelio/versions/one").exists(), "and so are its versions");
}

async fn list_info_and_delete_on(s: support::Running) {
    save(&s.model("one"), "a").await;
    save(&s.model("dir/two"), "b").await;
    let all: serde_json::Value = client().get(format!("{}/models", s.base)).send().await.unwrap().json().await.unwrap();
    let names: Vec<&String> = all.as_object().unwrap().keys().collect();
    assert_eq!(names, ["dir/two", "one"]);
    assert_eq!(all["one"]["weightDataBytes"], 92);
    let info: serde_json::Value = client().get(s.model("dir/two")).send().await.unwrap().json().await.unwrap();
    assert_eq!(info["weightDataBytes"], 724);
    let del = client().delete(s.model("one")).send().await.unwrap();
    assert_eq!(del.status(), StatusCode::OK);
    assert_eq!(del.json::<serde_json::Value>().await.unwrap()["weightDataBytes"], 92);
    for r in [
        client().get(format!("{}/model.json", s.model("one"))),
        client().delete(s.model("one")),
        client().get(s.model("one")),
    ] {
        let r = r.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.text().await.unwrap().contains("not found"));
    }
}

#[tokio::test]
async fn files_have_types_lengths_etags_and_head() {
    let s = support::start("etag", |_| {}).await;
    save(&s.model("m"), "d").await;
    let weights = support::weights_url(&s, "m").await;
    assert!(weights.contains("/models/m/@v/"), "the weights URL carries the version: {weights}");
    for (url, ty, len, cache) in [
        (format!("{}/model.json", s.model("m")), "application/json", None, "no-cache"),
        (weights.clone(), "application/octet-stream", Some(280), "public, max-age=31536000, immutable"),
    ] {
        let r = client().get(&url).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], ty);
        assert_eq!(r.headers()[header::CACHE_CONTROL], cache);
        let tag = r.headers()[header::ETAG].clone();
        let declared: usize = r.headers()[header::CONTENT_LENGTH].to_str().unwrap().parse().unwrap();
        let body = r.bytes().await.unwrap();
        assert_eq!(declared, body.len());
        if let Some(len) = len {
            assert_eq!(body.len(), len);
            assert!(body == fixtures::weight_bytes("d"));
        } else {
            // TF.js's own upload of model d, with weight paths pointing at the version's files.
            let served: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let sent: serde_json::Value = serde_json::from_slice(
                &std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../../fixtures/tfjs/node_http_upload/d/parts/model.json"
                ))
                .unwrap(),
            )
            .unwrap();
            for key in ["modelTopology", "trainingConfig", "format", "generatedBy", "convertedBy"] {
                assert_eq!(served[key], sent[key], "{key}");
            }
            assert_eq!(served["weightsManifest"][0]["weights"], sent["weightsManifest"][0]["weights"]);
            assert!(served["weightsManifest"][0]["paths"][0].as_str().unwrap().starts_with("@v/"));
        }
        let head = client().head(&url).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], declared.to_string());
        assert_eq!(head.headers()[header::ETAG], tag);
        assert!(head.bytes().await.unwrap().is_empty());
        let cached = client().get(&url).header(header::IF_NONE_MATCH, tag.clone()).send().await.unwrap();
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        let other = client().get(&url).header(header::IF_NONE_MATCH, "\"nope\"").send().await.unwrap();
        assert_eq!(other.status(), StatusCode::OK);
    }
    let before = client().get(&weights).send().await.unwrap().headers()[header::ETAG].clone();
    save(&s.model("m"), "a").await;
    let now = support::weights_url(&s, "m").await;
    assert_ne!(now, weights, "a new version, new weight URLs");
    let after = client().get(&now).send().await.unwrap().headers()[header::ETAG].clone();
    assert_ne!(before, after, "the ETag must change with the content");
}

#[tokio::test]
async fn cors_reads_from_any_origin_writes_from_listed_ones() {
    let s = support::start("cors", |_| {}).await;
    let preflight = |url: String, origin: &'static str, method: &'static str| {
        client()
            .request(reqwest::Method::OPTIONS, url)
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, method)
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .send()
    };
    let pre = preflight(s.model("x/model.json"), "http://page.example", "GET").await.unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD");
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS], "authorization");
    let pre = preflight(s.model("x"), "http://page.example", "POST").await.unwrap();
    assert_eq!(pre.status(), StatusCode::FORBIDDEN, "no cross-origin writes by default");
    assert!(pre.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let s = support::start("cors2", |c| c.cors_origins = vec!["http://ok.example".into()]).await;
    let pre = preflight(s.model("x"), "http://ok.example", "POST").await.unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://ok.example");
    assert!(pre.headers()[header::ACCESS_CONTROL_ALLOW_METHODS].to_str().unwrap().contains("POST"));
    let get = |origin: &'static str| client().get(format!("{}/models", s.base)).header(header::ORIGIN, origin).send();
    let ok = get("http://ok.example").await.unwrap();
    assert_eq!(ok.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://ok.example");
    assert!(ok.headers()[header::ACCESS_CONTROL_EXPOSE_HEADERS].to_str().unwrap().contains("ETag"));
    assert_eq!(get("http://evil.example").await.unwrap().headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let s = support::start("cors3", |c| c.cors_any_read = false).await;
    let r = client().get(format!("{}/models", s.base)).header(header::ORIGIN, "http://x").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

/// Sends a request with the path exactly as given (HTTP clients normalize `..` and `%2E%2E` away).
async fn raw_post(base: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    sock.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn bad_names_are_refused() {
    let s = support::start("names", |_| {}).await;
    let body = MultipartBody::for_artifacts(&fixtures::model("a"), "b0undary").unwrap();
    let bad = [
        "a/../b",
        "..",
        "a/%2E%2E/b",
        "%2e%2E",
        "a/./b",
        "a%5Cb",
        "a\\b",
        "a//b",
        "/%2Fetc",
        "//etc",
        "m/model.json",
        "x/",
        "a%00b",
    ];
    for name in bad {
        let (status, text) =
            raw_post(&s.base, &format!("/models/{name}"), &body.content_type(), &body.to_bytes()).await;
        assert_eq!(status, 400, "name {name:?}: {text}");
        assert!(text.contains("model name"), "name {name:?}: {text}");
    }
    let (status, text) = raw_post(&s.base, "/models/ok/name", &body.content_type(), &body.to_bytes()).await;
    assert_eq!(status, 200, "{text}");
    let all: serde_json::Value = client().get(format!("{}/models", s.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(all.as_object().unwrap().keys().collect::<Vec<_>>(), ["ok/name"]);
}

/// Every bad upload is refused with a message, and the model saved before stays as it was.
#[tokio::test]
async fn bad_uploads_store_nothing() {
    let s = support::start("bad", |c| c.max_upload_bytes = 100_000).await;
    let url = s.model("keep");
    save(&url, "a").await;
    let good = MultipartBody::for_artifacts(&fixtures::model("b"), "XyZ").unwrap();
    let mut short = good.clone();
    let w = short.pieces.len() - 2;
    short.pieces[w] = short.pieces[w].slice(..100);
    let mut bad_json = good.clone();
    bad_json.pieces[1] = bytes::Bytes::from_static(b"{\"modelTopology\": ");
    let mut no_json = good.clone();
    no_json.pieces.drain(..2);
    let w0 = &no_json.pieces[0];
    no_json.pieces[0] = w0.slice(2..);
    let big = MultipartBody::for_artifacts(&fixtures::model("c"), "XyZ").unwrap();
    let cases: Vec<(&str, String, bytes::Bytes, StatusCode, &str)> = vec![
        (
            "short weights",
            good.content_type(),
            short.to_bytes(),
            StatusCode::BAD_REQUEST,
            "expected 724 bytes, found 100",
        ),
        ("broken model.json", good.content_type(), bad_json.to_bytes(), StatusCode::BAD_REQUEST, "not valid JSON"),
        ("no model.json", good.content_type(), no_json.to_bytes(), StatusCode::BAD_REQUEST, "no 'model.json' part"),
        ("not multipart", "application/json".into(), bytes::Bytes::from_static(b"{}"), StatusCode::BAD_REQUEST, ""),
        ("truncated", good.content_type(), good.to_bytes().slice(..300), StatusCode::BAD_REQUEST, "multipart"),
    ];
    for (case, ct, body, status, says) in cases {
        let r = client().put(&url).header(header::CONTENT_TYPE, ct).body(body).send().await.unwrap();
        assert_eq!(r.status(), status, "{case}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{case}: {text}");
        let back = HttpHandler::new(format!("{url}/model.json")).load(&Default::default()).await.unwrap();
        assert_same_model(&format!("after {case}"), &back, &fixtures::model("a"));
    }
    // Over the limit, with a Content-Length and without one (chunked). The server answers 413 as soon
    // as it knows and closes the connection; a client still sending may see that as a broken pipe
    // instead of the answer. Either way nothing is stored and the old model stays.
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = big.pieces.iter().cloned().map(Ok).collect();
    let sized = client().put(&url).header(header::CONTENT_TYPE, big.content_type()).body(big.to_bytes());
    let chunked = client()
        .put(&url)
        .header(header::CONTENT_TYPE, big.content_type())
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)));
    for (case, req) in [("too large", sized), ("too large, chunked", chunked)] {
        match req.send().await {
            Ok(r) => {
                assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE, "{case}");
                if let Ok(text) = r.text().await {
                    assert!(
                        text.is_empty() || text.contains("at most 100000") || text.contains("too large"),
                        "{case}: {text}"
                    );
                }
            }
            Err(e) => assert!(e.is_request() || e.is_body(), "{case}: {e:?}"),
        }
        let back = HttpHandler::new(format!("{url}/model.json")).load(&Default::default()).await.unwrap();
        assert_same_model(&format!("after {case}"), &back, &fixtures::model("a"));
    }
    match HttpHandler::new(&url).save(&fixtures::model("c"), &Default::default()).await.unwrap_err() {
        io_core::Error::HttpStatus { status: 413, .. } | io_core::Error::Network { .. } => {}
        e => panic!("an upload over the limit: {e}"),
    }
    let back = HttpHandler::new(format!("{url}/model.json")).load(&Default::default()).await.unwrap();
    assert_same_model("after an upload over the limit", &back, &fixtures::model("a"));
}

/// GETs `url`: status, ETag (empty when absent) and body.
async fn fetch(url: &str) -> (StatusCode, String, bytes::Bytes) {
    let r = client().get(url).send().await.unwrap();
    let tag = r.headers().get(header::ETAG).map(|t| t.to_str().unwrap().to_string()).unwrap_or_default();
    (r.status(), tag, r.bytes().await.unwrap())
}

const HOUR: std::time::Duration = std::time::Duration::from_secs(3600);

/// The latest weights of `m` as a client loads them: model.json, then the first file it names
/// (status of model.json when it is not 200).
async fn latest_weights(s: &support::Running) -> (StatusCode, String, bytes::Bytes) {
    let (status, _, json) = fetch(&format!("{}/model.json", s.model("m"))).await;
    if status != StatusCode::OK {
        return (status, String::new(), json);
    }
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    fetch(&format!("{}/{}", s.model("m"), json["weightsManifest"][0]["paths"][0].as_str().unwrap())).await
}

/// With an interval of an hour, only writes through the server can change what is served: a re-upload
/// and a delete are seen by the very next request, an unchanged model is re-served identically.
#[tokio::test]
async fn cached_files_follow_uploads_and_deletes_through_the_server() {
    let s = support::start("cache-writes", |c| c.revalidate_after = HOUR).await;
    let json = format!("{}/model.json", s.model("m"));
    save(&s.model("m"), "a").await;
    let weights = support::weights_url(&s, "m").await;
    let first = (fetch(&json).await, fetch(&weights).await);
    assert_eq!(first.1 .2, fixtures::weight_bytes("a"));
    for _ in 0..3 {
        assert_eq!((fetch(&json).await, fetch(&weights).await), first, "re-served identically");
    }
    for (url, tag) in [(&json, &first.0 .1), (&weights, &first.1 .1)] {
        let r = client().get(url).header(header::IF_NONE_MATCH, tag).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{url}");
        assert_eq!(r.headers()[header::ETAG], tag.as_str());
    }

    save(&s.model("m"), "b").await;
    let (status, tag, body) = latest_weights(&s).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(tag, first.1 .1, "a new ETag after a re-upload");
    assert_eq!(body, fixtures::weight_bytes("b"));
    assert_eq!(fetch(&weights).await, first.1, "the previous version is kept (--keep-versions 2) and unchanged");
    let back = HttpHandler::new(&json).load(&Default::default()).await.unwrap();
    assert_same_model("after the re-upload", &back, &fixtures::model("b"));
    let r = client().get(&json).header(header::IF_NONE_MATCH, &first.0 .1).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "the old ETag no longer matches");

    assert_eq!(client().delete(s.model("m")).send().await.unwrap().status(), StatusCode::OK);
    for url in [&json, &weights] {
        assert_eq!(fetch(url).await.0, StatusCode::NOT_FOUND, "{url} after the delete");
    }
    save(&s.model("m"), "a").await;
    let again = latest_weights(&s).await;
    assert_eq!((again.1.as_str(), &again.2), (first.1 .1.as_str(), &first.1 .2), "the same weights, the same ETag");
    assert_ne!(fetch(&json).await.1, first.0 .1, "model.json names the new version");
}

/// A store change made by another process (here: the registry directly, bypassing the server) is seen
/// after the revalidation interval; with an interval of an hour it is not seen, which shows the files
/// really come from the cache; with the cache off it is seen at once.
#[tokio::test]
async fn store_changes_outside_the_server_are_seen_after_the_interval() {
    store_changes_outside_on("memory://outside".into()).await;
}

/// The same on the default kind of store, a folder via `file://` (info from model.json's mtime and sizes).
#[tokio::test]
async fn store_changes_outside_the_server_are_seen_after_the_interval_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    store_changes_outside_on(format!("file://{}/models", dir.path().display())).await;
}

/// Three servers on one store: revalidating after 100 ms, after an hour, and without a cache. The
/// direct save replaces the server's version pointer with a plain model, served as it is.
async fn store_changes_outside_on(store: String) {
    let start = |interval, max| {
        let store = store.clone();
        support::start("", move |c| {
            c.store = store;
            c.revalidate_after = interval;
            c.cache_max_bytes = max;
        })
    };
    let short = start(std::time::Duration::from_millis(100), 1 << 20).await;
    let long = start(HOUR, 1 << 20).await;
    let uncached = start(HOUR, 0).await;
    save(&short.model("m"), "a").await;
    for s in [&short, &long, &uncached] {
        assert_eq!(latest_weights(s).await.2, fixtures::weight_bytes("a"));
    }
    let url = format!("{store}/m");
    modelio::registry().save(&url, &fixtures::model("b")).await.unwrap();
    assert_eq!(latest_weights(&uncached).await.2, fixtures::weight_bytes("b"), "no cache: seen at once");
    assert_eq!(latest_weights(&long).await.2, fixtures::weight_bytes("a"), "an hour's interval: still cached");
    poll(&format!("{store}: the direct save"), || async {
        latest_weights(&short).await.2 == fixtures::weight_bytes("b")
    })
    .await;
    let back = HttpHandler::new(format!("{}/model.json", short.model("m"))).load(&Default::default()).await.unwrap();
    assert_same_model("after the direct save", &back, &fixtures::model("b"));

    modelio::registry().remove_model(&url).await.unwrap();
    assert_eq!(latest_weights(&uncached).await.0, StatusCode::NOT_FOUND, "no cache: seen at once");
    assert_eq!(latest_weights(&long).await.0, StatusCode::OK, "an hour's interval: still cached");
    poll(&format!("{store}: the direct removal"), || async { latest_weights(&short).await.0 == StatusCode::NOT_FOUND })
        .await;
}

/// Waits (at most 30 s) until `ok` holds.
async fn poll<F: std::future::Future<Output = bool>>(what: &str, mut ok: impl FnMut() -> F) {
    for _ in 0..300 {
        if ok().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} was not seen by the server within 30 s");
}
