//! The one error format every route answers with:
//! `{"error": {"code": "unique_violation", "message": "...", "details": {...}}}`, with the HTTP
//! status that fits the code. Clients branch on `code` (stable, snake_case); `message` is for
//! people; `details` carries the values involved.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn::geo::GeoError;
use cairn::index::IndexError;
use cairn::query::QueryError;
use cairn::text::TextError;
use cairn::vector::VectorError;
use cairn::{DocError, EngineError, StorageError};
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
    /// Seconds to send in `Retry-After` (429 and 503; a 503 without it says 1).
    pub retry_after_seconds: Option<u64>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorObject,
}

/// What went wrong.
#[derive(Debug, Clone, Serialize, ToSchema)]
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
            retry_after_seconds: None,
        }
    }

    /// Sets the `Retry-After` header's seconds.
    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after_seconds = Some(seconds);
        self
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

    /// 500 `corruption`: stored data failed its checksum or did not decode (the data file is
    /// damaged). Logged, and answered with the message, which names the collection and id.
    pub fn corruption(message: impl Into<String>) -> ApiError {
        let message = message.into();
        tracing::error!(%message, "stored data is corrupted");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "corruption", message)
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
        if let Some(seconds) = self.retry_after_seconds {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
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

impl From<cairn::schema::SchemaError> for ApiError {
    fn from(err: cairn::schema::SchemaError) -> ApiError {
        use cairn::schema::SchemaError;
        let message = err.to_string();
        let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
        match err {
            SchemaError::InvalidSchema { at, .. } => {
                ApiError::bad_request("invalid_schema", message).with_details(json!({ "at": at }))
            }
            SchemaError::InvalidExpression { offset, .. } => {
                ApiError::bad_request("invalid_schema", message)
                    .with_details(json!({ "offset": offset }))
            }
            SchemaError::Parse(_) => ApiError::bad_request("invalid_schema", message),
            SchemaError::Evaluation { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "evaluation_failed",
                message,
            ),
            SchemaError::MigrationRequired { reasons } => {
                conflict("migration_required").with_details(json!({ "reasons": reasons }))
            }
            SchemaError::ExistingDocumentsInvalid { failed, total, .. } => {
                conflict("existing_documents_invalid")
                    .with_details(json!({ "failed": failed, "total": total }))
            }
            SchemaError::MigrationInProgress {
                collection,
                target_version,
            } => ApiError::new(
                StatusCode::CONFLICT,
                "migration_in_progress",
                format!(
                    "{message} (over HTTP: POST /v1/collections/{collection}/schema/migrations \
                     with {{\"resume\": true}})"
                ),
            )
            .with_details(json!({
                "collection": collection, "target_version": target_version, "resumable": true,
            })),
            SchemaError::NoMigration { .. } => conflict("no_migration"),
            SchemaError::Engine(inner) => ApiError::from(inner),
            SchemaError::Index(cairn::index::IndexError::Engine(inner)) => ApiError::from(inner),
            SchemaError::Index(cairn::index::IndexError::InvalidDefinition { .. }) => {
                ApiError::bad_request("invalid_schema", message)
            }
            SchemaError::Index(cairn::index::IndexError::BuildFailed { .. }) => {
                conflict("conflict").with_details(json!({ "retryable": true }))
            }
            SchemaError::Index(_) => ApiError::internal(message),
        }
    }
}

impl From<cairn::infer::InferError> for ApiError {
    fn from(err: cairn::infer::InferError) -> ApiError {
        use cairn::infer::InferError;
        let message = err.to_string();
        match err {
            // Catching up kept losing to concurrent catch-ups or DDL: nothing was changed,
            // and the same request can simply be retried.
            InferError::Busy { collection } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "inference_busy", message)
                    .with_details(json!({ "collection": collection, "retryable": true }))
            }
            InferError::Corrupt { .. } => ApiError::internal(message),
            InferError::Engine(inner) => ApiError::from(inner),
        }
    }
}

impl From<cairn::invariant::InvariantError> for ApiError {
    fn from(err: cairn::invariant::InvariantError) -> ApiError {
        use cairn::invariant::InvariantError;
        let message = err.to_string();
        match err {
            InvariantError::InvalidRule { rule, reason } => {
                ApiError::bad_request("invalid_invariant", message)
                    .with_details(json!({ "rule": rule, "reason": reason }))
            }
            InvariantError::UnknownInvariant { collection, name } => {
                ApiError::new(StatusCode::NOT_FOUND, "invariant_not_found", message)
                    .with_details(json!({ "collection": collection, "invariant": name }))
            }
            InvariantError::TooManyInvariants {
                collection,
                count,
                limit,
            } => ApiError::new(StatusCode::CONFLICT, "too_many_invariants", message)
                .with_details(json!({ "collection": collection, "count": count, "limit": limit })),
            InvariantError::Corrupt { .. } => ApiError::internal(message),
            // Includes `InvariantViolation`: existing data already breaks a new rule (409).
            InvariantError::Engine(inner) => ApiError::from(inner),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(err: EngineError) -> ApiError {
        let message = err.to_string();
        let status = |status, code| ApiError::new(status, code, message.clone());
        let is_corruption = err.is_corruption();
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
            EngineError::CollectionHistoryTrimmed {
                collection,
                requested,
                oldest_available,
                ..
            } => status(StatusCode::GONE, "history_trimmed").with_details(json!({
                "collection": collection, "requested": requested,
                "oldest_available": oldest_available,
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
            EngineError::InvariantViolation {
                collection,
                invariant,
                rule,
                amounts,
                ..
            } => {
                // Amounts are numbers (or a group key), always representable as JSON.
                let amounts: serde_json::Map<String, Json> = Vec::from(amounts)
                    .into_iter()
                    .map(|(name, value)| {
                        let json = serde_json::from_str(&value.to_json_string())
                            .unwrap_or(Json::String(value.to_json_string()));
                        (name, json)
                    })
                    .collect();
                status(StatusCode::CONFLICT, "invariant_violation").with_details(json!({
                    "collection": collection, "invariant": invariant, "rule": rule,
                    "amounts": amounts,
                }))
            }
            EngineError::SchemaViolation {
                collection,
                id,
                path,
                ..
            } => status(StatusCode::UNPROCESSABLE_ENTITY, "schema_violation").with_details(
                json!({ "collection": collection, "id": id.to_value(), "path": path }),
            ),
            EngineError::ReferenceViolation { collection, id, .. } => {
                status(StatusCode::CONFLICT, "reference_violation")
                    .with_details(json!({ "collection": collection, "id": id.to_value() }))
            }
            EngineError::RuleViolation {
                collection,
                id,
                rule,
                values,
            } => status(StatusCode::UNPROCESSABLE_ENTITY, "rule_violation").with_details(json!({
                "collection": collection, "id": id.to_value(), "rule": rule, "values": values,
            })),
            EngineError::ReadOnlyTransaction => {
                status(StatusCode::BAD_REQUEST, "read_only_transaction")
            }
            EngineError::Closed => status(StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            // Damaged stored data: refused rather than answered wrong. Its own code so clients
            // and monitoring tell it from a server bug; the fix is a restore, not a retry.
            EngineError::Corruption { collection, id, .. } => ApiError::corruption(message)
                .with_details(json!({ "collection": collection, "id": id })),
            EngineError::Corrupt { table, .. } => {
                ApiError::corruption(message).with_details(json!({ "table": table }))
            }
            // A damaged storage page (or encrypted block) is corruption too.
            EngineError::Storage(_) if is_corruption => ApiError::corruption(message),
            EngineError::Storage(storage) => ApiError::from(storage),
            // Online backups (`POST /v1/admin/backup`): the backup folder's state does not
            // allow this piece (an incremental without a full one, a broken chain, a log
            // trimmed past the last piece); the admin takes a full backup or another folder.
            EngineError::BackupCorrupt { .. }
            | EngineError::BackupPieceMissing { .. }
            | EngineError::BackupKey { .. }
            | EngineError::BackupKeyRotated { .. }
            | EngineError::NoBackup { .. }
            | EngineError::BackupChain { .. }
            | EngineError::BackupBaseTrimmed { .. } => {
                status(StatusCode::CONFLICT, "backup_failed")
            }
            // Restores run from the command line, not through the API; seeing one here is a
            // server fault.
            EngineError::RestoreTargetTooOld { .. }
            | EngineError::RestoreDestinationExists { .. }
            | EngineError::Unreplayable { .. }
            | EngineError::ExtensionFailed { .. }
            | EngineError::UnknownExtensionKind { .. } => ApiError::internal(message),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(err: StorageError) -> ApiError {
        let message = err.to_string();
        match err {
            // Nothing was written; writes resume by themselves once space is freed.
            StorageError::DiskFull { .. } => {
                ApiError::new(StatusCode::INSUFFICIENT_STORAGE, "disk_full", message)
            }
            // The data file is reopened at the next write: retrying may succeed.
            StorageError::IoFailed { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "storage_unavailable",
                message,
            ),
            _ => ApiError::internal(message),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(err: QueryError) -> ApiError {
        let message = err.to_string();
        match err {
            QueryError::Invalid { at, reason } => ApiError::bad_request("invalid_query", message)
                .with_details(json!({ "at": at, "reason": reason })),
            QueryError::InvalidCursor(reason) => ApiError::bad_request("invalid_cursor", message)
                .with_details(json!({ "reason": reason })),
            // The query stopped itself at its budget (the request's time limit): the same
            // status as a request the server cut off, with what was done so far.
            QueryError::TimedOut {
                budget_ms,
                examined,
            } => ApiError::new(StatusCode::REQUEST_TIMEOUT, "query_timeout", message)
                .with_details(json!({ "budget_ms": budget_ms, "examined": examined })),
            // Only seen by nobody: the request it answers is gone.
            QueryError::Cancelled => {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, "query_cancelled", message)
            }
            QueryError::TooLarge { what, limit, hint } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded", message)
                    .with_details(json!({ "what": what, "limit": limit, "hint": hint }))
            }
            // The point exists in no answerable form (after the latest commit, before the
            // collection's create, drop or rename): a request the client must change.
            QueryError::AsOfUnavailable { seq, reason } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "as_of_unavailable",
                message,
            )
            .with_details(json!({ "seq": seq, "reason": reason })),
            QueryError::Index(index) => ApiError::from(index),
            QueryError::Model(err) => match err.downcast::<GeoError>() {
                Ok(geo) => ApiError::from(*geo),
                Err(other) => match other.downcast::<VectorError>() {
                    Ok(vector) => ApiError::from(*vector),
                    Err(other) => match other.downcast::<TextError>() {
                        Ok(text) => ApiError::from(*text),
                        Err(other) => ApiError::internal(other.to_string()),
                    },
                },
            },
            QueryError::Engine(engine) => ApiError::from(engine),
        }
    }
}

impl From<GeoError> for ApiError {
    fn from(err: GeoError) -> ApiError {
        let message = err.to_string();
        match err {
            // The request's shapes or arguments are wrong: the caller can fix them.
            GeoError::NotClosed { operation } => ApiError::bad_request("invalid_geometry", message)
                .with_details(json!({ "operation": operation })),
            GeoError::NotARegion { found } => ApiError::bad_request("invalid_geometry", message)
                .with_details(json!({ "found": found })),
            GeoError::InvalidArgument { reason } => ApiError::bad_request("invalid_query", message)
                .with_details(json!({ "reason": reason })),
            GeoError::Wkt { offset, reason } => ApiError::bad_request("invalid_geometry", message)
                .with_details(json!({ "offset": offset, "reason": reason })),
            GeoError::NoWktForm { found } => ApiError::bad_request("invalid_geometry", message)
                .with_details(json!({ "found": found })),
            GeoError::InvalidDefinition { name, reason } => {
                ApiError::bad_request("invalid_index", message)
                    .with_details(json!({ "index": name, "reason": reason }))
            }
            GeoError::UnknownIndex { collection, name } => {
                ApiError::new(StatusCode::NOT_FOUND, "index_not_found", message)
                    .with_details(json!({ "collection": collection, "index": name }))
            }
            GeoError::CorruptEntry { .. } => ApiError::internal(message),
            GeoError::Build(index) => ApiError::from(*index),
            GeoError::Engine(engine) => ApiError::from(engine),
            GeoError::Doc(doc) => ApiError::from(doc),
        }
    }
}

impl From<VectorError> for ApiError {
    fn from(err: VectorError) -> ApiError {
        let message = err.to_string();
        if err.is_invalid_vector() {
            // A vector the caller sent (a query vector, or a document's during a build).
            return ApiError::bad_request("invalid_vector", message);
        }
        match err {
            VectorError::InvalidDefinition { name, reason } => {
                ApiError::bad_request("invalid_index", message)
                    .with_details(json!({ "index": name, "reason": reason }))
            }
            VectorError::UnknownIndex { collection, name } => {
                ApiError::new(StatusCode::NOT_FOUND, "index_not_found", message)
                    .with_details(json!({ "collection": collection, "index": name }))
            }
            VectorError::NotReady { collection, name } => {
                ApiError::new(StatusCode::CONFLICT, "index_not_ready", message)
                    .with_details(json!({ "collection": collection, "index": name }))
            }
            VectorError::InvalidArgument { reason } => {
                ApiError::bad_request("invalid_query", message)
                    .with_details(json!({ "reason": reason }))
            }
            VectorError::Engine(engine) => ApiError::from(engine),
            VectorError::Doc(doc) => ApiError::from(doc),
            _ => ApiError::internal(message),
        }
    }
}

impl From<TextError> for ApiError {
    fn from(err: TextError) -> ApiError {
        let message = err.to_string();
        match err {
            TextError::InvalidDefinition { name, reason } => {
                ApiError::bad_request("invalid_index", message)
                    .with_details(json!({ "index": name, "reason": reason }))
            }
            TextError::UnknownIndex { collection, name } => {
                ApiError::new(StatusCode::NOT_FOUND, "index_not_found", message)
                    .with_details(json!({ "collection": collection, "index": name }))
            }
            TextError::InvalidQuery { at, reason } => {
                ApiError::bad_request("invalid_query", message)
                    .with_details(json!({ "at": at, "reason": reason }))
            }
            TextError::TooManyExpansions {
                clause,
                field,
                limit,
            } => ApiError::bad_request("invalid_query", message)
                .with_details(json!({ "clause": clause, "field": field, "limit": limit })),
            TextError::NotReady { name } => {
                ApiError::new(StatusCode::CONFLICT, "index_not_ready", message)
                    .with_details(json!({ "index": name }))
            }
            TextError::Engine(engine) => ApiError::from(engine),
            TextError::Corrupt { .. } => ApiError::internal(message),
        }
    }
}

impl From<IndexError> for ApiError {
    fn from(err: IndexError) -> ApiError {
        let message = err.to_string();
        match err {
            IndexError::InvalidDefinition { name, reason } => {
                ApiError::bad_request("invalid_index", message)
                    .with_details(json!({ "index": name, "reason": reason }))
            }
            IndexError::UnknownIndex { collection, name } => {
                ApiError::new(StatusCode::NOT_FOUND, "index_not_found", message)
                    .with_details(json!({ "collection": collection, "index": name }))
            }
            // Concurrent writes kept invalidating the build's chunks; the index was dropped
            // again and the same request can simply be retried.
            IndexError::BuildFailed {
                collection, name, ..
            } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "index_build_failed",
                message,
            )
            .with_details(json!({ "collection": collection, "index": name, "retryable": true })),
            IndexError::CorruptKey => ApiError::internal(message),
            IndexError::Engine(engine) => ApiError::from(engine),
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
    fn invariant_violations_are_conflicts_with_amounts() {
        let err = ApiError::from(EngineError::InvariantViolation {
            collection: "accounts".to_string(),
            invariant: "no_overdraft".to_string(),
            rule: "sum(amount) by account >= 0".to_string(),
            detail: "group \"a\" would sum to -5".to_string(),
            amounts: vec![
                ("after".to_string(), cairn::Value::Int(-5)),
                ("group".to_string(), cairn::Value::String("a".to_string())),
            ]
            .into(),
        });
        assert_eq!(
            (err.status, err.code),
            (StatusCode::CONFLICT, "invariant_violation")
        );
        let body = serde_json::to_value(err.body()).unwrap();
        assert_eq!(body["error"]["details"]["amounts"]["after"], -5);
        assert_eq!(body["error"]["details"]["amounts"]["group"], "a");
        assert_eq!(body["error"]["details"]["invariant"], "no_overdraft");
    }

    #[test]
    fn invariant_inference_and_migration_errors_map_to_typed_codes() {
        use cairn::infer::InferError;
        use cairn::invariant::InvariantError;
        use cairn::schema::SchemaError;
        let cases: Vec<(ApiError, StatusCode, &str)> = vec![
            (
                InvariantError::InvalidRule {
                    rule: "x".into(),
                    reason: "r".into(),
                }
                .into(),
                StatusCode::BAD_REQUEST,
                "invalid_invariant",
            ),
            (
                InvariantError::UnknownInvariant {
                    collection: "c".into(),
                    name: "n".into(),
                }
                .into(),
                StatusCode::NOT_FOUND,
                "invariant_not_found",
            ),
            (
                InvariantError::TooManyInvariants {
                    collection: "c".into(),
                    count: 2,
                    limit: 2,
                }
                .into(),
                StatusCode::CONFLICT,
                "too_many_invariants",
            ),
            (
                InvariantError::Corrupt {
                    invariant: "n".into(),
                    detail: "d".into(),
                }
                .into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                InvariantError::Engine(EngineError::UnknownCollection { name: "x".into() }).into(),
                StatusCode::NOT_FOUND,
                "collection_not_found",
            ),
            (
                InferError::Busy {
                    collection: "c".into(),
                }
                .into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "inference_busy",
            ),
            (
                InferError::Corrupt {
                    collection: "c".into(),
                    detail: "d".into(),
                }
                .into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                InferError::Engine(EngineError::UnknownCollection { name: "x".into() }).into(),
                StatusCode::NOT_FOUND,
                "collection_not_found",
            ),
            (
                SchemaError::MigrationInProgress {
                    collection: "c".into(),
                    target_version: 3,
                }
                .into(),
                StatusCode::CONFLICT,
                "migration_in_progress",
            ),
            (
                SchemaError::NoMigration {
                    collection: "c".into(),
                }
                .into(),
                StatusCode::CONFLICT,
                "no_migration",
            ),
        ];
        for (api, status, code) in cases {
            assert_eq!((api.status, api.code), (status, code), "{}", api.message);
        }
        let in_progress = ApiError::from(SchemaError::MigrationInProgress {
            collection: "c".into(),
            target_version: 3,
        });
        assert!(in_progress.message.contains(r#"{"resume": true}"#));
        assert_eq!(in_progress.details.unwrap()["resumable"], true);
    }

    #[test]
    fn malformed_json_is_a_client_error() {
        let err = cairn::Value::from_json_str("{").unwrap_err();
        let api = ApiError::from(err);
        assert_eq!(api.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn query_and_index_errors_map_to_client_statuses() {
        let cases: Vec<(ApiError, StatusCode, &str)> = vec![
            (
                QueryError::invalid("$and[1].age.$gt", "expected a value").into(),
                StatusCode::BAD_REQUEST,
                "invalid_query",
            ),
            (
                QueryError::InvalidCursor("bad".into()).into(),
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
            ),
            (
                QueryError::TimedOut {
                    budget_ms: 1,
                    examined: 2,
                }
                .into(),
                StatusCode::REQUEST_TIMEOUT,
                "query_timeout",
            ),
            (
                QueryError::TooLarge {
                    what: "sort buffer",
                    limit: 1,
                    hint: "h",
                }
                .into(),
                StatusCode::PAYLOAD_TOO_LARGE,
                "limit_exceeded",
            ),
            (
                QueryError::Index(IndexError::UnknownIndex {
                    collection: "c".into(),
                    name: "i".into(),
                })
                .into(),
                StatusCode::NOT_FOUND,
                "index_not_found",
            ),
            (
                IndexError::InvalidDefinition {
                    name: "i".into(),
                    reason: "r".into(),
                }
                .into(),
                StatusCode::BAD_REQUEST,
                "invalid_index",
            ),
            (
                IndexError::BuildFailed {
                    collection: "c".into(),
                    name: "i".into(),
                    reason: "r".into(),
                }
                .into(),
                StatusCode::SERVICE_UNAVAILABLE,
                "index_build_failed",
            ),
            (
                QueryError::Engine(EngineError::UnknownCollection { name: "x".into() }).into(),
                StatusCode::NOT_FOUND,
                "collection_not_found",
            ),
            (
                IndexError::CorruptKey.into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
            ),
            (
                EngineError::Corruption {
                    collection: "c".into(),
                    id: "7".into(),
                    detail: "record checksum mismatch".into(),
                }
                .into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "corruption",
            ),
            (
                QueryError::Engine(EngineError::Corruption {
                    collection: "c".into(),
                    id: "7".into(),
                    detail: "d".into(),
                })
                .into(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "corruption",
            ),
        ];
        for (api, status, code) in cases {
            assert_eq!((api.status, api.code), (status, code), "{}", api.message);
        }
        let invalid = ApiError::from(QueryError::invalid("$and[1].age.$gt", "expected a value"));
        assert_eq!(invalid.details.unwrap()["at"], "$and[1].age.$gt");
    }
}
