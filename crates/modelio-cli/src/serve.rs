//! `modelio serve`: the HTTP model server of `crates/modelio-server` on a modelio store.

use crate::cli::ServeArgs;
use crate::failure::{CmdResult, Failure};
use crate::output::Output;

/// `modelio serve`. Not available until the server library exists: fails, never pretends.
pub async fn run(args: &ServeArgs, _out: &Output) -> CmdResult {
    Err(Failure::new(format!(
        "`modelio serve` is not available in this build (store {}, address {}): the server library \
         crates/modelio-server is not implemented yet",
        args.store, args.addr
    )))
}
