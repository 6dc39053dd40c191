//! A binary (GraphDef) topology on every save route, through the facade's real plugins: refused
//! where TF.js refuses it (every route that writes a model.json, and `localstorage://`), always with
//! the one error text of `io_core::files::check_json_topology` and nothing written or sent; kept
//! byte for byte by `indexeddb://`, as TF.js keeps its ArrayBuffer.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use io_core::files::check_json_topology;
use io_core::testkit::fixtures;
use io_core::{Error, ModelArtifacts, Topology};

fn block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// The profile folder of the browser-style stores for this test binary (a temporary folder).
fn profile() -> &'static Path {
    static HOME: OnceLock<tempfile::TempDir> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        io_store_support::set_home(Some(dir.path().to_path_buf()));
        dir
    })
    .path()
}

/// Model `a` of the fixtures with a (small, made-up) binary GraphDef topology.
fn graphdef_model() -> ModelArtifacts {
    let mut m = fixtures::model("a");
    m.model_topology = Some(Topology::GraphDef(bytes::Bytes::from_static(b"\x0a\x05Const\x12\x03\x08\x01\x10\x02")));
    m
}

/// Asserts that saving the GraphDef model to `url` failed with exactly the text the layout policy
/// gives for `url` and the TF.js handler `tfjs_handler`.
fn assert_refused(got: io_core::Result<impl std::fmt::Debug>, url: &str, tfjs_handler: &str) {
    let want = check_json_topology(&graphdef_model(), url, tfjs_handler).expect_err("the policy refuses GraphDef");
    let err = got.expect_err("a GraphDef save should be refused");
    assert!(matches!(err, Error::Unsupported { operation: "save", .. }), "{err:?}");
    assert_eq!(err.to_string(), want.to_string());
}

/// Every file under `dir` (recursively), sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                todo.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn file_save_refuses_graphdef_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("m");
    let url = format!("file://{}", target.display());
    assert_refused(block(modelio::save(&url, &graphdef_model())), &url, "NodeFileSystem");
    assert!(files_under(dir.path()).is_empty(), "nothing written: {:?}", files_under(dir.path()));
    assert!(!target.exists(), "no model folder created");
}

/// A TCP listener on 127.0.0.1:0 that counts connections and the bytes they send.
fn counting_listener() -> (String, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (conns, bytes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, b) = (conns.clone(), bytes.clone());
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            c.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                b.fetch_add(n, Ordering::SeqCst);
            }
        }
    });
    (base, conns, bytes)
}

#[test]
fn http_save_refuses_graphdef_and_sends_nothing() {
    let (base, conns, bytes) = counting_listener();
    for url in [format!("{base}/upload"), format!("{}/upload", base.replace("http://", "https://"))] {
        assert_refused(block(modelio::save(&url, &graphdef_model())), &url, "HTTPRequest");
    }
    // The control: the same listener does see a (JSON-topology) save.
    let control =
        modelio::http::HttpHandler::new(format!("{base}/control")).retries(0).timeout(Some(Duration::from_millis(500)));
    let _ = block(io_core::SaveHandler::save(&control, &fixtures::model("a"), &io_core::Options::new()));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(conns.load(Ordering::SeqCst), 1, "only the control save connected");
    assert!(bytes.load(Ordering::SeqCst) > 0, "the control save sent its request");
}

#[test]
fn downloads_save_refuses_graphdef_and_writes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("downloads");
    let h = modelio::downloads::DownloadsHandler::new("g").dir(&out);
    assert_refused(h.save_files(&graphdef_model()), "downloads://g", "BrowserDownloads");
    assert!(!out.exists(), "the downloads folder was not even created");
    // Through the SaveHandler trait (what the registry calls) into an existing folder.
    std::fs::create_dir_all(&out).unwrap();
    let h = modelio::downloads::DownloadsHandler::new("g2").dir(&out);
    assert_refused(
        block(io_core::SaveHandler::save(&h, &graphdef_model(), &io_core::Options::new())),
        "downloads://g2",
        "BrowserDownloads",
    );
    assert!(files_under(&out).is_empty(), "no files (or hidden part files) written: {:?}", files_under(&out));
}

#[test]
fn localstorage_save_refuses_graphdef_and_keeps_the_previous_model() {
    profile();
    let url = "localstorage://graphdef/kept";
    let before = fixtures::model("a");
    block(modelio::save(url, &before)).unwrap();
    assert_refused(block(modelio::save(url, &graphdef_model())), url, "BrowserLocalStorage");
    let after = block(modelio::load(url)).unwrap();
    io_core::testkit::assert_same_model("previous model", &after, &before);
    assert!(matches!(after.model_topology, Some(Topology::Json(_))));
    // And a name that held nothing still holds nothing.
    assert_refused(
        block(modelio::save("localstorage://graphdef/new", &graphdef_model())),
        "localstorage://graphdef/new",
        "BrowserLocalStorage",
    );
    assert!(matches!(block(modelio::load("localstorage://graphdef/new")), Err(Error::NotFound { .. })));
}

#[test]
fn indexeddb_keeps_graphdef_byte_identical() {
    profile();
    let url = "indexeddb://graphdef/stored";
    let m = graphdef_model();
    let info = block(modelio::save(url, &m)).unwrap().model_artifacts_info;
    assert_eq!(info.model_topology_type, "GraphDef");
    let back = block(modelio::load(url)).unwrap();
    let (Some(Topology::GraphDef(want)), Some(Topology::GraphDef(got))) = (&m.model_topology, &back.model_topology)
    else {
        panic!("GraphDef expected back: {:?}", back.model_topology)
    };
    assert_eq!(got, want, "topology bytes");
    assert_eq!(back.weight_data.to_vec(), m.weight_data.to_vec(), "weight bytes");
    assert_eq!(back.weight_specs, m.weight_specs);
}
