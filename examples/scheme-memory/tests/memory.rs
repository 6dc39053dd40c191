//! The example scheme is found through `inventory` alone (its conformance suite: `tests/conformance.rs`),
//! and its configured instances (separate named maps) mount and pass the suite too.
use io_core::testkit::{fixtures, run_suite, Capabilities, Target};
use io_core::{Config, Error, Registry, Scheme};
use modelio_example_memory::MEMORY;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

#[test]
fn registered_through_inventory_only() {
    assert!(modelio::registry().schemes().contains(&"memory".to_string()), "{:?}", modelio::registry().schemes());
}

fn named(name: &str) -> Config {
    [("name".to_string(), name.to_string())].into()
}

#[test]
fn configured_instances_are_separate_maps_and_pass_the_suite() {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::from_inventory);
    registry.mount_configured("scratch://", "memory", &named("scratch")).expect("mount_configured");
    let target = Target::new(registry, "scratch", |p| format!("scratch://{p}"))
        .capabilities(Capabilities::STORE)
        .prefix("suite/");
    block_on(run_suite(&target));

    block_on(async {
        let a = fixtures::model("a");
        registry.save("scratch://only-here", &a).await.expect("save");
        let missing = registry.load("memory://only-here").await;
        assert!(matches!(missing, Err(Error::NotFound { .. })), "the default map sees a named map's model");
        // The same name is the same map, wherever it is mounted.
        registry.mount("again://", MEMORY.configure(&named("scratch")).expect("configure")).expect("mount");
        let back = registry.load("again://only-here").await.expect("load through a second mount");
        io_core::testkit::assert_same_model("second mount", &back, &a);
        let listed = registry.list_models().await.expect("list_models");
        assert!(listed.contains_key("scratch://only-here") && listed.contains_key("again://only-here"), "{listed:?}");
        // Across mounts, a move is a save then a delete.
        registry.move_model("scratch://only-here", "memory://moved-from-scratch").await.expect("move");
        assert!(matches!(registry.load("again://only-here").await, Err(Error::NotFound { .. })));
        registry.load("memory://moved-from-scratch").await.expect("moved model loads");
    });

    for bad in [Config::new(), named(""), [("root".to_string(), "x".to_string())].into()] {
        let e = registry.mount_configured("bad://", "memory", &bad).expect_err("bad config refused");
        assert!(e.to_string().contains("`name`"), "{e}");
    }
}
