//! `memory://` against the conformance suite: one trial per case (`memory::overwrite`, ...).
use io_core::testkit::{self, Capabilities, Target};
use modelio_example_memory as _;

fn main() {
    let target = Target::new(modelio::registry(), "memory", |p| format!("memory://{p}"))
        .capabilities(Capabilities::STORE)
        .prefix("suite/");
    testkit::main(vec![target])
}
