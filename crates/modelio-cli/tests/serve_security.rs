//! The real `modelio serve` with its secure defaults: the generated token on stdout, writes refused
//! without it, the request and audit log lines on stderr (text and JSON) and never the token; a
//! token file and MODELIO_TOKEN; SIGTERM stops it with exit 0.

mod common;

use common::served::serve;
use common::{fixture, Sandbox};

/// TF.js's upload of fixture d (model.json and model.weights.bin parts).
fn upload() -> reqwest::multipart::Form {
    let part = |name: &str, mime: &str| {
        let bytes = std::fs::read(fixture(&format!("node_http_upload/d/parts/{name}"))).unwrap();
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_string()).mime_str(mime).unwrap()
    };
    reqwest::multipart::Form::new()
        .part("model.json", part("model.json", "application/json"))
        .part("model.weights.bin", part("model.weights.bin", "application/octet-stream"))
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn generated_token_guards_writes_and_logs_never_show_it() {
    let sb = Sandbox::new();
    let server = serve(&sb, &[], &[]);
    let token = server.token.clone().expect("the second stdout line is `token: TOKEN`");
    assert_eq!(token.len(), 64);
    let url = format!("{}/models/team/d", server.base);
    rt().block_on(async {
        let c = reqwest::Client::new();
        let r = c.post(&url).multipart(upload()).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c.post(&url).bearer_auth(&token).multipart(upload()).send().await.unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = c.get(format!("{url}/model.json")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        let r = c.delete(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
    });
    let log = server.stop();
    assert!(!log.contains(&token), "the token appears in the log:\n{log}");
    let line = |needles: &[&str]| {
        log.lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
            .unwrap_or_else(|| panic!("no line with {needles:?} in:\n{log}"))
    };
    let post = line(&["modelio::request", "method=POST", "path=/models/team/d", "status=200"]);
    for field in ["bytes_in=", "bytes_out=", "duration_ms=", "client=127.0.0.1:"] {
        assert!(post.contains(field), "{field} in {post}");
    }
    assert!(!post.contains("bytes_in=0 "), "the upload's bytes are counted: {post}");
    line(&["modelio::request", "method=POST", "status=401"]);
    line(&["modelio::request", "method=GET", "path=/models/team/d/model.json", "status=200"]);
    let save = line(&["modelio::audit", "action=\"save\"", "name=\"team/d\"", "status=200", "token=generated"]);
    assert!(save.contains("version=\"") && !save.contains("version=\"\""), "the version saved: {save}");
    line(&["modelio::audit", "action=\"delete\"", "name=\"team/d\"", "status=200", "token=generated"]);
    line(&["modelio::audit", "action=\"save\"", "status=401", "token=anonymous"]);
}

#[test]
fn token_file_and_env_token_with_json_logs() {
    let sb = Sandbox::new();
    let (file_token, env_token) = ("file-token-0123456789abcdef", "env-token-0123456789abcdef");
    std::fs::write(sb.path().join("tokens.txt"), format!("# writers\nwrite {file_token} team\n")).unwrap();
    let server =
        serve(&sb, &["--token-file", "tokens.txt", "--log-format", "json", "-q"], &[("MODELIO_TOKEN", env_token)]);
    assert_eq!(server.token, None, "configured tokens: none is made");
    rt().block_on(async {
        let c = reqwest::Client::new();
        let save = |name: &str, token: &str| {
            c.post(format!("{}/models/{name}", server.base)).bearer_auth(token).multipart(upload()).send()
        };
        assert_eq!(save("team/a", file_token).await.unwrap().status(), 200);
        assert_eq!(save("other", file_token).await.unwrap().status(), 403);
        assert_eq!(save("other", env_token).await.unwrap().status(), 200);
    });
    let log = server.stop();
    assert!(!log.contains(file_token) && !log.contains(env_token), "a token appears in the log:\n{log}");
    let events: Vec<serde_json::Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let audits: Vec<&serde_json::Value> = events.iter().filter(|e| e["target"] == "modelio::audit").collect();
    let summary: Vec<(String, u64, String)> = audits
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["status"].as_u64().unwrap(),
                e["token"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("team/a".into(), 200, "tokens.txt:2".into()),
            ("other".into(), 403, "tokens.txt:2".into()),
            ("other".into(), 200, "env".into())
        ]
    );
    let req = events
        .iter()
        .find(|e| e["target"] == "modelio::request" && e["method"] == "POST")
        .unwrap_or_else(|| panic!("no request event in:\n{log}"));
    assert!(req["bytes_in"].as_u64().unwrap() > 0 && req["duration_ms"].is_number(), "{req}");
}

#[test]
fn read_only_and_bad_token_files_are_clear() {
    let sb = Sandbox::new();
    std::fs::write(sb.path().join("bad.txt"), "admin 0123456789abcdef0123\n").unwrap();
    let line = sb.fails(&["serve", "--addr", "127.0.0.1:0", "--token-file", "bad.txt"]);
    assert!(line.contains("bad.txt:1") && line.contains("'read' or 'write'"), "{line}");
    assert!(!line.contains("0123456789abcdef"), "{line}");
    let server = serve(&sb, &["--read-only"], &[]);
    assert_eq!(server.token, None, "a read-only server needs no write token");
    rt().block_on(async {
        let r =
            reqwest::Client::new().post(format!("{}/models/x", server.base)).multipart(upload()).send().await.unwrap();
        assert_eq!(r.status(), 403);
        assert!(r.text().await.unwrap().contains("read-only"));
    });
    server.stop();
}

#[test]
fn the_cli_sends_a_token_from_the_environment_or_a_header_flag() {
    let sb = Sandbox::new();
    let server = serve(&sb, &["-q"], &[("MODELIO_TOKEN", "cli-token-0123456789abcdef")]);
    let src = common::fixture_url("converter_write_weights/b_quant_uint8");
    let dst = format!("{}/models/b", server.base);
    let run_with = |env: Option<&str>, extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend_from_slice(&["cp", &src, &dst]);
        let mut c = sb.command(&args);
        c.env_remove("MODELIO_HTTP_TOKEN");
        if let Some(t) = env {
            c.env("MODELIO_HTTP_TOKEN", t);
        }
        common::Run::from(c.output().unwrap())
    };
    let refused = run_with(None, &[]);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(refused.stderr.contains("401"), "{refused:?}");
    let wrong = run_with(Some("not-the-token-0123456789"), &[]);
    assert!(wrong.code == 1 && wrong.stderr.contains("401"), "{wrong:?}");
    let ok = run_with(Some("cli-token-0123456789abcdef"), &[]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let ok = run_with(None, &["-H", "Authorization: Bearer cli-token-0123456789abcdef"]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let bad = sb.fails(&["-H", "no colon", "ls"]);
    assert!(bad.contains("--header 'no colon'"), "{bad}");
    // The loaded model is what was saved.
    let info = |url: &str| {
        let mut v = sb.ok(&["info", "--json", "--stats", url]).json();
        v.as_object_mut().unwrap().remove("url");
        v
    };
    assert_eq!(info(&format!("{dst}/model.json")), info(&src));
    server.stop();
}
