//! The routes:
//!
//! | route | what |
//! |---|---|
//! | `GET /models` | `{name: ModelArtifactsInfo}` of every model in the store |
//! | `POST`/`PUT /models/{name}` | store a TF.js multipart upload (`model.save('http://…/models/{name}')`) |
//! | `GET`/`HEAD /models/{name}/model.json` | the model.json (`tf.loadLayersModel('http://…/models/{name}/model.json')`) |
//! | `GET`/`HEAD /models/{name}/model.weights.bin` | its weights |
//! | `GET /models/{name}` | the model's info |
//! | `DELETE /models/{name}` | remove it, answering its info |
//!
//! The two files are served from an in-memory cache of their prepared answers (bytes and ETag), dropped
//! on every write of the name through the server and checked against the store after
//! [`ServeConfig::revalidate_after`]; see [`crate::cache`] for exactly what is seen when.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use io_core::artifacts::BROWSER_ORDER;
use io_core::{ModelArtifactsInfo, ModelJson, WeightData};
use io_http::multipart::{MODEL_JSON_PART, WEIGHTS_PART, WEIGHTS_PATH};

use crate::cache::{Cache, File, Files, Lookup};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::{names, upload};

/// The configuration and the read cache.
struct App {
    cfg: ServeConfig,
    cache: Cache,
}

type Shared = State<Arc<App>>;

/// The model routes with their upload limit (the access, CORS and connection layers are added by
/// [`crate::app`]).
pub fn router(cfg: ServeConfig) -> Router {
    let limit = usize::try_from(cfg.max_upload_bytes).unwrap_or(usize::MAX);
    Router::new()
        .route("/models", get(list))
        .route("/models/{*path}", get(get_path).post(save).put(save).delete(remove))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(App { cache: Cache::new(cfg.revalidate_after, cfg.cache_max_bytes), cfg }))
}

async fn list(State(app): Shared) -> Result<Response, ApiError> {
    let cfg = &app.cfg;
    let all = cfg.registry.list_under(&cfg.store).await?;
    let mine: serde_json::Map<String, serde_json::Value> = all
        .into_iter()
        .filter_map(|(path, info)| Some((cfg.name_of(&path)?, serde_json::to_value(info).ok()?)))
        .collect();
    Ok(Json(mine).into_response())
}

/// A model's file, or its info.
async fn get_path(State(app): Shared, Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let cfg = &app.cfg;
    if let Some(name) = path.strip_suffix(MODEL_JSON_PART).and_then(|p| p.strip_suffix('/')) {
        let files = files(&app, checked(name)?).await?;
        return Ok(file(&headers, &files.json, "application/json"));
    }
    if let Some(name) = path.strip_suffix(WEIGHTS_PART).and_then(|p| p.strip_suffix('/')) {
        let files = files(&app, checked(name)?).await?;
        return Ok(file(&headers, &files.weights, "application/octet-stream"));
    }
    let name = checked(&path)?;
    match info(cfg, name).await? {
        Some(info) => Ok(Json(info).into_response()),
        None => Err(io_core::Error::not_found(cfg.model_url(name)).into()),
    }
}

/// The store's info for model `name`, `None` when it has no such model.
async fn info(cfg: &ServeConfig, name: &str) -> io_core::Result<Option<ModelArtifactsInfo>> {
    let url = cfg.model_url(name);
    let path = io_core::ModelUrl::parse(&url)?.path;
    Ok(cfg.registry.list_under(&url).await?.remove(&path))
}

/// The prepared files of model `name`: from the cache when its entry is fresh or the store's info
/// confirms it, else loaded from the store (and cached when the store reported its info).
async fn files(app: &App, name: &str) -> Result<Arc<Files>, ApiError> {
    let ticket = app.cache.ticket();
    let lookup = app.cache.lookup(name);
    if let Lookup::Fresh(files) = lookup {
        crate::observe::cache_lookup(true);
        return Ok(files);
    }
    // Read before loading (see crate::cache). A store that cannot list gives no info: served uncached.
    let now = info(&app.cfg, name).await.ok().flatten();
    if let Lookup::Stale(files, was) = lookup {
        if now.as_ref() == Some(&was) {
            app.cache.confirm(name, &files);
            crate::observe::cache_lookup(true);
            return Ok(files);
        }
        app.cache.forget(name, &files);
    }
    crate::observe::cache_lookup(false);
    let a = app.cfg.registry.load(&app.cfg.model_url(name)).await?;
    let json = ModelJson::for_artifacts(&a, vec![WEIGHTS_PATH.to_string()]).to_bytes(BROWSER_ORDER);
    let files = Arc::new(Files { json: File::new(WeightData::single(json)), weights: File::new(a.weight_data) });
    if let Some(info) = now {
        app.cache.insert(name, files.clone(), info, ticket);
    }
    Ok(files)
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
    let artifacts = upload::read(body).await?;
    let result = cfg.registry.save(&cfg.model_url(name), &artifacts).await;
    app.cache.drop_name(name);
    Ok(Json(result?).into_response())
}

async fn remove(State(app): Shared, Path(path): Path<String>) -> Result<Response, ApiError> {
    let name = checked(&path)?;
    let removed = app.cfg.registry.remove_model(&app.cfg.model_url(name)).await;
    app.cache.drop_name(name);
    Ok(Json(removed?).into_response())
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

/// A file answer: 304 when `If-None-Match` has the tag, else the bytes (not joined) with their type,
/// length and tag. HEAD gets the same headers without the body (axum drops it).
fn file(headers: &HeaderMap, f: &File, content_type: &'static str) -> Response {
    let tag = f.tag.as_bytes();
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .any(|t| t.trim_ascii() == b"*" || t.trim_ascii() == tag);
    let common = [(header::ETAG, f.tag.clone()), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let body = match f.data.chunks() {
        [one] => Body::from(one.clone()),
        many => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = many.iter().cloned().map(Ok).collect();
            Body::from_stream(futures::stream::iter(chunks))
        }
    };
    (
        common,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_LENGTH, HeaderValue::from(f.data.len())),
        ],
        body,
    )
        .into_response()
}
