//! The example scheme is found through `inventory` alone (its conformance suite: `tests/conformance.rs`).
use modelio_example_memory as _;

#[test]
fn registered_through_inventory_only() {
    assert!(modelio::registry().schemes().contains(&"memory".to_string()), "{:?}", modelio::registry().schemes());
}
