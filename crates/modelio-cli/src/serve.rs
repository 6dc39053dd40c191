//! `modelio serve`: the HTTP model server of `crates/modelio-server` on a modelio store.

use modelio_server::{ServeConfig, Server};

use crate::cli::ServeArgs;
use crate::failure::CmdResult;
use crate::output::Output;

/// `modelio serve`: binds, prints `listening on http://ADDR` as the first stdout line (then, unless
/// quiet, how TF.js uses the server), and serves until Ctrl-C or SIGTERM, finishing the requests in
/// progress.
pub async fn run(args: &ServeArgs, out: &Output) -> CmdResult {
    let cfg = config(args);
    let store = cfg.store.clone();
    let server = Server::bind(cfg).await?;
    let url = server.url();
    out.text(&format!("listening on {url}\n"))?;
    out.summary(&format!(
        "store: {store}\nsave from TF.js: await model.save('{url}/models/NAME')\n\
         load from TF.js: await tf.loadLayersModel('{url}/models/NAME/model.json')"
    ))?;
    server.run(shutdown()).await?;
    Ok(())
}

/// The server configuration the options describe.
fn config(args: &ServeArgs) -> ServeConfig {
    let defaults = ServeConfig::default();
    let cors_origins = match (args.no_cors, args.cors_origins.is_empty()) {
        (true, _) => Vec::new(),
        (false, true) => defaults.cors_origins.clone(),
        (false, false) => args.cors_origins.clone(),
    };
    ServeConfig {
        store: args.store.clone(),
        addr: args.addr,
        max_upload_bytes: args.max_upload_bytes,
        cors_origins,
        max_model_json_bytes: args.max_model_json_bytes,
        max_upload_parts: args.max_upload_parts,
        max_manifest_paths: args.max_manifest_paths,
        max_store_bytes: args.max_store_bytes,
        keep_versions: args.keep_versions.max(1),
        ..defaults
    }
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
            crate::cli::Command::Serve(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_are_the_server_libraries() {
        let c = config(&args(&[]));
        let d = ServeConfig::default();
        assert_eq!(
            (c.store, c.addr, c.max_upload_bytes, c.cors_origins),
            (d.store, d.addr, d.max_upload_bytes, d.cors_origins)
        );
    }

    #[test]
    fn options_override() {
        let c = config(&args(&["--store", "indexeddb://", "--max-upload-bytes", "10", "--cors-origin", "http://a"]));
        assert_eq!(
            (c.store.as_str(), c.max_upload_bytes, c.cors_origins),
            ("indexeddb://", 10, vec!["http://a".into()])
        );
        assert!(config(&args(&["--no-cors"])).cors_origins.is_empty());
    }
}
