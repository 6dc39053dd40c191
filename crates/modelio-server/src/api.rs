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

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use io_core::artifacts::BROWSER_ORDER;
use io_core::{ModelArtifacts, ModelJson, WeightData};
use io_http::multipart::{MODEL_JSON_PART, WEIGHTS_PART, WEIGHTS_PATH};

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::{names, upload};

type Shared = State<Arc<ServeConfig>>;

/// The application: routes, upload limit, CORS.
pub fn router(cfg: ServeConfig) -> Router {
    let limit = usize::try_from(cfg.max_upload_bytes).unwrap_or(usize::MAX);
    let cors = crate::cors::layer(&cfg.cors_origins);
    let app = Router::new()
        .route("/models", get(list))
        .route("/models/{*path}", get(get_path).post(save).put(save).delete(remove))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(Arc::new(cfg));
    match cors {
        Some(c) => app.layer(c),
        None => app,
    }
}

async fn list(State(cfg): Shared) -> Result<Response, ApiError> {
    let all = cfg.registry.list_under(&cfg.store).await?;
    let mine: serde_json::Map<String, serde_json::Value> = all
        .into_iter()
        .filter_map(|(path, info)| Some((cfg.name_of(&path)?, serde_json::to_value(info).ok()?)))
        .collect();
    Ok(Json(mine).into_response())
}

/// A model's file, or its info.
async fn get_path(State(cfg): Shared, Path(path): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(name) = path.strip_suffix(&format!("/{MODEL_JSON_PART}")) {
        let a = load(&cfg, name).await?;
        let json = ModelJson::for_artifacts(&a, vec![WEIGHTS_PATH.to_string()]).to_bytes(BROWSER_ORDER);
        let tag = etag(&[Bytes::from(json.clone())]);
        return Ok(file(&headers, tag, "application/json", WeightData::single(json)));
    }
    if let Some(name) = path.strip_suffix(&format!("/{WEIGHTS_PART}")) {
        let a = load(&cfg, name).await?;
        let tag = etag(a.weight_data.chunks());
        return Ok(file(&headers, tag, "application/octet-stream", a.weight_data));
    }
    let name = checked(&path)?;
    let info = cfg.registry.list_under(&cfg.model_url(name)).await?.remove(&strip_scheme(&cfg.model_url(name)));
    match info {
        Some(info) => Ok(Json(info).into_response()),
        None => Err(io_core::Error::not_found(cfg.model_url(name)).into()),
    }
}

async fn save(
    State(cfg): Shared,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Multipart,
) -> Result<Response, ApiError> {
    let name = checked(&path)?;
    if let Some(len) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if len > cfg.max_upload_bytes {
            return Err(too_large(len, cfg.max_upload_bytes));
        }
    }
    let artifacts = upload::read(body).await?;
    let result = cfg.registry.save(&cfg.model_url(name), &artifacts).await?;
    Ok(Json(result).into_response())
}

async fn remove(State(cfg): Shared, Path(path): Path<String>) -> Result<Response, ApiError> {
    let name = checked(&path)?;
    Ok(Json(cfg.registry.remove_model(&cfg.model_url(name)).await?).into_response())
}

fn checked(path: &str) -> Result<&str, ApiError> {
    names::check(path).map_err(ApiError::bad_request)
}

async fn load(cfg: &ServeConfig, name: &str) -> Result<ModelArtifacts, ApiError> {
    Ok(cfg.registry.load(&cfg.model_url(checked(name)?)).await?)
}

fn strip_scheme(url: &str) -> String {
    url.split_once("://").map_or(url, |(_, p)| p).to_string()
}

fn too_large(len: u64, max: u64) -> ApiError {
    ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the upload has {len} bytes; this server accepts at most {max}"),
    }
}

/// A strong ETag over the bytes (SipHash; changes whenever the content does).
fn etag(pieces: &[Bytes]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in pieces {
        p.as_ref().hash(&mut h);
    }
    format!("\"{:016x}-{:x}\"", h.finish(), pieces.iter().map(|p| p.len()).sum::<usize>())
}

/// A file answer: 304 when `If-None-Match` has the tag, else the bytes (streamed, not joined) with
/// their type, length and tag. HEAD gets the same headers without the body (axum drops it).
fn file(headers: &HeaderMap, tag: String, content_type: &'static str, data: WeightData) -> Response {
    let tag_value = HeaderValue::from_str(&tag).expect("hex ETag");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == tag || t.trim() == "*");
    let common = [(header::ETAG, tag_value), (header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    if matches {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    let len = data.len();
    let chunks: Vec<Result<Bytes, std::io::Error>> = data.chunks().iter().cloned().map(Ok).collect();
    let body = Body::from_stream(futures::stream::iter(chunks));
    (
        common,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_LENGTH, HeaderValue::from(len)),
        ],
        body,
    )
        .into_response()
}
