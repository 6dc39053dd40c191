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

async fn run(cli: &Cli) -> CmdResult {
    let out = Output::new(cli.global.quiet);
    match &cli.command {
        Command::Info(a) => info::run(a, &out).await,
        Command::Ls(a) => manage::ls(a, &out).await,
        Command::Cp(a) => manage::cp(a, &out).await,
        Command::Mv(a) => manage::mv(a, &out).await,
        Command::Rm(a) => manage::rm(a, &out).await,
        Command::Serve(a) => serve::run(a, &out).await,
        Command::Verify(a) => verify::run(a, &out).await,
    }
}
