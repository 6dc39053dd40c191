//! The `file://` scheme plugin and [`FileHandler`], its save and load handler with options.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use io_core::files::{self, WeightFiles, NODE_FILE};
use io_core::{Config, Error, LoadHandler, ModelArtifacts, ModelUrl, Options, Result, SaveHandler, SaveResult, Scheme};

use crate::{load, save, swap};

/// Name of the model file in a model folder (tfjs-node's).
pub const MODEL_JSON: &str = "model.json";
/// Name of the one weight file of an unsharded save (tfjs-node's).
pub const WEIGHTS_BIN: &str = "weights.bin";

/// The `file://` plugin, as registered in the router (handlers with default options).
pub struct FileScheme;

impl Scheme for FileScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(FileHandler::from_url(url)?)))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(FileHandler::from_url(url)?)))
    }
    fn store(&self) -> Option<Box<dyn io_core::ModelStore>> {
        Some(Box::new(crate::store::FileStore))
    }
    /// A `file://` store rooted at a folder, for `Registry::mount_configured` (e.g. mounted as
    /// `models://`, so `models://team/m` is `ROOT/team/m`). Keys: `root` (required), `shard_size`
    /// (bytes per converter-style shard), `allow_paths_outside_folder` (`true`/`false`).
    fn configure(&self, config: &Config) -> Result<Arc<dyn Scheme>> {
        let bad = |key: &str, why: &str| Error::InvalidUrl { url: format!("file config '{key}'"), reason: why.into() };
        let mut root = None;
        let mut template = FileHandler::new("");
        for (k, v) in config {
            match k.as_str() {
                "root" => root = Some(PathBuf::from(v)),
                "shard_size" => template = template.shard_size(v.parse().map_err(|_| bad(k, "expected bytes"))?),
                "allow_paths_outside_folder" => {
                    template =
                        template.allow_paths_outside_folder(v.parse().map_err(|_| bad(k, "expected true or false"))?)
                }
                _ => return Err(bad(k, "unknown key (root, shard_size, allow_paths_outside_folder)")),
            }
        }
        let root =
            root.ok_or_else(|| bad("root", "a rooted file store needs 'root', the folder that holds the models"))?;
        Ok(Arc::new(RootedFiles { root, template }))
    }
}

/// `file://` rooted at a folder (from [`FileScheme::configure`]): model paths are relative to the
/// root and may not leave it; it lists every model under the root.
pub struct RootedFiles {
    root: PathBuf,
    template: FileHandler,
}

impl RootedFiles {
    fn handler(&self, url: &ModelUrl) -> Result<FileHandler> {
        let rel = url.path.trim_matches('/');
        files::check_inside(rel, &url.raw).map_err(|_| Error::InvalidUrl {
            url: url.raw.clone(),
            reason: "the model path must be relative to the store's root and stay inside it".into(),
        })?;
        let path = self.root.join(rel);
        Ok(FileHandler { url: url.raw.clone(), path, ..self.template.clone() })
    }
}

impl Scheme for RootedFiles {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(self.handler(url)?)))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(self.handler(url)?)))
    }
    fn store(&self) -> Option<Box<dyn io_core::ModelStore>> {
        Some(Box::new(crate::store::RootedStore { root: self.root.clone() }))
    }
}

/// Saves a model into a folder, or loads one from a folder or a model.json file.
///
/// ```no_run
/// # async fn demo(model: &io_core::ModelArtifacts) -> io_core::Result<()> {
/// use io_core::{LoadHandler, Options, SaveHandler};
/// let h = io_file::FileHandler::new("./my-model").shard_size(4 << 20);
/// h.save(model, &Options::new()).await?; // my-model/model.json + group1-shard{I}of{N}.bin
/// let opts = Options::new().on_progress(|p| eprintln!("{} bytes", p.bytes));
/// let back = io_file::FileHandler::new("./my-model/model.json").load(&opts).await?;
/// # Ok(()) }
/// ```
///
/// The file system calls are blocking: the async methods ([`SaveHandler`], [`LoadHandler`]) run
/// them on a blocking thread ([`io_core::blocking::unblock`]), so they never block an executor;
/// [`FileHandler::save_sync`] / [`FileHandler::load_sync`] run them in place.
#[derive(Clone, Debug)]
pub struct FileHandler {
    path: PathBuf,
    url: String,
    shard_size: Option<usize>,
    allow_outside: bool,
}

impl FileHandler {
    /// A handler for a model folder (save, load) or a model.json file (load).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        FileHandler { url: format!("file://{}", path.display()), path, shard_size: None, allow_outside: false }
    }

    /// A handler for a `file://` URL: `file:///abs/dir`, `file://relative/dir`, `file:///dir/model.json`.
    pub fn from_url(url: &ModelUrl) -> Result<Self> {
        if url.path.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.raw.clone(),
                reason: "the path is empty (e.g. file://./my-model)".into(),
            });
        }
        Ok(FileHandler { url: url.raw.clone(), ..Self::new(&url.path) })
    }

    /// Saves the weights as `group1-shard{I}of{N}.bin` files of at most `bytes` each (the TF.js
    /// converter's naming; its default is 4 MiB) instead of one `weights.bin` (the default, as TF.js).
    pub fn shard_size(mut self, bytes: usize) -> Self {
        self.shard_size = Some(bytes.max(1));
        self
    }

    /// Lets loads read weight files that the manifest names by an absolute path or a path leaving the
    /// model's folder (`..`). Off by default: a model.json from elsewhere could otherwise read any file.
    pub fn allow_paths_outside_folder(mut self, allow: bool) -> Self {
        self.allow_outside = allow;
        self
    }

    /// The path this handler saves to or loads from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads the model (blocking): see the crate docs.
    pub fn load_sync(&self) -> Result<ModelArtifacts> {
        self.load_sync_with(&Options::new())
    }

    /// Loads the model (blocking) with per-call options (progress, cancellation, limits).
    pub fn load_sync_with(&self, opts: &Options) -> Result<ModelArtifacts> {
        load::load(&self.path, &self.url, self.allow_outside, opts)
    }

    /// Saves the model (blocking), crash-safely: see the crate docs.
    pub fn save_sync(&self, artifacts: &ModelArtifacts) -> Result<SaveResult> {
        self.save_sync_with(artifacts, &Options::new())
    }

    /// Saves the model (blocking) with per-call options: progress in bytes written, cancellation
    /// (checked between files; a cancelled save leaves the previous model), `shard_size`.
    pub fn save_sync_with(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let naming = match self.shard_size.or(opts.get_shard_size()) {
            Some(n) => WeightFiles::Shards(n),
            None => WeightFiles::One(WEIGHTS_BIN.into()),
        };
        // The topology policy and the weights are checked before anything is touched.
        let model = files::split(artifacts, &self.url, NODE_FILE, &naming)?;
        let target = self.target()?;
        check_replaceable(&target, &self.url)?;
        let parent = target.parent().expect("an absolute path with a file name has a parent");
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating folder", parent, e))?;
        swap::clean_stale(&target);
        let temp =
            swap::create_temp(&target).map_err(|e| Error::io("creating a temporary folder next to", &target, e))?;
        let result = save::write_model(&temp, &model, &self.url, opts)
            .and_then(|_| keep_permissions(&target, &temp))
            .and_then(|_| opts.check_cancelled("save", &self.url))
            .and_then(|_| {
                swap::install(&temp, &target).map_err(|e| Error::io("putting the saved model in place at", &target, e))
            });
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&temp);
        }
        result.map(|_| SaveResult::for_artifacts(artifacts))
    }

    /// The model folder this handler saves to (absolute, normalized).
    pub(crate) fn folder(&self) -> Result<PathBuf> {
        self.target()
    }

    /// The folder to save into, absolute and without `.`/`..`, symlinks to folders followed.
    fn target(&self) -> Result<PathBuf> {
        let abs = std::path::absolute(&self.path).map_err(|e| Error::io("resolving", &self.path, e))?;
        let mut t = PathBuf::new();
        for c in abs.components() {
            match c {
                Component::CurDir => {}
                Component::ParentDir => {
                    t.pop();
                }
                other => t.push(other),
            }
        }
        if std::fs::symlink_metadata(&t).is_ok_and(|m| m.file_type().is_symlink()) {
            t = std::fs::canonicalize(&t).map_err(|e| Error::io("resolving the symbolic link", &t, e))?;
        }
        if t.file_name().is_none() {
            return Err(Error::InvalidUrl {
                url: self.url.clone(),
                reason: "a model cannot be saved as the root folder".into(),
            });
        }
        Ok(t)
    }
}

/// The new folder gets the permissions of the folder it replaces (if any).
fn keep_permissions(old: &Path, new: &Path) -> Result<()> {
    match std::fs::metadata(old) {
        Ok(m) => {
            std::fs::set_permissions(new, m.permissions()).map_err(|e| Error::io("setting permissions of", new, e))
        }
        Err(_) => Ok(()),
    }
}

/// A save replaces the whole folder: refuse when it is a file, or holds anything but model files.
pub(crate) fn check_replaceable(target: &Path, url: &str) -> Result<()> {
    let meta = match std::fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("checking", target, e)),
    };
    if !meta.is_dir() {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: format!("'{}' exists and is not a folder; file:// saves a model into a folder", target.display()),
        });
    }
    let entries = std::fs::read_dir(target).map_err(|e| Error::io("listing", target, e))?;
    let foreign: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !save::is_model_file(n))
        .collect();
    if !foreign.is_empty() {
        return Err(Error::storage(
            "file",
            target.display().to_string(),
            format!(
                "the folder holds files that are not part of a saved model ({}); a save replaces the whole folder \
                 atomically, so it refuses to delete them: save into an empty or new folder",
                foreign.join(", ")
            ),
        ));
    }
    Ok(())
}

#[io_core::async_trait]
impl SaveHandler for FileHandler {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (h, a, o) = (self.clone(), artifacts.clone(), opts.clone());
        io_core::blocking::unblock(move || h.save_sync_with(&a, &o)).await
    }
}

#[io_core::async_trait]
impl LoadHandler for FileHandler {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (h, o) = (self.clone(), opts.clone());
        io_core::blocking::unblock(move || h.load_sync_with(&o)).await
    }
}
