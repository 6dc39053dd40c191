//! Where requests run, and waiting between retries.
//!
//! Native: reqwest needs a tokio reactor, and its pooled connections belong to the runtime that opened
//! them. So every request of this crate runs on one small runtime owned by the crate (two worker
//! threads, started on first use). Callers may use any executor, and connections are reused across
//! calls even when the callers' runtimes come and go (each `#[tokio::test]` has its own).
//!
//! wasm32: requests are the browser's `fetch`, awaited in the caller's task.

use std::future::Future;

use io_core::Result;

/// Runs `fut` on the crate's runtime and waits for it from any executor.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) async fn run<T: Send + 'static>(fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    match runtime().spawn(fut).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(io_core::Error::Network {
            url: String::new(),
            detail: format!("request task stopped: {e}"),
            temporary: true,
            source: Some(Box::new(e)),
        }),
    }
}

/// Runs `fut` in the caller's task.
#[cfg(target_arch = "wasm32")]
pub(crate) async fn run<T>(fut: impl Future<Output = Result<T>>) -> Result<T> {
    fut.await
}

#[cfg(not(target_arch = "wasm32"))]
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("io-http")
            .enable_all()
            .build()
            .expect("io-http cannot start its tokio runtime")
    })
}
