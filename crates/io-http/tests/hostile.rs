//! Servers that lie about sizes, on raw tokio sockets on 127.0.0.1:0: a weight file that streams
//! without end (chunked) and one whose `Content-Length` announces 2 GiB, both against the 92-byte
//! manifest of fixture `node_file/a`. The load fails promptly with an error naming the URL, and the
//! client stops reading (the server sees its writes fail) instead of buffering what it is sent.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use io_core::{Error, LoadHandler};
use io_http::HttpHandler;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The weight bytes fixture `node_file/a` declares.
const DECLARED: u64 = 92;
/// The size of each chunk the endless server sends.
const CHUNK: usize = 16 << 10;

/// What the hostile server saw on its weights connection.
#[derive(Default)]
struct Seen {
    /// Body bytes written to the client (accepted by the kernel) before a write failed.
    written: AtomicU64,
    /// A write failed (the client closed the connection).
    closed: AtomicBool,
    /// Weight requests received.
    requests: AtomicU64,
}

/// How the weights answer.
#[derive(Clone, Copy)]
enum Lie {
    /// `Transfer-Encoding: chunked`, chunks of [`CHUNK`] bytes forever.
    Endless,
    /// `Content-Length: 2 GiB`, then the body slowly (a chunk every 10 ms).
    Huge,
}

/// A server answering `/m/model.json` with fixture `node_file/a`'s model.json and `/m/weights.bin`
/// with `lie`. Returns the model.json URL.
async fn hostile(lie: Lie) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let model_json = std::fs::read(support::fixtures().join("node_file/a/model.json")).unwrap();
    let seen = Arc::new(Seen::default());
    let s = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let (model_json, seen) = (model_json.clone(), s.clone());
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                if req.starts_with(b"GET /m/model.json ") {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        model_json.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&model_json).await;
                    return;
                }
                seen.requests.fetch_add(1, Ordering::SeqCst);
                let chunk = vec![0x5a; CHUNK];
                let (head, frame_head, frame_tail): (String, Vec<u8>, &[u8]) = match lie {
                    Lie::Endless => (
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                            .into(),
                        format!("{CHUNK:x}\r\n").into_bytes(),
                        b"\r\n",
                    ),
                    Lie::Huge => (
                        format!("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n", 2u64 << 30),
                        Vec::new(),
                        b"",
                    ),
                };
                if sock.write_all(head.as_bytes()).await.is_err() {
                    seen.closed.store(true, Ordering::SeqCst);
                    return;
                }
                loop {
                    let frame = [frame_head.as_slice(), &chunk, frame_tail].concat();
                    if sock.write_all(&frame).await.is_err() {
                        seen.closed.store(true, Ordering::SeqCst);
                        return;
                    }
                    seen.written.fetch_add(CHUNK as u64, Ordering::SeqCst);
                    if let Lie::Huge = lie {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            });
        }
    });
    (format!("{base}/m/model.json"), seen)
}

/// Waits (at most 5 s) until the server saw its weights connection closed.
async fn closed_by_client(seen: &Seen) {
    let t = Instant::now();
    while !seen.closed.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(5), "the client kept the weights connection open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn an_endless_chunked_weight_file_is_cut_off_after_the_declared_bytes() {
    let (url, seen) = hostile(Lie::Endless).await;
    let weights = url.replace("model.json", "weights.bin");
    let t = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(10), HttpHandler::new(&url).load(&Default::default())).await;
    let e = got.expect("the load returns promptly").expect_err("an endless body is refused");
    assert!(t.elapsed() < Duration::from_secs(5), "took {:?}", t.elapsed());
    match &e {
        // The client-side count (FileRequest's budget): it stopped within one received chunk past
        // the declared 92 bytes, so at most one chunk was ever held.
        Error::WeightsMismatch { file: Some(file), expected, actual, .. } => {
            assert_eq!(file, &weights);
            assert_eq!(*expected, DECLARED);
            assert!((DECLARED + 1..=DECLARED + CHUNK as u64).contains(actual), "read {actual} bytes");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&weights), "the error names the URL: {e}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1, "a body over the manifest is not retried");
    closed_by_client(&seen).await;
    // What the server got into the socket before its writes failed: the declared bytes and at most
    // the loopback socket buffers (a few MiB), not an endless stream.
    let written = seen.written.load(Ordering::SeqCst);
    eprintln!("endless: {e}; the server wrote {written} bytes before its writes failed");
    assert!(written < 32 << 20, "the server wrote {written} bytes before the client stopped it");
}

#[tokio::test]
async fn a_content_length_of_2_gib_fails_before_the_body_is_read() {
    let (url, seen) = hostile(Lie::Huge).await;
    let weights = url.replace("model.json", "weights.bin");
    let t = Instant::now();
    let got = tokio::time::timeout(Duration::from_secs(10), HttpHandler::new(&url).load(&Default::default())).await;
    let e = got.expect("the load returns promptly").expect_err("2 GiB against 92 bytes is refused");
    assert!(t.elapsed() < Duration::from_secs(2), "took {:?}", t.elapsed());
    match &e {
        Error::WeightsMismatch { file: Some(file), expected, actual, detail, .. } => {
            assert_eq!(file, &weights);
            assert_eq!((*expected, *actual), (DECLARED, 2u64 << 30));
            assert!(detail.contains("announced by the medium, before reading"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains(&weights), "{e}");
    assert_eq!(seen.requests.load(Ordering::SeqCst), 1, "not retried");
    closed_by_client(&seen).await;
    // The server sends a chunk every 10 ms; the client hung up at once rather than reading them.
    let written = seen.written.load(Ordering::SeqCst);
    eprintln!("2 GiB: {e}; the server wrote {written} body bytes before its writes failed");
    assert!(written <= 64 * CHUNK as u64, "the server wrote {written} bytes before the client closed");
}
