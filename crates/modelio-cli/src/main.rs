//! The `modelio` command: inspect, copy, move, list, remove and serve TensorFlow.js models through
//! modelio's URL schemes (`file://`, `indexeddb://`, `localstorage://`, `downloads://`, `http(s)://`).
//!
//! Exit status: 0 on success; 1 on failure, with one line `modelio: error: ...` on stderr; 2 on a
//! usage error (clap's message on stderr).
#![warn(missing_docs)]

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod failure;
mod info;
mod logformat;
mod logwriter;
mod manage;
mod output;
mod progress;
mod serve;
mod source;
mod stats;
mod table;
mod verify;

use cli::{Cli, Command};
use failure::{CmdResult, Failure};
use output::Output;

/// mimalloc instead of glibc's malloc: `modelio serve` makes and frees a few dozen small
/// allocations per request on every worker thread (hyper's buffers, headers, the request record),
/// where glibc's arenas spent about 8% of the server's CPU (perf, model.json GETs); loads of big
/// models allocate their shard memory once either way.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(home) = &cli.global.home {
        // Before any thread exists: the native stores read the profile folder from here.
        std::env::set_var("MODELIO_HOME", home);
    }
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the async runtime: {e}")))
        .and_then(|rt| rt.block_on(run(&cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("modelio: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The environment variable whose token goes with every http(s) request as `Authorization: Bearer`.
const HTTP_TOKEN_ENV: &str = "MODELIO_HTTP_TOKEN";

/// Mounts http and https with the headers of `--header` and `MODELIO_HTTP_TOKEN`, if any.
fn http_headers(headers: &[String], token: Option<String>) -> CmdResult {
    let mut config = modelio::Config::new();
    for h in headers {
        let (name, value) =
            h.split_once(':').ok_or_else(|| Failure::new(format!("--header '{h}': expected 'NAME: VALUE'")))?;
        config.insert(format!("header.{}", name.trim()), value.trim().to_string());
    }
    if let Some(t) = token.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) {
        config.insert("header.authorization".into(), format!("Bearer {t}"));
    }
    if config.is_empty() {
        return Ok(());
    }
    for scheme in ["http", "https"] {
        modelio::registry().mount_configured(&format!("{scheme}://"), scheme, &config)?;
    }
    Ok(())
}

async fn run(cli: &Cli) -> CmdResult {
    http_headers(&cli.global.headers, std::env::var(HTTP_TOKEN_ENV).ok())?;
    let out = Output::new(cli.global.quiet);
    match &cli.command {
        Command::Info(a) => info::run(a, &out).await,
        Command::Ls(a) => manage::ls(a, &out).await,
        Command::Cp(a) => manage::cp(a, &out).await,
        Command::Mv(a) => manage::mv(a, &out).await,
        Command::Rm(a) => manage::rm(a, &out).await,
        Command::Serve(a) => serve::run(a, &out).await,
        Command::Verify(a) => verify::run(a, &out).await,
        Command::Gc(a) => manage::gc(a, &out).await,
    }
}
