//! Access control against a real server on 127.0.0.1:0: tokens (generated, from a token file, scopes,
//! prefixes), read-only, the Host check and the Origin check on writes.

mod support;

use io_core::testkit::{assert_same_model, fixtures};
use io_core::{LoadHandler, SaveHandler};
use io_http::multipart::MultipartBody;
use io_http::HttpHandler;
use modelio_server::auth::parse_token_file;
use reqwest::{header, StatusCode};

const W: &str = "write-token-0123456789abcdef";
const R: &str = "read-token-0123456789abcdef";
const P: &str = "team-token-0123456789abcdef";

fn tokens() -> Vec<modelio_server::auth::Token> {
    parse_token_file(&format!("# test tokens\nwrite {W}\nread {R}\nwrite {P} team\n"), "tokens.txt").unwrap()
}

/// POSTs model `m` as TF.js does (multipart), with optional token and Origin.
async fn post(url: &str, m: &str, token: Option<&str>, origin: Option<&str>) -> (StatusCode, String) {
    let body = MultipartBody::for_artifacts(&fixtures::model(m), "b0undary").unwrap();
    let mut req =
        reqwest::Client::new().post(url).header(header::CONTENT_TYPE, body.content_type()).body(body.to_bytes());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(o) = origin {
        req = req.header(header::ORIGIN, o);
    }
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

async fn send(req: reqwest::RequestBuilder) -> (StatusCode, String) {
    let r = req.send().await.unwrap();
    (r.status(), r.text().await.unwrap())
}

#[tokio::test]
async fn by_default_writes_need_the_generated_token_and_reads_are_open() {
    let s = support::start_secure("gen", |_| {}).await;
    let token = s.token.clone().expect("a token is made when none is configured");
    assert_eq!(token.len(), 64);
    let url = s.model("m");
    let r = reqwest::Client::new().post(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"modelio\"");
    assert!(r.text().await.unwrap().contains("a token is required"));
    let (status, text) = post(&url, "a", Some("not-the-token-0123456789"), None).await;
    assert_eq!((status, text.contains("not valid")), (StatusCode::UNAUTHORIZED, true), "{text}");
    // TF.js's way: tf.io.http(url, {requestInit: {headers: {Authorization: ...}}}); modelio's the same.
    let saver = HttpHandler::new(&url).header("authorization", &format!("Bearer {token}")).unwrap();
    saver.save(&fixtures::model("a"), &Default::default()).await.unwrap();
    let back = HttpHandler::new(format!("{url}/model.json")).load(&Default::default()).await.unwrap();
    assert_same_model("read without a token", &back, &fixtures::model("a"));
    let c = reqwest::Client::new();
    assert_eq!(send(c.delete(&url)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(send(c.delete(&url).bearer_auth(&token)).await.0, StatusCode::OK);
    assert_eq!(send(c.get(&url)).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn anonymous_writes_only_when_asked() {
    let s = support::start_secure("anon", |c| c.access.allow_anonymous_writes = true).await;
    assert!(s.token.is_none(), "no token is made when anonymous writes are allowed");
    assert_eq!(post(&s.model("m"), "a", None, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn token_file_scopes_and_prefixes() {
    let s = support::start_secure("file", |c| c.access.tokens = tokens()).await;
    assert!(s.token.is_none(), "a configured write token: none is made");
    let (status, text) = post(&s.model("m"), "a", Some(R), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("may only read"), "{text}");
    assert_eq!(post(&s.model("m"), "a", Some(W), None).await.0, StatusCode::OK);
    assert_eq!(post(&s.model("team/a"), "a", Some(P), None).await.0, StatusCode::OK);
    // `team` is covered by the prefix; it is refused only because models lie under it (409, not 403).
    assert_eq!(post(&s.model("team"), "a", Some(P), None).await.0, StatusCode::CONFLICT);
    for outside in ["other/a", "team2", "m"] {
        let (status, text) = post(&s.model(outside), "a", Some(P), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{outside}: {text}");
        assert!(text.contains("does not cover"), "{text}");
    }
    let c = reqwest::Client::new();
    assert_eq!(send(c.delete(s.model("m")).bearer_auth(P)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(c.delete(s.model("team/a")).bearer_auth(P)).await.0, StatusCode::OK);
    // Reads are open: no token needed, any token fine.
    assert_eq!(send(c.get(format!("{}/model.json", s.model("m")))).await.0, StatusCode::OK);
    assert_eq!(send(c.get(format!("{}/models", s.base)).bearer_auth(P)).await.0, StatusCode::OK);
}

#[tokio::test]
async fn reads_need_a_token_when_required() {
    let s = support::start_secure("readtok", |c| {
        c.access.tokens = tokens();
        c.access.require_read_token = true;
    })
    .await;
    assert_eq!(post(&s.model("team/a"), "a", Some(W), None).await.0, StatusCode::OK);
    let c = reqwest::Client::new();
    let json = format!("{}/model.json", s.model("team/a"));
    for path in
        [json.clone(), format!("{}/models", s.base), format!("{}/healthz", s.base), format!("{}/metrics", s.base)]
    {
        let (status, text) = send(c.get(&path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}: {text}");
        assert_eq!(send(c.get(&path).bearer_auth("wrong-token-0123456789")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(send(c.get(&path).bearer_auth(R)).await.0, StatusCode::OK, "{path}");
        assert_eq!(send(c.get(&path).bearer_auth(W)).await.0, StatusCode::OK, "{path}");
    }
    // A prefix token reads its models only; the listing and metrics need an unlimited token.
    assert_eq!(send(c.get(&json).bearer_auth(P)).await.0, StatusCode::OK);
    assert_eq!(send(c.get(format!("{}/models", s.base)).bearer_auth(P)).await.0, StatusCode::FORBIDDEN);
    let loader = HttpHandler::new(&json).header("authorization", &format!("Bearer {R}")).unwrap();
    assert_same_model("read with a token", &loader.load(&Default::default()).await.unwrap(), &fixtures::model("a"));
}

#[tokio::test]
async fn read_only_refuses_every_write() {
    let s = support::start("ro-src", |_| {}).await;
    post(&s.model("m"), "a", None, None).await;
    let store = s.store.clone();
    let ro = support::start_secure("", |c| {
        c.store = store;
        c.access.read_only = true;
        c.access.tokens = tokens();
    })
    .await;
    for token in [None, Some(W)] {
        let (status, text) = post(&ro.model("m"), "b", token, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("read-only"), "{text}");
        let mut del = reqwest::Client::new().delete(ro.model("m"));
        if let Some(t) = token {
            del = del.bearer_auth(t);
        }
        assert_eq!(send(del).await.0, StatusCode::FORBIDDEN);
    }
    let back = HttpHandler::new(format!("{}/model.json", ro.model("m"))).load(&Default::default()).await.unwrap();
    assert_same_model("read-only serves", &back, &fixtures::model("a"));
}

/// Sends `head` (a request head without the blank line) and `body` on a fresh connection with
/// `Connection: close`; the status and the whole answer.
async fn raw(base: &str, head: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!("{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(body).await.unwrap();
    let mut resp = Vec::new();
    sock.read_to_end(&mut resp).await.unwrap();
    let text = String::from_utf8_lossy(&resp).to_string();
    (text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0), text)
}

#[tokio::test]
async fn foreign_host_names_are_refused() {
    let s = support::start("host", |c| c.access.allowed_hosts = vec!["models.example".into()]).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    for host in
        [format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}"), "models.example".into()]
    {
        let (status, text) = raw(&s.base, &format!("GET /models HTTP/1.1\r\nHost: {host}"), b"").await;
        assert_eq!(status, 200, "{host}: {text}");
    }
    for host in [format!("rebind.example:{port}"), "127.0.0.1:1".into(), format!("localhost.evil:{port}")] {
        let (status, text) = raw(&s.base, &format!("GET /models HTTP/1.1\r\nHost: {host}"), b"").await;
        assert_eq!(status, 403, "{host}: {text}");
        assert!(text.contains("--allowed-host"), "{text}");
    }
    // Writes too, even where anyone may write.
    let body = MultipartBody::for_artifacts(&fixtures::model("a"), "b0undary").unwrap();
    let head =
        format!("POST /models/m HTTP/1.1\r\nHost: rebind.example:{port}\r\nContent-Type: {}", body.content_type());
    assert_eq!(raw(&s.base, &head, &body.to_bytes()).await.0, 403);
    assert_eq!(send(reqwest::Client::new().get(s.model("m"))).await.0, StatusCode::NOT_FOUND, "nothing stored");
}

#[tokio::test]
async fn writes_from_foreign_origins_are_refused_without_preflight() {
    // The worst case for this check: anyone may write, so only the Origin stands in the way.
    let s = support::start("origin", |c| c.cors_origins = vec!["http://ok.example".into()]).await;
    assert_eq!(post(&s.model("keep"), "a", None, None).await.0, StatusCode::OK, "no Origin: not a page");
    let (status, text) = post(&s.model("m"), "a", None, Some("http://evil.example")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    assert!(text.contains("may not write"), "{text}");
    assert_eq!(post(&s.model("m"), "a", None, Some("null")).await.0, StatusCode::FORBIDDEN);
    let c = reqwest::Client::new();
    assert_eq!(send(c.get(s.model("m"))).await.0, StatusCode::NOT_FOUND, "the refused upload stored nothing");
    let del = c.delete(s.model("keep")).header(header::ORIGIN, "http://evil.example");
    assert_eq!(send(del).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(c.get(s.model("keep"))).await.0, StatusCode::OK, "the refused delete deleted nothing");
    // Reading from a foreign page is fine; a listed origin and the server's own may write.
    let r = c.get(format!("{}/model.json", s.model("keep"))).header(header::ORIGIN, "http://evil.example");
    assert_eq!(send(r).await.0, StatusCode::OK);
    let r = reqwest::Client::new()
        .post(s.model("m2"))
        .header(header::ORIGIN, "http://ok.example")
        .header(header::CONTENT_TYPE, MultipartBody::for_artifacts(&fixtures::model("a"), "q").unwrap().content_type())
        .body(MultipartBody::for_artifacts(&fixtures::model("a"), "q").unwrap().to_bytes())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://ok.example");
    assert_eq!(post(&s.model("m3"), "a", None, Some(&s.base)).await.0, StatusCode::OK, "same origin");
}

#[tokio::test]
async fn an_allowed_origin_with_a_token_saves_and_loads() {
    let s = support::start_secure("origin-token", |c| {
        c.cors_origins = vec!["http://app.example".into()];
        c.access.tokens = tokens();
    })
    .await;
    let c = reqwest::Client::new();
    // What a browser sends first for TF.js's save with an Authorization header.
    let pre = c
        .request(reqwest::Method::OPTIONS, s.model("m"))
        .header(header::ORIGIN, "http://app.example")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
        .send()
        .await
        .unwrap();
    assert_eq!(pre.status(), StatusCode::NO_CONTENT);
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN], "http://app.example");
    assert_eq!(pre.headers()[header::ACCESS_CONTROL_ALLOW_HEADERS], "authorization");
    assert_eq!(post(&s.model("m"), "b", None, Some("http://app.example")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(post(&s.model("m"), "b", Some(W), Some("http://evil.example")).await.0, StatusCode::FORBIDDEN);
    assert_eq!(post(&s.model("m"), "b", Some(W), Some("http://app.example")).await.0, StatusCode::OK);
    let back = HttpHandler::new(format!("{}/model.json", s.model("m"))).load(&Default::default()).await.unwrap();
    assert_same_model("after the cross-origin save", &back, &fixtures::model("b"));
}

#[tokio::test]
async fn a_request_with_two_host_headers_is_refused() {
    // RFC 9112 §3.2: a request with more than one Host is a 400. A proxy in front may act on the
    // other one than the Host check did (request smuggling past the DNS-rebinding check).
    let s = support::start("hosts", |_| {}).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    for hosts in [
        format!("Host: 127.0.0.1:{port}\r\nHost: rebind.example:{port}"),
        format!("Host: rebind.example:{port}\r\nHost: 127.0.0.1:{port}"),
        format!("Host: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}"),
    ] {
        let (status, text) = raw(&s.base, &format!("GET /models HTTP/1.1\r\n{hosts}"), b"").await;
        assert_eq!(status, 400, "{hosts}: {text}");
        assert!(text.contains("Host"), "{text}");
    }
}

#[tokio::test]
async fn an_absolute_request_target_must_name_an_allowed_host_too() {
    // RFC 9112 §3.2.2: with `GET http://name/...` the target's authority, not Host, names the host
    // the request is for; a foreign one is refused even when the Host header is allowed.
    let s = support::start("targets", |_| {}).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let host = format!("Host: 127.0.0.1:{port}");
    let (status, text) =
        raw(&s.base, &format!("GET http://rebind.example:{port}/models HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 403, "{text}");
    let (status, text) = raw(&s.base, &format!("GET http://127.0.0.1:{port}/models HTTP/1.1\r\n{host}"), b"").await;
    assert_eq!(status, 200, "{text}");
}
