//! `modelio cp`, `mv`, `rm` and `ls` across schemes, on real files and the native SQLite stores.

mod common;

use common::{fixture, fixture_url, Sandbox};
use serde_json::Value;

/// `info --json --stats` of a model without its `url`, to compare copies.
fn content(sb: &Sandbox, url: &str) -> Value {
    let mut v = sb.ok(&["info", "--json", "--stats", url]).json();
    v.as_object_mut().unwrap().remove("url");
    v
}

#[test]
fn copies_across_every_scheme_keep_the_model() {
    let sb = Sandbox::new();
    let src = fixture_url("converter_write_weights/b_quant_uint8");
    let want = content(&sb, &src);
    let hops = [src.clone(), "indexeddb://hop/b".into(), "localstorage://hop/b".into(), sb.file_url("out/b")];
    for pair in hops.windows(2) {
        let r = sb.ok(&["cp", &pair[0], &pair[1]]);
        assert_eq!(r.stdout, format!("copied {} -> {} ({} weight bytes)\n", pair[0], pair[1], want["weightBytes"]));
        assert!(r.stderr.is_empty(), "no progress when piped: {r:?}");
    }
    assert_eq!(content(&sb, &format!("{}/model.json", sb.file_url("out/b"))), want);
    assert_eq!(content(&sb, "indexeddb://hop/b"), want);
    assert_eq!(content(&sb, "localstorage://hop/b"), want);
    // downloads:// is save-only: two files in the downloads folder, loadable as a file:// model.
    sb.ok(&["-q", "cp", "localstorage://hop/b", "downloads://b"]);
    assert_eq!(content(&sb, &sb.file_url("downloads/b.json")), want);
}

#[test]
fn ls_lists_every_store_and_one_store() {
    let sb = Sandbox::new();
    let src = fixture_url("node_file/a");
    sb.ok(&["-q", "cp", &src, "indexeddb://x/a"]);
    sb.ok(&["-q", "cp", &src, "localstorage://a"]);
    let all = sb.ok(&["ls", "--json"]).json();
    let keys: Vec<&str> = all.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["indexeddb://x/a", "localstorage://a"]);
    assert_eq!(all["indexeddb://x/a"]["weightDataBytes"], 92);
    assert_eq!(all["localstorage://a"]["modelTopologyType"], "JSON");
    let one = sb.ok(&["ls", "--json", "indexeddb://"]).json();
    assert_eq!(one.as_object().unwrap().keys().collect::<Vec<_>>(), ["indexeddb://x/a"]);
    let none = sb.ok(&["ls", "--json", "indexeddb://y/"]).json();
    assert!(none.as_object().unwrap().is_empty(), "{none}");
    let text = sb.ok(&["ls"]).stdout;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("url") && lines[1].starts_with("indexeddb://x/a ") && lines[1].ends_with(" 92"));
}

#[test]
fn mv_moves_and_rm_removes() {
    let sb = Sandbox::new();
    sb.ok(&["-q", "cp", &fixture_url("node_file/a"), "localstorage://m"]);
    let r = sb.ok(&["mv", "localstorage://m", "indexeddb://m"]);
    assert_eq!(r.stdout, "moved localstorage://m -> indexeddb://m (92 weight bytes)\n");
    let listed = sb.ok(&["ls", "--json"]).json();
    assert_eq!(listed.as_object().unwrap().keys().collect::<Vec<_>>(), ["indexeddb://m"]);
    // Within one store: one atomic rename.
    sb.ok(&["-q", "mv", "indexeddb://m", "indexeddb://n"]);
    let r = sb.ok(&["rm", "indexeddb://n"]);
    assert_eq!(r.stdout, "removed indexeddb://n (92 weight bytes)\n");
    assert!(sb.ok(&["ls", "--json"]).json().as_object().unwrap().is_empty());
    let line = sb.fails(&["rm", "indexeddb://n"]);
    assert!(line.contains("indexeddb://n") || line.contains("'n'"), "{line}");
}

#[test]
fn quiet_prints_no_summary() {
    let sb = Sandbox::new();
    let r = sb.ok(&["-q", "cp", &fixture_url("node_file/a"), "indexeddb://q"]);
    assert!(r.stdout.is_empty() && r.stderr.is_empty(), "{r:?}");
}

#[test]
fn a_failed_copy_leaves_the_destination_alone() {
    let sb = Sandbox::new();
    sb.ok(&["-q", "cp", &fixture_url("node_file/a"), "indexeddb://keep"]);
    let line = sb.fails(&["cp", &sb.file_url("missing/model.json"), "indexeddb://keep"]);
    assert!(line.contains("missing"), "{line}");
    assert_eq!(sb.ok(&["ls", "--json"]).json()["indexeddb://keep"]["weightDataBytes"], 92);
}

#[test]
fn home_option_selects_the_profile() {
    let sb = Sandbox::new();
    let other = sb.path().join("other-home");
    let other = other.to_str().unwrap();
    sb.ok(&["-q", "--home", other, "cp", &fixture_url("node_file/a"), "localstorage://h"]);
    assert!(sb.ok(&["ls", "--json"]).json().as_object().unwrap().is_empty(), "default profile untouched");
    let there = sb.ok(&["--home", other, "ls", "--json"]).json();
    assert_eq!(there.as_object().unwrap().keys().collect::<Vec<_>>(), ["localstorage://h"]);
}

#[test]
fn http_sources_load_through_io_http() {
    let sb = Sandbox::new();
    let base = common::serve_files(common::fixture(""));
    let case = "converter_write_weights/c_sharded";
    let url = format!("{base}/{case}/model.json");
    let want = content(&sb, &fixture_url(case));
    assert_eq!(content(&sb, &url), want);
    let r = sb.ok(&["cp", &url, "indexeddb://c"]);
    assert_eq!(r.stdout, format!("copied {url} -> indexeddb://c (4404000 weight bytes)\n"));
    assert_eq!(content(&sb, "indexeddb://c"), want);
    let line = sb.fails(&["info", &format!("{base}/{case}/absent.json")]);
    assert!(line.contains("absent.json"), "{line}");
}

#[test]
fn progress_is_shown_on_a_terminal_for_big_transfers_only() {
    let sb = Sandbox::new();
    let big = fixture_url("converter_write_weights/c_sharded");
    let tty = sb.on_terminal(&["cp", &big, "indexeddb://big"]);
    assert!(tty.contains("copied 4.20 MiB in "), "throughput line on a terminal: {tty:?}");
    let quiet = sb.on_terminal(&["-q", "cp", &big, "indexeddb://big2"]);
    assert!(!quiet.contains("MiB"), "nothing with -q: {quiet:?}");
    let small = sb.on_terminal(&["cp", &fixture_url("node_file/a"), "indexeddb://small"]);
    assert!(!small.contains("B/s"), "no throughput line under 1 MB: {small:?}");
    assert!(small.contains("copied "), "{small:?}");
}

/// A generated 2 MiB float32 model (one weight of 512 Ki elements) in `dir`.
fn two_mib_model(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let doc = serde_json::json!({
        "modelTopology": {"class_name": "Sequential", "config": {"name": "big"}},
        "format": "layers-model",
        "weightsManifest": [{"paths": ["weights.bin"], "weights": [{"name": "w", "shape": [512, 1024], "dtype": "float32"}]}],
    });
    std::fs::write(dir.join("model.json"), serde_json::to_vec(&doc).unwrap()).unwrap();
    let weights: Vec<u8> = (0..512 * 1024u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
    std::fs::write(dir.join("weights.bin"), weights).unwrap();
}

/// The byte bar (`<bytes>/<total>` with a rate) and the throughput line, for copies whose bytes
/// come from and go to different media: file -> indexeddb, indexeddb -> localstorage, http -> file.
#[test]
fn byte_progress_is_shown_for_file_store_and_http_copies() {
    let sb = Sandbox::new();
    two_mib_model(&sb.path().join("gen"));
    let base = common::serve_files(sb.path().join("gen"));
    let out = sb.file_url("out");
    let copies = [
        (sb.file_url("gen/model.json"), "indexeddb://p".to_string()),
        ("indexeddb://p".to_string(), "localstorage://p".to_string()),
        (format!("{base}/model.json"), out.clone()),
    ];
    for (src, dst) in &copies {
        let tty = sb.on_terminal(&["cp", src, dst]);
        assert!(tty.contains("/2.00 MiB"), "{src} -> {dst}: a byte bar of 2 MiB: {tty:?}");
        assert!(tty.contains("copied 2.00 MiB in "), "{src} -> {dst}: the throughput line: {tty:?}");
        assert!(tty.contains("B/s)"), "{src} -> {dst}: a rate: {tty:?}");
    }
    assert_eq!(content(&sb, &format!("{out}/model.json")), content(&sb, &sb.file_url("gen/model.json")));
}

#[test]
fn mv_from_a_file_folder_removes_it_only_after_the_copy() {
    let sb = Sandbox::new();
    let src = sb.path().join("src-model");
    std::fs::create_dir_all(&src).unwrap();
    for f in ["model.json", "weights.bin"] {
        std::fs::copy(fixture("node_file/a").join(f), src.join(f)).unwrap();
    }
    // A folder that holds a foreign file is not removed: the move fails after copying, both copies stay.
    std::fs::write(src.join("notes.txt"), "mine").unwrap();
    let from = sb.file_url("src-model/model.json");
    let line = sb.fails(&["mv", &from, "indexeddb://kept"]);
    assert!(line.contains("both copies exist"), "{line}");
    assert!(src.join("model.json").is_file() && src.join("notes.txt").is_file());
    assert_eq!(sb.ok(&["ls", "--json"]).json()["indexeddb://kept"]["weightDataBytes"], 92);
    // Without it, the source folder is gone after the move.
    std::fs::remove_file(src.join("notes.txt")).unwrap();
    sb.ok(&["mv", &from, "indexeddb://moved"]);
    assert!(!src.exists(), "the source folder is removed");
    assert_eq!(sb.ok(&["ls", "--json"]).json()["indexeddb://moved"]["weightDataBytes"], 92);
}
