//! `modelio verify URL [--digests FILE]`: every file's size against the manifest, every weight
//! decodable (streamed block by block, never materialized), the sha256 of every file printed as
//! `sha256sum` prints it, and checked against a digest file. Fails (exit 1) naming the first bad
//! file.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use modelio::codec::{layout, visit_weight, FileSpan};
use modelio::{Error, ModelArtifacts, ModelJson};
use sha2::{Digest, Sha256};

use crate::cli::VerifyArgs;
use crate::failure::{CmdResult, Failure};
use crate::output::Output;
use crate::source;

/// One file the load read.
#[derive(Clone, Debug)]
struct Seen {
    /// As the manifest names it (or model.json's name).
    path: String,
    /// The full name for messages (path or URL).
    name: String,
    len: usize,
    sha256: String,
    /// The bytes of model.json (the first file a load reads), for its manifest's order.
    model_json: Option<bytes::Bytes>,
}

/// `modelio verify URL [--digests FILE]`.
pub async fn run(args: &VerifyArgs, out: &Output) -> CmdResult {
    let expected = match &args.digests {
        Some(p) => Some(read_digests(p)?),
        None => None,
    };
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let tap = seen.clone();
    let task = out.progress.task(format!("verifying {}", args.url));
    let opts = source::options(&task).on_file(move |path, name, bytes| {
        let sha256 = hex(&Sha256::digest(bytes));
        let mut all = tap.lock().unwrap();
        // A load that starts over (a folder swapped by a concurrent save) reads model.json again.
        if all.iter().any(|s| s.path == path) {
            all.clear();
        }
        let model_json = all.is_empty().then(|| bytes.clone());
        all.push(Seen { path: path.into(), name: name.into(), len: bytes.len(), sha256, model_json });
    });
    let loaded = task.run(modelio::registry().load_with(&args.url, &opts)).await;
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let artifacts = match loaded {
        Ok(a) => a,
        Err(e) => return Err(diagnose(e, &seen)),
    };
    task.finish("loaded", Some(artifacts.weight_bytes()));
    let files = in_manifest_order(seen);
    check_weights(&args.url, &artifacts, &files)?;
    let mut listing = String::new();
    for f in &files {
        listing.push_str(&format!("{}  {}\n", f.sha256, f.path));
    }
    if files.is_empty() {
        // A store of records (localstorage://, indexeddb://) has no files: the weight data's digest.
        let mut h = Sha256::new();
        artifacts.weight_data.chunks().iter().for_each(|c| h.update(c));
        listing.push_str(&format!("{}  (weight data; this store keeps no files)\n", hex(&h.finalize())));
    }
    if let Some(expected) = &expected {
        check_digests(&files, expected, args.digests.as_ref().unwrap())?;
    }
    out.text(&listing)?;
    out.summary(&format!(
        "verified {}: {} files, {} weights, {} weight bytes{}",
        args.url,
        files.len(),
        artifacts.weight_specs.len(),
        artifacts.weight_bytes(),
        if expected.is_some() { ", digests match" } else { "" }
    ))
}

/// model.json first, then the weight files in manifest order (reads finish in any order).
fn in_manifest_order(mut seen: Vec<Seen>) -> Vec<Seen> {
    let order: Vec<String> = match seen.first().and_then(|s| s.model_json.as_ref()) {
        Some(b) => match ModelJson::parse(b, "model.json") {
            Ok(m) => m.weights_manifest.into_iter().flat_map(|g| g.paths).collect(),
            Err(_) => return seen,
        },
        None => return seen,
    };
    let rank: HashMap<&str, usize> = order.iter().enumerate().map(|(i, p)| (p.as_str(), i)).collect();
    seen[1..].sort_by_key(|s| rank.get(s.path.as_str()).copied().unwrap_or(usize::MAX));
    seen
}

/// Sorts `group{G}-shard{I}of{N}.bin` names numerically (group, then shard); others by name.
fn shard_key(path: &str) -> (u64, u64) {
    let base = path.rsplit('/').next().unwrap_or(path);
    let num = |s: &str| s.parse::<u64>().ok();
    base.strip_prefix("group")
        .and_then(|r| r.strip_suffix(".bin"))
        .and_then(|r| r.split_once("-shard"))
        .and_then(|(g, r)| Some((num(g)?, num(r.split_once("of")?.0)?)))
        .unwrap_or((u64::MAX, 0))
}

/// Every weight decodes, one at a time, streamed; a failure names the weight and its file.
fn check_weights(url: &str, artifacts: &ModelArtifacts, files: &[Seen]) -> CmdResult {
    let data = &artifacts.weight_data;
    let spans: Vec<FileSpan> = files.iter().skip(1).map(|f| FileSpan { name: f.name.clone(), len: f.len }).collect();
    let ranges = layout(&artifacts.weight_specs, data, &spans).map_err(|e| e.with_location(url))?;
    for (spec, range) in artifacts.weight_specs.iter().zip(ranges) {
        let start = range.start;
        visit_weight(spec, data, range, |_| Ok(())).map_err(|e| {
            let file = file_at(&spans, start).unwrap_or_else(|| url.to_string());
            Failure::new(format!("{file}: weight '{}' does not decode: {e}", spec.name))
        })?;
    }
    Ok(())
}

fn file_at(spans: &[FileSpan], pos: usize) -> Option<String> {
    let mut end = 0;
    spans
        .iter()
        .find(|s| {
            end += s.len;
            pos < end
        })
        .map(|s| s.name.clone())
}

/// A failed load, with the first bad file named when the sizes say which one it is: a group's
/// files are cut at one shard size, so a file shorter than its group's largest file (other than
/// the last) is the bad one; otherwise the file the error names.
fn diagnose(e: Error, seen: &[Seen]) -> Failure {
    if let Error::WeightsMismatch { .. } = &e {
        if let Some(bad) = short_shard(seen) {
            return Failure::new(format!("{bad}: this weight file is shorter than the other shards of its group: {e}"));
        }
    }
    Failure::from(e)
}

fn short_shard(seen: &[Seen]) -> Option<String> {
    let mut groups: HashMap<u64, Vec<&Seen>> = HashMap::new();
    for s in seen.iter().skip(1) {
        let (g, _) = shard_key(&s.path);
        groups.entry(g).or_default().push(s);
    }
    let mut found: Vec<(u64, u64, String)> = Vec::new();
    for (g, mut files) in groups.into_iter().filter(|(g, f)| *g != u64::MAX && f.len() > 2) {
        files.sort_by_key(|s| shard_key(&s.path));
        let not_last = &files[..files.len() - 1];
        let size = not_last.iter().map(|s| s.len).max().unwrap_or(0);
        if let Some(bad) = not_last.iter().find(|s| s.len < size) {
            found.push((g, shard_key(&bad.path).1, bad.name.clone()));
        }
    }
    found.sort();
    found.into_iter().next().map(|(_, _, name)| name)
}

/// `<sha256>  <file>` lines (`sha256sum`'s text and binary `*` forms), names without `./`.
fn read_digests(path: &std::path::Path) -> Result<Vec<(String, String)>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::new(format!("cannot read the digest file {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#')) {
        let bad = || Failure::new(format!("{}:{}: expected '<sha256>  <file>', found '{line}'", path.display(), i + 1));
        let (hash, name) = line.split_once(' ').ok_or_else(bad)?;
        let name = name.strip_prefix(' ').or_else(|| name.strip_prefix('*')).unwrap_or(name);
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) || name.is_empty() {
            return Err(bad());
        }
        out.push((hash.to_ascii_lowercase(), normalize(name).to_string()));
    }
    Ok(out)
}

fn normalize(name: &str) -> &str {
    name.trim_start_matches("./")
}

fn check_digests(files: &[Seen], expected: &[(String, String)], path: &std::path::Path) -> CmdResult {
    let listed: HashMap<&str, &str> = expected.iter().map(|(h, n)| (n.as_str(), h.as_str())).collect();
    for f in files {
        match listed.get(normalize(&f.path)) {
            None => return Err(Failure::new(format!("{}: not listed in {}", f.name, path.display()))),
            Some(&want) if want != f.sha256 => {
                return Err(Failure::new(format!(
                    "{}: sha256 {} does not match {} in {}",
                    f.name,
                    f.sha256,
                    want,
                    path.display()
                )))
            }
            Some(_) => {}
        }
    }
    let have: Vec<&str> = files.iter().map(|f| normalize(&f.path)).collect();
    if let Some((_, extra)) = expected.iter().find(|(_, n)| !have.contains(&n.as_str())) {
        return Err(Failure::new(format!("{extra}: listed in {} but not a file of the model", path.display())));
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
