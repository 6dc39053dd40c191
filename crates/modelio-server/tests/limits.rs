//! Connection limits and timeouts on real sockets: slowloris heads, idle keep-alive connections and
//! stalled bodies are closed on time, connections beyond the maximum wait, uploads beyond the maximum
//! get 503 with Retry-After, and shutdown is bounded.

mod support;

use std::time::{Duration, Instant};

use io_core::testkit::fixtures;
use io_http::multipart::MultipartBody;
use modelio_server::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MS: fn(u64) -> Duration = Duration::from_millis;

fn addr(s: &support::Running) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the peer closes (or `limit` passes: then panics); the bytes read.
async fn until_closed(sock: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline.into(), sock.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return all,
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the connection was still open after {limit:?}"),
        }
    }
}

/// One whole answer (head and Content-Length body) read from a kept-alive connection.
async fn read_answer(sock: &mut TcpStream) -> String {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await.expect("an answer").unwrap();
        assert!(n > 0, "closed before the answer was complete: {}", String::from_utf8_lossy(&data));
        data.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&data).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if data.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

fn get(addr: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

#[tokio::test]
async fn slowloris_and_silent_connections_are_closed_after_the_header_timeout() {
    let s = support::start("slow", |c| {
        c.limits.header_read_timeout = MS(600);
        c.limits.keep_alive_timeout = Duration::from_secs(30);
    })
    .await;
    let a = addr(&s);
    // Nothing sent at all.
    let t = Instant::now();
    let mut silent = TcpStream::connect(&a).await.unwrap();
    until_closed(&mut silent, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(took >= MS(500) && took < Duration::from_secs(3), "silent connection closed after {took:?}");
    // A head trickled one byte every 100 ms, never finished.
    let t = Instant::now();
    let mut slow = TcpStream::connect(&a).await.unwrap();
    let head = get(&a, "/models");
    let trickle = async {
        for b in head.as_bytes()[..head.len() - 2].iter() {
            if slow.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(MS(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), trickle).await;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(3), "the trickling client was served for {took:?}");
    let closed = until_closed(&mut slow, Duration::from_secs(2)).await;
    assert!(!String::from_utf8_lossy(&closed).contains("200 OK"));
    // The server still answers others.
    assert_eq!(reqwest::get(format!("{}/models", s.base)).await.unwrap().status(), 200);
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_after_the_keep_alive_timeout() {
    let s = support::start("idle", |c| {
        c.limits.keep_alive_timeout = MS(500);
        c.limits.header_read_timeout = Duration::from_secs(30);
    })
    .await;
    let a = addr(&s);
    let mut sock = TcpStream::connect(&a).await.unwrap();
    for _ in 0..3 {
        // Requests within the timeout keep the connection.
        sock.write_all(get(&a, "/models").as_bytes()).await.unwrap();
        assert!(read_answer(&mut sock).await.starts_with("HTTP/1.1 200"));
        tokio::time::sleep(MS(200)).await;
    }
    let t = Instant::now();
    until_closed(&mut sock, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(took >= MS(200) && took < Duration::from_secs(2), "closed {took:?} after the last answer");
}

#[tokio::test]
async fn a_stalled_upload_body_is_cut_off() {
    let s = support::start("stall", |c| c.limits.body_idle_timeout = MS(500)).await;
    let a = addr(&s);
    let body = MultipartBody::for_artifacts(&fixtures::model("c"), "b0undary").unwrap().to_bytes();
    let mut sock = TcpStream::connect(&a).await.unwrap();
    let head = format!(
        "POST /models/m HTTP/1.1\r\nHost: {a}\r\nContent-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&body[..body.len() / 2]).await.unwrap();
    let t = Instant::now();
    let answer = String::from_utf8_lossy(&until_closed(&mut sock, Duration::from_secs(5)).await).to_string();
    let took = t.elapsed();
    assert!(took >= MS(400) && took < Duration::from_secs(3), "cut off after {took:?}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("stalled"), "{answer}");
    assert_eq!(reqwest::get(s.model("m")).await.unwrap().status(), 404, "nothing stored");
}

#[tokio::test]
async fn connections_beyond_the_maximum_wait_for_a_free_slot() {
    let s = support::start("maxconn", |c| c.limits.max_connections = 2).await;
    let a = addr(&s);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut sock = TcpStream::connect(&a).await.unwrap();
        sock.write_all(get(&a, "/models").as_bytes()).await.unwrap();
        assert!(read_answer(&mut sock).await.starts_with("HTTP/1.1 200"));
        held.push(sock);
    }
    let mut third = TcpStream::connect(&a).await.unwrap();
    third.write_all(get(&a, "/models").as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(MS(700), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection was served while two were open");
    drop(held.pop());
    let t = Instant::now();
    assert!(read_answer(&mut third).await.starts_with("HTTP/1.1 200"));
    assert!(t.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn uploads_beyond_the_maximum_get_503_with_retry_after() {
    let s = support::start("maxup", |c| {
        c.limits.max_concurrent_uploads = 1;
        c.limits.body_idle_timeout = Duration::from_secs(20);
    })
    .await;
    let a = addr(&s);
    let body = MultipartBody::for_artifacts(&fixtures::model("a"), "b0undary").unwrap();
    // One upload in progress: its head and half its body sent, the rest held back.
    let mut first = TcpStream::connect(&a).await.unwrap();
    let bytes = body.to_bytes();
    let head = format!(
        "POST /models/one HTTP/1.1\r\nHost: {a}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\r\n",
        body.content_type(),
        bytes.len()
    );
    first.write_all(head.as_bytes()).await.unwrap();
    first.write_all(&bytes[..bytes.len() / 2]).await.unwrap();
    tokio::time::sleep(MS(300)).await;
    let c = reqwest::Client::new();
    let second = c
        .post(s.model("two"))
        .header(reqwest::header::CONTENT_TYPE, body.content_type())
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 503);
    assert_eq!(second.headers()[reqwest::header::RETRY_AFTER], "2");
    assert!(second.text().await.unwrap().contains("too many uploads"));
    // Reads are not limited by uploads.
    assert_eq!(c.get(format!("{}/models", s.base)).send().await.unwrap().status(), 200);
    // The first finishes; then the next upload gets through.
    first.write_all(&bytes[bytes.len() / 2..]).await.unwrap();
    assert!(read_answer(&mut first).await.starts_with("HTTP/1.1 200"));
    let third = c
        .post(s.model("two"))
        .header(reqwest::header::CONTENT_TYPE, body.content_type())
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 200);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_progress_within_the_grace() {
    let mut cfg = ServeConfig {
        store: "memory://shutdown".into(),
        addr: "127.0.0.1:0".parse().unwrap(),
        ..ServeConfig::default()
    };
    cfg.access.allow_anonymous_writes = true;
    cfg.limits.shutdown_grace = MS(800);
    cfg.limits.body_idle_timeout = Duration::from_secs(30);
    let server = Server::bind(cfg).await.unwrap();
    let a = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        stopped.await.ok();
    }));
    // An idle connection and an upload that never finishes.
    let mut idle = TcpStream::connect(&a).await.unwrap();
    idle.write_all(get(&a, "/models").as_bytes()).await.unwrap();
    read_answer(&mut idle).await;
    let mut stuck = TcpStream::connect(&a).await.unwrap();
    stuck
        .write_all(format!("POST /models/x HTTP/1.1\r\nHost: {a}\r\nContent-Type: multipart/form-data; boundary=z\r\nContent-Length: 1000\r\n\r\n--z").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(MS(200)).await;
    let t = Instant::now();
    stop.send(()).unwrap();
    until_closed(&mut idle, Duration::from_secs(2)).await;
    assert!(t.elapsed() < MS(500), "the idle connection is closed at once: {:?}", t.elapsed());
    tokio::time::timeout(Duration::from_secs(3), running).await.expect("run returns").unwrap().unwrap();
    let took = t.elapsed();
    assert!(took >= MS(700) && took < Duration::from_secs(2), "shutdown took {took:?}");
    until_closed(&mut stuck, Duration::from_secs(1)).await;
    assert!(TcpStream::connect(&a).await.is_err(), "no longer listening");
}

#[tokio::test]
async fn a_client_that_stops_reading_its_answer_is_cut_off_after_the_send_timeout() {
    // Slow read: weight files asked for (pipelined) and never read. Without a send timeout the
    // connection is held for ever while a request is in flight: 512 such sockets take the server.
    let s = support::start("slowread", |c| {
        c.limits.header_read_timeout = Duration::from_secs(60);
        c.limits.keep_alive_timeout = Duration::from_secs(60);
        c.limits.send_timeout = MS(500);
    })
    .await;
    let a = addr(&s);
    let body = MultipartBody::for_artifacts(&fixtures::model("c"), "b0undary").unwrap();
    let c = reqwest::Client::new();
    let saved = c
        .post(s.model("m"))
        .header(reqwest::header::CONTENT_TYPE, body.content_type())
        .body(body.to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    let url = support::weights_url(&s, "m").await;
    let path = url.strip_prefix(&s.base).unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut sock = sock.connect(a.parse().unwrap()).await.unwrap();
    let requests = 16;
    sock.write_all(get(&a, path).repeat(requests).as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = until_closed(&mut sock, Duration::from_secs(5)).await;
    assert!(got.len() < requests * 4_000_000, "every answer was sent ({} bytes)", got.len());
    // The server still answers others.
    assert_eq!(c.get(format!("{}/healthz", s.base)).send().await.unwrap().status(), 200);
}
