//! Per-call options for a command's transfers: every scheme reports bytes, which feed the task's
//! byte bar.

use modelio::{ModelArtifacts, Options, Result};

use crate::progress::Task;

/// Options whose byte progress drives `task`'s bar (for any source or destination scheme).
pub fn options(task: &Task) -> Options {
    let sink = task.byte_sink();
    Options::new().on_progress(move |p| sink(p.bytes, p.total))
}

/// Loads the model at `url` while `task` shows byte progress; the registry checks its weights
/// against its specs.
pub async fn load(url: &str, task: &Task) -> Result<ModelArtifacts> {
    task.run(modelio::load_with(url, &options(task))).await
}
