//! The conformance suite every model store runs, and the TF.js reference fixtures it uses.
//!
//! A store declares what it can do as a set of [`Capability`]s on a [`Target`] (how to turn a model
//! path into URLs, which registry holds the scheme). Every [`Case`] of the suite names the
//! capabilities it needs; a case the store cannot do is skipped with the reason, never failed.
//!
//! Two ways to run it:
//!
//! - natively, as one named trial per case (`file::overwrite`, `http::round_trip_c`, ...) with
//!   [`libtest-mimic`](https://docs.rs/libtest-mimic) in a `harness = false` test file: see
//!   [`trials`] and [`main`]. One failing case does not hide the others; skipped cases are reported
//!   as ignored, with their reason.
//! - anywhere (wasm32 in the browser included), [`run_suite`] runs every applicable case in turn and
//!   panics once at the end listing every failure (not just the first); [`run_cases`] returns the
//!   [`Report`] instead.
//!
//! Cases use only the public [`Registry`] API (`save`, `load`, `list_models`, `list_under`,
//! `copy_model`, `move_model`, `remove_model`) and return their failure as an error instead of
//! panicking, so one failure cannot abort the others on targets where panics abort.

mod cases;
pub mod fixtures;
#[cfg(not(target_arch = "wasm32"))]
mod harness;
#[cfg(not(target_arch = "wasm32"))]
pub mod oracle;

use std::fmt;

use futures::future::LocalBoxFuture;

use crate::artifacts::ModelArtifacts;
use crate::router::Registry;

pub use cases::CASES;
#[cfg(not(target_arch = "wasm32"))]
pub use harness::{main, run, trials};
/// The test harness the trials run in (native only).
#[cfg(not(target_arch = "wasm32"))]
pub use libtest_mimic;

/// One thing a store may or may not be able to do; cases are gated on these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// Model paths may contain `/` (nested models such as `dir/sub/model`).
    NestedPaths,
    /// Model paths may contain spaces and non-ASCII characters.
    UnicodePaths,
    /// Models of several megabytes (fixture model c: 4.4 MB of weights) fit.
    LargeModels,
    /// Concurrent saves to one path end with exactly one of the models, complete.
    ConcurrentSaves,
    /// `Registry::list_models` includes the store's models (`ModelStore::lists_everything`).
    ListEverything,
    /// `Registry::list_under(url)` lists the models under a URL prefix, keyed by path.
    ListUnder,
    /// `Registry::remove_model`.
    Remove,
    /// `Registry::copy_model` from one path of the store to another (a load, then a save).
    Copy,
    /// `Registry::move_model` within the store (an atomic rename, or a copy then a removal).
    Move,
    /// Listing and removal report the very `dateSaved` the save reported (a file system derives it
    /// from the modification time instead).
    KeepsSaveDate,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 10] = [
        Capability::NestedPaths,
        Capability::UnicodePaths,
        Capability::LargeModels,
        Capability::ConcurrentSaves,
        Capability::ListEverything,
        Capability::ListUnder,
        Capability::Remove,
        Capability::Copy,
        Capability::Move,
        Capability::KeepsSaveDate,
    ];

    /// A short name for reports, e.g. `list_everything`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::NestedPaths => "nested_paths",
            Capability::UnicodePaths => "unicode_paths",
            Capability::LargeModels => "large_models",
            Capability::ConcurrentSaves => "concurrent_saves",
            Capability::ListEverything => "list_everything",
            Capability::ListUnder => "list_under",
            Capability::Remove => "remove",
            Capability::Copy => "copy",
            Capability::Move => "move",
            Capability::KeepsSaveDate => "keeps_save_date",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Capability`]s.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities(u32);

impl Capabilities {
    /// Nothing beyond saving and loading single-segment ASCII paths.
    pub const NONE: Capabilities = Capabilities(0);

    /// A scheme that saves and loads by URL but is no model store (e.g. `http://`): nested and
    /// Unicode paths, large models, concurrent saves, and copies (a load, then a save).
    pub const SAVE_LOAD: Capabilities = Capabilities::NONE
        .with(Capability::NestedPaths)
        .with(Capability::UnicodePaths)
        .with(Capability::LargeModels)
        .with(Capability::ConcurrentSaves)
        .with(Capability::Copy);

    /// A model store with a single root (localstorage, indexeddb, memory): everything.
    pub const STORE: Capabilities = Capabilities::SAVE_LOAD
        .with(Capability::ListEverything)
        .with(Capability::ListUnder)
        .with(Capability::Remove)
        .with(Capability::Move)
        .with(Capability::KeepsSaveDate);

    /// This set plus `c`.
    pub const fn with(self, c: Capability) -> Capabilities {
        Capabilities(self.0 | (1 << (c as u32)))
    }

    /// This set without `c`.
    pub const fn without(self, c: Capability) -> Capabilities {
        Capabilities(self.0 & !(1 << (c as u32)))
    }

    /// Whether `c` is in the set.
    pub fn has(self, c: Capability) -> bool {
        self.0 & c.bit() != 0
    }

    /// The capabilities in the set.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL.into_iter().filter(move |c| self.has(*c))
    }
}

impl fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

type UrlFn = Box<dyn Fn(&str) -> String + Send + Sync>;

/// What the suite runs against: a registry holding the store's scheme, how model paths become URLs,
/// and what the store can do.
pub struct Target {
    registry: &'static Registry,
    scheme: String,
    name: String,
    save_url: UrlFn,
    load_url: Option<UrlFn>,
    prefix: String,
    caps: Capabilities,
}

impl Target {
    /// A target for `scheme` in `registry`; `url` turns a model path (may contain `/` and any
    /// Unicode) into the URL to save and load it. Capabilities start as [`Capabilities::STORE`], no
    /// prefix, trials named after the scheme.
    pub fn new(
        registry: &'static Registry,
        scheme: impl Into<String>,
        url: impl Fn(&str) -> String + Send + Sync + 'static,
    ) -> Target {
        let scheme = scheme.into();
        Target {
            registry,
            name: scheme.clone(),
            scheme,
            save_url: Box::new(url),
            load_url: None,
            prefix: String::new(),
            caps: Capabilities::STORE,
        }
    }

    /// Loads from a different URL than the save's (http: save to `.../NAME`, load `.../NAME/model.json`).
    pub fn load_url(mut self, url: impl Fn(&str) -> String + Send + Sync + 'static) -> Target {
        self.load_url = Some(Box::new(url));
        self
    }

    /// A prefix for every model path the suite uses, so suites sharing one store do not collide.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Target {
        self.prefix = prefix.into();
        self
    }

    /// What the store can do (default [`Capabilities::STORE`]).
    pub fn capabilities(mut self, caps: Capabilities) -> Target {
        self.caps = caps;
        self
    }

    /// The first part of the trial names (default: the scheme), e.g. `file` in `file::overwrite`.
    pub fn name(mut self, name: impl Into<String>) -> Target {
        self.name = name.into();
        self
    }

    /// The declared capabilities.
    pub fn caps(&self) -> Capabilities {
        self.caps
    }

    /// The trial name prefix.
    pub fn trial_prefix(&self) -> &str {
        &self.name
    }

    /// The URL to save the model at `path` (under the prefix).
    pub fn save_url_of(&self, path: &str) -> String {
        (self.save_url)(&format!("{}{}", self.prefix, path))
    }

    /// The URL to load the model at `path` (under the prefix).
    pub fn load_url_of(&self, path: &str) -> String {
        let p = format!("{}{}", self.prefix, path);
        match &self.load_url {
            Some(f) => f(&p),
            None => (self.save_url)(&p),
        }
    }

    /// The store path of the model at `path`: its save URL without `scheme://` (the keys of
    /// `list_under`; `list_models` keys are this with `scheme://` in front).
    fn store_path(&self, path: &str) -> String {
        let url = self.save_url_of(path);
        let scheme = format!("{}://", self.scheme);
        url.strip_prefix(&scheme).map(str::to_string).unwrap_or(url)
    }

    fn list_key(&self, path: &str) -> String {
        format!("{}://{}", self.scheme, self.store_path(path))
    }
}

/// What a case needs of a store.
#[derive(Clone, Copy, Debug)]
pub enum Gate {
    /// Runs only if the store has every one of these.
    Requires(&'static [Capability]),
    /// Runs only if the store lacks at least one of these (the case checks they are refused).
    LacksAnyOf(&'static [Capability]),
}

type CaseFn = for<'a> fn(&'a Target) -> LocalBoxFuture<'a, Result<(), String>>;

/// One case of the suite.
pub struct Case {
    /// Its name, e.g. `overwrite` (the trial is `{store}::{name}`).
    pub name: &'static str,
    /// What it says it checks.
    pub doc: &'static str,
    /// The capabilities it needs.
    pub gate: Gate,
    run: CaseFn,
}

impl Case {
    /// `None` if the case applies to a store with `caps`, else why it is skipped.
    pub fn skip_reason(&self, caps: Capabilities) -> Option<String> {
        match self.gate {
            Gate::Requires(need) => {
                let missing: Vec<&str> = need.iter().filter(|c| !caps.has(**c)).map(|c| c.name()).collect();
                (!missing.is_empty()).then(|| format!("the store does not declare {}", missing.join(", ")))
            }
            Gate::LacksAnyOf(these) => these.iter().all(|c| caps.has(*c)).then(|| {
                let names: Vec<&str> = these.iter().map(|c| c.name()).collect();
                format!("the store declares all of {}: nothing to check is refused", names.join(", "))
            }),
        }
    }

    /// Runs the case (whatever the capabilities), returning why it failed.
    pub async fn run(&self, t: &Target) -> Result<(), String> {
        (self.run)(t).await
    }
}

/// What [`run_cases`] did.
#[derive(Debug, Default)]
pub struct Report {
    /// Names of the cases that passed.
    pub passed: Vec<&'static str>,
    /// Cases skipped by capability, with the reason.
    pub skipped: Vec<(&'static str, String)>,
    /// Cases that failed, with the failure.
    pub failed: Vec<(&'static str, String)>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} passed, {} failed, {} skipped", self.passed.len(), self.failed.len(), self.skipped.len())?;
        for (name, why) in &self.failed {
            writeln!(f, "FAILED {name}: {why}")?;
        }
        for (name, why) in &self.skipped {
            writeln!(f, "skipped {name}: {why}")?;
        }
        Ok(())
    }
}

/// Runs every case the target's capabilities allow, one after another, and reports each.
pub async fn run_cases(t: &Target) -> Report {
    let mut report = Report::default();
    for case in CASES {
        if let Some(why) = case.skip_reason(t.caps) {
            report.skipped.push((case.name, why));
            continue;
        }
        match case.run(t).await {
            Ok(()) => report.passed.push(case.name),
            Err(e) => report.failed.push((case.name, e)),
        }
    }
    report
}

/// Runs every case the target's capabilities allow and panics once at the end, listing every
/// failure, if any failed. (Natively, prefer one trial per case: [`trials`].)
pub async fn run_suite(t: &Target) {
    let report = run_cases(t).await;
    if !report.failed.is_empty() {
        panic!("conformance suite for '{}': {report}", t.name);
    }
}

/// Asserts that two artifacts hold the same model (everything but dates), naming the first difference.
pub fn assert_same_model(case: &str, got: &ModelArtifacts, want: &ModelArtifacts) {
    if let Err(e) = same_model(got, want) {
        panic!("conformance case '{case}' failed: {e}");
    }
}

/// `Ok` if two artifacts hold the same model (everything but dates), else the first difference.
pub fn same_model(got: &ModelArtifacts, want: &ModelArtifacts) -> Result<(), String> {
    fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
        if ok {
            Ok(())
        } else {
            Err(msg())
        }
    }
    ensure(got.model_topology == want.model_topology, || "modelTopology differs".into())?;
    ensure(got.weight_specs == want.weight_specs, || {
        format!("weightSpecs differ:\n got {:?}\nwant {:?}", got.weight_specs, want.weight_specs)
    })?;
    ensure(got.weight_data.len() == want.weight_data.len(), || {
        format!("weight data has {} bytes, want {}", got.weight_data.len(), want.weight_data.len())
    })?;
    ensure(got.weight_data.to_vec() == want.weight_data.to_vec(), || "weight bytes differ".into())?;
    for (name, g, w) in [
        ("format", got.format.as_deref(), want.format.as_deref()),
        ("generatedBy", got.generated_by.as_deref(), want.generated_by.as_deref()),
    ] {
        ensure(g == w, || format!("{name} {g:?} != {w:?}"))?;
    }
    ensure(got.converted_by == want.converted_by, || {
        format!("convertedBy {:?} != {:?}", got.converted_by, want.converted_by)
    })?;
    for (name, g, w) in [
        ("trainingConfig", &got.training_config, &want.training_config),
        ("userDefinedMetadata", &got.user_defined_metadata, &want.user_defined_metadata),
    ] {
        ensure(g == w, || format!("{name} {g:?} != {w:?}"))?;
    }
    ensure(got.signature == want.signature, || "signature differs".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str) -> &'static Case {
        CASES.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"))
    }

    #[test]
    fn cases_are_gated_on_capabilities() {
        let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "case names repeat: {names:?}");

        assert_eq!(case("overwrite").skip_reason(Capabilities::NONE), None);
        let why = case("list_models").skip_reason(Capabilities::SAVE_LOAD).expect("skipped without listing");
        assert!(why.contains("list_everything"), "{why}");
        assert_eq!(case("list_models").skip_reason(Capabilities::STORE), None);
        let why = case("unicode_paths").skip_reason(Capabilities::NONE.with(Capability::NestedPaths)).expect("skipped");
        assert!(why.contains("unicode_paths") && !why.contains("nested_paths"), "{why}");
        assert!(case("round_trip_c").skip_reason(Capabilities::STORE.without(Capability::LargeModels)).is_some());

        let refuses = case("refuses_what_it_cannot");
        assert!(refuses.skip_reason(Capabilities::STORE).is_some(), "nothing to refuse for a full store");
        assert_eq!(refuses.skip_reason(Capabilities::STORE.without(Capability::Move)), None);
    }

    #[test]
    fn capability_sets() {
        let caps = Capabilities::STORE.without(Capability::ListEverything);
        assert!(!caps.has(Capability::ListEverything) && caps.has(Capability::ListUnder));
        assert_eq!(Capabilities::STORE.iter().count(), Capability::ALL.len());
        assert!(!Capabilities::SAVE_LOAD.has(Capability::Remove) && Capabilities::SAVE_LOAD.has(Capability::Copy));
        assert_eq!(format!("{:?}", Capabilities::NONE.with(Capability::Move)), "{Move}");
    }
}
