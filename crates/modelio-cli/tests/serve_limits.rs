//! The real `modelio serve` binary under attack: slowloris heads, silent and idle sockets and stalled
//! uploads are cut off on time (and idle sockets beyond --max-connections do not lock clients out),
//! a manifest naming one part twice is refused, nested names get 409, a foreign Host or Origin gets
//! 403, and concurrent uploaders and loaders never see a mixed (model.json, weights) pair.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::served::serve;
use common::{fixture, Sandbox};

/// The parts of TF.js's upload of fixture d: model.json (as JSON) and the weight bytes.
fn fixture_d() -> (serde_json::Value, Vec<u8>) {
    let dir = fixture("node_http_upload/d/parts");
    let json = serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    (json, std::fs::read(dir.join("model.weights.bin")).unwrap())
}

/// A TF.js-shaped upload of `json` with one weight part `model.weights.bin`.
fn form(json: &serde_json::Value, weights: Vec<u8>) -> reqwest::blocking::multipart::Form {
    let part = |bytes: Vec<u8>, name: &str, mime: &str| {
        reqwest::blocking::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).unwrap()
    };
    reqwest::blocking::multipart::Form::new()
        .part("model.json", part(serde_json::to_vec(json).unwrap(), "model.json", "application/json"))
        .part("model.weights.bin", part(weights, "model.weights.bin", "application/octet-stream"))
}

fn host_port(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the socket; how long that took from `since`. Panics after `limit`.
fn closed_after(sock: &mut TcpStream, since: Instant, limit: Duration) -> (Duration, String) {
    sock.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return (since.elapsed(), String::from_utf8_lossy(&got).to_string()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                panic!("still open after {limit:?}; read so far: {}", String::from_utf8_lossy(&got))
            }
            Err(_) => return (since.elapsed(), String::from_utf8_lossy(&got).to_string()),
        }
    }
}

#[test]
fn slow_silent_idle_and_stalled_connections_are_cut_off_on_time() {
    let sb = Sandbox::new();
    let server = serve(
        &sb,
        &[
            "--allow-anonymous-writes",
            "--header-read-timeout",
            "600ms",
            "--keep-alive-timeout",
            "500ms",
            "--body-idle-timeout",
            "500ms",
            "--max-connections",
            "40",
        ],
        &[],
    );
    let addr = host_port(&server.base);
    let window = |what: &str, took: Duration| {
        assert!(took >= Duration::from_millis(350) && took < Duration::from_secs(4), "{what}: closed after {took:?}");
    };

    // A connection that sends nothing.
    let t = Instant::now();
    let mut silent = TcpStream::connect(&addr).unwrap();
    window("silent", closed_after(&mut silent, t, Duration::from_secs(6)).0);

    // Slowloris: a head trickled a byte every 100 ms, never finished.
    let t = Instant::now();
    let mut slow = TcpStream::connect(&addr).unwrap();
    let trickler = {
        let mut w = slow.try_clone().unwrap();
        let head = format!("GET /models HTTP/1.1\r\nHost: {addr}\r\nX-Padding: ");
        std::thread::spawn(move || {
            for b in head.bytes().chain(std::iter::repeat(b'a')).take(200) {
                if w.write_all(&[b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    window("slowloris", closed_after(&mut slow, t, Duration::from_secs(6)).0);
    trickler.join().unwrap();

    // An idle keep-alive connection after one answered request.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).unwrap();
    let mut buf = [0u8; 1024];
    idle.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let n = idle.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let t = Instant::now();
    window("idle keep-alive", closed_after(&mut idle, t, Duration::from_secs(6)).0);

    // An upload whose body stops halfway: 408, nothing stored.
    let (json, weights) = fixture_d();
    let body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"model.json\"; filename=\"model.json\"\r\n\r\n{json}\r\n--b0undary\r\n\
         Content-Disposition: form-data; name=\"model.weights.bin\"; filename=\"model.weights.bin\"\r\n\r\n"
    );
    let total = body.len() + weights.len() + "\r\n--b0undary--\r\n".len();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /models/stalled HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {total}\r\n\r\n"
    );
    stalled.write_all(head.as_bytes()).unwrap();
    stalled.write_all(body.as_bytes()).unwrap();
    let t = Instant::now();
    let (took, answer) = closed_after(&mut stalled, t, Duration::from_secs(6));
    window("stalled upload", took);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    // 60 idle sockets against --max-connections 40: a real client still gets its answer once the
    // idle ones are cut off (header timeout), not never.
    let idle: Vec<TcpStream> = (0..60).map(|_| TcpStream::connect(&addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(100));
    let t = Instant::now();
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{}/models", server.base))
        .send();
    let took = t.elapsed();
    assert_eq!(r.expect("answered despite 60 idle sockets").status(), 200);
    assert!(took < Duration::from_secs(5), "served after {took:?}");
    drop(idle);
    assert!(!sb.path().join("models/stalled").exists(), "the stalled upload stored nothing");
    let log = server.stop();
    assert!(log.contains("status=408"), "the cut-off upload is logged: {log}");
}

#[test]
fn repeated_parts_nested_names_and_foreign_hosts_and_origins_are_refused() {
    let sb = Sandbox::new();
    let token = "limits-token-0123456789";
    let server = serve(&sb, &["--cors-origin", "http://good.example"], &[("MODELIO_TOKEN", token)]);
    let base = server.base.clone();
    let client = reqwest::blocking::Client::new();
    let (json, weights) = fixture_d();
    let post = |name: &str, f: reqwest::blocking::multipart::Form| {
        client.post(format!("{base}/models/{name}")).bearer_auth(token).multipart(f).send().unwrap()
    };

    // A manifest naming one uploaded part twice (1 MB would become 2 MB on disk): 400.
    let mut twice = json.clone();
    let paths = twice["weightsManifest"][0]["paths"].as_array().unwrap().clone();
    twice["weightsManifest"][0]["paths"] = serde_json::json!([paths[0], paths[0]]);
    let r = post("twice", form(&twice, weights.clone()));
    let status = r.status();
    let text = r.text().unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("duplicate") && text.contains("model.weights.bin"), "{text}");

    // Nested names: `team/a` exists, so `team` cannot be a model (409), and `team/a` is untouched.
    assert_eq!(post("team/a", form(&json, weights.clone())).status(), 200);
    let r = post("team", form(&json, weights.clone()));
    assert_eq!(r.status(), 409, "{}", r.text().unwrap());
    let r = post("team/a/b", form(&json, weights.clone()));
    assert_eq!(r.status(), 409, "a model under a model: {}", r.text().unwrap());
    let kept = client.get(format!("{base}/models/team/a/model.json")).send().unwrap();
    assert_eq!(kept.status(), 200, "team/a is still there");

    // A Host the server does not answer for (DNS rebinding): 403, also for reads.
    let r = client.get(format!("{base}/models")).header("host", "evil.example").send().unwrap();
    assert_eq!(r.status(), 403);
    let r = client.get(format!("{base}/models")).header("host", host_port(&base)).send().unwrap();
    assert_eq!(r.status(), 200);

    // A write from a foreign Origin is refused even with the token and without a preflight.
    let r = client
        .post(format!("{base}/models/foreign"))
        .bearer_auth(token)
        .header("origin", "http://evil.example")
        .multipart(form(&json, weights.clone()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .delete(format!("{base}/models/team/a"))
        .bearer_auth(token)
        .header("origin", "http://evil.example")
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = client
        .post(format!("{base}/models/friendly"))
        .bearer_auth(token)
        .header("origin", "http://good.example")
        .multipart(form(&json, weights))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200, "the --cors-origin origin may write");
    assert_eq!(client.get(format!("{base}/models/foreign/model.json")).send().unwrap().status(), 404);
    assert_eq!(client.get(format!("{base}/models/team/a/model.json")).send().unwrap().status(), 200);
    let log = server.stop();
    assert!(!log.contains(token), "the token never reaches the log");
}

#[test]
fn concurrent_uploaders_and_loaders_never_see_a_mixed_pair() {
    let sb = Sandbox::new();
    let server = serve(&sb, &["--allow-anonymous-writes", "--max-concurrent-uploads", "64"], &[]);
    let base = Arc::new(server.base.clone());
    let (json, weights) = fixture_d();
    let upload = |w: usize| {
        let mut j = json.clone();
        j["userDefinedMetadata"] = serde_json::json!({ "writer": w });
        form(&j, vec![w as u8; weights.len()])
    };
    let client = reqwest::blocking::Client::new();
    assert_eq!(client.post(format!("{base}/models/m")).multipart(upload(0)).send().unwrap().status(), 200);
    let writers_done = Arc::new(AtomicUsize::new(0));
    let (complete, pruned) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut threads = Vec::new();
    for w in 1..=10usize {
        let (base, done, forms) = (base.clone(), writers_done.clone(), (0..3).map(|_| upload(w)).collect::<Vec<_>>());
        threads.push(std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            for f in forms {
                let r = c.post(format!("{base}/models/m")).multipart(f).send().unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().unwrap());
            }
            done.fetch_add(1, Ordering::SeqCst);
        }));
    }
    for _ in 0..10 {
        let (base, done, complete, pruned) = (base.clone(), writers_done.clone(), complete.clone(), pruned.clone());
        threads.push(std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            while done.load(Ordering::SeqCst) < 10 {
                let j: serde_json::Value = c.get(format!("{base}/models/m/model.json")).send().unwrap().json().unwrap();
                let writer = j["userDefinedMetadata"]["writer"].as_u64().unwrap() as u8;
                for p in j["weightsManifest"][0]["paths"].as_array().unwrap() {
                    let r = c.get(format!("{base}/models/m/{}", p.as_str().unwrap())).send().unwrap();
                    if r.status() == 404 {
                        pruned.fetch_add(1, Ordering::SeqCst);
                        continue;
                    }
                    assert_eq!(r.status(), 200);
                    let bytes = r.bytes().unwrap();
                    assert!(
                        bytes.iter().all(|&b| b == writer),
                        "model.json of upload {writer}, weights {:?}",
                        &bytes[..4]
                    );
                }
                complete.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let (ok, gone) = (complete.load(Ordering::SeqCst), pruned.load(Ordering::SeqCst));
    eprintln!("{ok} consistent loads, {gone} weight files of a removed version (404), no mixed pair");
    assert!(ok >= 10, "too few loads completed: {ok}");
    server.stop();
}
