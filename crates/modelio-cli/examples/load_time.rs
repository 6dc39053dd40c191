//! Loads a model through the `modelio` facade `RUNS` times in one process and prints the best wall
//! time of a load in seconds (the model is dropped outside the timed part). Used by
//! `cargo xtask bench cli`: `load_time URL [RUNS]`.

use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().expect("usage: load_time URL [RUNS]");
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let t = Instant::now();
        let model = rt.block_on(modelio::load(&url)).unwrap_or_else(|e| panic!("{e}"));
        best = best.min(t.elapsed());
        std::hint::black_box(&model);
    }
    println!("{}", best.as_secs_f64());
}
