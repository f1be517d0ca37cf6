//! `cairn._cairn.Transaction`: an engine transaction held open across Python calls (only an
//! in-process caller may do that: the server deliberately has no interactive transactions).
//! Operations use the shapes of `POST /v1/transactions` (`{"op": "insert", ...}`) and answer
//! that route's per-operation results, so the Python side treats both backends alike.

use cairn::{DocId, Patch, Upserted, Value};
use cairn_server::routes::documents::{cas_result, parse_expected};
use cairn_server::routes::transactions::Operation;
use cairn_server::ApiError;
use cairn_server::{check_document, parse_json};
use parking_lot::Mutex;
use pyo3::prelude::*;
use serde_json::{json, Value as Json};

use crate::error::{to_py_err, CallResult};

/// An open transaction: reads see its own writes; `commit` makes them visible at once or
/// fails on a conflict (`cairn.errors.Conflict`, retryable), `rollback` forgets them.
#[pyclass(frozen, module = "cairn._cairn")]
pub struct Transaction {
    /// `None` once committed or rolled back. A lock because Python threads may share the
    /// object; the engine transaction itself is single-threaded.
    txn: Mutex<Option<cairn::Transaction>>,
}

impl Transaction {
    /// Wraps a transaction the database began.
    pub fn new(txn: cairn::Transaction) -> Transaction {
        Transaction {
            txn: Mutex::new(Some(txn)),
        }
    }

    /// Takes the transaction out to finish it (commit or rollback).
    fn take(&self) -> CallResult<cairn::Transaction> {
        self.txn.lock().take().ok_or_else(finished)
    }
}

/// 409 `transaction_finished`: an operation on a transaction already committed or rolled back.
fn finished() -> ApiError {
    ApiError::new(
        http::StatusCode::CONFLICT,
        "transaction_finished",
        "this transaction was already committed or rolled back; begin a new one",
    )
}

#[pymethods]
impl Transaction {
    /// Runs one operation (`{"op": ..., "collection": ..., ...}` as in `POST /v1/transactions`)
    /// and answers its result as JSON.
    fn execute(&self, py: Python<'_>, operation: String) -> PyResult<String> {
        py.detach(|| {
            let op: Operation = parse_json(operation.as_bytes())?;
            let mut guard = self.txn.lock();
            let txn = guard.as_mut().ok_or_else(finished)?;
            Ok(apply(txn, op)?.to_string())
        })
        .map_err(|err| to_py_err(py, err))
    }

    /// Commits; answers the commit's sequence number.
    fn commit(&self, py: Python<'_>) -> PyResult<u64> {
        py.detach(|| Ok(self.take()?.commit()?))
            .map_err(|err| to_py_err(py, err))
    }

    /// Forgets every write of the transaction (nothing happens if it is already finished).
    fn rollback(&self, py: Python<'_>) {
        py.detach(|| {
            if let Some(txn) = self.txn.lock().take() {
                txn.rollback();
            }
        });
    }

    /// Whether the transaction is still open.
    fn is_open(&self) -> bool {
        self.txn.lock().is_some()
    }
}

/// The id of an operation.
fn doc_id(value: &Value) -> CallResult<DocId> {
    Ok(DocId::from_value(value)?)
}

/// A document to store: an object within the document-size limit.
fn document(doc: Value) -> CallResult<Value> {
    check_document(&doc, cairn::document_limits::MAX_DOCUMENT_BYTES)?;
    Ok(doc)
}

/// The document as JSON (documents always convert).
fn doc_json(doc: &Value) -> Json {
    serde_json::to_value(doc).unwrap_or(Json::Null)
}

/// Runs one operation inside the transaction; its result as `POST /v1/transactions` reports it.
fn apply(txn: &mut cairn::Transaction, op: Operation) -> CallResult<Json> {
    Ok(match op {
        Operation::Insert {
            collection,
            document: doc,
        } => {
            let id = txn.insert(&collection, document(doc)?)?;
            json!({ "_id": doc_json(&id.to_value()) })
        }
        Operation::Get { collection, id } => {
            let doc = txn.get(&collection, &doc_id(&id)?)?;
            json!({ "document": doc.as_ref().map(doc_json) })
        }
        Operation::Replace {
            collection,
            id,
            document: doc,
        } => {
            txn.replace(&collection, &doc_id(&id)?, document(doc)?)?;
            json!({})
        }
        Operation::Upsert {
            collection,
            document: doc,
        } => {
            let doc = document(doc)?;
            let id = doc.as_object().and_then(|obj| obj.get("_id")).map(doc_json);
            let upserted = match txn.upsert(&collection, doc)? {
                Upserted::Inserted => "inserted",
                Upserted::Replaced => "replaced",
            };
            json!({ "_id": id, "upserted": upserted })
        }
        Operation::Update {
            collection,
            id,
            patch,
        } => {
            let patch = Patch::from_value(&patch.0)?;
            let doc = txn.update(&collection, &doc_id(&id)?, &patch)?;
            json!({ "document": doc_json(&doc) })
        }
        Operation::Delete { collection, id } => {
            json!({ "deleted": txn.delete(&collection, &doc_id(&id)?)? })
        }
        Operation::Cas {
            collection,
            id,
            expected,
            patch,
        } => {
            let id = doc_id(&id)?;
            let expected = parse_expected(&expected.0)?;
            let patch = Patch::from_value(&patch.0)?;
            let outcome = txn.compare_and_swap(&collection, &id, &expected, &patch)?;
            json!({ "document": doc_json(&cas_result(outcome, &collection, &id, None)?) })
        }
    })
}
