//! The suite as one [`libtest_mimic`] trial per case (native only).

use std::sync::Arc;

use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Trial};

use super::{Target, CASES};

/// One trial per case, named `{store}::{case}` (the store's [`Target::name`], by default its scheme).
/// A case the store's capabilities rule out is a trial that reports itself ignored, with the reason.
/// Each trial runs its case with `futures::executor::block_on` on the test thread.
pub fn trials(t: Target) -> Vec<Trial> {
    let t = Arc::new(t);
    CASES
        .iter()
        .map(|case| {
            let name = format!("{}::{}", t.trial_prefix(), case.name);
            let t = t.clone();
            Trial::ignorable_test(name, move || {
                if let Some(why) = case.skip_reason(t.caps()) {
                    return Ok(Completion::ignored_with(why));
                }
                futures::executor::block_on(case.run(&t)).map_err(Failed::from)?;
                Ok(Completion::Completed)
            })
        })
        .collect()
}

/// Runs the trials of every target with the command line's arguments (filters, `--list`,
/// `--test-threads`, ...); call `.exit()` on the answer once the targets' resources are released.
pub fn run(targets: Vec<Target>) -> Conclusion {
    let args = Arguments::from_args();
    libtest_mimic::run(&args, targets.into_iter().flat_map(trials).collect())
}

/// The `main` of a `harness = false` test file whose targets need no cleanup: [`run`], then exit
/// with libtest's status.
pub fn main(targets: Vec<Target>) -> ! {
    run(targets).exit()
}
