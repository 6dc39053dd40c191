//! Saving: the multipart body is TF.js's byte for byte, and a parser that is not ours accepts it.

mod support;

use io_core::testkit::fixtures;
use io_core::{Error, SaveHandler};
use io_http::multipart::MultipartBody;
use io_http::HttpHandler;
use support::{fixtures as dir, Server};

fn read(p: &str) -> Vec<u8> {
    std::fs::read(dir().join(p)).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn fixture_boundary(route: &str, m: &str) -> String {
    let v: serde_json::Value = serde_json::from_slice(&read(&format!("{route}/{m}/multipart.json"))).unwrap();
    v["boundary"].as_str().unwrap().to_string()
}

/// With Node's boundary, our whole request body equals the one Node's TF.js sent.
#[test]
fn body_is_byte_identical_to_tfjs_in_node() {
    for m in ["a", "b", "d"] {
        let body = MultipartBody::for_artifacts(&fixtures::model(m), &fixture_boundary("node_http_upload", m)).unwrap();
        let want = read(&format!("node_http_upload/{m}/request_body.bin"));
        assert!(
            body.to_bytes() == want,
            "model {m}: multipart body differs from node_http_upload/{m}/request_body.bin"
        );
        assert_eq!(body.len(), want.len() as u64);
        assert_eq!(
            body.content_type(),
            format!("multipart/form-data; boundary={}", fixture_boundary("node_http_upload", m))
        );
    }
}

/// Chromium's parts (and model c's model.json, whose body was not kept) are what we send too.
#[test]
fn parts_match_chromium_and_model_c() {
    for (route, m) in [("chromium_http_upload", "a"), ("chromium_http_upload", "d"), ("node_http_upload", "c")] {
        let body = MultipartBody::for_artifacts(&fixtures::model(m), "B").unwrap().to_bytes();
        let json = read(&format!("{route}/{m}/parts/model.json"));
        let at = body.windows(json.len()).position(|w| w == json);
        assert!(at.is_some(), "{route}/{m}: model.json part not found verbatim in our body");
    }
    assert!(MultipartBody::random_boundary() != MultipartBody::random_boundary());
}

/// A real upload, PUT with a custom header, parsed by `multer`: names, filenames, types and bytes.
#[tokio::test]
async fn upload_is_accepted_by_multer() {
    let srv = Server::start().await;
    *srv.state.upload_status.lock().unwrap() = Some((201, "{\"ok\":true}"));
    for m in ["a", "d", "c"] {
        let url = srv.url(&format!("/upload/{m}"));
        let h = HttpHandler::new(&url).method(io_http::reqwest::Method::PUT).header("X-Fixture", m).unwrap();
        let res = h.save(&fixtures::model(m), &Default::default()).await.unwrap_or_else(|e| panic!("save {m}: {e}"));
        assert_eq!(res.responses.len(), 1);
        assert_eq!((res.responses[0].status, res.responses[0].url.as_str()), (201, url.as_str()));
        assert_eq!(res.model_artifacts_info.weight_data_bytes, fixtures::info(m).weight_data_bytes);
        let up = srv.uploads().pop().unwrap();
        assert_eq!((up.method.as_str(), up.path.as_str()), ("PUT", format!("/upload/{m}").as_str()));
        assert_eq!(up.headers["x-fixture"], m);
        let names: Vec<_> =
            up.parts.iter().map(|p| (p.name.as_str(), p.file_name.as_deref(), p.content_type.as_deref())).collect();
        assert_eq!(
            names,
            [
                ("model.json", Some("model.json"), Some("application/json")),
                ("model.weights.bin", Some("model.weights.bin"), Some("application/octet-stream"))
            ]
        );
        assert_eq!(
            up.parts[0].data,
            read(&format!("node_http_upload/{m}/parts/model.json")),
            "model {m}: model.json part"
        );
        assert!(up.parts[1].data == fixtures::weight_bytes(m), "model {m}: weights part");
        let boundary = multer::parse_boundary(up.headers["content-type"].to_str().unwrap()).unwrap();
        let want_len = MultipartBody::for_artifacts(&fixtures::model(m), &boundary).unwrap().len();
        assert_eq!(up.headers["content-length"].to_str().unwrap(), want_len.to_string());
    }
}

/// Weights given as several buffers are sent without a join and arrive intact.
#[tokio::test]
async fn upload_of_many_buffers() {
    let srv = Server::start().await;
    let mut m = fixtures::model("b");
    let all = m.weight_data.to_bytes();
    m.weight_data = io_core::WeightData::from_chunks(vec![all.slice(..5), all.slice(5..400), all.slice(400..)]);
    HttpHandler::new(srv.url("/upload/many")).save(&m, &Default::default()).await.unwrap();
    assert!(srv.uploads()[0].parts[1].data == all);
    assert_eq!(srv.uploads()[0].method, "POST");
}

/// A non-2xx answer is an error with the status and the start of the body; nothing is retried.
#[tokio::test]
async fn server_error_on_save() {
    let srv = Server::start().await;
    *srv.state.upload_status.lock().unwrap() = Some((500, "disk full on /var/models\n  please retry later"));
    let url = srv.url("/upload/fail");
    match HttpHandler::new(&url).save(&fixtures::model("a"), &Default::default()).await {
        Err(Error::HttpStatus { status: 500, method, url: u, body_start }) => {
            assert_eq!((method.as_str(), u.as_str()), ("POST", url.as_str()));
            assert_eq!(body_start, "disk full on /var/models please retry later");
        }
        other => panic!("expected HTTP 500, got {other:?}"),
    }
    assert_eq!(srv.take_log().len(), 1, "a failed upload must not be retried");
}

/// Nobody listening: a network error naming the URL.
#[tokio::test]
async fn connection_refused_on_save() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/upload/x", l.local_addr().unwrap());
    drop(l);
    let e = HttpHandler::new(&url).save(&fixtures::model("a"), &Default::default()).await.unwrap_err();
    assert!(matches!(&e, Error::Network { url: u, .. } if *u == url), "{e:?}");
}
