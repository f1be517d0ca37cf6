//! `POST /v1/transactions`: a list of operations over any collections, executed as one
//! serializable transaction: all take effect or none, and reads see the transaction's own
//! writes. A failing operation (including a compare-and-swap mismatch) aborts the whole
//! transaction and the error names its position. Interactive transactions (held open across
//! requests) are deliberately absent: nothing bounds how long a client would hold one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cairn::{DocId, FieldPath, JsonExpression, Patch, Transaction, Upserted, Value};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as JsonValue};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{Access, Need};
use crate::body::{check_document, JsonBody};
use crate::collection_name;
use crate::idempotency::{self, Answer, Idempotent};
use crate::openapi::{
    AddressedDocument, DocIdSchema, Document, ErrorResponses, ExpectedSchema, PatchSchema,
};
use crate::response::{capped_json, ResponseBudget};
use crate::routes::collections::create_if_missing;
use crate::routes::documents::{cas_result, parse_expected};
use crate::state::SharedState;
use crate::transact::{self, guard_size, TxnError};

/// Body of `POST /v1/transactions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransactionRequest {
    /// The operations, executed in order (at most the server's `max_transaction_operations`,
    /// 1,000 by default; 413 `limit_exceeded` beyond).
    pub operations: Vec<Operation>,
}

/// One operation of a transaction; `op` says which.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// Insert a document (409 `unique_violation` if its `_id` exists).
    Insert {
        /// Target collection.
        collection: String,
        /// The document.
        #[schema(value_type = Document)]
        document: Value,
    },
    /// Read a document (as this transaction sees it).
    Get {
        /// Collection.
        collection: String,
        /// The `_id`: an integer, a string or `{"$uuid": ...}`.
        #[schema(value_type = DocIdSchema)]
        id: Value,
    },
    /// Replace an existing document.
    Replace {
        /// Collection.
        collection: String,
        /// The `_id`.
        #[schema(value_type = DocIdSchema)]
        id: Value,
        /// The new document.
        #[schema(value_type = AddressedDocument)]
        document: Value,
    },
    /// Insert, or replace the document with the same `_id`.
    Upsert {
        /// Collection.
        collection: String,
        /// The document.
        #[schema(value_type = Document)]
        document: Value,
    },
    /// Apply update operators to an existing document.
    Update {
        /// Collection.
        collection: String,
        /// The `_id`.
        #[schema(value_type = DocIdSchema)]
        id: Value,
        /// Update operators.
        #[schema(value_type = PatchSchema)]
        patch: JsonExpression,
    },
    /// Delete a document if present.
    Delete {
        /// Collection.
        collection: String,
        /// The `_id`.
        #[schema(value_type = DocIdSchema)]
        id: Value,
    },
    /// Compare-and-swap; a mismatch aborts the transaction with 409 `cas_mismatch`.
    Cas {
        /// Collection.
        collection: String,
        /// The `_id`.
        #[schema(value_type = DocIdSchema)]
        id: Value,
        /// Field path → expected value.
        #[schema(value_type = ExpectedSchema)]
        expected: JsonExpression,
        /// Update operators applied when every expectation holds.
        #[schema(value_type = PatchSchema)]
        patch: JsonExpression,
    },
}

/// Outcome of a transaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransactionResult {
    /// One result per operation, in order: `{"_id"}` for insert, `{"document"}` for get (null
    /// when missing), update and cas, `{}` for replace, `{"_id", "upserted"}` for upsert,
    /// `{"deleted"}` for delete.
    #[schema(value_type = Vec<Object>)]
    pub results: Vec<JsonValue>,
    /// Sequence number of the commit (the snapshot's for a read-only transaction).
    pub seq: u64,
}

/// An operation with its ids and patches parsed, ready to run (possibly several times, when
/// the transaction is retried after a conflict).
enum Prepared {
    Insert(Value),
    Get(DocId),
    Replace(DocId, Value),
    Upsert(Value),
    Update(DocId, Patch),
    Delete(DocId),
    Cas(DocId, Vec<(FieldPath, Value)>, Patch),
}

/// Executes the operations atomically.
#[utoipa::path(post, operation_id = "execute_transaction", path = "/v1/transactions", tag = "transactions",
    params(
           ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry safe: the first attempt's answer is kept (24 h by default) and a retry with the same key and body gets it back without writing; the same key with another body is 422 `idempotency_key_reused`", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),),
    request_body = TransactionRequest,
    responses((status = 200, description = "Committed", body = TransactionResult), ErrorResponses))]
pub async fn execute(
    State(state): State<SharedState>,
    credentials: Credentials,
    Idempotent(JsonBody(request), key): Idempotent<JsonBody<TransactionRequest>>,
) -> Result<Response, ApiError> {
    let limit = state.limits.max_document_bytes;
    let max_operations = state.limits.max_transaction_operations;
    if request.operations.len() > max_operations {
        return Err(too_many_operations(
            request.operations.len(),
            max_operations,
        ));
    }
    let max_bytes = state.limits.max_response_bytes;
    let mut needs = Vec::with_capacity(request.operations.len());
    let mut prepared = Vec::with_capacity(request.operations.len());
    for (index, op) in request.operations.into_iter().enumerate() {
        let (collection, access, op) =
            prepare(op, limit).map_err(|err| at_operation(err, index))?;
        needs.push((collection.clone(), access));
        prepared.push((collection, op));
    }
    let retention = state.limits.idempotency_retention();
    // Collections an insert or upsert stores into, created first when the server says so.
    let mut auto_create: Vec<String> = Vec::new();
    if state.auto_create_collections {
        for (collection, op) in &prepared {
            if matches!(op, Prepared::Insert(_) | Prepared::Upsert(_))
                && !auto_create.contains(collection)
            {
                auto_create.push(collection.clone());
            }
        }
    }
    let create_missing = move |db: &cairn::Database| -> Result<(), ApiError> {
        for collection in &auto_create {
            create_if_missing(db, collection)?;
        }
        Ok(())
    };
    let mut budget = ResponseBudget::new(max_bytes);
    let mut execute = move |txn: &mut Transaction| -> Result<Vec<JsonValue>, TxnError> {
        budget.reset();
        let mut results = Vec::with_capacity(prepared.len());
        for (index, (collection, op)) in prepared.iter().enumerate() {
            let result = apply(txn, collection, op, index, limit, &mut budget)
                .map_err(|err| locate_failure(err, index))?;
            results.push(result);
        }
        Ok(results)
    };
    let need = Need::Collections(needs);
    if let Some(key) = key {
        return state
            .run(credentials, need, move |db, principal| {
                create_missing(db)?;
                idempotency::run(db, principal, Some(&key), retention, |txn| {
                    let results = execute(txn)?;
                    Ok(Answer::new(StatusCode::OK, json!({ "results": results })))
                })
            })
            .await
            .map(IntoResponse::into_response);
    }
    state
        .run(credentials, need, move |db, _| {
            create_missing(db)?;
            let (results, seq) = transact::run(db, &mut execute)?;
            capped_json(&TransactionResult { results, seq }, max_bytes)
        })
        .await
        .map(IntoResponse::into_response)
}

/// 413 `limit_exceeded` for a transaction with more operations than allowed.
fn too_many_operations(count: usize, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit_exceeded",
        format!("the transaction has {count} operations; the limit is {limit}"),
    )
    .with_details(json!({
        "what": "transaction_operations",
        "size": count,
        "limit": limit,
        "setting": "limits.max_transaction_operations",
    }))
}

/// Parses one operation; returns its collection and the access it needs.
fn prepare(op: Operation, limit: usize) -> Result<(String, Access, Prepared), ApiError> {
    let id = |value: &Value| -> Result<DocId, ApiError> { Ok(DocId::from_value(value)?) };
    let (collection, access, prepared) = match op {
        Operation::Insert {
            collection,
            document,
        } => {
            check_document(&document, limit)?;
            (collection, Access::ReadWrite, Prepared::Insert(document))
        }
        Operation::Get { collection, id: v } => {
            (collection, Access::ReadOnly, Prepared::Get(id(&v)?))
        }
        Operation::Replace {
            collection,
            id: v,
            document,
        } => {
            check_document(&document, limit)?;
            (
                collection,
                Access::ReadWrite,
                Prepared::Replace(id(&v)?, document),
            )
        }
        Operation::Upsert {
            collection,
            document,
        } => {
            check_document(&document, limit)?;
            (collection, Access::ReadWrite, Prepared::Upsert(document))
        }
        Operation::Update {
            collection,
            id: v,
            patch,
        } => {
            let patch = Patch::from_value(&patch.0)?;
            (
                collection,
                Access::ReadWrite,
                Prepared::Update(id(&v)?, patch),
            )
        }
        Operation::Delete { collection, id: v } => {
            (collection, Access::ReadWrite, Prepared::Delete(id(&v)?))
        }
        Operation::Cas {
            collection,
            id: v,
            expected,
            patch,
        } => {
            let expected = parse_expected(&expected.0)?;
            let patch = Patch::from_value(&patch.0)?;
            (
                collection,
                Access::ReadWrite,
                Prepared::Cas(id(&v)?, expected, patch),
            )
        }
    };
    collection_name::check(&collection)?;
    Ok((collection, access, prepared))
}

/// Runs one prepared operation inside the transaction.
fn apply(
    txn: &mut Transaction,
    collection: &str,
    op: &Prepared,
    index: usize,
    limit: usize,
    budget: &mut ResponseBudget,
) -> Result<JsonValue, TxnError> {
    let doc_json = |doc: &Value| serde_json::to_value(doc).unwrap_or(JsonValue::Null);
    // Documents read back are charged (at their encoded size) before being turned into JSON,
    // so a transaction re-reading a large document stops before holding the answer.
    let mut charge = |doc: &Value| -> Result<(), TxnError> {
        Ok(budget.charge(cairn::encoded_len(doc).unwrap_or(0))?)
    };
    Ok(match op {
        Prepared::Insert(doc) => {
            let id = txn.insert(collection, doc.clone())?;
            json!({ "_id": doc_json(&id.to_value()) })
        }
        Prepared::Get(id) => {
            let doc = txn.get(collection, id)?;
            if let Some(doc) = &doc {
                charge(doc)?;
            }
            json!({ "document": doc.as_ref().map(doc_json) })
        }
        Prepared::Replace(id, doc) => {
            txn.replace(collection, id, doc.clone())?;
            json!({})
        }
        Prepared::Upsert(doc) => {
            let upserted = txn.upsert(collection, doc.clone())?;
            let id = doc.as_object().and_then(|obj| obj.get("_id")).map(doc_json);
            let upserted = match upserted {
                Upserted::Inserted => "inserted",
                Upserted::Replaced => "replaced",
            };
            json!({ "_id": id, "upserted": upserted })
        }
        Prepared::Update(id, patch) => {
            let doc = txn.update(collection, id, patch)?;
            guard_size(&doc, limit)?;
            charge(&doc)?;
            json!({ "document": doc_json(&doc) })
        }
        Prepared::Delete(id) => json!({ "deleted": txn.delete(collection, id)? }),
        Prepared::Cas(id, expected, patch) => {
            let outcome = txn.compare_and_swap(collection, id, expected, patch)?;
            let doc = cas_result(outcome, collection, id, Some(index))?;
            guard_size(&doc, limit)?;
            charge(&doc)?;
            json!({ "document": doc_json(&doc) })
        }
    })
}

/// Names the failing operation in its error; retryable conflicts stay engine errors so the
/// transaction is retried.
fn locate_failure(err: TxnError, index: usize) -> TxnError {
    match err {
        TxnError::Engine(engine) if engine.is_retryable() => TxnError::Engine(engine),
        TxnError::Engine(engine) => TxnError::Api(at_operation(engine.into(), index)),
        TxnError::Api(api) => TxnError::Api(at_operation(api, index)),
    }
}

/// Adds the failing operation's position to an error's details.
fn at_operation(mut err: ApiError, index: usize) -> ApiError {
    let mut details = match err.details.take() {
        Some(JsonValue::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    details.insert("operation".to_string(), json!(index));
    err.message = format!("operation {index}: {}", err.message);
    err.with_details(JsonValue::Object(details))
}
