//! Loading over real HTTP: every converter fixture bit-exact, TF.js's exact shard URLs, and the
//! failures TF.js gets wrong (404 or short shards, 5xx, HTML instead of model.json).

mod support;

use std::sync::{Arc, Mutex};

use io_core::{Error, LoadHandler, ModelJson, Registry};
use io_core::{Options, Progress};
use io_http::HttpHandler;
use support::{fixtures as dir, Fault, Server};

fn node_load() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir().join("node_load/node_load_results.json")).unwrap()).unwrap()
}

/// The handler TF.js's load case `label` used (`node_load/node_load_results.json`).
fn handler_for(label: &str, srv: &Server, url: &str) -> HttpHandler {
    let parts = srv.url("/serve/node_http_upload/a/parts");
    let h = HttpHandler::new(url);
    match label {
        "http_a_weightPathPrefix" | "http_a_weightPathPrefix_withQuery" => h.weight_path_prefix(format!("{parts}/")),
        "http_a_weightPathPrefix_noTrailingSlash" => h.weight_path_prefix(parts),
        "http_a_weightUrlConverter" => {
            h.weight_url_converter(move |p| format!("{parts}/{}", p.trim_start_matches("./")))
        }
        _ => h,
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Every http load TF.js made: same URLs built, same requests on the wire, same bytes.
#[tokio::test]
async fn every_tfjs_load_case_requests_the_same_urls_and_loads_bit_exact() {
    let srv = Server::start().await;
    let port = srv.base.rsplit(':').next().unwrap().to_string();
    let results = node_load();
    let mut checked = 0;
    for (label, case) in results["results"].as_object().unwrap() {
        let (Some(fetch_args), Some(saw)) = (case["fetchArgs"].as_array(), case["serverSaw"].as_array()) else {
            continue;
        };
        let fix = |v: &serde_json::Value| v.as_str().unwrap().replace("PORT", &port);
        let urls: Vec<String> = fetch_args.iter().map(fix).collect();
        if !urls[0].starts_with("http") || !urls[0].split('?').next().unwrap().ends_with("model.json") {
            continue; // tf.io.loadWeights and non-http cases
        }
        let h = handler_for(label, &srv, &urls[0]);
        srv.take_log();
        let got = h.load(&Default::default()).await;
        assert_eq!(sorted(srv.take_log()), sorted(saw.iter().map(fix).collect()), "{label}: requests on the wire");
        if urls.len() == 1 {
            let e = got.expect_err(label);
            assert!(matches!(&e, Error::NotFound { url, .. } if *url == urls[0]), "{label}: {e}");
            checked += 1;
            continue;
        }
        let mj = ModelJson::parse(&std::fs::read(dir().join(support_path(&urls[0]))).unwrap(), "fixture").unwrap();
        assert_eq!(h.weight_urls(&mj).concat(), urls[1..], "{label}: shard URLs as TF.js builds them");
        if case["ok"] == false {
            let e = got.expect_err(label);
            assert!(matches!(&e, Error::HttpStatus { status: 404, url, .. } if *url == urls[1]), "{label}: {e}");
            checked += 1;
            continue;
        }
        let a = got.unwrap_or_else(|e| panic!("{label}: {e}"));
        let want: Vec<u8> =
            saw[1..].iter().flat_map(|l| std::fs::read(dir().join(support_path(&fix(l)))).unwrap()).collect();
        assert!(a.weight_data.to_vec() == want, "{label}: weight bytes differ");
        assert_eq!(a.weight_data.chunks().len(), urls.len() - 1, "{label}: one buffer per shard, no join");
        assert_eq!(a.weight_specs, mj.artifacts.weight_specs, "{label}");
        assert_eq!(a.model_topology, mj.artifacts.model_topology, "{label}");
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} load cases checked");
}

/// The fixture file behind a served URL or a logged request line.
fn support_path(url_or_line: &str) -> String {
    let path = url_or_line.split("/serve/").nth(1).unwrap().split('?').next().unwrap();
    support::alias(&path.replace("/./", "/"))
}

/// Through the registry (`http` and `https` registered), with a query carried to every shard.
#[tokio::test]
async fn loads_through_the_registry_with_a_query() {
    let srv = Server::start().await;
    let r = Registry::new();
    io_http::register(&r);
    io_http::register(&r);
    assert_eq!(r.schemes(), io_http::SCHEMES);
    let url = srv.url("/serve/converter_write_weights/b_2groups_256B_shards/model.json?token=a%2Fb&v=2");
    let a = r.load(&url).await.unwrap();
    assert_eq!(a.weight_data.len(), 724);
    let log = srv.take_log();
    assert_eq!(log.len(), 5);
    assert!(log.iter().all(|l| l.ends_with("?token=a%2Fb&v=2")), "{log:?}");
}

async fn load_err(h: HttpHandler) -> Error {
    h.load(&Default::default()).await.expect_err("the load should fail")
}

const C: &str = "/serve/converter_write_weights/c_sharded";

#[tokio::test]
async fn missing_shard_is_an_error_naming_it() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/group1-shard2of2.bin"), Fault::Status(404, "Not Found"));
    let e = load_err(HttpHandler::new(srv.url(&format!("{C}/model.json")))).await;
    let shard = srv.url(&format!("{C}/group1-shard2of2.bin"));
    assert!(
        matches!(&e, Error::HttpStatus { status: 404, url, body_start, .. } if *url == shard && body_start == "Not Found"),
        "{e}"
    );
    assert_eq!(srv.take_log().iter().filter(|l| l.contains("shard2of2")).count(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn short_shard_is_a_mismatch_naming_it() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/group1-shard2of2.bin"), Fault::Short(1000));
    let e = load_err(HttpHandler::new(srv.url(&format!("{C}/model.json")))).await;
    let shard = srv.url(&format!("{C}/group1-shard2of2.bin"));
    match &e {
        Error::WeightsMismatch { weight, file, actual, .. } => {
            assert_eq!(weight, "dense_c/kernel");
            assert_eq!(file.as_deref(), Some(shard.as_str()));
            assert_eq!(*actual, 4_194_304 + 1000);
        }
        other => panic!("expected a weights mismatch, got {other}"),
    }
    assert!(e.to_string().contains(&shard), "{e}");
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/model.json"), Fault::FailTimes(503, 1));
    srv.fault(&format!("{C}/group1-shard1of2.bin"), Fault::FailTimes(500, 2));
    let h = HttpHandler::new(srv.url(&format!("{C}/model.json"))).backoff(std::time::Duration::from_millis(5));
    let a = h.load(&Default::default()).await.unwrap();
    assert_eq!(a.weight_data.len(), 4_404_000);
    let log = srv.take_log();
    assert_eq!(log.iter().filter(|l| l.contains("model.json")).count(), 2);
    assert_eq!(log.iter().filter(|l| l.contains("shard1of2")).count(), 3);
}

#[tokio::test]
async fn retries_run_out() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/group1-shard1of2.bin"), Fault::Status(502, "bad gateway"));
    let h =
        HttpHandler::new(srv.url(&format!("{C}/model.json"))).retries(2).backoff(std::time::Duration::from_millis(1));
    let e = load_err(h).await;
    assert!(matches!(e, Error::HttpStatus { status: 502, .. }), "{e}");
    assert_eq!(srv.take_log().iter().filter(|l| l.contains("shard1of2")).count(), 3);
}

#[tokio::test]
async fn html_instead_of_model_json() {
    let srv = Server::start().await;
    srv.fault("/serve/login/model.json", Fault::Html);
    let url = srv.url("/serve/login/model.json");
    let e = load_err(HttpHandler::new(&url)).await;
    assert!(
        matches!(&e, Error::InvalidModel { location, detail } if *location == url && detail.contains("HTML")),
        "{e}"
    );
}

#[tokio::test]
async fn missing_model_json_is_not_found() {
    let srv = Server::start().await;
    let url = srv.url("/serve/nope/model.json");
    let e = load_err(HttpHandler::new(&url)).await;
    assert!(matches!(&e, Error::NotFound { url: u, .. } if *u == url), "{e}");
}

/// Progress is in bytes, never goes back (also across a retried shard), and ends at 100%.
#[tokio::test]
async fn progress_is_monotonic_and_ends_at_total() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/group1-shard2of2.bin"), Fault::FailTimes(500, 1));
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = seen.clone();
    let h = HttpHandler::new(srv.url(&format!("{C}/model.json"))).backoff(std::time::Duration::from_millis(1));
    h.load(&Options::new().on_progress(move |p| s.lock().unwrap().push(p))).await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen.len() > 2, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].bytes <= w[1].bytes), "progress went back");
    assert!(seen.iter().all(|p| p.total == Some(4_404_000)));
    assert_eq!(seen.last().unwrap().bytes, 4_404_000);
}

/// Never more than `concurrency` weight requests at once.
#[tokio::test]
async fn concurrency_is_bounded() {
    let srv = Server::start().await;
    let g = "/serve/converter_write_weights/b_2groups_256B_shards";
    for s in ["group1-shard1of2", "group1-shard2of2", "group2-shard1of2", "group2-shard2of2"] {
        srv.fault(&format!("{g}/{s}.bin"), Fault::Slow(30));
    }
    HttpHandler::new(srv.url(&format!("{g}/model.json"))).concurrency(2).load(&Default::default()).await.unwrap();
    let max = srv.state.max_in_flight.load(std::sync::atomic::Ordering::SeqCst);
    assert!((1..=2).contains(&max), "{max} requests at once");
}

/// Auth headers from a request hook, and a replacement fetch that sees every request.
#[tokio::test]
async fn request_hook_and_replacement_fetch() {
    let srv = Server::start().await;
    let g = "/serve/converter_write_weights/a_quant_mixed";
    srv.fault(&format!("{g}/model.json"), Fault::Auth("Bearer s3cret"));
    srv.fault(&format!("{g}/group1-shard1of1.bin"), Fault::Auth("Bearer s3cret"));
    let url = srv.url(&format!("{g}/model.json"));
    let e = load_err(HttpHandler::new(&url)).await;
    assert!(matches!(e, Error::HttpStatus { status: 401, .. }), "{e}");
    let h = HttpHandler::new(&url).on_request(|rb| rb.bearer_auth("s3cret"));
    assert_eq!(
        h.load(&Default::default()).await.unwrap().weight_data.len(),
        std::fs::metadata(dir().join("converter_write_weights/a_quant_mixed/group1-shard1of1.bin")).unwrap().len()
            as usize
    );
    let calls: Arc<Mutex<Vec<String>>> = Arc::default();
    let c = calls.clone();
    let client = io_http::reqwest::Client::new();
    let h = HttpHandler::new(&url).header("authorization", "Bearer s3cret").unwrap().fetch(move |req| {
        c.lock().unwrap().push(req.url().path().to_string());
        let client = client.clone();
        Box::pin(async move { client.execute(req).await.map_err(|e| Error::storage("test-fetch", "", e)) })
    });
    h.load(&Default::default()).await.unwrap();
    assert_eq!(sorted(calls.lock().unwrap().clone()), [format!("{g}/group1-shard1of1.bin"), format!("{g}/model.json")]);
}

/// The handler can be awaited from an executor that is not tokio.
#[test]
fn works_without_a_tokio_runtime() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let srv = rt.block_on(Server::start());
    let url = srv.url(&format!("{C}/model.json"));
    let a = futures::executor::block_on(HttpHandler::new(url).load(&Default::default())).unwrap();
    assert_eq!(a.weight_data.len(), 4_404_000);
}

/// A request that outlives its time limit is a temporary network error, retried, then reported.
#[tokio::test]
async fn time_limit_applies_per_request() {
    let srv = Server::start().await;
    srv.fault(&format!("{C}/group1-shard2of2.bin"), Fault::Slow(5_000));
    let h = HttpHandler::new(srv.url(&format!("{C}/model.json")))
        .timeout(Some(std::time::Duration::from_millis(200)))
        .retries(1)
        .backoff(std::time::Duration::from_millis(1));
    let e = load_err(h).await;
    let shard = srv.url(&format!("{C}/group1-shard2of2.bin"));
    assert!(matches!(&e, Error::Network { url, temporary: true, .. } if *url == shard), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
    assert_eq!(srv.take_log().iter().filter(|l| l.contains("shard2of2")).count(), 2);
}

/// A server on a raw socket whose shard announces 8 bytes and sends 4 before closing; the count
/// of shard requests.
fn truncating_server() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let shard_requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = shard_requests.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { return };
            let mut req = [0u8; 4096];
            let n = s.read(&mut req).unwrap_or(0);
            let head = String::from_utf8_lossy(&req[..n]).to_string();
            let reply: Vec<u8> = if head.starts_with("GET /m/model.json") {
                let json = br#"{"modelTopology":{},"weightsManifest":[{"paths":["w.bin"],"weights":[{"name":"w","shape":[2],"dtype":"float32"}]}]}"#;
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    json.len()
                )
                .into_bytes();
                r.extend_from_slice(json);
                r
            } else {
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nabcd".to_vec()
            };
            let _ = s.write_all(&reply);
        }
    });
    (format!("http://{addr}/m/model.json"), shard_requests)
}

#[tokio::test]
async fn a_body_cut_short_is_retried_then_a_network_error_naming_the_shard() {
    let (url, shard_requests) = truncating_server();
    let e = load_err(HttpHandler::new(&url).retries(2).backoff(std::time::Duration::from_millis(1))).await;
    let shard = url.replace("model.json", "w.bin");
    assert!(matches!(&e, Error::Network { url, temporary: true, .. } if *url == shard), "{e:?}");
    assert!(e.to_string().contains(&shard), "{e}");
    assert_eq!(shard_requests.load(std::sync::atomic::Ordering::SeqCst), 3, "a cut-off body is retried");
}
