//! Access control, checked on every request before any route runs, in this order:
//!
//! 1. **Host** (on by default, [`Access::check_host`]): the `Host` header must name this server: its
//!    bound address (`ip:port`), `localhost:port`, `127.0.0.1:port`, `[::1]:port`, any IP literal with
//!    the port when bound to `0.0.0.0`/`[::]`, or a name from [`Access::allowed_hosts`] (`NAME` with any
//!    port, `NAME:PORT` with that port only, `*` turns the check off). Otherwise 403: a page on a domain
//!    an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own domain as Host. A request
//!    with more than one `Host` header is a 400 (a proxy in front may have acted on the other one).
//! 2. **Origin and CORS** ([`crate::cors`]): a write (any method but GET, HEAD, OPTIONS) carrying an
//!    `Origin` the CORS configuration does not allow gets 403, whether or not a preflight came first.
//! 3. **Read-only** ([`Access::read_only`]): every write gets 403.
//! 4. **Tokens** (`Authorization: Bearer TOKEN`): writes need a write token (unless
//!    [`Access::allow_anonymous_writes`]), reads need a read or write token only with
//!    [`Access::require_read_token`]. A token limited to a name prefix opens only the routes of models
//!    under it (`/models/{name}...`); listing, `/healthz` and `/metrics` need an unlimited token when
//!    reads need one. No token or an unknown one: 401 with `WWW-Authenticate: Bearer`; a known token
//!    without the scope or prefix: 403.
//!
//! Tokens are compared in constant time: the presented token and every configured one are hashed
//! with SHA-256 and the digests compared with `subtle`'s `ConstantTimeEq`, against every configured
//! token without stopping at a match. Hashing first makes every comparison 32 bytes long, so neither
//! the length of a configured token nor how many leading bytes of a guess are right shows in the time
//! an answer takes. Tokens never appear in logs: a token is logged by its id (`FILE:LINE`, `env`,
//! `generated`).
//!
//! # Token file (`--token-file`)
//!
//! One token a line: `SCOPE TOKEN [PREFIX]`, separated by spaces or tabs. SCOPE is `read` or `write`
//! (a write token also reads); TOKEN is at least 16 characters of printable ASCII without spaces;
//! PREFIX, when given, limits the token to models named PREFIX or PREFIX/… (`team` opens `team/a` and
//! `team`, not `team2`). Blank lines and lines starting with `#` are ignored.
//!
//! ```text
//! # CI publishes, dashboards read
//! write 3f1c0b0e6a5d4f2e9b8a7c6d5e4f3a2b
//! read  0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d
//! write 9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b team/vision
//! ```

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::cors::Cors;
use crate::error::ApiError;

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// GET and HEAD.
    Read,
    /// Everything (writes and reads).
    Write,
}

/// One configured token. Its text is kept only as a SHA-256 digest; `Debug` shows the id only.
#[derive(Clone)]
pub struct Token {
    /// What logs call it (`tokens.txt:3`, `env`, `generated`); never the token.
    pub id: String,
    /// What it may do.
    pub scope: Scope,
    /// The models it is limited to (a name and everything under it), `None` for all.
    pub prefix: Option<String>,
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token").field("id", &self.id).field("scope", &self.scope).field("prefix", &self.prefix).finish()
    }
}

impl Token {
    /// A token with its id (for logs), secret text, scope and optional name prefix.
    pub fn new(id: impl Into<String>, secret: &str, scope: Scope, prefix: Option<String>) -> Token {
        let prefix = prefix.map(|p| p.trim_matches('/').to_string()).filter(|p| !p.is_empty());
        Token { id: id.into(), scope, prefix, digest: Sha256::digest(secret.as_bytes()).into() }
    }

    /// Whether this token's prefix covers model `name`.
    pub fn covers(&self, name: &str) -> bool {
        match &self.prefix {
            None => true,
            Some(p) => name == p || name.strip_prefix(p.as_str()).is_some_and(|rest| rest.starts_with('/')),
        }
    }
}

/// A fresh random token (64 hex digits, 256 bits from the OS's random source), e.g. the write token
/// the server makes when none is configured.
pub fn generate() -> String {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).expect("the OS random source");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses a token file (format in the [module docs](self)); `source` names it in token ids and errors.
pub fn parse_token_file(text: &str, source: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = format!("{source}:{}", i + 1);
        let mut words = line.split_whitespace();
        let scope = match words.next() {
            Some("read") => Scope::Read,
            Some("write") => Scope::Write,
            Some(other) => {
                let shown: String = other.chars().take(12).collect();
                return Err(format!("{at}: the scope must be 'read' or 'write', not '{shown}'"));
            }
            None => continue,
        };
        let secret = words.next().ok_or_else(|| format!("{at}: no token after the scope"))?;
        if secret.len() < 16 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!("{at}: a token must be at least 16 printable ASCII characters"));
        }
        let prefix = words.next().map(str::to_string);
        if words.next().is_some() {
            return Err(format!("{at}: expected 'SCOPE TOKEN [PREFIX]', found more words"));
        }
        if let Some(p) = &prefix {
            crate::names::check(p.trim_matches('/')).map_err(|e| format!("{at}: bad prefix: {e}"))?;
        }
        tokens.push(Token::new(at, secret, scope, prefix));
    }
    Ok(tokens)
}

/// Who may do what (see the [module docs](self)).
#[derive(Clone, Debug)]
pub struct Access {
    /// The tokens the server accepts.
    pub tokens: Vec<Token>,
    /// Writes without a token (default false: the server makes a write token when none is configured).
    pub allow_anonymous_writes: bool,
    /// Reads need a token too (default false).
    pub require_read_token: bool,
    /// Refuse every write (default false).
    pub read_only: bool,
    /// Check the Host header (default true).
    pub check_host: bool,
    /// Further names the server answers for: `NAME` (any port) or `NAME:PORT`; `*` allows any Host.
    pub allowed_hosts: Vec<String>,
}

impl Default for Access {
    fn default() -> Self {
        Access {
            tokens: Vec::new(),
            allow_anonymous_writes: false,
            require_read_token: false,
            read_only: false,
            check_host: true,
            allowed_hosts: Vec::new(),
        }
    }
}

impl Access {
    /// Whether the server needs a token made up at start: writes are possible, need a token, and no
    /// write token is configured; or reads need a token and none is configured. The scope it should have.
    pub fn missing_token(&self) -> Option<Scope> {
        if !self.read_only && !self.allow_anonymous_writes && !self.tokens.iter().any(|t| t.scope == Scope::Write) {
            return Some(Scope::Write);
        }
        if self.require_read_token && self.tokens.is_empty() {
            return Some(if self.read_only { Scope::Read } else { Scope::Write });
        }
        None
    }

    /// The configured token `presented` is, compared in constant time against every token.
    fn find(&self, presented: &str) -> Option<&Token> {
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for t in &self.tokens {
            // No early exit: every configured token is compared.
            let same: bool = t.digest.ct_eq(&digest).into();
            if same && found.is_none() {
                found = Some(t);
            }
        }
        found
    }

    /// Whether `host` (a Host header value) names a server bound to `bound`.
    pub fn host_allowed(&self, host: &str, bound: SocketAddr) -> bool {
        if !self.check_host {
            return true;
        }
        // Names compare without case, and without a lowercased copy per request.
        let port = bound.port();
        let (name, host_port) = split_host(host.trim());
        for allowed in &self.allowed_hosts {
            let allowed = allowed.trim();
            if allowed == "*" {
                return true;
            }
            let (a_name, a_port) = split_host(allowed);
            if a_name.eq_ignore_ascii_case(name) && (a_port.is_none() || a_port == host_port) {
                return true;
            }
        }
        if host_port != Some(port) {
            return false;
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
        match literal {
            Some(ip) if bound.ip().is_unspecified() => ip.is_ipv6() == bound.is_ipv6() || ip.is_loopback(),
            Some(ip) => ip == bound.ip() || ip.is_loopback(),
            None => name.eq_ignore_ascii_case("localhost"),
        }
    }
}

/// `name` and port of a Host value (`[::1]:8080` → (`[::1]`, 8080)).
fn split_host(host: &str) -> (&str, Option<u16>) {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => (&host[..=end], host[end + 1..].strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (host, None),
        };
    }
    match host.rsplit_once(':') {
        Some((n, p)) => match p.parse() {
            Ok(p) => (n, Some(p)),
            Err(_) => (host, None),
        },
        None => (host, None),
    }
}

/// What the access middleware needs.
pub(crate) struct Guard {
    pub access: Access,
    pub cors: Cors,
    /// The bound address (for the Host check).
    pub bound: SocketAddr,
    /// `http` or `https` (for same-origin requests).
    pub scheme: &'static str,
}

/// The model name a request path is about (`/models/a/b/model.json` → `a/b`), if any.
pub(crate) fn model_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/models/")?;
    let rest = rest.strip_suffix("/versions").unwrap_or(rest);
    match rest.rsplit_once('/') {
        Some((name, last)) if last.contains('.') && (last.ends_with(".json") || last.ends_with(".bin")) => Some(name),
        _ => Some(rest),
    }
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError { status, message: message.into() }.into_response()
}

/// The access middleware: Host, Origin/CORS, read-only, tokens; then the audit line of a write.
pub(crate) async fn guard<F, Fut>(g: &Guard, mut req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let headers = req.headers();
    // Two Host headers: which one a proxy in front acted on is unknown (RFC 9112 §3.2: a 400).
    if headers.get_all(header::HOST).iter().nth(1).is_some() {
        return refuse(StatusCode::BAD_REQUEST, "the request has more than one Host header");
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    // A request target in absolute form (`GET http://name/...`) names the host the server must act
    // on (RFC 9112 §3.2.2), whatever Host says: it must be allowed too.
    let target_allowed = req.uri().authority().map_or(true, |a| g.access.host_allowed(a.as_str(), g.bound));
    let Some(host) = host.filter(|h| target_allowed && g.access.host_allowed(h, g.bound)) else {
        return refuse(
            StatusCode::FORBIDDEN,
            "this server does not answer for that Host name (start it with --allowed-host NAME to add one)",
        );
    };
    // An Origin naming this server as the client reached it is same-origin: no CORS rule applies.
    let origin = headers.get(header::ORIGIN).filter(|o| !same_origin(o.as_bytes(), g.scheme, host)).cloned();
    if let Some(o) = &origin {
        if let Some(answer) = g.cors.preflight(&req, o) {
            return answer;
        }
    }
    let write = is_write(req.method());
    if let Some(o) = &origin {
        if !g.cors.allows(o, write) {
            let what = if write { "write" } else { "read" };
            let mut r =
                refuse(StatusCode::FORBIDDEN, format!("pages on this origin may not {what} (see --cors-origin)"));
            g.cors.decorate(&mut r, Some(o), false);
            return r;
        }
    }
    let name = model_name(req.uri().path());
    let id = |t: Option<&Token>| t.map_or_else(|| "anonymous".to_string(), |t| t.id.clone());
    let token = match authorize(&g.access, &req, write, name) {
        Ok(t) => t,
        Err((t, mut r)) => {
            g.cors.decorate(&mut r, origin.as_ref(), write);
            if write {
                audit(req.method(), name, &r, &id(t));
            }
            return *r;
        }
    };
    // What the audit line needs once the request has been handed on (reads log no audit line).
    let audit_of = write.then(|| (req.method().clone(), name.map(str::to_string), id(token)));
    if let Some((_, _, token_id)) = &audit_of {
        req.extensions_mut().insert(TokenId(token_id.clone()));
    }
    let mut resp = next(req).await;
    g.cors.decorate(&mut resp, origin.as_ref(), write);
    if let Some((method, name, token_id)) = audit_of {
        audit(&method, name.as_deref(), &resp, &token_id);
    }
    resp
}

/// Whether `origin` is `scheme://host`: the page is on this very server.
fn same_origin(origin: &[u8], scheme: &str, host: &str) -> bool {
    origin
        .strip_prefix(scheme.as_bytes())
        .and_then(|rest| rest.strip_prefix(b"://"))
        .is_some_and(|rest| rest == host.as_bytes())
}

/// The audit line of a write or delete (refused ones included): the action, the model, the version a
/// save created, the answer's status and the token's id.
fn audit(method: &Method, name: Option<&str>, resp: &Response, token_id: &str) {
    let action = if method == Method::DELETE { "delete" } else { "save" };
    // A save answers the version it created (crate::api::VERSION_HEADER); a delete has none.
    let version = resp.headers().get(crate::api::VERSION_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info!(
        target: "modelio::audit",
        action,
        name = name.unwrap_or(""),
        version,
        method = %method,
        status = resp.status().as_u16(),
        token = %token_id,
        "audit"
    );
}

/// The id of the token a write (POST, PUT, DELETE) came with (`anonymous` without one), in the request's
/// extensions for the routes behind the access check. Reads carry none: it would cost an allocation per GET.
#[derive(Clone, Debug)]
pub struct TokenId(pub String);

/// The token that allows this request, `Ok(None)` when none is needed, or the refusal.
/// A refused request: the token it presented (when valid) and the answer.
type Refused<'a> = (Option<&'a Token>, Box<Response>);

fn authorize<'a>(
    access: &'a Access,
    req: &Request<Body>,
    write: bool,
    name: Option<&str>,
) -> Result<Option<&'a Token>, Refused<'a>> {
    if write && access.read_only {
        return Err((None, Box::new(refuse(StatusCode::FORBIDDEN, "this server is read-only"))));
    }
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let needed = if write { !access.allow_anonymous_writes } else { access.require_read_token };
    let token = match presented {
        Some(p) => access.find(p),
        None => None,
    };
    let Some(token) = token else {
        if !needed {
            return Ok(None);
        }
        let why = if presented.is_some() { "the token is not valid" } else { "a token is required" };
        let mut r = refuse(StatusCode::UNAUTHORIZED, format!("{why}: send 'Authorization: Bearer TOKEN'"));
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"modelio\""));
        return Err((None, Box::new(r)));
    };
    if needed && write && token.scope != Scope::Write {
        return Err((Some(token), Box::new(refuse(StatusCode::FORBIDDEN, "this token may only read"))));
    }
    if token.prefix.is_some() && needed && !name.is_some_and(|n| token.covers(n)) {
        return Err((Some(token), Box::new(refuse(StatusCode::FORBIDDEN, "this token does not cover that model"))));
    }
    Ok(Some(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_parse_with_ids_scopes_and_prefixes() {
        let text = "# comment\n\nwrite 0123456789abcdef0123\nread  ffffffffffffffffffff team/vision\n";
        let t = parse_token_file(text, "tokens.txt").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].id.as_str(), t[0].scope, t[0].prefix.as_deref()), ("tokens.txt:3", Scope::Write, None));
        assert_eq!(
            (t[1].id.as_str(), t[1].scope, t[1].prefix.as_deref()),
            ("tokens.txt:4", Scope::Read, Some("team/vision"))
        );
        assert!(format!("{t:?}").contains("tokens.txt:3") && !format!("{t:?}").contains("0123456789abcdef"));
        for bad in
            ["admin 0123456789abcdef", "write short", "write 0123456789abcdef a b", "write 0123456789abcdef ../x"]
        {
            let e = parse_token_file(bad, "f").unwrap_err();
            assert!(e.starts_with("f:1: ") && !e.contains("0123456789abcdef"), "{bad}: {e}");
        }
    }

    #[test]
    fn prefixes_cover_whole_segments() {
        let t = Token::new("t", "x", Scope::Write, Some("team/".into()));
        assert!(t.covers("team") && t.covers("team/a/b"));
        assert!(!t.covers("team2") && !t.covers("other/team"));
    }

    #[test]
    fn tokens_are_found_by_value() {
        let a = Access {
            tokens: vec![
                Token::new("one", "aaaaaaaaaaaaaaaa", Scope::Read, None),
                Token::new("two", "bbbbbbbbbbbbbbbb", Scope::Write, None),
            ],
            ..Access::default()
        };
        assert_eq!(a.find("bbbbbbbbbbbbbbbb").map(|t| t.id.as_str()), Some("two"));
        assert!(a.find("bbbbbbbbbbbbbbb").is_none() && a.find("").is_none());
        assert_eq!(generate().len(), 64);
        assert_ne!(generate(), generate());
    }

    #[test]
    fn hosts() {
        let a =
            Access { allowed_hosts: vec!["models.example".into(), "other.example:444".into()], ..Access::default() };
        let b: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "models.example",
            "models.example:9",
            "other.example:444",
        ] {
            assert!(a.host_allowed(ok, b), "{ok}");
        }
        for bad in
            ["evil.example:8080", "localhost:8081", "127.0.0.1", "10.0.0.1:8080", "other.example:443", "localhost"]
        {
            assert!(!a.host_allowed(bad, b), "{bad}");
        }
        let any: SocketAddr = "0.0.0.0:80".parse().unwrap();
        assert!(a.host_allowed("192.168.1.5:80", any) && !a.host_allowed("rebind.example:80", any));
        assert!(Access { check_host: false, ..Access::default() }.host_allowed("x", b));
    }

    #[test]
    fn model_names_of_paths() {
        assert_eq!(model_name("/models/a/b/model.json"), Some("a/b"));
        assert_eq!(model_name("/models/a/b"), Some("a/b"));
        assert_eq!(model_name("/models/a/group1-shard1of2.bin"), Some("a"));
        assert_eq!(model_name("/models/a/versions"), Some("a"));
        assert_eq!(model_name("/models"), None);
        assert_eq!(model_name("/metrics"), None);
    }
}
