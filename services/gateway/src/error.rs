//! The gateway's errors and their one mapping to HTTP and gRPC.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use orc_compat::Envelope;

/// Why a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The request itself is malformed (bad key, bad hint).
    #[error("{0}")]
    BadRequest(String),
    /// What it names does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The operation was tried and failed (unreachable host, access denied).
    #[error("{0}")]
    Failed(String),
    /// As `Failed`, with what was done so far (orchestrator's `Details`,
    /// e.g. the recovery of a takeover that promoted nobody).
    #[error("{message}")]
    FailedWith {
        /// What went wrong.
        message: String,
        /// What to show as `Details`.
        details: Box<serde_json::Value>,
    },
    /// A needed service is not running or not answering.
    #[error("{0}")]
    Unavailable(String),
    /// The caller may not do this (orchestrator's "Unauthorized").
    #[error("Unauthorized")]
    Unauthorized,
    /// The gateway's own fault (store errors).
    #[error("{0}")]
    Internal(String),
}

impl From<orc_store::Error> for ApiError {
    fn from(e: orc_store::Error) -> Self {
        ApiError::Internal(e.to_string())
    }
}

impl ApiError {
    /// The gRPC status for this error.
    pub fn to_status(&self) -> tonic::Status {
        match self {
            ApiError::BadRequest(m) => tonic::Status::invalid_argument(m.clone()),
            ApiError::NotFound(m) => tonic::Status::not_found(m.clone()),
            ApiError::Failed(m) | ApiError::FailedWith { message: m, .. } => {
                tonic::Status::failed_precondition(m.clone())
            }
            ApiError::Unavailable(m) => tonic::Status::unavailable(m.clone()),
            ApiError::Unauthorized => tonic::Status::permission_denied("Unauthorized"),
            ApiError::Internal(m) => tonic::Status::internal(m.clone()),
        }
    }
}

impl IntoResponse for ApiError {
    /// orchestrator answers every error with its envelope and HTTP 500.
    fn into_response(self) -> Response {
        let mut envelope = Envelope::error(self.to_string());
        if let ApiError::FailedWith { details, .. } = self {
            envelope.details = *details;
        }
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(envelope)).into_response()
    }
}
