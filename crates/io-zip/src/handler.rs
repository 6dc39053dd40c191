//! The `zip://` plugin and [`ZipHandler`].

use std::fs::File;
use std::io::{Cursor, Read, Seek, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use io_core::files::{self, FileKind, FileRequest, FileSource, PathPolicy, WeightFiles, MODEL_JSON, NODE_FILE};
use io_core::{Error, LoadHandler, ModelArtifacts, ModelUrl, Options, Result, SaveHandler, SaveResult, Scheme};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::MAX_RATIO;

/// The one weight file of an unsharded save (tfjs-node's name).
const WEIGHTS_BIN: &str = "weights.bin";

/// The `zip://` plugin, as registered in the router.
pub struct ZipScheme;

impl Scheme for ZipScheme {
    fn save_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn SaveHandler>>> {
        let handler = ZipHandler::from_url(url)?;
        if handler.remote().is_some() {
            return Err(Error::Unsupported {
                operation: "save",
                url: url.raw.clone(),
                reason: "a zip over http(s) can only be loaded; save to zip:///path/m.zip and upload that file".into(),
            });
        }
        Ok(Some(Box::new(handler)))
    }
    fn load_handler(&self, url: &ModelUrl) -> Result<Option<Box<dyn LoadHandler>>> {
        Ok(Some(Box::new(ZipHandler::from_url(url)?)))
    }
}

/// Saves a model to, or loads one from, one `.zip` file (see the crate docs).
#[derive(Clone, Debug)]
pub struct ZipHandler {
    path: PathBuf,
    url: String,
}

impl ZipHandler {
    /// A handler for the zip file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        ZipHandler { url: format!("zip://{}", path.display()), path }
    }

    /// A handler for `zip:///abs/m.zip` or `zip://./rel/m.zip`.
    pub fn from_url(url: &ModelUrl) -> Result<Self> {
        if url.path.is_empty() {
            return Err(Error::InvalidUrl {
                url: url.raw.clone(),
                reason: "the path is empty (e.g. zip://./m.zip)".into(),
            });
        }
        Ok(ZipHandler { url: url.raw.clone(), ..Self::new(&url.path) })
    }

    /// Saves (blocking, atomically).
    pub fn save_sync(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let model = files::split(artifacts, &self.url, NODE_FILE, &WeightFiles::from_options(opts, WEIGHTS_BIN))?;
        let target = std::path::absolute(&self.path).map_err(|e| Error::io("resolving", &self.path, e))?;
        let name = target
            .file_name()
            .ok_or_else(|| Error::InvalidUrl { url: self.url.clone(), reason: "the path names no file".into() })?;
        if target.is_dir() {
            return Err(Error::InvalidUrl {
                url: self.url.clone(),
                reason: format!("'{}' is a folder; zip:// saves one .zip file", target.display()),
            });
        }
        let parent = target.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io("creating folder", parent, e))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let temp = parent.join(format!(".{}.tmp-{}-{nanos}", name.to_string_lossy(), std::process::id()));
        let meter = opts.meter(Some(model.total_bytes()));
        let write = || -> Result<()> {
            let file = File::options()
                .write(true)
                .create_new(true)
                .open(&temp)
                .map_err(|e| Error::io("creating", &temp, e))?;
            let mut zip = ZipWriter::new(file);
            let io = |e: zip::result::ZipError| Error::storage("zip", temp.display().to_string(), e);
            let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
            for (name, data) in &model.weights {
                opts.check_cancelled("save", &self.url)?;
                let big = data.len() as u64 >= u32::MAX as u64;
                zip.start_file(name.as_str(), stored.large_file(big)).map_err(io)?;
                for c in data.chunks() {
                    zip.write_all(c).map_err(|e| Error::io("writing", &temp, e))?;
                }
                meter.add(data.len() as u64);
            }
            let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
            zip.start_file(MODEL_JSON, deflated).map_err(io)?;
            zip.write_all(&model.model_json).map_err(|e| Error::io("writing", &temp, e))?;
            meter.add(model.model_json.len() as u64);
            let file = zip.finish().map_err(io)?;
            file.sync_all().map_err(|e| Error::io("syncing", &temp, e))?;
            opts.check_cancelled("save", &self.url)?;
            std::fs::rename(&temp, &target).map_err(|e| Error::io("renaming into place", &target, e))
        };
        let result = write();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result?;
        let _ = File::open(parent).and_then(|d| d.sync_all());
        Ok(SaveResult::for_artifacts(artifacts))
    }

    /// The archive's http(s) URL for `zip://https://host/m.zip`, `None` for a local file.
    pub fn remote(&self) -> Option<&str> {
        let p = self.path.to_str()?;
        (p.starts_with("http://") || p.starts_with("https://")).then_some(p)
    }

    /// Loads an archive from http(s): the whole file is fetched first (at most the weight limit plus
    /// the model.json limit plus 1 MiB of zip structure; a larger `Content-Length` fails before the
    /// body is read), with byte progress and retries, then read like a local archive.
    async fn load_remote(&self, remote: &str, opts: &Options) -> Result<ModelArtifacts> {
        let limits = opts.get_limits();
        let limit = limits.max_weight_bytes.saturating_add(limits.max_model_json_bytes).saturating_add(1 << 20);
        let bytes = fetch(remote, limit, opts).await?;
        let (h, o) = (self.clone(), opts.clone());
        io_core::blocking::unblock(move || h.load_archive(Cursor::new(bytes), &o)).await
    }

    /// Loads (blocking), every read bounded by the manifest (see the crate docs). Local files only
    /// (the async [`LoadHandler::load`] also fetches `zip://https://…`).
    pub fn load_sync(&self, opts: &Options) -> Result<ModelArtifacts> {
        let meta = std::fs::metadata(&self.path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::not_found(self.url.clone()),
            _ => Error::io("reading", &self.path, e),
        })?;
        if !meta.is_file() {
            return Err(Error::invalid_model(&self.url, "not a regular file"));
        }
        let file = File::open(&self.path).map_err(|e| Error::io("opening", &self.path, e))?;
        self.load_archive(file, opts)
    }

    /// Reads the model in an archive (see the crate docs for the checks).
    fn load_archive<R: Read + Seek + Send>(&self, reader: R, opts: &Options) -> Result<ModelArtifacts> {
        let archive = ZipArchive::new(reader)
            .map_err(|e| Error::invalid_model(&self.url, format!("not a readable zip archive: {e}")))?;
        let mut root: Option<String> = None;
        let mut nested: Vec<String> = Vec::new();
        for name in archive.file_names() {
            if !is_safe(name) {
                return Err(Error::invalid_model(
                    &self.url,
                    format!("the archive has an entry named '{name}' (absolute or with '..'); refused"),
                ));
            }
            if name == MODEL_JSON {
                root = Some(String::new());
            } else if let Some(dir) = name.strip_suffix(MODEL_JSON).filter(|d| d.ends_with('/')) {
                nested.push(dir.to_string());
            }
        }
        let prefix = match (root, nested.len()) {
            (Some(p), _) => p,
            (None, 1) => nested.pop().expect("one"),
            (None, 0) => {
                return Err(Error::NotFound { url: self.url.clone(), detail: "no model.json in the archive".into() })
            }
            (None, _) => {
                return Err(Error::invalid_model(
                    &self.url,
                    format!(
                        "the archive holds several model.json files ({}); which one is ambiguous",
                        nested.join(", ")
                    ),
                ))
            }
        };
        let source = ZipSource { archive: Mutex::new(archive), prefix, url: self.url.clone() };
        futures::executor::block_on(files::load(&source, MODEL_JSON, &self.url, PathPolicy::Inside, opts))
    }
}

/// The whole archive at `remote` through io-http (bounded by `limit`).
#[cfg(feature = "http")]
async fn fetch(remote: &str, limit: u64, opts: &Options) -> Result<Bytes> {
    io_http::HttpHandler::new(remote).fetch_whole(limit, opts).await
}

/// Without io-zip's `http` feature, archives over http(s) are refused.
#[cfg(not(feature = "http"))]
async fn fetch(remote: &str, _limit: u64, _opts: &Options) -> Result<Bytes> {
    Err(Error::Unsupported {
        operation: "load",
        url: remote.to_string(),
        reason: "zip over http(s) needs io-zip's `http` feature (modelio: features `zip` and `http`)".into(),
    })
}

/// Not absolute, no `..`, no backslashes or drive letters: the name stays inside the archive.
fn is_safe(name: &str) -> bool {
    !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains(':')
        && Path::new(name).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// The entries of one opened archive, under the model.json's folder.
struct ZipSource<R> {
    archive: Mutex<ZipArchive<R>>,
    prefix: String,
    url: String,
}

impl<R> ZipSource<R> {
    fn entry(&self, path: &str) -> String {
        let p = path.trim_start_matches("./");
        format!("{}{p}", self.prefix)
    }
}

#[io_core::async_trait]
impl<R: Read + Seek + Send> FileSource for ZipSource<R> {
    fn name(&self, path: &str) -> String {
        format!("{}!/{}", self.url, self.entry(path))
    }

    async fn read(&self, req: &FileRequest<'_>) -> Result<Bytes> {
        let entry_name = self.entry(req.path());
        let mut archive = self.archive.lock().unwrap_or_else(|p| p.into_inner());
        let mut entry = match archive.by_name(&entry_name) {
            Ok(e) => e,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(Error::NotFound {
                    url: req.name().to_string(),
                    detail: match req.kind() {
                        FileKind::ModelJson => "no model.json in the archive".into(),
                        FileKind::Weights => "a weight file named by the manifest is not in the archive".into(),
                    },
                })
            }
            Err(e) => return Err(Error::invalid_model(req.name(), format!("unreadable zip entry: {e}"))),
        };
        let (size, packed) = (entry.size(), entry.compressed_size());
        // The manifest's bound first: a declared size over it fails before anything is allocated.
        req.announce(size)?;
        let lie = match entry.compression() {
            CompressionMethod::Stored => size != packed,
            _ => size > packed.saturating_mul(MAX_RATIO).max(1024),
        };
        if lie {
            return Err(Error::invalid_model(
                req.name(),
                format!("entry declares {size} bytes from {packed} compressed bytes: refused as a zip bomb"),
            ));
        }
        let bytes = req.read_from(&mut entry, Some(size))?;
        if bytes.len() as u64 != size {
            return Err(Error::invalid_model(
                req.name(),
                format!("entry declares {size} bytes but holds {}", bytes.len()),
            ));
        }
        Ok(bytes)
    }
}

#[io_core::async_trait]
impl SaveHandler for ZipHandler {
    async fn save(&self, artifacts: &ModelArtifacts, opts: &Options) -> Result<SaveResult> {
        let (h, a, o) = (self.clone(), artifacts.clone(), opts.clone());
        io_core::blocking::unblock(move || h.save_sync(&a, &o)).await
    }
}

#[io_core::async_trait]
impl LoadHandler for ZipHandler {
    async fn load(&self, opts: &Options) -> Result<ModelArtifacts> {
        if let Some(remote) = self.remote() {
            return self.load_remote(remote, opts).await;
        }
        let (h, o) = (self.clone(), opts.clone());
        io_core::blocking::unblock(move || h.load_sync(&o)).await
    }
}
