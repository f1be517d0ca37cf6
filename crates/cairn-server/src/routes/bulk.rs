//! `/v1/collections/{collection}/update-many | delete-many`: bulk updates by criteria, each one
//! atomic transaction (see `cairn::update_many`), with a dry run and a guard on how many
//! documents one call may touch.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn::query::limits::MAX_BULK_DOCUMENTS;
use cairn::query::QueryError;
use cairn::Transaction;
use cairn::{BulkOptions, BulkReport, JsonExpression, Patch};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::JsonBody;
use crate::collection_name::CollectionName;
use crate::idempotency::{self, Answer, IdempotencyKey, Idempotent};
use crate::openapi::{ErrorResponses, FilterSchema, PatchSchema};
use crate::routes::queries::parse_filter;
use crate::state::SharedState;
use crate::transact::TxnError;

/// Body of `update-many`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateManyRequest {
    /// Which documents; `{}` for all of them (required, so "all" is always said explicitly).
    #[schema(value_type = FilterSchema)]
    pub filter: JsonExpression,
    /// Update operators applied to each matching document.
    #[schema(value_type = PatchSchema)]
    pub patch: JsonExpression,
    /// Do everything, report the counts, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Fail with 413 `limit_exceeded`, writing nothing, when more documents match (default and
    /// maximum 100,000).
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 100_000)]
    #[serde(default)]
    pub max_documents: Option<usize>,
}

/// Body of `delete-many`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteManyRequest {
    /// Which documents; `{}` for all of them (required, so "all" is always said explicitly).
    #[schema(value_type = FilterSchema)]
    pub filter: JsonExpression,
    /// Do everything, report the counts, delete nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Fail with 413 `limit_exceeded`, deleting nothing, when more documents match (default
    /// and maximum 100,000).
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 100_000)]
    #[serde(default)]
    pub max_documents: Option<usize>,
}

/// What a bulk call did (or, for a dry run, would do).
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents changed (updates that change nothing are not written) or deleted.
    pub changed: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Sequence number of the commit holding every change; absent for a dry run or when
    /// nothing changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
}

impl From<BulkReport> for BulkResult {
    fn from(report: BulkReport) -> BulkResult {
        BulkResult {
            matched: report.matched,
            changed: report.changed,
            dry_run: report.dry_run,
            seq: report.seq,
        }
    }
}

/// Applies update operators to every document matching the filter, atomically: all of them
/// change or none does (a unique violation or a patch that does not fit one document fails
/// the whole call).
#[utoipa::path(post, operation_id = "update_many", path = "/v1/collections/{collection}/update-many", tag = "documents",
    params(CollectionName,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = UpdateManyRequest,
    responses((status = 200, description = "Applied (or, with dry_run, what would be)", body = BulkResult), ErrorResponses))]
pub async fn update_many(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    Idempotent(JsonBody(request), key): Idempotent<JsonBody<UpdateManyRequest>>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(Some(request.filter))?;
    let patch = Patch::from_value(&request.patch.0)?;
    let options = options(&state, request.dry_run, request.max_documents)?;
    let need = Need::write(&collection);
    if let Some(key) = key.filter(|_| !options.dry_run) {
        return keyed(&state, credentials, need, key, move |txn| {
            cairn::query::update_many_in(txn, &collection, &filter, &patch, &options)
        })
        .await;
    }
    let report = state
        .run(credentials, need, move |db, _| {
            Ok(cairn::update_many(
                db,
                &collection,
                &filter,
                &patch,
                &options,
            )?)
        })
        .await?;
    Ok(Json(BulkResult::from(report)).into_response())
}

/// Deletes every document matching the filter, atomically.
#[utoipa::path(post, operation_id = "delete_many", path = "/v1/collections/{collection}/delete-many", tag = "documents",
    params(CollectionName,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = DeleteManyRequest,
    responses((status = 200, description = "Deleted (or, with dry_run, what would be)", body = BulkResult), ErrorResponses))]
pub async fn delete_many(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    Idempotent(JsonBody(request), key): Idempotent<JsonBody<DeleteManyRequest>>,
) -> Result<Response, ApiError> {
    let filter = parse_filter(Some(request.filter))?;
    let options = options(&state, request.dry_run, request.max_documents)?;
    let need = Need::write(&collection);
    if let Some(key) = key.filter(|_| !options.dry_run) {
        return keyed(&state, credentials, need, key, move |txn| {
            cairn::query::delete_many_in(txn, &collection, &filter, &options)
        })
        .await;
    }
    let report = state
        .run(credentials, need, move |db, _| {
            Ok(cairn::delete_many(db, &collection, &filter, &options)?)
        })
        .await?;
    Ok(Json(BulkResult::from(report)).into_response())
}

/// A bulk call sent with an idempotency key: the same work inside the transaction that also
/// records its answer (a dry run writes nothing, so it needs no key).
async fn keyed(
    state: &SharedState,
    credentials: Credentials,
    need: Need,
    key: IdempotencyKey,
    work: impl Fn(&mut Transaction) -> Result<(u64, u64), QueryError> + Send + 'static,
) -> Result<Response, ApiError> {
    let retention = state.limits.idempotency_retention();
    state
        .run(credentials, need, move |db, principal| {
            idempotency::run(db, principal, Some(&key), retention, |txn| {
                let (matched, changed) = work(txn).map_err(|err| match err {
                    QueryError::Engine(engine) => TxnError::Engine(engine),
                    other => TxnError::Api(other.into()),
                })?;
                let mut answer = Answer::new(
                    StatusCode::OK,
                    json!({ "matched": matched, "changed": changed, "dry_run": false }),
                );
                // As without a key: a call that changed nothing reports no commit.
                answer.with_seq = changed > 0;
                Ok(answer)
            })
        })
        .await
        .map(IntoResponse::into_response)
}

/// The call's options: the request's guard (checked against the bound), the request timeout
/// as the time budget for finding the matches, and the server's document size limit for
/// patched documents (as `PATCH` on one document enforces it).
fn options(
    state: &SharedState,
    dry_run: bool,
    max_documents: Option<usize>,
) -> Result<BulkOptions, ApiError> {
    let max_documents = max_documents.unwrap_or(MAX_BULK_DOCUMENTS);
    if !(1..=MAX_BULK_DOCUMENTS).contains(&max_documents) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("`max_documents` must be between 1 and {MAX_BULK_DOCUMENTS}"),
        ));
    }
    Ok(BulkOptions {
        dry_run,
        max_documents,
        time_budget: state.limits.request_timeout(),
        max_document_bytes: state.limits.max_document_bytes,
    })
}
