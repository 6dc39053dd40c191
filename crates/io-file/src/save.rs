//! Writing a model folder's files (into a fresh folder; [`crate::swap`] puts it in place).

use std::fs::File;
use std::io::Write;
use std::ops::Range;
use std::path::Path;

use io_core::artifacts::NODE_FILE_ORDER;
use io_core::{Error, ModelArtifacts, ModelJson, Result};

use crate::handler::{MODEL_JSON, WEIGHTS_BIN};

/// The weight files of a save: names (as written in the manifest) and their byte ranges.
pub(crate) fn shard_plan(total: usize, shard_size: Option<usize>) -> Vec<(String, Range<usize>)> {
    match shard_size {
        None => vec![(WEIGHTS_BIN.to_string(), 0..total)],
        Some(size) => {
            let size = size.max(1);
            let n = total.div_ceil(size).max(1);
            (0..n)
                .map(|i| {
                    (format!("group1-shard{}of{n}.bin", i + 1), (i * size).min(total)..((i + 1) * size).min(total))
                })
                .collect()
        }
    }
}

/// Whether `name` is a file modelio's `file://` saves write (so a folder holding only such files is
/// a model folder that a save may replace).
pub(crate) fn is_model_file(name: &str) -> bool {
    if name == MODEL_JSON || name == WEIGHTS_BIN {
        return true;
    }
    // group{G}-shard{I}of{N}.bin
    let Some(rest) = name.strip_prefix("group").and_then(|r| r.strip_suffix(".bin")) else { return false };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match rest.split_once("-shard").and_then(|(g, r)| r.split_once("of").map(|(i, n)| (g, i, n))) {
        Some((g, i, n)) => digits(g) && digits(i) && digits(n),
        None => false,
    }
}

/// Writes model.json and the weight files of `artifacts` into the empty folder `dir`, each file
/// fsynced, then the folder itself.
pub(crate) fn write_model(dir: &Path, artifacts: &ModelArtifacts, shard_size: Option<usize>) -> Result<()> {
    let plan = shard_plan(artifacts.weight_data.len(), shard_size);
    for (name, range) in &plan {
        write_file(&dir.join(name), |f| {
            let mut res = Ok(());
            artifacts.weight_data.for_each_piece(range.clone(), |piece| {
                if res.is_ok() {
                    res = f.write_all(piece);
                }
            });
            res
        })?;
    }
    let json = ModelJson::for_artifacts(artifacts, plan.into_iter().map(|(n, _)| n).collect());
    let bytes = json.to_bytes(NODE_FILE_ORDER);
    write_file(&dir.join(MODEL_JSON), |f| f.write_all(&bytes))?;
    sync_dir(dir)
}

fn write_file(path: &Path, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<()> {
    let mut f = File::options().write(true).create_new(true).open(path).map_err(|e| Error::io("creating", path, e))?;
    fill(&mut f).map_err(|e| Error::io("writing", path, e))?;
    f.sync_all().map_err(|e| Error::io("syncing", path, e))
}

/// fsyncs a folder, so the names in it survive a power loss (no-op where folders cannot be opened).
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("syncing folder", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_plan_covers_all_bytes_with_converter_names() {
        let p = shard_plan(10, Some(4));
        let names: Vec<_> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["group1-shard1of3.bin", "group1-shard2of3.bin", "group1-shard3of3.bin"]);
        assert_eq!(p.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(), [0..4, 4..8, 8..10]);
        assert_eq!(shard_plan(0, Some(4)), [("group1-shard1of1.bin".to_string(), 0..0)]);
        assert_eq!(shard_plan(8, Some(4)).len(), 2);
        assert_eq!(shard_plan(7, None), [("weights.bin".to_string(), 0..7)]);
    }

    #[test]
    fn model_files_are_recognized() {
        for ok in ["model.json", "weights.bin", "group1-shard1of2.bin", "group12-shard3of40.bin"] {
            assert!(is_model_file(ok), "{ok}");
        }
        for no in ["README.md", "group1-shard1of.bin", "groupx-shard1of2.bin", "model.json.bak", ".hidden"] {
            assert!(!is_model_file(no), "{no}");
        }
    }
}
