//! The example scheme is found through `inventory` alone, and passes the conformance suite.
use modelio_example_memory as _;

#[test]
fn registered_through_inventory_only() {
    assert!(modelio::registry().schemes().contains(&"memory".to_string()), "{:?}", modelio::registry().schemes());
}

#[test]
fn passes_the_conformance_suite() {
    let target = io_core::testkit::Target {
        registry: modelio::registry(),
        scheme: "memory".into(),
        url: Box::new(|p| format!("memory://{p}")),
        can_list: true,
        prefix: "suite/".into(),
    };
    futures::executor::block_on(io_core::testkit::run_suite(&target));
}
