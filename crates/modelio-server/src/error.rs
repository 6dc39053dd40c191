//! Errors as HTTP answers: a status and `{"error": "..."}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use io_core::Error;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, message: message.into() }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::InvalidModel { .. }
            | Error::WeightsMismatch { .. }
            | Error::UnsupportedDtype { .. }
            | Error::InvalidUrl { .. }
            | Error::SamePath(_) => StatusCode::BAD_REQUEST,
            Error::QuotaExceeded { .. } => StatusCode::INSUFFICIENT_STORAGE,
            Error::Unsupported { .. } | Error::UnsupportedScheme { .. } | Error::SchemeDisabled { .. } => {
                StatusCode::NOT_IMPLEMENTED
            }
            Error::HttpStatus { .. } | Error::Network { .. } => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError { status, message: e.to_string() }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(serde_json::json!({ "error": self.message }))).into_response()
    }
}
