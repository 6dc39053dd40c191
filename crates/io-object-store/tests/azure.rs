//! `az://` against Azurite (Microsoft's Azure Storage emulator) on loopback ([`Azurite`]), one
//! trial per case (`harness = false`): the io-core conformance suite on the environment-configured
//! `az://CONTAINER/...` scheme and on a configured mount.
//!
//! Needs Azurite: `cargo xtask test-all`, or
//! `MODELIO_AZURITE=$(cargo xtask azurite) cargo test -p io-object-store --test azure`.

use std::sync::OnceLock;

use io_core::testkit::libtest_mimic::{self, Arguments};
use io_core::testkit::{self, Capabilities, Capability, Target};
use io_core::Registry;
use io_object_store::testkit::Azurite;

fn leak(r: Registry) -> &'static Registry {
    static KEEP: OnceLock<&'static Registry> = OnceLock::new();
    KEEP.get_or_init(|| Box::leak(Box::new(r)))
}

fn targets(registry: &'static Registry) -> Vec<Target> {
    vec![
        Target::new(registry, "az", |p| format!("az://suite/env/{p}"))
            .capabilities(Capabilities::STORE.without(Capability::ListEverything))
            .name("az_env"),
        Target::new(registry, "aconf", |p| format!("aconf://{p}"))
            .capabilities(Capabilities::STORE)
            .name("az_configured"),
    ]
}

fn main() {
    let args = Arguments::from_args();
    if args.list {
        libtest_mimic::run(&args, targets(leak(Registry::new())).into_iter().flat_map(testkit::trials).collect())
            .exit();
    }
    let azurite = Azurite::start();
    eprintln!("Azurite listens on {} after {:.1?}", azurite.endpoint(), azurite.started_in());
    // object_store reads the emulator's settings from the environment (before any thread).
    for (k, v) in azurite.env() {
        std::env::set_var(k, v);
    }
    azurite.create_container("suite");
    let registry = leak(Registry::new());
    io_object_store::register(registry);
    registry.mount_configured("aconf://", "az", &azurite.config("suite", "configured")).expect("mount_configured");
    let conclusion = libtest_mimic::run(&args, targets(registry).into_iter().flat_map(testkit::trials).collect());
    drop(azurite); // `exit` runs no destructors
    conclusion.exit()
}
