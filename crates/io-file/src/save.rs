//! Writing a model folder's files (into a fresh folder; [`crate::swap`] puts it in place).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use io_core::files::{is_weight_file_name, ModelFiles};
use io_core::{Error, Options, Result};

use crate::handler::{MODEL_JSON, WEIGHTS_BIN};

/// Whether `name` is a file modelio's `file://` saves write (so a folder holding only such files is
/// a model folder that a save may replace).
pub(crate) fn is_model_file(name: &str) -> bool {
    name == MODEL_JSON || is_weight_file_name(name, WEIGHTS_BIN)
}

/// Writes the files of `model` (weights first, model.json last) into the empty folder `dir`, each
/// file fsynced, then the folder itself. Reports bytes written; stops between files when cancelled.
pub(crate) fn write_model(dir: &Path, model: &ModelFiles, url: &str, opts: &Options) -> Result<()> {
    let meter = opts.meter(Some(model.total_bytes()));
    for (name, data) in &model.weights {
        opts.check_cancelled("save", url)?;
        write_file(&dir.join(name), |f| data.chunks().iter().try_for_each(|c| f.write_all(c)))?;
        meter.add(data.len() as u64);
    }
    write_file(&dir.join(MODEL_JSON), |f| f.write_all(&model.model_json))?;
    meter.add(model.model_json.len() as u64);
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
    fn model_files_are_recognized() {
        for ok in ["model.json", "weights.bin", "group1-shard1of2.bin", "group12-shard3of40.bin"] {
            assert!(is_model_file(ok), "{ok}");
        }
        for no in ["README.md", "group1-shard1of.bin", "groupx-shard1of2.bin", "model.json.bak", ".hidden"] {
            assert!(!is_model_file(no), "{no}");
        }
    }
}
