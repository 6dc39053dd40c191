//! `zip://http://…`: a model in one zip loaded from a real HTTP server on 127.0.0.1, with byte
//! progress; a `Content-Length` over the limit fails before the body is read; an endless body is cut
//! off just past the limit; 404 is NotFound; saving over http is refused.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use io_core::artifacts::BROWSER_ORDER;
use io_core::testkit::fixtures;
use io_core::{Error, Limits, ModelJson, Options, Registry};

#[derive(Clone, Copy)]
enum Mode {
    Serve,
    HugeLength,
    Endless,
    Missing,
}

/// Serves `body` as `/m.zip` in `mode`; returns the base URL and the count of body bytes sent.
fn server(body: Vec<u8>, mode: Mode) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = match mode {
                Mode::Serve => conn
                    .write_all(
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                            .as_bytes(),
                    )
                    .and_then(|_| conn.write_all(&body))
                    .map(|_| counter.fetch_add(body.len() as u64, Ordering::SeqCst)),
                Mode::HugeLength => conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\nConnection: close\r\n\r\n")
                    .map(|_| 0),
                Mode::Missing => conn
                    .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .map(|_| 0),
                Mode::Endless => {
                    let _ = conn.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                    let chunk = [0u8; 8192];
                    while conn.write_all(&chunk).is_ok() {
                        counter.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                    }
                    Ok(0)
                }
            };
        }
    });
    (url, sent)
}

fn registry() -> Registry {
    let r = Registry::new();
    io_zip::register(&r);
    r
}

fn run<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}

/// Fixture `name` as a zip file's bytes, written by modelio's own zip:// save.
fn zipped(name: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.zip");
    run(registry().save(&format!("zip://{}", path.display()), &fixtures::model(name))).unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn loads_a_zip_over_http_with_byte_progress() {
    let r = registry();
    for name in fixtures::MODELS {
        let body = zipped(name);
        let (base, _) = server(body.clone(), Mode::Serve);
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let opts = Options::new().on_progress(move |p| {
            s.fetch_max(p.bytes, Ordering::SeqCst);
        });
        let got = run(r.load_with(&format!("zip://{base}/m.zip"), &opts)).unwrap();
        let want = fixtures::model(name);
        assert_eq!(
            ModelJson::for_artifacts(&got, vec![]).to_bytes(BROWSER_ORDER),
            ModelJson::for_artifacts(&want, vec![]).to_bytes(BROWSER_ORDER),
            "{name}"
        );
        assert!(got.weight_data.to_vec() == want.weight_data.to_vec(), "{name}: weights differ");
        assert_eq!(seen.load(Ordering::SeqCst), body.len() as u64, "{name}: progress");
    }
}

#[test]
fn hostile_servers_are_bounded() {
    let r = registry();
    let limits = Limits { max_weight_bytes: 1 << 20, max_model_json_bytes: 1 << 20 };
    let opts = Options::new().limits(limits);
    let (base, sent) = server(Vec::new(), Mode::HugeLength);
    let err = run(r.load_with(&format!("zip://{base}/m.zip"), &opts)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    assert_eq!(sent.load(Ordering::SeqCst), 0);

    let (base, sent) = server(Vec::new(), Mode::Endless);
    let err = run(r.load_with(&format!("zip://{base}/m.zip"), &opts)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    // The client stopped reading just past the limit (3 MiB); what the kernel buffers is all it took.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let n = sent.load(Ordering::SeqCst);
    assert!(n < (3 << 20) + (16 << 20), "the server pushed {n} bytes");

    let (base, _) = server(Vec::new(), Mode::Missing);
    let err = run(r.load(&format!("zip://{base}/m.zip"))).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[test]
fn saving_to_a_zip_over_http_is_refused() {
    let err = run(registry().save("zip://http://127.0.0.1:9/m.zip", &fixtures::model("a"))).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }) && err.to_string().contains("only be loaded"), "{err}");
}
