//! The native backend: `downloads://` writes into a downloads folder; [`browser_files`] reads files.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::collections::HashMap;

use io_core::files::{self, FileKind, FileRequest, FileSource, ModelFiles, WeightFiles, BROWSER_DOWNLOADS};
use io_core::{Error, LoadHandler, ModelArtifacts, ModelUrl, Options, Result, SaveHandler, SaveResult, Scheme};

use crate::files::{load_matched, NamedFile};
use crate::names::{file_names, sanitize_prefix};

/// Environment variable naming the folder `downloads://` saves into.
pub const DIR_ENV: &str = "MODELIO_DOWNLOADS_DIR";

/// Suffix of the hidden files a save writes before publishing them under their final names.
const PART_SUFFIX: &str = ".modelio-part";

/// Hidden part files older than this are leftovers of a crashed save and are removed by later saves.
const STALE_PART_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// How many names `P`, `P (1)`, ... a save tries before giving up.
const MAX_CANDIDATES: usize = 10_000;

/// The folder `downloads://` saves into when none is set in code: `$MODELIO_DOWNLOADS_DIR`, else
/// `$XDG_DOWNLOAD_DIR`, else the user's `Downloads` folder if it exists, else the current folder.
pub fn default_dir() -> PathBuf {
    for var in [DIR_ENV, "XDG_DOWNLOAD_DIR"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return PathBuf::from(v);
        }
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from);
    match home.map(|h| h.join("Downloads")) {
        Some(d) if d.is_dir() => d,
        _ => PathBuf::from("."),
    }
}

/// The `downloads://` plugin (save only).
pub struct DownloadsScheme;

impl Scheme for DownloadsScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        Ok(Some(Box::new(DownloadsHandler::new(&url.path))))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Err(Error::Unsupported {
            operation: "load",
            url: url.raw.clone(),
            reason: "downloads:// is save-only (as in TF.js); load the saved files with \
                     io_downloads::browser_files(json, weights)"
                .into(),
        })
    }
}

/// Saves a model as two files in a downloads folder, never overwriting (see the crate docs).
///
/// ```no_run
/// # fn demo(model: &io_core::ModelArtifacts) -> io_core::Result<()> {
/// let files = io_downloads::DownloadsHandler::new("my-model").dir("/tmp/out").save_files(model)?;
/// println!("wrote {} and {}", files.model_json.display(), files.weights.display());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct DownloadsHandler {
    prefix: String,
    dir: Option<PathBuf>,
}

/// The two files a `downloads://` save wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DownloadedFiles {
    /// `P.json` (or `P (k).json`).
    pub model_json: PathBuf,
    /// `P.weights.bin` (or `P (k).weights.bin`), the file model.json's manifest names.
    pub weights: PathBuf,
    /// What the save returned.
    pub result: SaveResult,
}

impl DownloadsHandler {
    /// The files of the `k`-th name candidate (`P`, `P (1)`, ...), laid out as TF.js's browserDownloads.
    fn files(&self, artifacts: &ModelArtifacts, url: &str, k: usize) -> Result<ModelFiles> {
        files::split(artifacts, url, BROWSER_DOWNLOADS, &WeightFiles::One(file_names(&self.prefix, k).1))
    }

    /// A handler for the file name prefix `prefix` (empty means `model`).
    pub fn new(prefix: impl Into<String>) -> Self {
        DownloadsHandler { prefix: prefix.into(), dir: None }
    }

    /// Saves into `dir` instead of [`default_dir`]. The folder is created if missing.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Saves (blocking) and says which files were written.
    pub fn save_files(&self, artifacts: &ModelArtifacts) -> Result<DownloadedFiles> {
        self.save_files_with(artifacts, &Options::new())
    }

    /// Saves (blocking) with per-call options (progress in bytes written, cancellation before the
    /// files are published) and says which files were written.
    pub fn save_files_with(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<DownloadedFiles> {
        let url = format!("downloads://{}", self.prefix);
        // The topology policy and the weights are checked before anything is written.
        let first = self.files(artifacts, &url, 0)?;
        let dir = self.dir.clone().unwrap_or_else(default_dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("creating the downloads folder", &dir, e))?;
        remove_stale_parts(&dir);
        let meter = opts.meter(Some(first.total_bytes()));
        let weights = &first.weights[0].1;
        let weights_tmp =
            TempFile::write(&dir, &self.prefix, |f| weights.chunks().iter().try_for_each(|c| f.write_all(c)))?;
        meter.add(weights.len() as u64);
        for k in 0..MAX_CANDIDATES {
            opts.check_cancelled("save", &url)?;
            let (json_name, weights_name) = file_names(&self.prefix, k);
            let (json_path, weights_path) = (dir.join(&json_name), dir.join(&weights_name));
            if json_path.exists() || !weights_tmp.publish(&weights_path)? {
                continue;
            }
            let doc = if k == 0 { first.model_json.clone() } else { self.files(artifacts, &url, k)?.model_json };
            let json_tmp = TempFile::write(&dir, &self.prefix, |f| f.write_all(&doc))?;
            if !json_tmp.publish(&json_path)? {
                // Taken meanwhile: give the weights name back and try the next pair.
                let _ = std::fs::remove_file(&weights_path);
                continue;
            }
            meter.add(doc.len() as u64);
            sync_dir(&dir);
            return Ok(DownloadedFiles {
                model_json: json_path,
                weights: weights_path,
                result: SaveResult::for_artifacts(artifacts),
            });
        }
        Err(Error::storage(
            "downloads",
            dir.join(sanitize_prefix(&self.prefix)).display().to_string(),
            format!("names up to '({})' are all taken", MAX_CANDIDATES - 1),
        ))
    }
}

#[io_core::async_trait]
impl SaveHandler for DownloadsHandler {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (h, a, o) = (self.clone(), artifacts.clone(), opts.clone());
        io_core::blocking::unblock(move || h.save_files_with(&a, &o).map(|f| f.result)).await
    }
}

/// A complete, fsynced hidden file in the downloads folder, removed when dropped. Publishing it
/// makes a hard link under the final name, which fails if the name exists: a file appears whole
/// under its final name or not at all, and nothing is ever overwritten.
struct TempFile(PathBuf);

impl TempFile {
    fn write(dir: &Path, prefix: &str, fill: impl FnOnce(&mut File) -> std::io::Result<()>) -> Result<TempFile> {
        let mut n = 0u32;
        let (file, path) = loop {
            let path = dir.join(format!(".{}.{}-{n}{PART_SUFFIX}", sanitize_prefix(prefix), std::process::id()));
            match File::options().write(true).create_new(true).open(&path) {
                Ok(f) => break (f, path),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(Error::io("creating", &path, e)),
            }
        };
        let tmp = TempFile(path);
        let mut file = file;
        fill(&mut file).and_then(|_| file.sync_all()).map_err(|e| Error::io("writing", &tmp.0, e))?;
        Ok(tmp)
    }

    /// Links the file under `to`; `false` if that name is taken.
    fn publish(&self, to: &Path) -> Result<bool> {
        match std::fs::hard_link(&self.0, to) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            // No hard links on this file system (e.g. FAT): copy-free rename after a check.
            Err(_) if !to.exists() => {
                std::fs::rename(&self.0, to).map(|_| true).map_err(|e| Error::io("renaming to", to, e))
            }
            Err(_) => Ok(false),
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Removes hidden part files of crashed saves (older than [`STALE_PART_AGE`]).
fn remove_stale_parts(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|a| a > STALE_PART_AGE);
        if name.starts_with('.') && name.ends_with(PART_SUFFIX) && old {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    let _ = File::open(dir).and_then(|d| d.sync_all());
    #[cfg(not(unix))]
    let _ = dir;
}

/// TF.js's `browserFiles` for native files: the model.json file and its weight files.
pub fn browser_files(model_json: impl Into<PathBuf>, weights: Vec<PathBuf>) -> BrowserFiles {
    BrowserFiles { model_json: model_json.into(), weights }
}

/// A load handler over user-chosen files; see [`browser_files`].
#[derive(Clone, Debug)]
pub struct BrowserFiles {
    model_json: PathBuf,
    weights: Vec<PathBuf>,
}

/// The picked files, found by basename; every read is bounded by the manifest and refuses
/// anything but a regular file.
struct PickedFiles<'a> {
    model_json: &'a Path,
    by_name: HashMap<&'a str, &'a Path>,
}

impl PickedFiles<'_> {
    fn path(&self, req: &FileRequest<'_>) -> Result<&Path> {
        match req.kind() {
            FileKind::ModelJson => Ok(self.model_json),
            FileKind::Weights => self
                .by_name
                .get(files::basename(req.path()))
                .copied()
                .ok_or_else(|| Error::invalid_model(req.path(), "no weight file of that name was given")),
        }
    }
}

#[io_core::async_trait]
impl FileSource for PickedFiles<'_> {
    fn name(&self, path: &str) -> String {
        match self.by_name.get(files::basename(path)) {
            Some(p) => p.display().to_string(),
            None => path.to_string(),
        }
    }

    async fn read(&self, req: &FileRequest<'_>) -> Result<bytes::Bytes> {
        let path = self.path(req)?;
        let (mut file, size) = open_regular(path)?;
        req.read_from(&mut file, Some(size))
    }
}

/// Opens a file for reading, refusing FIFOs, devices, sockets and folders without reading from
/// them (the open does not wait for a FIFO's writer: `O_NONBLOCK`, which regular files ignore).
fn open_regular(path: &Path) -> Result<(File, u64)> {
    let mut options = File::options();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK | libc::O_NOCTTY);
    let file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::not_found(path.display().to_string()),
        _ => Error::io("reading", path, e),
    })?;
    let meta = file.metadata().map_err(|e| Error::io("reading", path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            "reading",
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a FIFO, device, socket or folder)",
            ),
        ));
    }
    Ok((file, meta.len()))
}

impl BrowserFiles {
    fn load_sync(&self, opts: &Options) -> Result<ModelArtifacts> {
        let names: Vec<String> = self
            .weights
            .iter()
            .map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
            .collect();
        let by_name = names.iter().map(String::as_str).zip(self.weights.iter().map(PathBuf::as_path)).collect();
        let source = PickedFiles { model_json: &self.model_json, by_name };
        let json_name = self.model_json.display().to_string();
        let url = format!("file://{json_name}");
        let bytes = futures::executor::block_on(files::read_model_json(&source, &json_name, &url, opts))?;
        let json = NamedFile::new(json_name, bytes);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        futures::executor::block_on(load_matched(&json, &source, &names, opts))
    }
}

#[io_core::async_trait]
impl LoadHandler for BrowserFiles {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        let (h, o) = (self.clone(), opts.clone());
        io_core::blocking::unblock(move || h.load_sync(&o)).await
    }
}
