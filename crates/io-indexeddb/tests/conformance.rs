//! `indexeddb://` (its native SQLite backend) against the conformance suite, one trial per case
//! (`indexeddb::overwrite`, ...). It can do everything the suite checks.

use io_core::testkit::{self, Capabilities, Target};
use io_core::Registry;

fn main() {
    let home = tempfile::tempdir().expect("temp dir");
    io_store_support::set_home(Some(home.path().to_path_buf()));
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(|| {
        let r = Registry::new();
        io_indexeddb::register(&r);
        r
    });
    let target = Target::new(registry, "indexeddb", |p| format!("indexeddb://{p}"))
        .capabilities(Capabilities::STORE)
        .prefix("suite/");
    let conclusion = testkit::run(vec![target]);
    drop(home); // `exit` runs no destructors
    conclusion.exit()
}
