//! `file://` as a model store under a root folder: list the model folders below a path, remove one.
//!
//! A file system has no single root, so this store does not take part in `list_models` (it answers
//! `lists_everything() == false`); `Registry::list_under("file://./models")` lists the model folders
//! (folders holding `model.json`) under `./models`, which is what `modelio serve` and `modelio ls
//! file://DIR` use. Hidden folders (leftovers of saves in progress) are skipped.

use std::path::{Path, PathBuf};

use io_core::files;
use io_core::{Error, ModelArtifactsInfo, ModelJson, ModelStore, Options, Result};

use crate::dir::ModelDir;
use crate::load::DirSource;

use crate::handler::{FileHandler, MODEL_JSON};
use crate::swap;

/// How deep below the listed folder model folders are looked for.
const MAX_DEPTH: usize = 16;

/// The `file://` model store.
pub struct FileStore;

impl FileStore {
    fn list_sync(prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let base = prefix.trim_end_matches('/');
        let root = PathBuf::from(if base.is_empty() { "." } else { base });
        let mut out = Vec::new();
        if root.join(MODEL_JSON).is_file() {
            out.push((base.to_string(), info(&root)?));
            return Ok(out);
        }
        walk(&root, base, 0, &mut out)?;
        Ok(out)
    }

    /// The folder the model path `path` names, as moves compare them: absolute, `.` and `..`
    /// resolved, symbolic links followed where it exists, `DIR/model.json` standing for `DIR`.
    fn model_folder(path: &str) -> Result<PathBuf> {
        let mut folder = FileHandler::new(path).folder()?;
        if folder.is_file() && folder.file_name().is_some_and(|n| n == MODEL_JSON) {
            folder.pop();
        }
        Ok(std::fs::canonicalize(&folder).unwrap_or(folder))
    }

    fn same_model_sync(a: &str, b: &str) -> Result<bool> {
        Ok(a == b || Self::model_folder(a)? == Self::model_folder(b)?)
    }

    fn remove_sync(path: &str) -> Result<ModelArtifactsInfo> {
        let mut folder = FileHandler::new(path).folder()?;
        if folder.is_file() && folder.file_name().is_some_and(|n| n == MODEL_JSON) {
            folder.pop(); // `file://dir/model.json` names the model in `dir`
        }
        if !folder.join(MODEL_JSON).is_file() {
            return Err(Error::NotFound {
                url: format!("file://{path}"),
                detail: "no model.json in the folder".into(),
            });
        }
        crate::handler::check_replaceable(&folder, &format!("file://{path}"))?;
        let info = info(&folder)?;
        swap::remove(&folder).map_err(|e| Error::io("removing the model folder", &folder, e))?;
        Ok(info)
    }
}

fn walk(dir: &Path, label: &str, depth: usize, out: &mut Vec<(String, ModelArtifactsInfo)>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && depth == 0 => return Ok(()),
        Err(e) => return Err(Error::io("listing", dir, e)),
    };
    let mut subdirs: Vec<(String, PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
        .filter(|(n, _)| !n.starts_with('.'))
        .collect();
    subdirs.sort();
    for (name, path) in subdirs {
        let child = if label.is_empty() { name } else { format!("{label}/{name}") };
        if path.join(MODEL_JSON).is_file() {
            out.push((child, info(&path)?));
        } else if depth + 1 < MAX_DEPTH {
            walk(&path, &child, depth + 1, out)?;
        }
    }
    Ok(())
}

/// The info of a model folder without reading its weights: byte counts from model.json and the
/// shard files' sizes, `dateSaved` from model.json's modification time.
fn info(folder: &Path) -> Result<ModelArtifactsInfo> {
    let json_path = folder.join(MODEL_JSON);
    let url = format!("file://{}", folder.display());
    let dir = ModelDir::open(folder).map_err(|e| Error::io("opening the model folder", folder, e))?;
    let bytes = futures::executor::block_on(files::read_model_json(
        &DirSource { dir: &dir },
        MODEL_JSON,
        &url,
        &Options::new(),
    ))?;
    let doc = ModelJson::parse(&bytes, &json_path.display().to_string())?;
    let mtime =
        std::fs::metadata(&json_path).and_then(|m| m.modified()).map_err(|e| Error::io("reading", &json_path, e))?;
    let mut info = ModelArtifactsInfo::for_artifacts_at(&doc.artifacts, io_core::info::iso(mtime));
    let mut weight_bytes = 0u64;
    for path in doc.weights_manifest.iter().flat_map(|g| &g.paths) {
        files::check_inside(path, &json_path.display().to_string())?;
        let p = folder.join(path);
        weight_bytes += std::fs::metadata(&p).map_err(|e| Error::io("reading", &p, e))?.len();
    }
    info.weight_data_bytes = Some(weight_bytes);
    Ok(info)
}

#[io_core::async_trait]
impl ModelStore for FileStore {
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        Err(Error::Unsupported {
            operation: "list",
            url: "file://".into(),
            reason: "a file system has no single root: list a folder, e.g. `list_under(\"file://./models\")`".into(),
        })
    }

    fn lists_everything(&self) -> bool {
        false
    }

    async fn list_under(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let prefix = prefix.to_string();
        io_core::blocking::unblock(move || Self::list_sync(&prefix)).await
    }

    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let path = path.to_string();
        io_core::blocking::unblock(move || Self::remove_sync(&path)).await
    }

    async fn same_model(&self, a: &str, b: &str) -> Result<bool> {
        let (a, b) = (a.to_string(), b.to_string());
        io_core::blocking::unblock(move || Self::same_model_sync(&a, &b)).await
    }
}

/// The store of a rooted `file://` instance: lists every model folder under its root (paths
/// relative to it) and removes by relative path.
pub struct RootedStore {
    pub(crate) root: PathBuf,
}

impl RootedStore {
    fn abs(&self, rel: &str) -> Result<String> {
        let rel = rel.trim_matches('/');
        if !rel.is_empty() {
            files::check_inside(rel, &self.root.display().to_string())?;
        }
        Ok(self.root.join(rel).display().to_string())
    }
}

#[io_core::async_trait]
impl ModelStore for RootedStore {
    async fn list(&self) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        self.list_under("").await
    }

    async fn list_under(&self, prefix: &str) -> Result<Vec<(String, ModelArtifactsInfo)>> {
        let (base, root) = (self.abs(prefix)?, self.root.display().to_string());
        io_core::blocking::unblock(move || {
            let found = FileStore::list_sync(&base)?;
            Ok(found
                .into_iter()
                .filter_map(|(p, info)| {
                    let rel = p.strip_prefix(root.trim_end_matches('/'))?.trim_start_matches('/').to_string();
                    Some((rel, info))
                })
                .collect())
        })
        .await
    }

    async fn remove(&self, path: &str) -> Result<ModelArtifactsInfo> {
        let abs = self.abs(path)?;
        io_core::blocking::unblock(move || FileStore::remove_sync(&abs)).await
    }

    async fn same_model(&self, a: &str, b: &str) -> Result<bool> {
        let (a, b) = (self.abs(a)?, self.abs(b)?);
        io_core::blocking::unblock(move || FileStore::same_model_sync(&a, &b)).await
    }
}
