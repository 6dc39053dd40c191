//! `file://` against the conformance suite, one trial per case (`file::overwrite`, ...).
//!
//! A file system has no single root: `file://` is not in `list_models` (no `list_everything`), lists
//! the model folders under a folder (`list_under`), removes a model folder, and moves by copying then
//! removing. `dateSaved` is read back from model.json's modification time, so it is not the one the
//! save reported (no `keeps_save_date`).

use io_core::testkit::{self, Capabilities, Capability, Target};
use io_core::Registry;

fn main() {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry = REGISTRY.get_or_init(|| {
        let r = Registry::new();
        io_file::register(&r);
        r
    });
    let root = tempfile::tempdir().expect("temp dir");
    let base = root.path().to_path_buf();
    let caps = Capabilities::STORE.without(Capability::ListEverything).without(Capability::KeepsSaveDate);
    let target =
        Target::new(registry, "file", move |p| format!("file://{}", base.join(p).display())).capabilities(caps);
    let conclusion = testkit::run(vec![target]);
    drop(root); // `exit` runs no destructors
    conclusion.exit()
}
