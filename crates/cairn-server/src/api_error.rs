//! The one error format every route answers with:
//! `{"error": {"code": "unique_violation", "message": "...", "details": {...}}}`, with the HTTP
//! status that fits the code. Clients branch on `code` (stable, snake_case); `message` is for
//! people; `details` carries the values involved.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn::{DocError, EngineError};
use serde::Serialize;
use serde_json::{json, Value as Json};
use utoipa::ToSchema;

/// An error answered to an HTTP client.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The values involved, when there are any.
    pub details: Option<Json>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable code such as `unique_violation`, `collection_not_found`, `invalid_json`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// The values involved (collection, id, limit, ...); an object.
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Json>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds the values involved.
    pub fn with_details(mut self, details: Json) -> ApiError {
        self.details = Some(details);
        self
    }

    /// 400 with the given code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// 401: missing or wrong credentials.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: valid credentials without the needed permission.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404 for a path no route serves.
    pub fn route_not_found() -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no such route; the API is documented at /openapi.json",
        )
    }

    /// 413: a body or document over a configured limit.
    pub fn too_large(code: &'static str, size_bytes: u64, limit_bytes: u64) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code,
            format!("{size_bytes} bytes is over the limit of {limit_bytes} bytes"),
        )
        .with_details(json!({"size_bytes": size_bytes, "limit_bytes": limit_bytes}))
    }

    /// 500 for a failure that is the server's fault; the detail is logged, not returned.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        tracing::error!(%detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error; the server log has the details",
        )
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code.to_string(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status;
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cairn\", Bearer realm=\"cairn\""),
            );
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<DocError> for ApiError {
    fn from(err: DocError) -> ApiError {
        match err {
            DocError::TooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "document_too_large",
                err.to_string(),
            ),
            DocError::Json { .. } => ApiError::bad_request("invalid_json", err.to_string()),
            DocError::InvalidId { .. }
            | DocError::EmptyId
            | DocError::IdTooLong { .. }
            | DocError::CorruptId { .. } => ApiError::bad_request("invalid_id", err.to_string()),
            DocError::InvalidPath { .. }
            | DocError::PatchConflict { .. }
            | DocError::PatchTypeMismatch { .. }
            | DocError::ArrayIndexOutOfRange { .. }
            | DocError::IntegerOverflow { .. }
            | DocError::UnknownOperator { .. }
            | DocError::ImmutableId
            | DocError::TooManyOperations { .. } => {
                ApiError::bad_request("invalid_patch", err.to_string())
            }
            _ => ApiError::bad_request("invalid_document", err.to_string()),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> ApiError {
        let message = err.to_string();
        let status = |status, code| ApiError::new(status, code, message.clone());
        match err {
            EngineError::UnknownCollection { name } => {
                status(StatusCode::NOT_FOUND, "collection_not_found")
                    .with_details(json!({ "collection": name }))
            }
            EngineError::CollectionExists { name } => {
                status(StatusCode::CONFLICT, "collection_exists")
                    .with_details(json!({ "collection": name }))
            }
            EngineError::InvalidCollectionName { name, .. } => {
                status(StatusCode::BAD_REQUEST, "invalid_collection_name")
                    .with_details(json!({ "collection": name }))
            }
            EngineError::DuplicateId { collection, id } => {
                status(StatusCode::CONFLICT, "unique_violation").with_details(json!({
                    "collection": collection, "field": "_id", "value": id.to_value(),
                }))
            }
            EngineError::DocumentNotFound { collection, id } => {
                status(StatusCode::NOT_FOUND, "document_not_found")
                    .with_details(json!({ "collection": collection, "_id": id.to_value() }))
            }
            EngineError::IdMismatch { addressed, found } => {
                status(StatusCode::BAD_REQUEST, "id_mismatch").with_details(json!({
                    "addressed": addressed.to_value(), "found": found.to_value(),
                }))
            }
            EngineError::Document(doc) => ApiError::from(doc),
            EngineError::LimitExceeded {
                what,
                actual,
                limit,
            } => status(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded")
                .with_details(json!({ "what": what, "actual": actual, "limit": limit })),
            EngineError::Conflict { .. } | EngineError::TransactionTooOld { .. } => {
                status(StatusCode::CONFLICT, "conflict").with_details(json!({ "retryable": true }))
            }
            EngineError::ChangeLogTrimmed {
                requested,
                oldest_available,
            } => status(StatusCode::GONE, "change_log_trimmed").with_details(json!({
                "requested": requested, "oldest_available": oldest_available,
            })),
            EngineError::ExtensionRejected {
                collection,
                extension,
                ..
            } => status(StatusCode::UNPROCESSABLE_ENTITY, "extension_rejected")
                .with_details(json!({ "collection": collection, "extension": extension })),
            EngineError::ExtensionState {
                collection, name, ..
            } => status(StatusCode::CONFLICT, "extension_state")
                .with_details(json!({ "collection": collection, "extension": name })),
            EngineError::UniqueViolation {
                collection,
                index,
                value,
                existing,
            } => status(StatusCode::CONFLICT, "unique_violation").with_details(json!({
                "collection": collection, "index": index, "value": value,
                "existing_id": existing.to_value(),
            })),
            EngineError::ReadOnlyTransaction => {
                status(StatusCode::BAD_REQUEST, "read_only_transaction")
            }
            EngineError::Closed => status(StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            // Backup and restore run from the command line, not through the API; seeing one
            // here is a server fault.
            EngineError::BackupCorrupt { .. }
            | EngineError::BackupPieceMissing { .. }
            | EngineError::BackupKey { .. }
            | EngineError::BackupKeyRotated { .. }
            | EngineError::NoBackup { .. }
            | EngineError::BackupChain { .. }
            | EngineError::BackupBaseTrimmed { .. }
            | EngineError::RestoreTargetTooOld { .. }
            | EngineError::RestoreDestinationExists { .. }
            | EngineError::Unreplayable { .. }
            | EngineError::ExtensionFailed { .. }
            | EngineError::Corrupt { .. }
            | EngineError::UnknownExtensionKind { .. }
            | EngineError::Storage(_) => ApiError::internal(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn::DocId;

    #[test]
    fn engine_errors_map_to_client_statuses() {
        let dup = ApiError::from(EngineError::DuplicateId {
            collection: "c".to_string(),
            id: DocId::Int(1),
        });
        assert_eq!(
            (dup.status, dup.code),
            (StatusCode::CONFLICT, "unique_violation")
        );
        let missing = ApiError::from(EngineError::UnknownCollection {
            name: "x".to_string(),
        });
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let body = serde_json::to_value(missing.body()).unwrap();
        assert_eq!(body["error"]["code"], "collection_not_found");
        assert_eq!(body["error"]["details"]["collection"], "x");
    }

    #[test]
    fn malformed_json_is_a_client_error() {
        let err = cairn::Value::from_json_str("{").unwrap_err();
        let api = ApiError::from(err);
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
    }
}
