//! Where object store requests run.
//!
//! `object_store`'s clients are reqwest clients: they need a tokio reactor, and their pooled
//! connections belong to the runtime that opened them. As in io-http, every request of this crate
//! runs on one small runtime owned by the crate (two worker threads, started on first use), so
//! callers may use any executor (or `futures::executor::block_on`) and connections are reused
//! across calls even when the callers' runtimes come and go.

use std::future::Future;

use io_core::{Error, Result};

/// Runs `fut` on the crate's runtime and waits for it from any executor.
pub(crate) async fn run<T: Send + 'static>(fut: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    match runtime().spawn(fut).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(Error::Network {
            url: String::new(),
            detail: format!("object store task stopped: {e}"),
            temporary: true,
            source: Some(Box::new(e)),
        }),
    }
}

/// Starts `fut` on the crate's runtime without waiting for it.
pub(crate) fn spawn(fut: impl Future<Output = ()> + Send + 'static) {
    drop(runtime().spawn(fut));
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("io-object-store")
            .enable_all()
            .build()
            .expect("io-object-store cannot start its tokio runtime")
    })
}

/// Waits `d` (on the crate's runtime's timer, from any executor).
pub(crate) async fn sleep(d: std::time::Duration) {
    let _ = run(async move {
        tokio::time::sleep(d).await;
        Ok(())
    })
    .await;
}
