//! A real HTTP server on 127.0.0.1 for the client tests: static files from `fixtures/tfjs` under
//! `/serve/`, scripted faults per path, a request log, and an upload sink that parses multipart
//! bodies with `multer` (not our code).

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/tfjs"))
}

/// What the server does for one path instead of serving the file.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer with this status and body.
    Status(u16, &'static str),
    /// Answer this status the first `n` times, then serve the file.
    FailTimes(u16, usize),
    /// Serve only the first `n` bytes of the file (honest Content-Length).
    Short(usize),
    /// Serve an HTML page.
    Html,
    /// Serve the file after a pause (for concurrency counting).
    Slow(u64),
    /// Require this `authorization` header, else 401.
    Auth(&'static str),
}

/// One part of a received multipart upload, as `multer` parsed it.
#[derive(Clone, Debug)]
pub struct Part {
    pub name: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub data: Bytes,
}

/// One received upload.
#[derive(Clone, Debug)]
pub struct Upload {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub parts: Vec<Part>,
}

#[derive(Default)]
pub struct Inner {
    pub log: Mutex<Vec<String>>,
    pub faults: Mutex<HashMap<String, Fault>>,
    pub uploads: Mutex<Vec<Upload>>,
    pub upload_status: Mutex<Option<(u16, &'static str)>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
}

/// A running server.
pub struct Server {
    pub base: String,
    pub state: Arc<Inner>,
}

impl Server {
    pub async fn start() -> Server {
        let state = Arc::new(Inner::default());
        let app = axum::Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server { base, state }
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn fault(&self, path: &str, f: Fault) {
        self.state.faults.lock().unwrap().insert(path.to_string(), f);
    }

    /// The request lines seen so far (`GET /path?query`), and clears them.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.state.log.lock().unwrap())
    }

    pub fn uploads(&self) -> Vec<Upload> {
        self.state.uploads.lock().unwrap().clone()
    }
}

async fn handle(State(st): State<Arc<Inner>>, req: Request) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let pq = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_default();
    st.log.lock().unwrap().push(format!("{method} {pq}"));
    if path.starts_with("/upload/") {
        return upload(&st, req).await;
    }
    let n = st.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    st.max_in_flight.fetch_max(n, Ordering::SeqCst);
    let r = serve(&st, &path, req.headers()).await;
    st.in_flight.fetch_sub(1, Ordering::SeqCst);
    r
}

async fn serve(st: &Inner, path: &str, headers: &HeaderMap) -> Response {
    let fault = {
        let mut faults = st.faults.lock().unwrap();
        match faults.get_mut(path) {
            Some(Fault::FailTimes(_, 0)) => None,
            Some(Fault::FailTimes(s, n)) => {
                *n -= 1;
                Some(Fault::Status(*s, "temporarily unavailable"))
            }
            other => other.cloned(),
        }
    };
    let file =
        path.strip_prefix("/serve/").filter(|p| !p.split('/').any(|s| s == "..")).map(|p| fixtures().join(alias(p)));
    let data = match (&fault, file.and_then(|f| std::fs::read(f).ok())) {
        (Some(Fault::Status(s, body)), _) => return (StatusCode::from_u16(*s).unwrap(), *body).into_response(),
        (Some(Fault::Html), _) => {
            return ([(header::CONTENT_TYPE, "text/html")], "<!DOCTYPE html><html><body>Sign in</body></html>")
                .into_response()
        }
        (Some(Fault::Auth(want)), _)
            if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(want) =>
        {
            return (StatusCode::UNAUTHORIZED, "no token").into_response()
        }
        (_, None) => return (StatusCode::NOT_FOUND, "Cannot GET this path").into_response(),
        (_, Some(d)) => d,
    };
    let data = match fault {
        Some(Fault::Short(n)) => data[..n.min(data.len())].to_vec(),
        Some(Fault::Slow(ms)) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            data
        }
        _ => data,
    };
    let ct = if path.ends_with(".json") { "application/json" } else { "application/octet-stream" };
    ([(header::CONTENT_TYPE, ct)], Body::from(data)).into_response()
}

async fn upload(st: &Inner, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let ct = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = match multer::parse_boundary(ct) {
        Ok(b) => b,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("not multipart: {e}")).into_response(),
    };
    let mut mp = multer::Multipart::new(body.into_data_stream(), boundary);
    let mut got = Vec::new();
    loop {
        match mp.next_field().await {
            Ok(Some(f)) => {
                let name = f.name().unwrap_or_default().to_string();
                let file_name = f.file_name().map(str::to_string);
                let content_type = f.content_type().map(|m| m.to_string());
                let data = f.bytes().await.expect("part body");
                got.push(Part { name, file_name, content_type, data });
            }
            Ok(None) => break,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("bad multipart: {e}")).into_response(),
        }
    }
    st.uploads.lock().unwrap().push(Upload {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts.headers.clone(),
        parts: got,
    });
    let (status, body) = st.upload_status.lock().unwrap().unwrap_or((200, "{}"));
    (StatusCode::from_u16(status).unwrap(), body).into_response()
}

/// The folder names TF.js's load run used (`node_load_results.json`), mapped to this repository's.
pub fn alias(p: &str) -> String {
    for (from, to) in [("py_write_weights/", "converter_write_weights/"), ("split_json/", "node_http_upload/a/parts/")]
    {
        if let Some(rest) = p.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    p.to_string()
}
