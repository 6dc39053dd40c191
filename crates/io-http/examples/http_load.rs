//! Loads one model over HTTP and prints `bytes=N shards=N seconds=S` (used by `cargo xtask bench http`).
//!
//! Usage: `http_load MODEL_JSON_URL [CONCURRENCY]`

use io_core::LoadHandler;

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: http_load MODEL_JSON_URL [CONCURRENCY]");
    let concurrency = args.next().map_or(io_http::DEFAULT_CONCURRENCY, |c| c.parse().expect("CONCURRENCY is a number"));
    let t0 = std::time::Instant::now();
    let handler = io_http::HttpHandler::new(url).concurrency(concurrency);
    let model = futures::executor::block_on(handler.load(&Default::default())).unwrap_or_else(|e| {
        eprintln!("http_load: {e}");
        std::process::exit(1)
    });
    println!(
        "bytes={} shards={} seconds={:.3}",
        model.weight_data.len(),
        model.weight_data.chunks().len(),
        t0.elapsed().as_secs_f64()
    );
}
