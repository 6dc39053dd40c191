//! The routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /models` | `{name: ModelArtifactsInfo}` of every model in the store (names only, no versions; a model that cannot be read has `{"error": "..."}` as its entry) |
//! | `POST`/`PUT /models/{name}` | store a TF.js multipart upload (`model.save('http://…/models/{name}')`) as a new version; answers the save result and the header `Modelio-Version` |
//! | `GET`/`HEAD /models/{name}/model.json` | the latest model.json (`tf.loadLayersModel('http://…/models/{name}/model.json')`), its weight paths pointing at the version's files: `@v/{version}/{file}`; `Cache-Control: no-cache`, ETag, 304 |
//! | `GET`/`HEAD /models/{name}/@v/{version}/model.json` | a version's own model.json (weight paths relative to it); `Cache-Control: public, max-age=31536000, immutable` |
//! | `GET`/`HEAD /models/{name}/@v/{version}/{file}` | a weight file of a version, as stored; immutable as above; `Range` (206, 416) |
//! | `GET`/`HEAD /models/{name}/{file}` | a weight file of the latest version (`no-cache`; a load using these URLs may mix versions: TF.js uses the versioned ones) |
//! | `GET /models/{name}/versions` | `{"name", "latest", "versions": [{"version", "modelJson", "info"}]}`, newest first |
//! | `GET /models/{name}` | the latest version's info |
//! | `DELETE /models/{name}` | remove the model and all its versions, answering its info |
//!
//! Versions and how they live in the store: [`crate::versions`]. Caching: [`crate::cache`]. A model
//! is served with the files it is stored with (a converter model's shards stay shards); a file its
//! manifest does not name is 404. On a `file://` store model.json is read alone and weight files are
//! streamed from disk; on a bucket model.json is read alone and each weight file is read from the
//! store when it is asked for. Error messages never hold the server's paths (the store's folder is written
//! as `<store>`; a 500 says only that the server log has the details).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use io_core::artifacts::BROWSER_ORDER;
use io_core::{ModelArtifactsInfo, ModelJson, Options, WeightData};
use io_http::multipart::WEIGHTS_PART;

use crate::cache::{Cache, File, Lookup, Prepared, Weights};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::versions::{self, Latest};
use crate::{disk, names, upload};

/// `Cache-Control` of a version's files.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The header naming the version a save created.
pub const VERSION_HEADER: &str = "modelio-version";

/// The configuration, the read cache, the per-name locks.
struct App {
    cfg: ServeConfig,
    cache: Cache,
    locks: versions::Locks,
    /// Bytes of uploads between their quota check and their commit.
    reserved: AtomicU64,
    /// Whole-file reads that fill the cache from disk at once (each up to [`MAX_CACHED_FILE_BYTES`]);
    /// a miss beyond them is streamed from disk instead, so cold requests hold little memory.
    fills: tokio::sync::Semaphore,
    /// Spellings of the store's location to keep out of error messages, longest first.
    secrets: Vec<String>,
}

type Shared = State<Arc<App>>;

/// The model routes with their upload limit (the access, CORS and connection layers are added by
/// [`crate::app`]).
pub fn router(cfg: ServeConfig) -> Router {
    let limit = usize::try_from(cfg.max_upload_bytes).unwrap_or(usize::MAX);
    let mut secrets = vec![cfg.store.clone()];
    if let Some(dir) = cfg.store_dir() {
        let abs = std::fs::canonicalize(&dir)
            .ok()
            .or_else(|| std::env::current_dir().ok().map(|c| c.join(&dir)))
            .unwrap_or_else(|| dir.clone());
        secrets.push(abs.display().to_string());
        let given = dir.display().to_string();
        if given != "." {
            secrets.push(given);
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.retain(|s| !s.is_empty());
    clean_store(&cfg);
    let app = App {
        cache: Cache::new(cfg.revalidate_after, cfg.cache_max_bytes),
        cfg,
        locks: versions::Locks::default(),
        reserved: AtomicU64::new(0),
        fills: tokio::sync::Semaphore::new(CACHE_FILLS),
        secrets,
    };
    Router::new()
        .route("/models", get(list))
        .route("/models/{*path}", get(get_path).post(save).put(save).delete(remove))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(app))
}

/// Removes what interrupted uploads left in the store (called at start: [`crate::Server::bind`] and
/// [`router`]).
pub fn clean_store(cfg: &ServeConfig) {
    if let Some(dir) = cfg.store_dir() {
        upload::clean_leftovers(&dir.join(versions::TMP));
    }
}

impl App {
    /// An io-core error as an answer fit for the client: the store's location replaced by
    /// `<store>`; a 500's details only in the log.
    fn public(&self, e: io_core::Error) -> ApiError {
        let mut api = ApiError::from(e);
        if api.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %api.message, "request failed");
            api.message = "the server failed to read or write its store; the server's log has the details".into();
            return api;
        }
        api.message = self.scrub(&api.message);
        api
    }

    /// An answer with the store's location taken out of its message (a 500's only in the log).
    fn scrub_api(&self, mut e: ApiError) -> ApiError {
        if e.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %e.message, "request failed");
            e.message = "the server failed to read or write its store; the server's log has the details".into();
        } else {
            e.message = self.scrub(&e.message);
        }
        e
    }

    fn scrub(&self, message: &str) -> String {
        let mut m = message.to_string();
        for s in &self.secrets {
            m = m.replace(s.as_str(), "<store>");
        }
        m
    }

    fn not_found(&self, name: &str) -> ApiError {
        ApiError { status: StatusCode::NOT_FOUND, message: format!("model '{name}' not found") }
    }

    /// What `name` is now (cached for `revalidate_after`); 404 when there is no such model.
    async fn latest(&self, name: &str) -> Result<Latest, ApiError> {
        if let Some(l) = self.cache.latest(name) {
            return Ok(l);
        }
        let ticket = self.cache.ticket();
        match versions::latest(&self.cfg, name).await {
            Ok(l) => {
                self.cache.insert_latest(name, l.clone(), ticket);
                Ok(l)
            }
            Err(io_core::Error::NotFound { .. }) => Err(self.not_found(name)),
            Err(e) => Err(self.public(e)),
        }
    }

    /// The prepared files of what `name` is now, and its version. A version removed between reading
    /// the pointer and reading the version (a newer save committed and pruned it meanwhile, or the
    /// pointer came from the cache) means a newer pointer: read again, a few times.
    async fn current(&self, name: &str) -> Result<(Arc<Prepared>, Option<String>), ApiError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.latest(name).await? {
                Latest::Plain => return Ok((self.plain(name).await?, None)),
                Latest::Version(v) => match self.version(name, &v).await {
                    Ok(p) => return Ok((p, Some(v))),
                    Err(e) if e.status == StatusCode::NOT_FOUND && attempts < 5 => self.cache.forget_latest(name, &v),
                    Err(e) => return Err(e),
                },
            }
        }
    }

    /// The prepared files of version `v` of `name` (immutable, cached).
    async fn version(&self, name: &str, v: &str) -> Result<Arc<Prepared>, ApiError> {
        let key = format!("{name}/@v/{v}");
        if let Lookup::Fresh(p) = self.cache.lookup(&key) {
            crate::observe::cache_lookup(true);
            return Ok(p);
        }
        crate::observe::cache_lookup(false);
        let ticket = self.cache.ticket();
        let path = versions::version_path(name, v);
        let gone = || ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!("model '{name}' has no version '{v}' (it may have been replaced and removed)"),
        };
        let p = match self.prepare(&path, Some(v)).await {
            Ok(p) => Arc::new(p),
            Err(e) if e.status == StatusCode::NOT_FOUND => return Err(gone()),
            Err(e) => return Err(e),
        };
        self.cache.insert(&key, p.clone(), None, ticket);
        Ok(p)
    }

    /// The prepared files of the plain model `name` (not cached on `file://`; elsewhere cached and
    /// revalidated against the store's info).
    async fn plain(&self, name: &str) -> Result<Arc<Prepared>, ApiError> {
        if self.cfg.store_dir().is_some() {
            return match self.prepare(name, None).await {
                Err(e) if e.status == StatusCode::NOT_FOUND => Err(self.not_found(name)),
                other => other.map(Arc::new),
            };
        }
        let ticket = self.cache.ticket();
        let lookup = self.cache.lookup(name);
        if let Lookup::Fresh(p) = lookup {
            crate::observe::cache_lookup(true);
            return Ok(p);
        }
        let now = versions::info(&self.cfg, &self.cfg.model_url(name)).await.ok().flatten();
        if let Lookup::Stale(p, was) = lookup {
            if now.as_ref() == Some(&was) {
                self.cache.confirm(name, &p);
                crate::observe::cache_lookup(true);
                return Ok(p);
            }
            self.cache.forget(name, &p);
        }
        crate::observe::cache_lookup(false);
        let p = match self.prepare(name, None).await {
            Err(e) if e.status == StatusCode::NOT_FOUND => return Err(self.not_found(name)),
            other => Arc::new(other?),
        };
        if let Some(info) = now {
            self.cache.insert(name, p.clone(), Some(info), ticket);
        }
        Ok(p)
    }

    /// Reads the model at store path `path`: its model.json only on `file://` and on stores that
    /// read files one by one (the weight files are then read per request); elsewhere the whole model.
    async fn prepare(&self, path: &str, version: Option<&str>) -> Result<Prepared, ApiError> {
        let url = self.cfg.model_url(path);
        let (json, doc, weights) = match self.cfg.store_dir() {
            Some(dir) => {
                let folder = dir.join(path);
                let bytes = match disk::read_small(
                    folder.join(io_core::files::MODEL_JSON),
                    io_core::artifacts::MAX_MODEL_JSON_BYTES,
                )
                .await
                {
                    Ok(Some(b)) => b,
                    Ok(None) => {
                        return Err(ApiError::bad_request(format!("the model.json of '{path}' is too large to serve")))
                    }
                    Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
                        return Err(ApiError { status: StatusCode::NOT_FOUND, message: format!("'{path}' not found") })
                    }
                    Err(e) => return Err(self.public(io_core::Error::io("reading", folder.join("model.json"), e))),
                };
                let doc = ModelJson::parse(&bytes, &url).map_err(|e| self.public(e))?;
                (bytes, doc, Weights::Disk(folder))
            }
            None => match self.cfg.registry.read_model_json(&url).await {
                Ok(Some(bytes)) => {
                    let doc = ModelJson::parse(&bytes, &url).map_err(|e| self.public(e))?;
                    let limits = store_limits(&doc);
                    (bytes, doc, Weights::Store { url: url.clone(), limits })
                }
                Err(io_core::Error::NotFound { .. }) => {
                    return Err(ApiError { status: StatusCode::NOT_FOUND, message: format!("'{path}' not found") })
                }
                Err(e) => return Err(self.public(e)),
                Ok(None) => self.load_whole(path, &url).await?,
            },
        };
        let paths: Vec<String> = doc.weights_manifest.iter().flat_map(|g| &g.paths).map(|p| normalize(p)).collect();
        let latest_json = version.map(|v| {
            let mut doc = doc.clone();
            for p in doc.weights_manifest.iter_mut().flat_map(|g| g.paths.iter_mut()) {
                *p = format!("@v/{v}/{}", normalize(p));
            }
            File::new(WeightData::single(doc.to_bytes(BROWSER_ORDER)))
        });
        Ok(Prepared { json: File::new(WeightData::single(json)), latest_json, paths, weights })
    }

    /// The whole model at `url` loaded into memory, each file as the store holds it when the store
    /// reports its files (stores that cannot read a model's files one by one).
    async fn load_whole(&self, path: &str, url: &str) -> Result<(Bytes, ModelJson, Weights), ApiError> {
        let tapped = Arc::new(std::sync::Mutex::new(Vec::<(String, Bytes)>::new()));
        let tap = tapped.clone();
        let opts = Options::new()
            .on_file(move |p, _, b| tap.lock().unwrap_or_else(|e| e.into_inner()).push((p.to_string(), b.clone())));
        let a = match self.cfg.registry.load_with(url, &opts).await {
            Err(io_core::Error::NotFound { .. }) => {
                return Err(ApiError { status: StatusCode::NOT_FOUND, message: format!("'{path}' not found") })
            }
            other => other.map_err(|e| self.public(e))?,
        };
        let mut files = std::mem::take(&mut *tapped.lock().unwrap_or_else(|e| e.into_inner()));
        // Stores that do not read through files (or report them partly) are served as one file.
        if files.iter().map(|(_, b)| b.len()).sum::<usize>() != a.weight_data.len() || files.is_empty() {
            files = vec![(WEIGHTS_PART.to_string(), a.weight_data.to_bytes())];
        }
        let paths: Vec<String> = files.iter().map(|(p, _)| normalize(p)).collect();
        let doc = ModelJson::for_artifacts(&a, paths);
        let json = Bytes::from(doc.to_bytes(BROWSER_ORDER));
        let map = files.into_iter().map(|(p, b)| (normalize(&p), File::new(WeightData::single(b)))).collect();
        Ok((json, doc, Weights::Memory(map)))
    }

    /// The store's info for `name`'s latest version (or plain model).
    async fn info(&self, name: &str) -> Result<ModelArtifactsInfo, ApiError> {
        let path = match self.latest(name).await? {
            Latest::Version(v) => versions::version_path(name, &v),
            Latest::Plain => name.to_string(),
        };
        match versions::info(&self.cfg, &self.cfg.model_url(&path)).await {
            Ok(Some(info)) => Ok(info),
            Ok(None) => Err(self.not_found(name)),
            Err(e) => Err(self.public(e)),
        }
    }

    /// Bytes the store holds (every model.json and weight file of every model and version).
    async fn store_bytes(&self) -> Result<u64, ApiError> {
        let cfg = &self.cfg;
        let listed = cfg.registry.list_under(&cfg.store).await.map_err(|e| self.public(e))?;
        let mut total: u64 = listed
            .iter()
            .filter(|(p, _)| cfg.name_of(p).is_some_and(|n| !hidden(&n)))
            .map(|(_, i)| i.total_bytes())
            .sum();
        for vs in versions::all(cfg).await.map_err(|e| self.public(e))?.values() {
            total += vs.iter().map(|(_, i)| i.total_bytes()).sum::<u64>();
        }
        Ok(total)
    }
}

/// The most bytes each weight file of `doc` may hold: what its manifest group declares (the load
/// limit when a string weight leaves that open).
fn store_limits(doc: &ModelJson) -> HashMap<String, u64> {
    let open = Options::new().get_limits().max_weight_bytes;
    doc.weights_manifest
        .iter()
        .flat_map(|g| {
            let declared =
                g.weights.iter().try_fold(0u64, |acc, w| acc.checked_add(w.fixed_byte_len()? as u64)).unwrap_or(open);
            g.paths.iter().map(move |p| (normalize(p), declared))
        })
        .collect()
}

/// A manifest path as a file name under the model (`./` parts dropped).
fn normalize(path: &str) -> String {
    path.split('/').filter(|p| !p.is_empty() && *p != ".").collect::<Vec<_>>().join("/")
}

/// Whether a listed name lies in the store's hidden entries (versions, temporary folders).
pub(crate) fn hidden(name: &str) -> bool {
    name.split('/').any(|s| s.starts_with('.'))
}

/// The models of a `file://` store, each listed on its own so that one unreadable model.json gives
/// an error in its entry instead of failing the whole listing: `(name, info or error)`.
async fn list_folders(app: &App, dir: std::path::PathBuf) -> Vec<(String, Result<ModelArtifactsInfo, String>)> {
    let found = io_core::blocking::unblock(move || {
        let mut out = Vec::new();
        let mut stack = vec![(dir, String::new(), 0usize)];
        while let Some((folder, name, depth)) = stack.pop() {
            if !name.is_empty() && folder.join(io_core::files::MODEL_JSON).exists() {
                out.push(name);
                continue;
            }
            if depth >= 16 {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&folder) else { continue };
            for e in entries.flatten() {
                let n = e.file_name().to_string_lossy().into_owned();
                if !n.starts_with('.') && e.file_type().is_ok_and(|t| t.is_dir()) {
                    let child = if name.is_empty() { n } else { format!("{name}/{n}") };
                    stack.push((e.path(), child, depth + 1));
                }
            }
        }
        out.sort();
        out
    })
    .await;
    let mut out = Vec::new();
    for name in found {
        let r = match versions::info(&app.cfg, &app.cfg.model_url(&name)).await {
            Ok(Some(info)) => Ok(info),
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(model = %name, error = %e, "a model in the store cannot be read");
                Err(app.public(e).message)
            }
        };
        out.push((name, r));
    }
    out
}

async fn list(State(app): Shared) -> Result<Response, ApiError> {
    let cfg = &app.cfg;
    let all: Vec<(String, Result<ModelArtifactsInfo, String>)> = match cfg.store_dir() {
        Some(dir) => list_folders(&app, dir).await.into_iter().map(|(n, r)| (cfg.model_url(&n), r)).collect(),
        None => cfg
            .registry
            .list_under(&cfg.store)
            .await
            .map_err(|e| app.public(e))?
            .into_iter()
            .map(|(p, i)| (p, Ok(i)))
            .collect(),
    };
    let versions = versions::all(cfg).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "could not list the versions");
        Default::default()
    });
    let mut out = serde_json::Map::new();
    for (path, info) in all {
        let name = match cfg.store_dir() {
            Some(_) => path.strip_prefix(&cfg.model_url("")).map(str::to_string),
            None => cfg.name_of(&path),
        };
        let Some(name) = name.filter(|n| !hidden(n)) else { continue };
        let info = match info {
            Ok(i) => i,
            Err(e) => {
                out.insert(name, serde_json::json!({ "error": e }));
                continue;
            }
        };
        let entry = match versions.get(&name) {
            None => serde_json::to_value(info).unwrap_or_default(),
            Some(vs) => match app.latest(&name).await {
                Ok(Latest::Version(v)) => match vs.iter().find(|(x, _)| *x == v) {
                    Some((_, i)) => serde_json::to_value(i).unwrap_or_default(),
                    None => serde_json::json!({"error": format!("version '{v}' of model '{name}' is missing")}),
                },
                Ok(Latest::Plain) => serde_json::to_value(info).unwrap_or_default(),
                Err(e) => serde_json::json!({ "error": e.message }),
            },
        };
        out.insert(name, entry);
    }
    Ok(Json(out).into_response())
}

/// What a `GET /models/{path}` asks for.
enum Target<'a> {
    LatestJson(&'a str),
    VersionFile { name: &'a str, version: &'a str, file: &'a str },
    LatestFile { name: &'a str, file: &'a str },
    Versions(&'a str),
    Info(&'a str),
}

fn target(path: &str) -> Result<Target<'_>, ApiError> {
    if let Some((name, rest)) = path.split_once("/@v/") {
        let (version, file) = rest.split_once('/').unwrap_or((rest, ""));
        if !versions::is_version(version) || file.is_empty() {
            return Err(ApiError {
                status: StatusCode::NOT_FOUND,
                message: "version URLs are /models/NAME/@v/VERSION/FILE".into(),
            });
        }
        return Ok(Target::VersionFile { name: checked(name)?, version, file });
    }
    if let Some(name) = path.strip_suffix("/model.json") {
        return Ok(Target::LatestJson(checked(name)?));
    }
    if let Some(name) = path.strip_suffix("/versions") {
        return Ok(Target::Versions(checked(name)?));
    }
    if let Some((name, file)) = path.rsplit_once('/') {
        if file == WEIGHTS_PART || io_core::files::is_weight_file_name(file, "weights.bin") {
            return Ok(Target::LatestFile { name: checked(name)?, file });
        }
    }
    Ok(Target::Info(checked(path)?))
}

/// A model's file, its versions, or its info.
async fn get_path(State(app): Shared, Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    match target(&path)? {
        Target::LatestJson(name) => {
            let (p, _) = app.current(name).await?;
            Ok(memory_file(&headers, p.latest_json.as_ref().unwrap_or(&p.json), "application/json", "no-cache"))
        }
        Target::VersionFile { name, version, file } => {
            let p = app.version(name, version).await?;
            if file == "model.json" {
                return Ok(memory_file(&headers, &p.json, "application/json", IMMUTABLE));
            }
            weight_file(&app, &headers, name, &p, file, Some(version)).await
        }
        Target::LatestFile { name, file } => latest_file(&app, &headers, name, file).await,
        Target::Versions(name) => {
            let latest = app.latest(name).await?;
            let list = versions::list(&app.cfg, name).await.map_err(|e| app.public(e))?;
            let items: Vec<serde_json::Value> = list
                .into_iter()
                .rev()
                .map(|(v, info)| {
                    serde_json::json!({
                        "version": v,
                        "modelJson": format!("/models/{name}/@v/{v}/model.json"),
                        "info": info,
                    })
                })
                .collect();
            let latest = match latest {
                Latest::Version(v) => serde_json::Value::String(v),
                Latest::Plain => serde_json::Value::Null,
            };
            Ok(Json(serde_json::json!({"name": name, "latest": latest, "versions": items})).into_response())
        }
        Target::Info(name) => match app.info(name).await {
            Ok(info) => Ok(Json(info).into_response()),
            // `NAME/FILE` where FILE is named unlike modelio's weight files (a plain model's).
            Err(e) if e.status == StatusCode::NOT_FOUND => match name.rsplit_once('/') {
                Some((parent, file)) => latest_file(&app, &headers, parent, file).await.map_err(|_| e),
                None => Err(e),
            },
            Err(e) => Err(e),
        },
    }
}

/// A weight file of what `name` is now (`no-cache`).
async fn latest_file(app: &App, headers: &HeaderMap, name: &str, file: &str) -> Result<Response, ApiError> {
    let (p, v) = app.current(name).await?;
    let mut r = weight_file(app, headers, name, &p, file, v.as_deref()).await?;
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// Largest weight file of a version kept in the read cache on its own (a converter shard is 4 MiB;
/// bigger files are streamed from disk, or read for each request on stores that read files one by
/// one). Also at most a quarter of the cache.
const MAX_CACHED_FILE_BYTES: u64 = 16 << 20;

/// How many cache fills from disk run at once ([`App`]'s `fills`): at most 64 MiB read ahead of
/// the cache, however many clients ask for cold files.
const CACHE_FILLS: usize = 4;

/// A weight file of a prepared model: 404 unless its manifest names it; from memory, streamed from
/// disk, or read from the store, with ranges. A version's files (immutable) up to
/// [`MAX_CACHED_FILE_BYTES`] are kept in the read cache once read, so hot shards are served from
/// memory.
async fn weight_file(
    app: &App,
    headers: &HeaderMap,
    name: &str,
    p: &Prepared,
    file: &str,
    version: Option<&str>,
) -> Result<Response, ApiError> {
    let missing =
        || ApiError { status: StatusCode::NOT_FOUND, message: format!("model '{name}' has no file '{file}'") };
    if !p.paths.iter().any(|x| x == file) {
        return Err(missing());
    }
    let cache_control = if version.is_some() { IMMUTABLE } else { "no-cache" };
    let send = |f: &File| memory_file(headers, f, "application/octet-stream", cache_control);
    if let Weights::Memory(files) = &p.weights {
        return Ok(send(files.get(file).ok_or_else(missing)?));
    }
    // A version's file kept in the cache: `NAME/@v/VERSION/FILE`.
    let key = version.map(|v| format!("{name}/@v/{v}/{file}"));
    if let Some(key) = &key {
        if let Lookup::Fresh(c) = app.cache.lookup(key) {
            if let Weights::Memory(m) = &c.weights {
                if let Some(f) = m.get(file) {
                    crate::observe::cache_lookup(true);
                    return Ok(send(f));
                }
            }
        }
    }
    let cacheable = |len: u64| key.is_some() && len <= MAX_CACHED_FILE_BYTES.min(app.cfg.cache_max_bytes / 4);
    let keep = |f: File, ticket| {
        if let Some(key) = &key {
            crate::observe::cache_lookup(false);
            let one = Prepared::file(file, f);
            app.cache.insert(key, Arc::new(one), None, ticket);
        }
    };
    match &p.weights {
        Weights::Memory(_) => unreachable!("answered above"),
        Weights::Store { url, limits } => {
            let limit = *limits.get(file).ok_or_else(missing)?;
            let ticket = app.cache.ticket();
            match app.cfg.registry.read_file(url, file, limit).await {
                Ok(Some(bytes)) => {
                    let len = bytes.len() as u64;
                    let f = File::new(WeightData::single(bytes));
                    let r = send(&f);
                    if cacheable(len) {
                        keep(f, ticket);
                    }
                    Ok(r)
                }
                Ok(None) => Err(missing()),
                Err(io_core::Error::NotFound { .. }) => Err(missing()),
                Err(e) => Err(app.public(e)),
            }
        }
        Weights::Disk(dir) => {
            io_core::files::check_inside(file, "model.json").map_err(|_| missing())?;
            let ticket = app.cache.ticket();
            let opened = match disk::open(dir.join(file)).await {
                Ok(o) => o,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
                Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                    return Err(ApiError {
                        status: StatusCode::NOT_FOUND,
                        message: format!("file '{file}' of model '{name}' is not a regular file"),
                    })
                }
                Err(e) => return Err(app.public(io_core::Error::io("opening", dir.join(file), e))),
            };
            let tag = {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (version, file, opened.len).hash(&mut h);
                if version.is_none() {
                    opened.modified_ns.hash(&mut h);
                }
                HeaderValue::from_str(&format!("\"{:016x}-{:x}\"", h.finish(), opened.len)).expect("hex ETag")
            };
            let len = opened.len;
            let fill = if cacheable(len) { app.fills.try_acquire().ok() } else { None };
            if let Some(_fill) = fill {
                let bytes = disk::read_exact(opened.file, len)
                    .await
                    .map_err(|e| app.public(io_core::Error::io("reading", dir.join(file), e)))?;
                let f = File { data: WeightData::single(bytes), tag };
                let r = send(&f);
                keep(f, ticket);
                return Ok(r);
            }
            let file = opened.file;
            Ok(respond(headers, &tag, "application/octet-stream", cache_control, len, move |a, b| {
                disk::stream(file, a, b)
            }))
        }
    }
}

/// A file held in memory, with ranges.
fn memory_file(headers: &HeaderMap, f: &File, content_type: &'static str, cache_control: &'static str) -> Response {
    let data = f.data.clone();
    respond(headers, &f.tag, content_type, cache_control, data.len() as u64, move |a, b| {
        let part = if a == 0 && b as usize == data.len() { data } else { data.sub(a as usize..b as usize) };
        match part.chunks() {
            [one] => Body::from(one.clone()),
            many => {
                let chunks: Vec<Result<Bytes, std::io::Error>> = many.iter().cloned().map(Ok).collect();
                Body::from_stream(futures::stream::iter(chunks))
            }
        }
    })
}

/// The byte range a request asks for.
#[derive(Debug, PartialEq, Eq)]
enum Ranged {
    Whole,
    Part(u64, u64),
    Unsatisfiable,
}

/// A single `Range: bytes=…` against a file of `len` bytes (several ranges, other units, or an
/// `If-Range` that does not match `tag`: the whole file, as RFC 9110 allows).
fn ranged(headers: &HeaderMap, len: u64, tag: &HeaderValue) -> Ranged {
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else { return Ranged::Whole };
    if headers.get(header::IF_RANGE).is_some_and(|r| r != tag) {
        return Ranged::Whole;
    }
    let Some(spec) = spec.trim().strip_prefix("bytes=") else { return Ranged::Whole };
    if spec.contains(',') {
        return Ranged::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return Ranged::Whole };
    let (a, b) = (a.trim(), b.trim());
    let parse = |s: &str| s.parse::<u64>().ok();
    match (a.is_empty(), b.is_empty()) {
        (true, false) => match parse(b) {
            Some(0) => Ranged::Unsatisfiable,
            Some(n) if len > 0 => Ranged::Part(len.saturating_sub(n), len),
            Some(_) => Ranged::Unsatisfiable,
            None => Ranged::Whole,
        },
        (false, _) => match (parse(a), if b.is_empty() { Some(u64::MAX) } else { parse(b) }) {
            (Some(start), Some(last)) if start <= last => {
                if start >= len {
                    Ranged::Unsatisfiable
                } else {
                    Ranged::Part(start, last.saturating_add(1).min(len))
                }
            }
            _ => Ranged::Whole,
        },
        (true, true) => Ranged::Whole,
    }
}

/// A file answer: 304 when `If-None-Match` has the tag, 206 for a satisfiable range, 416 for an
/// unsatisfiable one, else 200 with the body. HEAD gets the same headers without the body (axum drops it).
fn respond(
    headers: &HeaderMap,
    tag: &HeaderValue,
    content_type: &'static str,
    cache_control: &'static str,
    len: u64,
    body: impl FnOnce(u64, u64) -> Body,
) -> Response {
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii() == b"*" || t.trim_ascii() == tag.as_bytes());
    let common = [
        (header::ETAG, tag.clone()),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache_control)),
        (header::ACCEPT_RANGES, HeaderValue::from_static("bytes")),
    ];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let (status, start, end) = match ranged(headers, len, tag) {
        Ranged::Whole => (StatusCode::OK, 0, len),
        Ranged::Part(a, b) => (StatusCode::PARTIAL_CONTENT, a, b),
        Ranged::Unsatisfiable => {
            let cr = HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii");
            return (StatusCode::RANGE_NOT_SATISFIABLE, common, [(header::CONTENT_RANGE, cr)]).into_response();
        }
    };
    let mut r = (
        status,
        common,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_LENGTH, HeaderValue::from(end - start)),
        ],
        body(start, end),
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let cr = format!("bytes {start}-{}/{len}", end.saturating_sub(1));
        r.headers_mut().insert(header::CONTENT_RANGE, HeaderValue::from_str(&cr).expect("ascii"));
    }
    r
}

async fn save(
    State(app): Shared,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Multipart,
) -> Result<Response, ApiError> {
    let cfg = &app.cfg;
    let name = checked(&path)?;
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if len > cfg.max_upload_bytes {
            return Err(too_large(len, cfg.max_upload_bytes));
        }
    }
    conflicts(&app, name).await?;
    let limits = upload::UploadLimits::of(cfg);
    let result = match cfg.store_dir() {
        // file://: streamed to a folder on the store's file system, renamed into place.
        Some(dir) => {
            let spooled = upload::spool(body, &limits, &dir.join(versions::TMP)).await.map_err(|e| app.scrub_api(e))?;
            let _reservation = match cfg.max_store_bytes {
                Some(max) => Some(reserve(&app, spooled.info.total_bytes(), max).await?),
                None => None,
            };
            let folder = spooled.dir.keep();
            let r = versions::commit_folder(cfg, &app.locks, name, folder.clone(), spooled.info).await;
            if r.is_err() {
                let _ = std::fs::remove_dir_all(&folder);
            }
            r
        }
        None => {
            let artifacts = upload::read(body, &limits).await?;
            let needed = io_core::ModelArtifactsInfo::for_artifacts(&artifacts).total_bytes();
            let _reservation = match cfg.max_store_bytes {
                Some(max) => Some(reserve(&app, needed, max).await?),
                None => None,
            };
            versions::commit(cfg, &app.locks, name, &artifacts).await
        }
    };
    app.cache.drop_name(name);
    let versions::Committed { version, saved, removed } = result.map_err(|e| app.public(e))?;
    for v in removed {
        app.cache.drop_prefix(&format!("{name}/@v/{v}"));
    }
    let mut r = Json(saved).into_response();
    r.headers_mut().insert(HeaderName::from_static(VERSION_HEADER), HeaderValue::from_str(&version).expect("ascii"));
    Ok(r)
}

/// 409 when `name` would be both a model and a prefix of other models: one of its prefixes is a
/// model, or models lie under it. Checked before the upload is read; nothing is ever deleted for a
/// save. (Two concurrent saves of `a` and `a/b` may both pass; on `file://` the store then refuses
/// to replace a folder holding another model, and nothing is lost either.)
async fn conflicts(app: &App, name: &str) -> Result<(), ApiError> {
    let conflict = |message: String| ApiError { status: StatusCode::CONFLICT, message };
    let mut prefix = String::new();
    let segments: Vec<&str> = name.split('/').collect();
    for seg in &segments[..segments.len() - 1] {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(seg);
        match versions::latest(&app.cfg, &prefix).await {
            Ok(_) => {
                return Err(conflict(format!(
                    "model '{prefix}' exists, so '{name}' cannot be saved: a name cannot be both a model and a \
                     prefix of other models (delete or rename '{prefix}' first)"
                )))
            }
            Err(io_core::Error::NotFound { .. }) => {}
            Err(e) => return Err(app.public(e)),
        }
    }
    let under = |n: &str| {
        conflict(format!(
            "models lie under '{name}' (e.g. '{n}'), so '{name}' cannot be saved: a name cannot be both a model \
             and a prefix of other models"
        ))
    };
    if let Some(dir) = app.cfg.store_dir() {
        let folder = dir.join(name);
        let found = io_core::blocking::unblock(move || {
            std::fs::read_dir(&folder).ok().and_then(|entries| {
                entries.flatten().find_map(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    (e.file_type().is_ok_and(|t| t.is_dir()) && !n.starts_with('.')).then_some(n)
                })
            })
        })
        .await;
        return match found {
            Some(n) => Err(under(&format!("{name}/{n}"))),
            None => Ok(()),
        };
    }
    let listed = app.cfg.registry.list_under(&app.cfg.model_url(name)).await.unwrap_or_default();
    match listed.keys().filter_map(|p| app.cfg.name_of(p)).find(|n| n != name && !hidden(n)) {
        Some(n) => Err(under(&n)),
        None => Ok(()),
    }
}

/// Bytes of an upload counted against the quota until its commit is done.
struct Reservation {
    app: Arc<App>,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.app.reserved.fetch_sub(self.bytes, Ordering::SeqCst);
    }
}

/// Checks the quota for an upload of `needed` bytes: 507 with the numbers when the store (plus the
/// uploads being committed) would go over `max`.
async fn reserve(app: &Arc<App>, needed: u64, max: u64) -> Result<Reservation, ApiError> {
    let used = app.store_bytes().await?;
    let pending = app.reserved.fetch_add(needed, Ordering::SeqCst);
    let reservation = Reservation { app: app.clone(), bytes: needed };
    let total = used.saturating_add(pending).saturating_add(needed);
    if total > max {
        return Err(ApiError {
            status: StatusCode::INSUFFICIENT_STORAGE,
            message: format!(
                "the store's quota is {max} bytes; it holds {used} bytes{}, and this upload needs {needed} more",
                if pending > 0 { format!(" plus {pending} bytes of uploads in progress") } else { String::new() }
            ),
        });
    }
    Ok(reservation)
}

async fn remove(State(app): Shared, Path(path): Path<String>) -> Result<Response, ApiError> {
    let name = checked(&path)?;
    let info = app.info(name).await;
    let removed = versions::remove(&app.cfg, &app.locks, name).await;
    app.cache.drop_removed(name);
    match removed {
        Ok(_) => Ok(Json(info?).into_response()),
        Err(io_core::Error::NotFound { .. }) => Err(app.not_found(name)),
        Err(e) => Err(app.public(e)),
    }
}

fn checked(path: &str) -> Result<&str, ApiError> {
    names::check(path).map_err(ApiError::bad_request)
}

fn too_large(len: u64, max: u64) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the upload has {len} bytes; this server accepts at most {max}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let tag = HeaderValue::from_static("\"t\"");
        let r = |spec: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::RANGE, HeaderValue::from_str(spec).unwrap());
            ranged(&h, 100, &tag)
        };
        assert_eq!(r("bytes=0-9"), Ranged::Part(0, 10));
        assert_eq!(r("bytes=90-"), Ranged::Part(90, 100));
        assert_eq!(r("bytes=-10"), Ranged::Part(90, 100));
        assert_eq!(r("bytes=95-200"), Ranged::Part(95, 100));
        assert_eq!(r("bytes=100-"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=-0"), Ranged::Unsatisfiable);
        assert_eq!(r("bytes=5-2"), Ranged::Whole);
        assert_eq!(r("bytes=0-1,5-6"), Ranged::Whole);
        assert_eq!(r("items=0-1"), Ranged::Whole);
        assert_eq!(ranged(&HeaderMap::new(), 100, &tag), Ranged::Whole);
    }

    #[test]
    fn targets() {
        assert!(matches!(target("a/b/model.json"), Ok(Target::LatestJson("a/b"))));
        assert!(matches!(
            target("a/@v/0000000000001-0123456789ab/group1-shard1of2.bin"),
            Ok(Target::VersionFile { name: "a", version: "0000000000001-0123456789ab", file: "group1-shard1of2.bin" })
        ));
        assert!(matches!(target("a/versions"), Ok(Target::Versions("a"))));
        assert!(matches!(target("a/weights.bin"), Ok(Target::LatestFile { name: "a", file: "weights.bin" })));
        assert!(matches!(target("a/b"), Ok(Target::Info("a/b"))));
        assert!(target("a/@v/nope/x").is_err());
    }
}
