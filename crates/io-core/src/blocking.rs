//! Running blocking work (file system, SQLite) off the caller's async executor.
//!
//! Natively, [`unblock`] runs the closure on the thread pool of the [`blocking`](https://docs.rs/blocking)
//! crate (smol's; it needs no runtime, grows on demand and parks idle threads), so a handler's async
//! method never blocks the executor that polls it — tokio, smol, `futures::executor`, anything. On
//! `wasm32` there are no threads and nothing blocks (browser APIs are asynchronous): the closure runs
//! in place.

/// Runs `f` on a blocking thread and waits for it without blocking the executor.
#[cfg(not(target_arch = "wasm32"))]
pub async fn unblock<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    blocking::unblock(f).await
}

/// Runs `f` in place (`wasm32` has no blocking I/O).
#[cfg(target_arch = "wasm32")]
pub async fn unblock<T: 'static>(f: impl FnOnce() -> T + 'static) -> T {
    f()
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    #[test]
    fn runs_on_another_thread() {
        let here = std::thread::current().id();
        let there = futures::executor::block_on(super::unblock(|| std::thread::current().id()));
        assert_ne!(here, there);
    }
}
