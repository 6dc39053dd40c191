//! The conformance suite every model store runs, and the TF.js reference fixtures it uses.
//!
//! A store's test builds a [`Target`] (how to turn a model path into a URL, what the store can do)
//! and calls [`run_suite`]. The suite panics with the case name and the reason on the first failure.

pub mod fixtures;

use crate::artifacts::{ModelArtifacts, Topology};
use crate::error::Error;
use crate::router::Registry;
use crate::weights::WeightData;

/// What the suite runs against.
pub struct Target {
    /// The registry holding the store's scheme.
    pub registry: &'static Registry,
    /// The store's scheme (as in `list_models` keys), e.g. `"file"`.
    pub scheme: String,
    /// Turns a model path (may contain `/` and any Unicode) into the URL to save and load it.
    pub url: Box<dyn Fn(&str) -> String + Send + Sync>,
    /// Whether the store can list, remove, copy and move (a [`crate::ModelStore`]).
    pub can_list: bool,
    /// A prefix for every model path the suite uses, so suites sharing one store do not collide.
    pub prefix: String,
}

impl Target {
    fn u(&self, path: &str) -> String {
        (self.url)(&format!("{}{}", self.prefix, path))
    }
    fn list_key(&self, path: &str) -> String {
        format!("{}://{}{}", self.scheme, self.prefix, path)
    }
}

macro_rules! check {
    ($case:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!("conformance case '{}' failed: {}", $case, format!($($msg)+));
        }
    };
}

/// Asserts that two artifacts hold the same model (everything but dates), naming the first difference.
pub fn assert_same_model(case: &str, got: &ModelArtifacts, want: &ModelArtifacts) {
    check!(case, got.model_topology == want.model_topology, "modelTopology differs");
    check!(
        case,
        got.weight_specs == want.weight_specs,
        "weightSpecs differ:\n got {:?}\nwant {:?}",
        got.weight_specs,
        want.weight_specs
    );
    check!(
        case,
        got.weight_data.len() == want.weight_data.len(),
        "weight data has {} bytes, want {}",
        got.weight_data.len(),
        want.weight_data.len()
    );
    check!(case, got.weight_data.to_vec() == want.weight_data.to_vec(), "weight bytes differ");
    for (name, g, w) in [
        ("format", got.format.as_deref(), want.format.as_deref()),
        ("generatedBy", got.generated_by.as_deref(), want.generated_by.as_deref()),
    ] {
        check!(case, g == w, "{name} {g:?} != {w:?}");
    }
    check!(
        case,
        got.converted_by == want.converted_by,
        "convertedBy {:?} != {:?}",
        got.converted_by,
        want.converted_by
    );
    for (name, g, w) in [
        ("trainingConfig", &got.training_config, &want.training_config),
        ("userDefinedMetadata", &got.user_defined_metadata, &want.user_defined_metadata),
    ] {
        check!(case, g == w, "{name} {g:?} != {w:?}");
    }
    check!(case, got.signature == want.signature, "signature differs");
}

/// Runs every case of the suite that the target's capabilities allow.
pub async fn run_suite(t: &Target) {
    round_trip_fixtures(t).await;
    overwrite(t).await;
    not_found(t).await;
    odd_paths(t).await;
    no_weights(t).await;
    many_buffers(t).await;
    concurrent_saves(t).await;
    if t.can_list {
        list_and_remove(t).await;
        copy_and_move(t).await;
    }
}

/// Every fixture model (a, b, c, d) saves and loads back identical; the save's info has TF.js's byte counts.
pub async fn round_trip_fixtures(t: &Target) {
    for name in fixtures::MODELS {
        let case = format!("round trip of fixture model {name}");
        let m = fixtures::model(name);
        let url = t.u(&format!("rt/{name}"));
        let res = t.registry.save(&url, &m).await.unwrap_or_else(|e| panic!("{case}: save {url}: {e}"));
        let want = fixtures::info(name);
        let got = &res.model_artifacts_info;
        check!(
            case,
            got.model_topology_bytes == want.model_topology_bytes
                && got.weight_specs_bytes == want.weight_specs_bytes
                && got.weight_data_bytes == want.weight_data_bytes,
            "save info {got:?} differs from TF.js's {want:?}"
        );
        let back = t.registry.load(&url).await.unwrap_or_else(|e| panic!("{case}: load {url}: {e}"));
        assert_same_model(&case, &back, &m);
    }
}

/// Saving over a model replaces it completely.
pub async fn overwrite(t: &Target) {
    let url = t.u("overwrite/m");
    let (a, d) = (fixtures::model("a"), fixtures::model("d"));
    t.registry.save(&url, &d).await.expect("save d");
    t.registry.save(&url, &a).await.expect("save a over d");
    let back = t.registry.load(&url).await.expect("load");
    assert_same_model("overwrite", &back, &a);
}

/// Loading a path with no model is [`Error::NotFound`].
pub async fn not_found(t: &Target) {
    let url = t.u("missing/nothing-here");
    match t.registry.load(&url).await {
        Err(Error::NotFound { .. }) => {}
        Err(e) => panic!("conformance case 'not found': expected NotFound for {url}, got error: {e}"),
        Ok(_) => panic!("conformance case 'not found': loading {url} returned a model"),
    }
}

/// Paths with `/`, spaces and non-ASCII characters work.
pub async fn odd_paths(t: &Target) {
    let a = fixtures::model("a");
    for p in ["dir/sub/model-b", "ünïcødé/模型 ✓"] {
        let url = t.u(p);
        t.registry.save(&url, &a).await.unwrap_or_else(|e| panic!("odd path {p:?}: save: {e}"));
        let back = t.registry.load(&url).await.unwrap_or_else(|e| panic!("odd path {p:?}: load: {e}"));
        assert_same_model(&format!("path {p:?}"), &back, &a);
    }
}

/// A model with no weights at all round-trips.
pub async fn no_weights(t: &Target) {
    let mut m = fixtures::model("a");
    m.weight_specs.clear();
    m.weight_data = WeightData::default();
    let url = t.u("no-weights");
    t.registry.save(&url, &m).await.expect("save model without weights");
    let back = t.registry.load(&url).await.expect("load model without weights");
    assert_same_model("no weights", &back, &m);
}

/// Weight data given as several buffers (split mid-tensor) saves the same bytes as one buffer.
pub async fn many_buffers(t: &Target) {
    let mut m = fixtures::model("b");
    let all = m.weight_data.to_bytes();
    m.weight_data = WeightData::from_chunks(vec![all.slice(0..3), all.slice(3..101), all.slice(101..)]);
    let url = t.u("many-buffers");
    t.registry.save(&url, &m).await.expect("save");
    let back = t.registry.load(&url).await.expect("load");
    assert_same_model("many buffers", &back, &m);
}

/// Concurrent saves of different models to one path end with exactly one of them, complete.
pub async fn concurrent_saves(t: &Target) {
    let url = t.u("concurrent/m");
    let models: Vec<ModelArtifacts> = (0..6)
        .map(|i| {
            let mut m = fixtures::model(if i % 2 == 0 { "a" } else { "d" });
            m.user_defined_metadata = Some(serde_json::json!({ "writer": i }).into());
            m
        })
        .collect();
    let saves = models.iter().map(|m| t.registry.save(&url, m));
    for r in futures::future::join_all(saves).await {
        r.expect("concurrent save");
    }
    let back = t.registry.load(&url).await.expect("load after concurrent saves");
    let i =
        back.user_defined_metadata.as_ref().and_then(|v| v.to_value()["writer"].as_u64()).expect("writer tag") as usize;
    assert_same_model("concurrent saves", &back, &models[i]);
}

/// Saved models are listed with their info; removal returns the info and the model is gone.
pub async fn list_and_remove(t: &Target) {
    let (p1, p2) = ("list/one", "list/two/nested");
    let a = fixtures::model("a");
    let i1 = t.registry.save(&t.u(p1), &a).await.expect("save 1").model_artifacts_info;
    t.registry.save(&t.u(p2), &fixtures::model("b")).await.expect("save 2");
    let all = t.registry.list_models().await.expect("list_models");
    let got = all
        .get(&t.list_key(p1))
        .unwrap_or_else(|| panic!("list_models lacks {}: {:?}", t.list_key(p1), all.keys().collect::<Vec<_>>()));
    check!("list", got == &i1, "listed info {got:?} != saved {i1:?}");
    check!("list", all.contains_key(&t.list_key(p2)), "list lacks {}", t.list_key(p2));
    let removed = t.registry.remove_model(&t.u(p1)).await.expect("remove");
    check!("remove", removed == i1, "remove returned {removed:?}, saved {i1:?}");
    check!(
        "remove",
        matches!(t.registry.load(&t.u(p1)).await, Err(Error::NotFound { .. })),
        "model still loads after remove"
    );
    check!(
        "remove",
        matches!(t.registry.remove_model(&t.u(p1)).await, Err(Error::NotFound { .. })),
        "second remove is not NotFound"
    );
    let all = t.registry.list_models().await.expect("list_models");
    check!("remove", !all.contains_key(&t.list_key(p1)), "removed model still listed");
}

/// Copy keeps the source; move removes it; same source and destination is refused; nothing is lost.
pub async fn copy_and_move(t: &Target) {
    let d = fixtures::model("d");
    let (src, cp, mv) = (t.u("cm/src"), t.u("cm/copy"), t.u("cm/moved"));
    t.registry.save(&src, &d).await.expect("save");
    t.registry.copy_model(&src, &cp).await.expect("copy");
    assert_same_model("copy (source)", &t.registry.load(&src).await.expect("src after copy"), &d);
    assert_same_model("copy (dest)", &t.registry.load(&cp).await.expect("copy"), &d);
    t.registry.move_model(&cp, &mv).await.expect("move");
    check!("move", matches!(t.registry.load(&cp).await, Err(Error::NotFound { .. })), "source still there after move");
    assert_same_model("move (dest)", &t.registry.load(&mv).await.expect("moved"), &d);
    check!(
        "same path",
        matches!(t.registry.move_model(&mv, &mv).await, Err(Error::SamePath(_))),
        "move to itself not refused"
    );
    assert_same_model("same path", &t.registry.load(&mv).await.expect("still there"), &d);
    check!(
        "move missing",
        t.registry.move_model(&t.u("cm/none"), &t.u("cm/none2")).await.is_err(),
        "moving a missing model succeeded"
    );
    let _ = Topology::Json(crate::RawJson::null());
}
