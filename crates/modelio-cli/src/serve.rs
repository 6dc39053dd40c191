//! `modelio serve`: the HTTP model server of `crates/modelio-server` on a modelio store.

use modelio_server::auth::{self, Scope, Token};
use modelio_server::conn::Limits;
use modelio_server::tls::TlsFiles;
use modelio_server::{ServeConfig, Server};

use crate::cli::{LogFormat, ServeArgs};
use crate::failure::{CmdResult, Failure};
use crate::output::Output;
use crate::{logformat, logwriter};

/// The environment variable holding one write token (id `env` in logs).
pub const TOKEN_ENV: &str = "MODELIO_TOKEN";

/// `modelio serve`: binds, prints `listening on http://ADDR` as the first stdout line, then
/// `token: TOKEN` when it made a write token (no token configured), then, unless quiet, how TF.js
/// uses the server; logs requests on stderr and serves until Ctrl-C or SIGTERM, finishing the
/// requests in progress.
pub async fn run(args: &ServeArgs, out: &Output) -> CmdResult {
    // Held until the server has stopped: dropping it writes out the last lines.
    let _log = init_logs(args.log_format);
    let cfg = config(args, std::env::var(TOKEN_ENV).ok())?;
    let store = cfg.store.clone();
    let server = Server::bind(cfg).await?;
    let url = server.url();
    out.text(&format!("listening on {url}\n"))?;
    let auth = match server.generated_token() {
        Some(t) => {
            out.text(&format!("token: {t}\n"))?;
            "\nwrites need the token printed above (made for this run; set MODELIO_TOKEN or --token-file to choose one):\n  \
             tf.io.http(url, {requestInit: {headers: {Authorization: 'Bearer TOKEN'}}})"
        }
        None => "",
    };
    out.summary(&format!(
        "store: {store}\nsave from TF.js: await model.save('{url}/models/NAME')\n\
         load from TF.js: await tf.loadLayersModel('{url}/models/NAME/model.json'){auth}"
    ))?;
    tracing::info!(target: "modelio::serve", url = %url, store = %store, "serving");
    server.run(shutdown()).await?;
    tracing::info!(target: "modelio::serve", "stopped");
    Ok(())
}

/// Logs on stderr: `RUST_LOG` (default `info`), text ([`crate::logformat`]) or JSON lines, written in batches by a
/// writer thread ([`crate::logwriter`]: at most 50 ms after they are logged, never blocking a
/// request on the disk). Dropping the returned flusher writes out what is waiting.
fn init_logs(format: LogFormat) -> Option<logwriter::Flusher> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, flusher) = logwriter::stderr();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.fmt_fields(logformat::Fields).event_format(logformat::Line).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    flusher
}

/// The server configuration the options describe (`env_token`: the value of `MODELIO_TOKEN`).
fn config(args: &ServeArgs, env_token: Option<String>) -> Result<ServeConfig, Failure> {
    let defaults = ServeConfig::default();
    let (cors_any_read, cors_origins) = match args.no_cors {
        true => (false, Vec::new()),
        false => (true, args.cors_origins.clone()),
    };
    let mut tokens = Vec::new();
    if let Some(path) = &args.token_file {
        let text =
            std::fs::read_to_string(path).map_err(|e| Failure::new(format!("--token-file {}: {e}", path.display())))?;
        let source = path.file_name().map_or_else(|| "token-file".into(), |n| n.to_string_lossy().to_string());
        tokens = auth::parse_token_file(&text, &source).map_err(|e| Failure::new(format!("--token-file: {e}")))?;
    }
    if let Some(t) = env_token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
        if t.len() < 16 {
            return Err(Failure::new(format!("{TOKEN_ENV} must be at least 16 characters")));
        }
        tokens.push(Token::new("env", &t, Scope::Write, None));
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert: cert.clone(), key: key.clone() }),
        _ => None,
    };
    Ok(ServeConfig {
        store: args.store.clone(),
        addr: args.addr,
        max_upload_bytes: args.max_upload_bytes,
        cors_origins,
        max_model_json_bytes: args.max_model_json_bytes,
        max_upload_parts: args.max_upload_parts,
        max_manifest_paths: args.max_manifest_paths,
        max_store_bytes: args.max_store_bytes,
        keep_versions: args.keep_versions.max(1),
        version_grace: args.version_grace,
        cors_any_read,
        access: auth::Access {
            tokens,
            allow_anonymous_writes: args.allow_anonymous_writes,
            require_read_token: args.require_read_token,
            read_only: args.read_only,
            check_host: true,
            allowed_hosts: args.allowed_hosts.clone(),
        },
        limits: Limits {
            header_read_timeout: args.header_read_timeout,
            keep_alive_timeout: args.keep_alive_timeout,
            body_idle_timeout: args.body_idle_timeout,
            send_timeout: args.send_timeout,
            max_connections: args.max_connections,
            max_concurrent_uploads: args.max_concurrent_uploads,
            shutdown_grace: args.shutdown_grace,
        },
        tls,
        ..defaults
    })
}

/// Completes on Ctrl-C, or on SIGTERM where there is one.
async fn shutdown() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["modelio", "serve"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Serve(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_server_libraries() {
        let c = config(&args(&[]), None).unwrap();
        let d = ServeConfig::default();
        assert_eq!(
            (c.store, c.addr, c.max_upload_bytes, c.cors_origins, c.cors_any_read),
            (d.store, d.addr, d.max_upload_bytes, d.cors_origins, d.cors_any_read)
        );
        assert_eq!(format!("{:?}", c.limits), format!("{:?}", d.limits));
        assert_eq!(format!("{:?}", c.access), format!("{:?}", d.access));
    }

    #[test]
    fn options_override() {
        let c = config(
            &args(&["--store", "indexeddb://", "--max-upload-bytes", "10", "--cors-origin", "http://a", "--read-only"]),
            None,
        )
        .unwrap();
        assert_eq!(
            (c.store.as_str(), c.max_upload_bytes, c.cors_origins, c.access.read_only),
            ("indexeddb://", 10, vec!["http://a".into()], true)
        );
        let n = config(&args(&["--no-cors", "--keep-alive-timeout", "500ms"]), None).unwrap();
        assert!(n.cors_origins.is_empty() && !n.cors_any_read);
        assert_eq!(n.limits.keep_alive_timeout, std::time::Duration::from_millis(500));
        let e = config(&args(&[]), Some("0123456789abcdef".into())).unwrap();
        assert_eq!(e.access.tokens[0].id, "env");
        assert!(config(&args(&[]), Some("short".into())).is_err());
    }
}
