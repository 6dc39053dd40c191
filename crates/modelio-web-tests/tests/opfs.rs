//! `opfs://` in Chromium, on the page's real Origin Private File System:
//! - the conformance suite (`io_core::testkit::run_suite`) through the facade;
//! - the files are TF.js's layout, and real TF.js 4.22 on the same page loads them as they are
//!   (`tf.io.browserFiles` over the OPFS files) and predicts exactly;
//! - replacement is atomic: a cancelled save, an aborted `model.json` write and a crashed save's
//!   leftovers all leave the previous model loadable; leftovers and old versions are collected;
//! - copies and moves across `opfs://`, `indexeddb://` and `localstorage://`;
//! - a `QuotaExceededError` becomes the quota error with `navigator.storage.estimate()`'s numbers;
//!   `persist()` / `estimate()`.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;
use std::rc::Rc;

use io_core::testkit::{assert_same_model, fixtures};
use modelio::{Cancel, Error, Options};
use modelio_web_tests::*;
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen(inline_js = r#"
async function dir(path, create) {
  let d = await navigator.storage.getDirectory();
  for (const p of path.split('/').filter(Boolean)) d = await d.getDirectoryHandle(p, { create });
  return d;
}
export async function opfs_names(path) {
  let d;
  try { d = await dir(path, false); } catch (e) { if (e.name === 'NotFoundError') return null; throw e; }
  const out = [];
  for await (const [name, h] of d.entries()) out.push(h.kind === 'directory' ? name + '/' : name);
  return out.sort();
}
export async function opfs_write(path, name, bytes) {
  const f = await (await dir(path, true)).getFileHandle(name, { create: true });
  const w = await f.createWritable();
  await w.write(bytes);
  await w.close();
}
export async function opfs_write_then_abort(path, name, bytes) {
  const f = await (await dir(path, false)).getFileHandle(name);
  const w = await f.createWritable();
  await w.write(bytes);
  await w.abort();
}
export async function tfjs_predict_from_opfs(path, inputShape, inputValues) {
  const d = await dir(path, false);
  const json = await (await d.getFileHandle('model.json')).getFile();
  const files = [json];
  for (const g of JSON.parse(await json.text()).weightsManifest)
    for (const p of g.paths) files.push(await (await d.getFileHandle(p)).getFile());
  const m = await tf.loadLayersModel(tf.io.browserFiles(files));
  const y = m.predict(tf.tensor(inputValues, inputShape, 'float32'));
  return Array.from(await y.data());
}
export function dom_exception(name) { return new DOMException('the browser said no', name); }
export async function opfs_file_is_byte_stream(path, name) {
  const file = await (await (await dir(path, false)).getFileHandle(name)).getFile();
  try { file.stream().getReader({ mode: 'byob' }).releaseLock(); return true; } catch (e) { return false; }
}
"#)]
extern "C" {
    /// The entries of OPFS folder `path` (folders with a trailing `/`), sorted; `null` if it does not exist.
    #[wasm_bindgen(catch)]
    async fn opfs_names(path: &str) -> Result<JsValue, JsValue>;
    /// Writes a file with plain JS.
    #[wasm_bindgen(catch)]
    async fn opfs_write(path: &str, name: &str, bytes: &[u8]) -> Result<JsValue, JsValue>;
    /// Opens a writable on an existing file, writes `bytes`, then aborts instead of closing.
    #[wasm_bindgen(catch)]
    async fn opfs_write_then_abort(path: &str, name: &str, bytes: &[u8]) -> Result<JsValue, JsValue>;
    /// TF.js `loadLayersModel(tf.io.browserFiles(...))` over the OPFS files of a model, then `predict`.
    #[wasm_bindgen(catch)]
    async fn tfjs_predict_from_opfs(path: &str, shape: Vec<u32>, values: Vec<f32>) -> Result<JsValue, JsValue>;
    /// A real `DOMException` named `name`.
    fn dom_exception(name: &str) -> JsValue;
    /// Whether the OPFS file's `stream()` takes a BYOB reader (is a byte stream).
    #[wasm_bindgen(catch)]
    async fn opfs_file_is_byte_stream(path: &str, name: &str) -> Result<JsValue, JsValue>;
}

async fn names(path: &str) -> Option<Vec<String>> {
    let v = opfs_names(path).await.unwrap_or_else(|e| panic!("listing OPFS {path}: {e:?}"));
    if v.is_null() {
        return None;
    }
    Some(js_sys::Array::from(&v).iter().map(|s| s.as_string().unwrap()).collect())
}

fn is_versioned_shard(name: &str) -> bool {
    let Some((version, rest)) = name.split_once('.') else { return false };
    let Some((ms, hex)) = version.split_once('-') else { return false };
    ms.len() >= 13
        && ms.bytes().all(|b| b.is_ascii_digit())
        && hex.len() == 12
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && rest.starts_with("group1-shard")
        && rest.ends_with(".bin")
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

#[wasm_bindgen_test]
async fn opfs_conformance_suite() {
    use io_core::testkit::{Capabilities, Target};
    let t = Target::new(modelio::registry(), "opfs", |p| format!("opfs://{p}"))
        .capabilities(Capabilities::STORE)
        .prefix("suite/");
    io_core::testkit::run_suite(&t).await;
}

/// Every fixture model saved by modelio is `modelio/NAME/model.json` + TF.js-named shards behind a
/// version prefix, nothing else; TF.js loads those very files and predicts exactly what it
/// predicts on its own save; modelio loads them back bit for bit.
#[wasm_bindgen_test]
async fn opfs_files_are_tfjs_layout_and_tfjs_predicts_exactly() {
    assert_eq!(tfjs().await, "4.22.0 cpu");
    for m in fixtures::MODELS {
        let url = format!("opfs://tfjs/{m}");
        let want = fixtures::model(m);
        modelio::save(&url, &want).await.unwrap_or_else(|e| panic!("save {url}: {e}"));
        let files = names(&format!("modelio/tfjs/{m}")).await.expect("model folder");
        assert_eq!(files.iter().filter(|f| *f == "model.json").count(), 1, "{files:?}");
        let shards: Vec<&String> = files.iter().filter(|f| *f != "model.json").collect();
        assert!(!shards.is_empty() && shards.iter().all(|f| is_versioned_shard(f)), "{m}: {files:?}");
        let e = expected(m);
        let out = tfjs_predict_from_opfs(&format!("modelio/tfjs/{m}"), e.input_shape.clone(), e.input.clone())
            .await
            .unwrap_or_else(|err| panic!("TF.js on the OPFS files of {url}: {err:?}"));
        assert_eq!(f32_vec(&out), e.output, "TF.js output on modelio's {url}");
        assert_same_model(&url, &modelio::load(&url).await.expect("load"), &want);
    }
    // Model c (4.4 MB of weights) is two 4 MiB-at-most shards, as tensorflowjs_converter writes them.
    let c = names("modelio/tfjs/c").await.unwrap();
    assert!(
        c.iter().any(|f| f.ends_with(".group1-shard1of2.bin"))
            && c.iter().any(|f| f.ends_with(".group1-shard2of2.bin")),
        "{c:?}"
    );
}

/// Listing reports what the save reported (weight bytes, date, topology sizes).
#[wasm_bindgen_test]
async fn opfs_list_reports_the_save_info() {
    let saved = modelio::save("opfs://info/b", &fixtures::model("b")).await.expect("save");
    let listed = modelio::list_models().await.expect("list");
    assert_eq!(listed.get("opfs://info/b"), Some(&saved.model_artifacts_info), "{listed:?}");
    let info = &saved.model_artifacts_info;
    assert_eq!(info.weight_data_bytes, Some(fixtures::weight_bytes("b").len() as u64));
}

/// An interrupted save never costs the previous model:
/// - cancelled between weight files: the previous model loads, the new files are gone;
/// - `model.json` written and aborted before `close()`: the previous model loads unchanged;
/// - a crashed save's leftovers: the next save removes those an hour old (younger ones may be
///   another tab's save in progress) and keeps the previous version; the save after that removes it.
#[wasm_bindgen_test]
async fn interrupted_saves_keep_the_previous_model() {
    let url = "opfs://intr/m";
    let folder = "modelio/intr/m";
    modelio::save(url, &fixtures::model("a")).await.expect("first save");
    let first = names(folder).await.unwrap();

    // Cancelled after the first of several weight files.
    let cancel = Cancel::new();
    let (c, files_done) = (cancel.clone(), Rc::new(Cell::new(0u64)));
    let done = files_done.clone();
    let opts = Options::new().shard_size(1 << 20).cancel_with(cancel).on_progress(move |p| {
        if p.bytes > 0 {
            done.set(done.get() + 1);
            c.cancel();
        }
    });
    let err = modelio::save_with(url, &fixtures::model("c"), &opts).await.expect_err("cancelled save");
    assert!(matches!(err, Error::Cancelled { .. }), "{err}");
    assert!(files_done.get() >= 1, "the save was cancelled before writing any weight file");
    assert_same_model(url, &modelio::load(url).await.expect("previous model"), &fixtures::model("a"));
    assert_eq!(names(folder).await.unwrap(), first, "the cancelled save's files were not deleted");

    // model.json rewritten but the writable aborted, not closed: nothing changed.
    opfs_write_then_abort(folder, "model.json", b"{\"not\": \"a model\"").await.expect("abort");
    assert_same_model(url, &modelio::load(url).await.expect("after abort"), &fixtures::model("a"));

    // A crashed save (the page died between files) left weight files behind: one from two hours
    // ago, one from now.
    let old = format!("{}-0123456789ab.group1-shard1of2.bin", now_ms() - 2 * 3600 * 1000);
    let young = format!("{}-ba9876543210.group1-shard1of2.bin", now_ms());
    for name in [&old, &young] {
        opfs_write(folder, name, &[7u8; 1000]).await.expect("leftover");
    }
    modelio::save(url, &fixtures::model("b")).await.expect("second save");
    assert_same_model(url, &modelio::load(url).await.unwrap(), &fixtures::model("b"));
    let after = names(folder).await.unwrap();
    assert!(!after.contains(&old), "the hour-old leftover survived the next save: {after:?}");
    assert!(after.contains(&young), "a young file (maybe another tab's save) was deleted: {after:?}");
    for f in first.iter().filter(|f| *f != "model.json") {
        assert!(after.contains(f), "the previous version's {f} is gone right after the commit: {after:?}");
    }
    // A third save: the first version is named by no model.json now, but it is seconds old, and
    // versions are collected by age (an hour), not by count; the hour-old leftover stays gone.
    modelio::save(url, &fixtures::model("d")).await.expect("third save");
    assert_same_model(url, &modelio::load(url).await.unwrap(), &fixtures::model("d"));
    let later = names(folder).await.unwrap();
    assert!(later.contains(&young) && !later.contains(&old), "{later:?}");
    assert!(later.iter().all(|f| f == "model.json" || is_versioned_shard(f)), "{later:?}");
    assert_eq!(later.iter().filter(|f| *f == "model.json").count(), 1);
}

/// A first save that died before its `model.json`'s `close()` leaves an empty `model.json` (the
/// file exists from `getFileHandle({create: true})` on): that is no model, to loads and to lists.
#[wasm_bindgen_test]
async fn empty_model_json_is_no_model() {
    opfs_write("modelio/first/m", "model.json", &[]).await.expect("empty model.json");
    let err = modelio::load("opfs://first/m").await.expect_err("an empty model.json loaded");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("has not committed"), "{err}");
    assert!(!modelio::list_models().await.expect("list").contains_key("opfs://first/m"));
    // The next save of that name commits normally.
    modelio::save("opfs://first/m", &fixtures::model("a")).await.expect("save");
    assert_same_model("first", &modelio::load("opfs://first/m").await.unwrap(), &fixtures::model("a"));
}

/// Copies and moves between `opfs://`, `indexeddb://` and `localstorage://` (through the
/// registry: load, save, then for a move the removal), and within `opfs://`.
#[wasm_bindgen_test]
async fn copy_and_move_across_browser_stores() {
    let want = fixtures::model("d");
    modelio::save("opfs://x/src", &want).await.expect("save");
    modelio::copy_model("opfs://x/src", "indexeddb://x/from-opfs").await.expect("copy to indexeddb");
    modelio::copy_model("opfs://x/src", "localstorage://x/from-opfs").await.expect("copy to localstorage");
    for url in ["opfs://x/src", "indexeddb://x/from-opfs", "localstorage://x/from-opfs"] {
        assert_same_model(url, &modelio::load(url).await.expect(url), &want);
    }
    // Moves into opfs:// from both other stores, and out of it.
    modelio::move_model("indexeddb://x/from-opfs", "opfs://x/from-idb").await.expect("move from indexeddb");
    modelio::move_model("localstorage://x/from-opfs", "opfs://x/from-ls").await.expect("move from localstorage");
    modelio::move_model("opfs://x/src", "indexeddb://x/moved").await.expect("move to indexeddb");
    // Within opfs:// (copy, then removal of the source).
    modelio::move_model("opfs://x/from-ls", "opfs://x/renamed").await.expect("move within opfs");
    let listed = modelio::list_models().await.unwrap();
    for gone in ["indexeddb://x/from-opfs", "localstorage://x/from-opfs", "opfs://x/src", "opfs://x/from-ls"] {
        assert!(!listed.contains_key(gone), "{gone} still listed: {:?}", listed.keys());
    }
    for url in ["opfs://x/from-idb", "indexeddb://x/moved", "opfs://x/renamed"] {
        assert!(listed.contains_key(url), "{url} not listed: {:?}", listed.keys());
        assert_same_model(url, &modelio::load(url).await.expect(url), &want);
    }
    // The removed models' folders are gone from OPFS, not left empty.
    assert_eq!(names("modelio/x").await.unwrap(), vec!["from-idb/", "renamed/"]);
    // A move onto an existing model replaces it; a failed move (no source) changes nothing.
    modelio::save("opfs://x/other", &fixtures::model("a")).await.unwrap();
    modelio::move_model("opfs://x/other", "opfs://x/renamed").await.expect("move onto a model");
    assert_same_model("renamed", &modelio::load("opfs://x/renamed").await.unwrap(), &fixtures::model("a"));
    let err = modelio::move_model("opfs://x/none", "opfs://x/from-idb").await.expect_err("no source");
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_same_model("from-idb", &modelio::load("opfs://x/from-idb").await.unwrap(), &want);
    let info = modelio::remove_model("opfs://x/from-idb").await.expect("remove");
    assert_eq!(info.weight_data_bytes, Some(fixtures::weight_bytes("d").len() as u64));
    assert!(matches!(modelio::load("opfs://x/from-idb").await, Err(Error::NotFound { .. })));
}

/// A real `QuotaExceededError` `DOMException` from a write becomes `Error::QuotaExceeded` with the
/// bytes needed and the origin's usage and quota from `navigator.storage.estimate()`; any other
/// exception is a storage error naming the file. (Chromium offers a page no way to shrink its quota.)
#[wasm_bindgen_test]
async fn quota_exceeded_names_the_numbers() {
    let est = modelio::opfs::estimate().await.expect("estimate");
    assert!(est.quota > 0, "{est:?}");
    let err = modelio::opfs::write_error("opfs://q/model.json", 12345, &dom_exception("QuotaExceededError")).await;
    let Error::QuotaExceeded { url, needed, available, detail } = &err else { panic!("{err:?}") };
    assert_eq!((url.as_str(), *needed), ("opfs://q/model.json", 12345));
    let now = modelio::opfs::estimate().await.unwrap();
    let quota = now.quota;
    assert!(detail.contains(&format!("of quota {quota} bytes")), "{detail}");
    assert!(*available <= quota && *available + now.usage >= quota.saturating_sub(1 << 20), "{err}");
    assert!(detail.contains("QuotaExceededError: the browser said no (writing 12345 bytes)"), "{detail}");
    let text = err.to_string();
    assert!(text.contains("needs 12345 bytes") && text.contains("usage "), "{text}");

    let other = modelio::opfs::write_error("opfs://q/x.bin", 1, &dom_exception("NoModificationAllowedError")).await;
    assert!(matches!(other, Error::Storage { .. }), "{other:?}");
    assert!(other.to_string().contains("NoModificationAllowedError") && other.to_string().contains("opfs://q/x.bin"));
}

/// `persist()` answers (headless Chromium may grant or deny) and `persisted()` agrees with it;
/// `estimate()` sees the origin's usage grow by a saved model.
#[wasm_bindgen_test]
async fn persist_and_estimate() {
    let granted = modelio::opfs::persist().await.expect("persist");
    assert_eq!(modelio::opfs::persisted().await.expect("persisted"), granted);
    let before = modelio::opfs::estimate().await.unwrap();
    let big = fixtures::model("c");
    modelio::save("opfs://est/c", &big).await.unwrap();
    let after = modelio::opfs::estimate().await.unwrap();
    assert!(after.usage > before.usage, "usage {} -> {}", before.usage, after.usage);
}

/// A load reads each file through its byte stream into one reused 1 MiB buffer (checked: OPFS
/// files are byte streams here, and model c's 4 MiB shard takes several reads), and a shard one
/// byte longer or shorter than the manifest allows is refused with the group's numbers (TF.js
/// manifests give sizes per group, not per file).
#[wasm_bindgen_test]
async fn opfs_reads_shards_by_byte_stream_bounded_by_the_manifest() {
    let url = "opfs://streamed/c";
    let want = fixtures::model("c");
    modelio::save(url, &want).await.expect("save");
    assert_same_model(url, &modelio::load(url).await.expect("load"), &want);
    let files = names("modelio/streamed/c").await.expect("model folder");
    let shard = files.iter().find(|f| f.ends_with(".group1-shard1of2.bin")).expect("first shard").clone();
    let byte_stream = opfs_file_is_byte_stream("modelio/streamed/c", &shard).await.expect("getFile");
    assert_eq!(byte_stream.as_bool(), Some(true), "OPFS files are not byte streams in this browser");
    for len in [4_194_305usize, 4_194_303] {
        opfs_write("modelio/streamed/c", &shard, &vec![0u8; len]).await.expect("rewrite the shard");
        let e = modelio::load(url).await.expect_err("a shard of the wrong length");
        let found = format!("expected 4404000 bytes, found {}", len + 4_404_000 - 4_194_304);
        assert!(e.to_string().contains("opfs://streamed/c/") && e.to_string().contains(&found), "{len} bytes: {e}");
    }
}
