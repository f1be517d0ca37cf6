//! `/v1/collections/{collection}/documents`: insert, get, put (insert or replace), patch,
//! delete, compare-and-swap, and the atomic batch insert.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use cairn::{
    CasOutcome, DocId, FieldPath, JsonExpression, Object, Patch, Transaction, Upserted, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::Need;
use crate::body::{check_document, DocumentBody, JsonBody};
use crate::collection_name::{self, CollectionName};
use crate::extract::{parse_doc_id, ApiPath, ApiQuery};
use crate::idempotency::{self, Answer, Idempotent};
use crate::openapi::{
    AddressedDocument, DocIdSchema, Document, ErrorResponses, ExpectedSchema, PatchSchema,
};
use crate::replication::gate::WriteLevel;
use crate::replication::{self, WriteCommand};
use crate::routes::collections::create_if_missing;
use crate::state::SharedState;
use crate::transact::{self, guard_size, TxnError};

/// Room reserved for a document's JSON before writing it: 1 KiB, more than most documents
/// need, so writing one rarely regrows the buffer (which lives only until the response is
/// sent).
const JSON_RESPONSE_CAPACITY_BYTES: usize = 1024;

/// A write's outcome: the document's id and the commit's sequence number (its position in the
/// change stream).
#[derive(Debug, Serialize, ToSchema)]
pub struct Written {
    /// The document's `_id` (an integer, a string or `{"$uuid": ...}`).
    #[serde(rename = "_id")]
    #[schema(value_type = DocIdSchema)]
    pub id: Value,
    /// Sequence number of the commit.
    pub seq: u64,
}

/// A document after a write, with the commit's sequence number.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    /// The document as stored.
    #[schema(value_type = Object)]
    pub document: Value,
    /// Sequence number of the commit.
    pub seq: u64,
}

/// Body of a compare-and-swap.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CasRequest {
    /// Field path → the value it must hold (a missing field matches `null`; numbers compare
    /// by value), e.g. `{"state": "waiting"}`.
    #[schema(value_type = ExpectedSchema)]
    pub expected: JsonExpression,
    /// Update operators applied when every expectation holds.
    #[schema(value_type = PatchSchema)]
    pub patch: JsonExpression,
}

/// Body of a batch insert.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The documents, all committed together or none.
    #[schema(value_type = Vec<Document>)]
    pub documents: Vec<Value>,
    /// Replace documents whose `_id` exists instead of failing with `unique_violation`.
    #[serde(default)]
    pub upsert: bool,
}

/// Outcome of a batch insert.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchWritten {
    /// Each document's `_id`, in request order.
    #[schema(value_type = Vec<DocIdSchema>)]
    pub ids: Vec<Value>,
    /// Sequence number of the commit.
    pub seq: u64,
}

/// Query parameters of a document read.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GetQuery {
    /// Read the document as it was at this point: a commit sequence number (`1234`) or an
    /// RFC 3339 time, within change-log retention (410 `change_log_trimmed` before it, 422
    /// `as_of_unavailable` after the latest commit or before the collection's creation, drop
    /// or rename); 404 if the document did not exist then.
    #[param(max_length = 64)]
    as_of: Option<String>,
}

/// Path of a document route.
#[derive(Debug, Deserialize)]
pub struct DocPath {
    collection: String,
    id: String,
}

impl DocPath {
    /// The collection (checked) and the parsed id.
    fn resolve(self) -> Result<(String, DocId), ApiError> {
        collection_name::check(&self.collection)?;
        Ok((self.collection, parse_doc_id(&self.id)?))
    }
}

/// Inserts a document; generates a UUIDv7 `_id` when it has none.
#[utoipa::path(post, operation_id = "insert_document", path = "/v1/collections/{collection}/documents", tag = "documents",
    params(CollectionName,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = Document,
    responses((status = 201, description = "Inserted", body = Written), ErrorResponses))]
pub async fn insert(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
    Idempotent(DocumentBody(doc), key): Idempotent<DocumentBody>,
) -> Result<Response, ApiError> {
    let need = Need::write(&collection);
    let auto_create = state.auto_create_collections;
    if let Some(cluster) = state.cluster.clone() {
        let keyed = key.is_some();
        return replication::propose(&state, cluster, credentials, need, level, keyed, || {
            WriteCommand::insert(collection, doc)
        })
        .await;
    }
    if let Some(key) = key {
        let retention = state.limits.idempotency_retention();
        return state
            .run(credentials, need, move |db, principal| {
                if auto_create {
                    create_if_missing(db, &collection)?;
                }
                idempotency::run(db, principal, Some(&key), retention, |txn| {
                    let id = txn.insert(&collection, doc.clone())?;
                    Ok(Answer::new(
                        StatusCode::CREATED,
                        json!({ "_id": id.to_value() }),
                    ))
                })
            })
            .await
            .map(IntoResponse::into_response);
    }
    let (id, seq) = state
        .run(credentials, need, move |db, _| {
            if auto_create {
                create_if_missing(db, &collection)?;
            }
            transact::run(db, |txn| Ok(txn.insert(&collection, doc.clone())?))
        })
        .await?;
    let id = id.to_value();
    Ok((StatusCode::CREATED, Json(Written { id, seq })).into_response())
}

/// Reads a document.
#[utoipa::path(get, operation_id = "get_document", path = "/v1/collections/{collection}/documents/{id}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id: a UUID, an integer, or a string (quote numeric strings: \"123\")", min_length = 1, max_length = 1024),
           GetQuery),
    responses((status = 200, description = "The document", body = Document), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<DocPath>,
    ApiQuery(query): ApiQuery<GetQuery>,
) -> Result<Response, ApiError> {
    let (collection, id) = path.resolve()?;
    let as_of = query
        .as_of
        .as_deref()
        .map(crate::routes::queries::parse_as_of)
        .transpose()?;
    let need = Need::read(&collection);
    let read = move |db: &cairn::Database, _: &_| {
        let doc = match as_of {
            Some(as_of) => cairn::get_as_of(db, &collection, &id, as_of)?,
            None => db.get(&collection, &id)?,
        };
        match doc {
            Some(doc) => {
                let mut text = String::with_capacity(JSON_RESPONSE_CAPACITY_BYTES);
                doc.write_json(&mut text);
                Ok(text)
            }
            None => Err(not_found(&collection, &id)),
        }
    };
    // An as-of read walks the change log: the scan lane, so point reads never wait on it.
    let text = match as_of {
        Some(_) => state.scan(credentials, need, read).await?,
        None => state.read(credentials, need, read).await?,
    };
    Ok(([(header::CONTENT_TYPE, "application/json")], text).into_response())
}

/// Stores the document under this id: inserts it (201) or replaces the existing one (200).
/// A `_id` in the body must match the path.
#[utoipa::path(put, operation_id = "put_document", path = "/v1/collections/{collection}/documents/{id}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024)),
    request_body = AddressedDocument,
    responses((status = 200, description = "Replaced", body = Written),
              (status = 201, description = "Inserted", body = Written), ErrorResponses))]
pub async fn put(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<DocPath>,
    WriteLevel(level): WriteLevel,
    DocumentBody(doc): DocumentBody,
) -> Result<Response, ApiError> {
    let (collection, id) = path.resolve()?;
    let doc = with_path_id(doc, &id)?;
    let need = Need::write(&collection);
    let auto_create = state.auto_create_collections;
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::Put {
                collection,
                doc: doc.to_json_string(),
            })
        })
        .await;
    }
    let (upserted, seq) = state
        .run(credentials, need, move |db, _| {
            if auto_create {
                create_if_missing(db, &collection)?;
            }
            transact::run(db, |txn| Ok(txn.upsert(&collection, doc.clone())?))
        })
        .await?;
    let status = match upserted {
        Upserted::Inserted => StatusCode::CREATED,
        Upserted::Replaced => StatusCode::OK,
    };
    let id = id.to_value();
    Ok((status, Json(Written { id, seq })).into_response())
}

/// Applies update operators (`$set $unset $inc $push $pull $addToSet $rename $mul $min $max $currentDate`); returns the new document.
#[utoipa::path(patch, operation_id = "patch_document", path = "/v1/collections/{collection}/documents/{id}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024)),
    request_body = PatchSchema,
    responses((status = 200, description = "Updated", body = Updated), ErrorResponses))]
pub async fn patch(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<DocPath>,
    WriteLevel(level): WriteLevel,
    JsonBody(JsonExpression(patch_value)): JsonBody<JsonExpression>,
) -> Result<Response, ApiError> {
    let (collection, id) = path.resolve()?;
    patch_document(&state, credentials, collection, id, level, patch_value).await
}

/// Applies `patch_value` (update operators) to one document and answers the document as
/// stored: on a cluster through the replicated `Patch` command, else in one transaction. The
/// one write path of `PATCH` and of a property write (`routes::properties`).
pub async fn patch_document(
    state: &SharedState,
    credentials: Credentials,
    collection: String,
    id: DocId,
    level: crate::replication::Consistency,
    patch_value: Value,
) -> Result<Response, ApiError> {
    let patch = Patch::from_value(&patch_value)?;
    let limit = state.limits.max_document_bytes;
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::Patch {
                collection,
                id: WriteCommand::id_text(&id),
                patch: WriteCommand::fixed_patch(&patch_value)?,
                limit,
            })
        })
        .await;
    }
    let (document, seq) = state
        .run(credentials, need, move |db, _| {
            transact::run(db, |txn| {
                let doc = txn.update(&collection, &id, &patch)?;
                guard_size(&doc, limit)?;
                Ok(doc)
            })
        })
        .await?;
    Ok(Json(Updated { document, seq }).into_response())
}

/// Deletes a document.
#[utoipa::path(delete, operation_id = "delete_document", path = "/v1/collections/{collection}/documents/{id}", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024)),
    responses((status = 204, description = "Deleted"), ErrorResponses))]
pub async fn delete(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<DocPath>,
    WriteLevel(level): WriteLevel,
) -> Result<Response, ApiError> {
    let (collection, id) = path.resolve()?;
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        return replication::propose(&state, cluster, credentials, need, level, false, || {
            Ok(WriteCommand::Delete {
                collection,
                id: WriteCommand::id_text(&id),
            })
        })
        .await;
    }
    state
        .run(credentials, need, move |db, _| {
            let (deleted, _) = transact::run(db, |txn| Ok(txn.delete(&collection, &id)?))?;
            if deleted {
                Ok(())
            } else {
                Err(not_found(&collection, &id))
            }
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Compare-and-swap: applies the patch only if every expected field holds its value; 409
/// `cas_mismatch` naming the first field that differs otherwise. Of several clients racing
/// with the same expectation, exactly one succeeds.
#[utoipa::path(post, operation_id = "compare_and_swap", path = "/v1/collections/{collection}/documents/{id}/cas", tag = "documents",
    params(CollectionName,
           ("id" = String, Path, description = "Document id", min_length = 1, max_length = 1024),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = CasRequest,
    responses((status = 200, description = "Applied", body = Updated), ErrorResponses))]
pub async fn compare_and_swap(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(path): ApiPath<DocPath>,
    WriteLevel(level): WriteLevel,
    Idempotent(JsonBody(request), key): Idempotent<JsonBody<CasRequest>>,
) -> Result<Response, ApiError> {
    let (collection, id) = path.resolve()?;
    let expected = parse_expected(&request.expected.0)?;
    let patch = Patch::from_value(&request.patch.0)?;
    let limit = state.limits.max_document_bytes;
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        let keyed = key.is_some();
        return replication::propose(&state, cluster, credentials, need, level, keyed, || {
            Ok(WriteCommand::Cas {
                collection,
                id: WriteCommand::id_text(&id),
                expected: request.expected.0.to_json_string(),
                patch: WriteCommand::fixed_patch(&request.patch.0)?,
                limit,
            })
        })
        .await;
    }
    let retention = state.limits.idempotency_retention();
    let cas = move |txn: &mut Transaction| -> Result<Value, TxnError> {
        let outcome = txn.compare_and_swap(&collection, &id, &expected, &patch)?;
        let doc = cas_result(outcome, &collection, &id, None)?;
        guard_size(&doc, limit)?;
        Ok(doc)
    };
    if let Some(key) = key {
        return state
            .run(credentials, need, move |db, principal| {
                idempotency::run(db, principal, Some(&key), retention, |txn| {
                    let doc = cas(txn)?;
                    Ok(Answer::new(StatusCode::OK, json!({ "document": doc })))
                })
            })
            .await
            .map(IntoResponse::into_response);
    }
    let (document, seq) = state
        .run(credentials, need, move |db, _| transact::run(db, cas))
        .await?;
    Ok(Json(Updated { document, seq }).into_response())
}

/// Inserts (or upserts) many documents in one atomic commit.
#[utoipa::path(post, operation_id = "batch_write", path = "/v1/collections/{collection}/batch", tag = "documents",
    params(CollectionName,
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = BatchRequest,
    responses((status = 200, description = "All written", body = BatchWritten), ErrorResponses))]
pub async fn batch(
    State(state): State<SharedState>,
    credentials: Credentials,
    CollectionName(collection): CollectionName,
    WriteLevel(level): WriteLevel,
    Idempotent(JsonBody(request), key): Idempotent<JsonBody<BatchRequest>>,
) -> Result<Response, ApiError> {
    for doc in &request.documents {
        check_document(doc, state.limits.max_document_bytes)?;
    }
    let need = Need::write(&collection);
    if let Some(cluster) = state.cluster.clone() {
        let keyed = key.is_some();
        return replication::propose(&state, cluster, credentials, need, level, keyed, || {
            WriteCommand::batch(collection, request.documents, request.upsert)
        })
        .await;
    }
    let retention = state.limits.idempotency_retention();
    let auto_create = state.auto_create_collections.then(|| collection.clone());
    let write = move |txn: &mut Transaction| -> Result<Vec<Value>, TxnError> {
        // An empty batch still names a collection that must exist.
        txn.collection_meta(&collection)?;
        let mut ids = Vec::with_capacity(request.documents.len());
        for doc in &request.documents {
            let id = if request.upsert {
                upsert_with_id(txn, &collection, doc)?
            } else {
                txn.insert(&collection, doc.clone())?
            };
            ids.push(id.to_value());
        }
        Ok(ids)
    };
    if let Some(key) = key {
        return state
            .run(credentials, need, move |db, principal| {
                if let Some(collection) = &auto_create {
                    create_if_missing(db, collection)?;
                }
                idempotency::run(db, principal, Some(&key), retention, |txn| {
                    let ids = write(txn)?;
                    Ok(Answer::new(StatusCode::OK, json!({ "ids": ids })))
                })
            })
            .await
            .map(IntoResponse::into_response);
    }
    let (ids, seq) = state
        .run(credentials, need, move |db, _| {
            if let Some(collection) = &auto_create {
                create_if_missing(db, collection)?;
            }
            transact::run(db, write)
        })
        .await?;
    Ok(Json(BatchWritten { ids, seq }).into_response())
}

/// Upserts one document and reports its id (generated when the document has none).
fn upsert_with_id(
    txn: &mut cairn::Transaction,
    collection: &str,
    doc: &Value,
) -> Result<DocId, transact::TxnError> {
    let given = doc.as_object().and_then(|obj| obj.get("_id"));
    match given {
        Some(value) => {
            let id = DocId::from_value(value).map_err(ApiError::from)?;
            txn.upsert(collection, doc.clone())?;
            Ok(id)
        }
        None => Ok(txn.insert(collection, doc.clone())?),
    }
}

/// Reads `{"path": value, ...}` into compare-and-swap expectations.
pub fn parse_expected(expected: &Value) -> Result<Vec<(FieldPath, Value)>, ApiError> {
    let Some(fields) = expected.as_object() else {
        return Err(ApiError::bad_request(
            "invalid_request",
            "`expected` must be an object of field paths to values",
        ));
    };
    fields
        .iter()
        .map(|(path, value)| Ok((FieldPath::parse(path)?, value.clone())))
        .collect()
}

/// The document a compare-and-swap produced, or the error it means: 404 when the document is
/// missing, 409 `cas_mismatch` when an expectation failed. `operation` names the position in a
/// transaction.
pub fn cas_result(
    outcome: CasOutcome,
    collection: &str,
    id: &DocId,
    operation: Option<usize>,
) -> Result<Value, ApiError> {
    match outcome {
        CasOutcome::Applied(doc) => Ok(doc),
        CasOutcome::NotFound => Err(not_found(collection, id)),
        CasOutcome::Mismatch { field, actual } => {
            let mut details = json!({
                "collection": collection,
                "_id": id.to_value(),
                "field": field,
                "actual": actual.unwrap_or(Value::Null),
            });
            if let (Some(index), Some(map)) = (operation, details.as_object_mut()) {
                map.insert("operation".to_string(), json!(index));
            }
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "cas_mismatch",
                format!("field `{field}` does not hold the expected value"),
            )
            .with_details(details))
        }
    }
}

/// 404 for a missing document.
pub fn not_found(collection: &str, id: &DocId) -> ApiError {
    ApiError::from(cairn::EngineError::DocumentNotFound {
        collection: collection.to_string(),
        id: id.clone(),
    })
}

/// Puts the path's id into the document (first), or checks the one it carries matches.
fn with_path_id(doc: Value, id: &DocId) -> Result<Value, ApiError> {
    let Value::Object(obj) = doc else {
        return Err(ApiError::bad_request(
            "invalid_document",
            "a document must be a JSON object",
        ));
    };
    if let Some(given) = obj.get("_id") {
        let found = DocId::from_value(given)?;
        if &found != id {
            return Err(ApiError::from(cairn::EngineError::IdMismatch {
                addressed: id.clone(),
                found,
            }));
        }
        return Ok(Value::Object(obj));
    }
    let mut with = Object::with_capacity(obj.len() + 1);
    with.insert("_id", id.to_value());
    for (key, value) in obj {
        with.insert(key, value);
    }
    Ok(Value::Object(with))
}
