//! Loading a model folder: model.json, then every weight file read through one folder handle by
//! the layout component ([`io_core::files`]), which bounds and checks every read.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use io_core::files::{self, FileRequest, FileSource, PathPolicy};
use io_core::{Error, ModelArtifacts, Options, Result};

use crate::dir::ModelDir;
use crate::handler::MODEL_JSON;

/// How many times a load starts over when a concurrent save swapped the folder under it.
const ATTEMPTS: usize = 16;

/// Loads the model at `path` (blocking): a model.json file, or a folder holding `model.json`.
pub(crate) fn load(path: &Path, url: &str, allow_outside: bool, opts: &Options) -> Result<ModelArtifacts> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            Error::NotFound { url: path.display().to_string(), detail: "no such file or folder".into() }
        }
        _ => Error::io("reading", path, e),
    })?;
    let (folder, json_name) = if meta.is_dir() {
        (path.to_path_buf(), MODEL_JSON.to_string())
    } else {
        let name = path.file_name().map_or(MODEL_JSON.into(), |n| n.to_string_lossy().into_owned());
        let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (parent.to_path_buf(), name)
    };
    let policy = if allow_outside { PathPolicy::Any } else { PathPolicy::Inside };
    let mut attempt = 0;
    loop {
        let dir = ModelDir::open(&folder).map_err(|e| open_error(&folder, e))?;
        let source = DirSource { dir: &dir };
        match futures::executor::block_on(files::load(&source, &json_name, url, policy, opts)) {
            // A save swapped the folder while we read it: start over from the new one.
            Err(e) if attempt + 1 < ATTEMPTS && !dir.is_current() && !matches!(e, Error::Cancelled { .. }) => {
                attempt += 1
            }
            other => return other,
        }
    }
}

fn open_error(folder: &Path, e: std::io::Error) -> Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(folder.display().to_string()),
        _ => Error::io("opening the model folder", folder, e),
    }
}

/// The files of one opened model folder.
pub(crate) struct DirSource<'a> {
    pub(crate) dir: &'a ModelDir,
}

#[io_core::async_trait]
impl FileSource for DirSource<'_> {
    fn name(&self, path: &str) -> String {
        self.dir.display(path).display().to_string()
    }

    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
        let name = PathBuf::from(req.name());
        let (mut file, size) = self.dir.open_regular(req.path()).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::NotFound {
                url: name.display().to_string(),
                detail: match req.kind() {
                    files::FileKind::ModelJson => format!("no {} in the folder", req.path()),
                    files::FileKind::Weights => "a weight file named by the manifest is missing".into(),
                },
            },
            _ => Error::io("opening", &name, e),
        })?;
        req.read_from(&mut file, Some(size))
    }
}
