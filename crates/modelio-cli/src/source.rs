//! Loading a model for a command, with byte progress where the scheme can report it.

use modelio::http::HttpHandler;
use modelio::{ModelArtifacts, ModelUrl, Result};

use crate::progress::Task;

/// Whether loads of `url` report byte progress (`http://` and `https://`, through io-http).
pub fn has_byte_progress(url: &str) -> bool {
    ModelUrl::parse(url).is_ok_and(|u| matches!(u.scheme.as_str(), "http" | "https"))
}

/// Loads the model at `url` while `task` shows progress, and checks its weights against its
/// specs (as `modelio::load` does). `http(s)://` URLs are loaded by io-http's handler with its
/// progress callback feeding the task's byte bar; every other scheme goes through the registry.
pub async fn load(url: &str, task: &Task) -> Result<ModelArtifacts> {
    if !has_byte_progress(url) {
        return task.run(modelio::load(url)).await;
    }
    let sink = task.byte_sink();
    let handler = HttpHandler::new(url).on_progress(move |p| sink(p.loaded, p.total));
    task.run(modelio::Registry::load_with(url, &handler)).await
}
