//! The cases of the conformance suite. Each returns why it failed instead of panicking; each uses
//! model paths of its own, so cases of one store may run at the same time.

use std::fmt::Display;

use futures::future::LocalBoxFuture;

use super::{fixtures, same_model, Capability, Case, Gate, Target};
use crate::artifacts::ModelArtifacts;
use crate::error::Error;
use crate::info::ModelArtifactsInfo;
use crate::weights::WeightData;

type R = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// Adds what was being done to an io-core error.
trait Ctx<T> {
    fn ctx(self, what: impl Display) -> Result<T, String>;
}

impl<T> Ctx<T> for Result<T, Error> {
    fn ctx(self, what: impl Display) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn same(what: impl Display, got: &ModelArtifacts, want: &ModelArtifacts) -> R {
    same_model(got, want).map_err(|e| format!("{what}: {e}"))
}

/// The same info, `dateSaved` included when the store keeps it.
fn same_info(what: impl Display, t: &Target, got: &ModelArtifactsInfo, want: &ModelArtifactsInfo) -> R {
    let counts = |i: &ModelArtifactsInfo| {
        (i.model_topology_type.clone(), i.model_topology_bytes, i.weight_specs_bytes, i.weight_data_bytes)
    };
    ensure!(counts(got) == counts(want), "{what}: info {got:?} != saved {want:?}");
    if t.caps.has(Capability::KeepsSaveDate) {
        ensure!(
            got.date_saved == want.date_saved,
            "{what}: dateSaved {:?} != saved {:?}",
            got.date_saved,
            want.date_saved
        );
    }
    Ok(())
}

fn is_not_found<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::NotFound { .. }))
}

fn unsupported<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::Unsupported { .. }))
}

fn outcome<T>(r: &Result<T, Error>) -> String {
    match r {
        Ok(_) => "success".into(),
        Err(e) => format!("error: {e}"),
    }
}

macro_rules! case {
    ($name:literal, $gate:expr, $doc:literal, $f:expr) => {
        Case { name: $name, doc: $doc, gate: $gate, run: |t| -> LocalBoxFuture<'_, R> { Box::pin($f(t)) } }
    };
}

const ALWAYS: Gate = Gate::Requires(&[]);

/// Every case, in the order [`super::run_cases`] runs them.
pub static CASES: &[Case] = &[
    case!("round_trip_a", ALWAYS, "fixture model a saves with TF.js's byte counts and loads back identical", |t| {
        round_trip(t, "a")
    }),
    case!("round_trip_b", ALWAYS, "fixture model b saves with TF.js's byte counts and loads back identical", |t| {
        round_trip(t, "b")
    }),
    case!(
        "round_trip_c",
        Gate::Requires(&[Capability::LargeModels]),
        "fixture model c (4.4 MB of weights) saves with TF.js's byte counts and loads back identical",
        |t| round_trip(t, "c")
    ),
    case!("round_trip_d", ALWAYS, "fixture model d saves with TF.js's byte counts and loads back identical", |t| {
        round_trip(t, "d")
    }),
    case!("overwrite", ALWAYS, "saving over a model replaces it completely", overwrite),
    case!("not_found", ALWAYS, "loading a path with no model is Error::NotFound", not_found),
    case!("nested_paths", Gate::Requires(&[Capability::NestedPaths]), "paths with '/' work", |t| odd_path(
        t,
        "dir/sub/model-b"
    )),
    case!(
        "unicode_paths",
        Gate::Requires(&[Capability::NestedPaths, Capability::UnicodePaths]),
        "paths with spaces and non-ASCII characters work",
        |t| odd_path(t, "ünïcødé/模型 ✓")
    ),
    case!("no_weights", ALWAYS, "a model with no weights at all round-trips", no_weights),
    case!("many_buffers", ALWAYS, "weights given as several buffers save the same bytes as one", many_buffers),
    case!(
        "concurrent_saves",
        Gate::Requires(&[Capability::ConcurrentSaves]),
        "concurrent saves to one path end with exactly one of the models, complete",
        concurrent_saves
    ),
    case!(
        "list_models",
        Gate::Requires(&[Capability::ListEverything, Capability::NestedPaths]),
        "saved models are in list_models with their info",
        list_models
    ),
    case!(
        "list_under",
        Gate::Requires(&[Capability::ListUnder, Capability::NestedPaths]),
        "list_under lists exactly the models under a prefix, with their info",
        list_under
    ),
    case!(
        "remove",
        Gate::Requires(&[Capability::Remove]),
        "removal returns the info, the model is gone (and unlisted), a second removal is NotFound",
        remove
    ),
    case!(
        "copy",
        Gate::Requires(&[Capability::Copy, Capability::NestedPaths]),
        "a copy keeps the source; copying a model onto itself is refused",
        copy
    ),
    case!(
        "move",
        Gate::Requires(&[Capability::Move, Capability::NestedPaths]),
        "a move removes the source; moving onto itself is refused and loses nothing; moving nothing fails",
        move_model
    ),
    case!(
        "refuses_what_it_cannot",
        Gate::LacksAnyOf(&[Capability::ListEverything, Capability::ListUnder, Capability::Remove, Capability::Move]),
        "operations the store does not declare are refused (Unsupported) without touching the model",
        refuses_what_it_cannot
    ),
];

/// A fixture model saves with TF.js's byte counts and loads back identical.
pub async fn round_trip(t: &Target, name: &str) -> R {
    let m = fixtures::model(name);
    let path = format!("rt/{name}");
    let (su, lu) = (t.save_url_of(&path), t.load_url_of(&path));
    let res = t.registry.save(&su, &m).await.ctx(format_args!("save {su}"))?;
    let want = fixtures::info(name);
    let got = &res.model_artifacts_info;
    ensure!(
        got.model_topology_bytes == want.model_topology_bytes
            && got.weight_specs_bytes == want.weight_specs_bytes
            && got.weight_data_bytes == want.weight_data_bytes,
        "save info {got:?} differs from TF.js's {want:?}"
    );
    let back = t.registry.load(&lu).await.ctx(format_args!("load {lu}"))?;
    same(format_args!("model {name} loaded from {lu}"), &back, &m)
}

/// Saving over a model replaces it completely.
pub async fn overwrite(t: &Target) -> R {
    let (su, lu) = (t.save_url_of("overwrite/m"), t.load_url_of("overwrite/m"));
    let (a, d) = (fixtures::model("a"), fixtures::model("d"));
    t.registry.save(&su, &d).await.ctx("save d")?;
    t.registry.save(&su, &a).await.ctx("save a over d")?;
    let back = t.registry.load(&lu).await.ctx("load")?;
    same("after overwrite", &back, &a)
}

/// Loading a path with no model is [`Error::NotFound`].
pub async fn not_found(t: &Target) -> R {
    let url = t.load_url_of("missing/nothing-here");
    match t.registry.load(&url).await {
        Err(Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(format!("expected NotFound for {url}, got error: {e}")),
        Ok(_) => Err(format!("loading {url} returned a model")),
    }
}

/// A path with `/`, spaces or non-ASCII characters works.
pub async fn odd_path(t: &Target, p: &str) -> R {
    let a = fixtures::model("a");
    t.registry.save(&t.save_url_of(p), &a).await.ctx(format_args!("path {p:?}: save"))?;
    let back = t.registry.load(&t.load_url_of(p)).await.ctx(format_args!("path {p:?}: load"))?;
    same(format_args!("path {p:?}"), &back, &a)
}

/// A model with no weights at all round-trips.
pub async fn no_weights(t: &Target) -> R {
    let mut m = fixtures::model("a");
    m.weight_specs.clear();
    m.weight_data = WeightData::default();
    t.registry.save(&t.save_url_of("no-weights"), &m).await.ctx("save model without weights")?;
    let back = t.registry.load(&t.load_url_of("no-weights")).await.ctx("load model without weights")?;
    same("no weights", &back, &m)
}

/// Weight data given as several buffers (split mid-tensor) saves the same bytes as one buffer.
pub async fn many_buffers(t: &Target) -> R {
    let mut m = fixtures::model("b");
    let all = m.weight_data.to_bytes();
    m.weight_data = WeightData::from_chunks(vec![all.slice(0..3), all.slice(3..101), all.slice(101..)]);
    t.registry.save(&t.save_url_of("many-buffers"), &m).await.ctx("save")?;
    let back = t.registry.load(&t.load_url_of("many-buffers")).await.ctx("load")?;
    same("many buffers", &back, &m)
}

/// Concurrent saves of different models to one path end with exactly one of them, complete.
pub async fn concurrent_saves(t: &Target) -> R {
    let url = t.save_url_of("concurrent/m");
    let models: Vec<ModelArtifacts> = (0..6)
        .map(|i| {
            let mut m = fixtures::model(if i % 2 == 0 { "a" } else { "d" });
            m.user_defined_metadata = Some(serde_json::json!({ "writer": i }).into());
            m
        })
        .collect();
    let saves = models.iter().map(|m| t.registry.save(&url, m));
    for (i, r) in futures::future::join_all(saves).await.into_iter().enumerate() {
        r.ctx(format_args!("concurrent save {i}"))?;
    }
    let back = t.registry.load(&t.load_url_of("concurrent/m")).await.ctx("load after concurrent saves")?;
    let i = back.user_defined_metadata.as_ref().and_then(|v| v.to_value()["writer"].as_u64());
    let i = i.ok_or("the loaded model has no writer tag")? as usize;
    ensure!(i < models.len(), "writer tag {i} out of range");
    same(format_args!("after concurrent saves (writer {i})"), &back, &models[i])
}

/// Saved models are listed by `list_models` with their info.
pub async fn list_models(t: &Target) -> R {
    let (p1, p2) = ("list/one", "list/two/nested");
    let i1 = t.registry.save(&t.save_url_of(p1), &fixtures::model("a")).await.ctx("save 1")?.model_artifacts_info;
    let i2 = t.registry.save(&t.save_url_of(p2), &fixtures::model("b")).await.ctx("save 2")?.model_artifacts_info;
    let all = t.registry.list_models().await.ctx("list_models")?;
    for (p, info) in [(p1, &i1), (p2, &i2)] {
        let key = t.list_key(p);
        let got =
            all.get(&key).ok_or_else(|| format!("list_models lacks {key}: {:?}", all.keys().collect::<Vec<_>>()))?;
        same_info(format_args!("listed {key}"), t, got, info)?;
    }
    Ok(())
}

/// `list_under` lists exactly the models under a prefix (nested ones too), not a sibling's.
pub async fn list_under(t: &Target) -> R {
    let (p1, p2, outside) = ("under/one", "under/two/nested", "under-not/x");
    let i1 = t.registry.save(&t.save_url_of(p1), &fixtures::model("a")).await.ctx("save 1")?.model_artifacts_info;
    let i2 = t.registry.save(&t.save_url_of(p2), &fixtures::model("b")).await.ctx("save 2")?.model_artifacts_info;
    t.registry.save(&t.save_url_of(outside), &fixtures::model("a")).await.ctx("save outside")?;
    let prefix = t.save_url_of("under");
    let listed = t.registry.list_under(&prefix).await.ctx(format_args!("list_under {prefix}"))?;
    let want = [t.store_path(p1), t.store_path(p2)];
    let got: Vec<&String> = listed.keys().collect();
    ensure!(got == want.iter().collect::<Vec<_>>(), "list_under {prefix} listed {got:?}, want {want:?}");
    same_info(format_args!("listed {}", want[0]), t, &listed[&want[0]], &i1)?;
    same_info(format_args!("listed {}", want[1]), t, &listed[&want[1]], &i2)
}

/// Removal returns the info; the model is gone and unlisted; a second removal is NotFound.
pub async fn remove(t: &Target) -> R {
    let p = "remove/m";
    let (su, lu) = (t.save_url_of(p), t.load_url_of(p));
    let keep = "remove-not/m";
    let saved = t.registry.save(&su, &fixtures::model("a")).await.ctx("save")?.model_artifacts_info;
    t.registry.save(&t.save_url_of(keep), &fixtures::model("b")).await.ctx("save the other model")?;
    let removed = t.registry.remove_model(&su).await.ctx("remove")?;
    same_info("remove's answer", t, &removed, &saved)?;
    let r = t.registry.load(&lu).await;
    ensure!(is_not_found(&r), "load after remove: {} (want NotFound)", outcome(&r));
    let r = t.registry.remove_model(&su).await;
    ensure!(is_not_found(&r), "second remove: {} (want NotFound)", outcome(&r));
    let other = t.registry.load(&t.load_url_of(keep)).await.ctx("load the model next to the removed one")?;
    same("the model next to the removed one", &other, &fixtures::model("b"))?;
    if t.caps.has(Capability::ListEverything) {
        let all = t.registry.list_models().await.ctx("list_models")?;
        ensure!(!all.contains_key(&t.list_key(p)), "removed model still in list_models");
    }
    if t.caps.has(Capability::ListUnder) {
        let listed = t.registry.list_under(&t.save_url_of("remove")).await.ctx("list_under")?;
        ensure!(listed.is_empty(), "removed model still listed under its folder: {:?}", listed.keys());
    }
    Ok(())
}

/// Copy keeps the source; copying onto the same URL is refused.
pub async fn copy(t: &Target) -> R {
    let d = fixtures::model("d");
    let (src, dst) = ("copy/src", "copy/dst");
    t.registry.save(&t.save_url_of(src), &d).await.ctx("save")?;
    t.registry.copy_model(&t.load_url_of(src), &t.save_url_of(dst)).await.ctx("copy")?;
    same("copy (source)", &t.registry.load(&t.load_url_of(src)).await.ctx("load the source after copy")?, &d)?;
    same("copy (destination)", &t.registry.load(&t.load_url_of(dst)).await.ctx("load the copy")?, &d)?;
    let (su, lu) = (t.save_url_of(src), t.load_url_of(src));
    if su == lu {
        let r = t.registry.copy_model(&su, &su).await;
        ensure!(matches!(r, Err(Error::SamePath(_))), "copy onto itself: {} (want SamePath)", outcome(&r));
    }
    Ok(())
}

/// Move removes the source; moving onto itself is refused and loses nothing; moving nothing fails.
pub async fn move_model(t: &Target) -> R {
    let d = fixtures::model("d");
    let (src, dst) = ("move/src", "move/dst");
    t.registry.save(&t.save_url_of(src), &d).await.ctx("save")?;
    t.registry.move_model(&t.save_url_of(src), &t.save_url_of(dst)).await.ctx("move")?;
    let r = t.registry.load(&t.load_url_of(src)).await;
    ensure!(is_not_found(&r), "load of the source after move: {} (want NotFound)", outcome(&r));
    same("move (destination)", &t.registry.load(&t.load_url_of(dst)).await.ctx("load the moved model")?, &d)?;
    let r = t.registry.move_model(&t.save_url_of(dst), &t.save_url_of(dst)).await;
    ensure!(matches!(r, Err(Error::SamePath(_))), "move onto itself: {} (want SamePath)", outcome(&r));
    same(
        "after move onto itself",
        &t.registry.load(&t.load_url_of(dst)).await.ctx("load after move onto itself")?,
        &d,
    )?;
    let r = t.registry.move_model(&t.save_url_of("move/none"), &t.save_url_of("move/none2")).await;
    ensure!(r.is_err(), "moving a missing model succeeded");
    let r = t.registry.load(&t.load_url_of("move/none2")).await;
    ensure!(is_not_found(&r), "moving a missing model created its destination: {}", outcome(&r));
    Ok(())
}

/// What the store does not declare is refused with [`Error::Unsupported`] and leaves the model as it was.
pub async fn refuses_what_it_cannot(t: &Target) -> R {
    let a = fixtures::model("a");
    let p = "refused/m";
    let (su, lu) = (t.save_url_of(p), t.load_url_of(p));
    t.registry.save(&su, &a).await.ctx("save")?;
    if !t.caps.has(Capability::ListEverything) {
        let all = t.registry.list_models().await.ctx("list_models (other stores may list)")?;
        let scheme = format!("{}://", t.scheme);
        let mine: Vec<&String> = all.keys().filter(|k| k.starts_with(&scheme)).collect();
        ensure!(mine.is_empty(), "list_models lists {mine:?}, but the store does not declare list_everything");
    }
    if !t.caps.has(Capability::ListUnder) {
        let r = t.registry.list_under(&t.save_url_of("refused")).await;
        ensure!(unsupported(&r), "list_under: {} (want Unsupported)", outcome(&r));
    }
    if !t.caps.has(Capability::Remove) {
        let r = t.registry.remove_model(&su).await;
        ensure!(unsupported(&r), "remove_model: {} (want Unsupported)", outcome(&r));
    }
    if !t.caps.has(Capability::Move) {
        let r = t.registry.move_model(&su, &t.save_url_of("refused/moved")).await;
        ensure!(unsupported(&r), "move_model: {} (want Unsupported)", outcome(&r));
        let r = t.registry.load(&t.load_url_of("refused/moved")).await;
        ensure!(is_not_found(&r), "a refused move created its destination: {}", outcome(&r));
    }
    same("the model after refused operations", &t.registry.load(&lu).await.ctx("load")?, &a)
}
