//! Measures save, load, list and rename of the 4.4 MB fixture model c in both native stores
//! (a temporary profile folder). Run: `cargo run --release -p io-indexeddb --example store_timings`.

use std::time::Instant;

use futures::executor::block_on as block;
use io_core::testkit::fixtures;
use io_core::Registry;

fn main() {
    let home = tempfile::tempdir().expect("temp dir");
    io_store_support::set_home(Some(home.path().to_path_buf()));
    io_localstorage::native_store().expect("open").db().set_quota(None);
    let r = Registry::new();
    io_localstorage::register(&r);
    io_indexeddb::register(&r);
    let c = fixtures::model("c");
    let rounds = 10;
    for scheme in ["localstorage", "indexeddb"] {
        let url = format!("{scheme}://timing/c");
        let time = |what: &str, f: &dyn Fn()| {
            let t = Instant::now();
            for _ in 0..rounds {
                f();
            }
            println!("{scheme:>12} {what:<7} {:>8.2} ms", t.elapsed().as_secs_f64() * 1000.0 / rounds as f64);
        };
        time("save", &|| drop(block(r.save(&url, &c)).expect("save")));
        time("load", &|| drop(block(r.load(&url)).expect("load")));
        time("list", &|| drop(block(r.list_store(scheme)).expect("list")));
        time("rename", &|| {
            block(r.move_model(&url, &format!("{url}-2"))).expect("move");
            block(r.move_model(&format!("{url}-2"), &url)).expect("move back");
        });
    }
    for f in ["localstorage.sqlite3", "indexeddb/tensorflowjs.sqlite3"] {
        let p = home.path().join(f);
        println!(
            "{f}: {} bytes (+ WAL {} bytes)",
            p.metadata().map_or(0, |m| m.len()),
            p.with_extension("sqlite3-wal").metadata().map_or(0, |m| m.len())
        );
    }
}
