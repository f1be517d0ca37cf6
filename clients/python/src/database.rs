//! `cairn._cairn.Database`: one database opened in this process. Every method takes and
//! returns JSON text in the server's request and response shapes and releases the GIL while
//! the engine works, so other Python threads run meanwhile.

use std::path::PathBuf;

use cairn::query::Pipeline;
use cairn::{Config, DocId, JsonExpression, Patch, StorageMode, Value};
use cairn_server::routes::indexes::{all_indexes, create_index_in, drop_named, CreateIndex};
use cairn_server::routes::queries::{build_query, parse_filter, QueryRequest};
use cairn_server::ApiError;
use cairn_server::{check_document, parse_json};
use pyo3::prelude::*;
use serde_json::json;

use crate::error::{to_py_err, CallResult};
use crate::transaction::Transaction;

/// An open database (the engine's handle is cheap to clone and safe to share across threads).
#[pyclass(frozen, module = "cairn._cairn")]
pub struct Database {
    db: cairn::Database,
}

/// Runs `call` with the GIL released and turns its error into the Python exception.
fn detached<T: Send>(py: Python<'_>, call: impl FnOnce() -> CallResult<T> + Send) -> PyResult<T> {
    py.detach(call).map_err(|err| to_py_err(py, err))
}

/// A document or value from the JSON text the Python side wrote (document rules: `$`-keys
/// only as typed wrappers such as `{"$date": ...}`).
pub fn parse_value(text: &str) -> CallResult<Value> {
    Ok(Value::from_json_str(text)?)
}

/// A document to store: an object within the document-size limit, as the server checks it.
pub fn parse_document(text: &str) -> CallResult<Value> {
    let doc = parse_value(text)?;
    check_document(&doc, cairn::document_limits::MAX_DOCUMENT_BYTES)?;
    Ok(doc)
}

/// An operator expression (patch, filter, pipeline) from JSON text: keys may start with `$`.
pub fn parse_expression(text: &str) -> CallResult<Value> {
    Ok(Value::from_json_expression(text)?)
}

/// A document id from its JSON text (an integer, a string or `{"$uuid": ...}`).
pub fn parse_id(text: &str) -> CallResult<DocId> {
    Ok(DocId::from_value(&parse_value(text)?)?)
}

/// The storage mode named `mode` (`persistent`, `memory-first`, `hybrid`, `memory-only`).
fn storage_mode(mode: &str) -> CallResult<StorageMode> {
    StorageMode::from_name(mode).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_request",
            format!(
                "unknown storage mode `{mode}`; one of persistent, memory-first, hybrid, memory-only"
            ),
        )
        .with_details(json!({ "field": "mode", "value": mode }))
    })
}

#[pymethods]
impl Database {
    /// Opens (creating if needed) the database in folder `path` in storage mode `mode`.
    #[new]
    fn open(py: Python<'_>, path: String, mode: &str) -> PyResult<Database> {
        let mode = storage_mode(mode).map_err(|err| to_py_err(py, err))?;
        detached(py, move || {
            let db = cairn::open(Config::new(PathBuf::from(path), mode))?;
            Ok(Database { db })
        })
    }

    /// The storage mode's name.
    fn mode(&self) -> &'static str {
        self.db.mode().name()
    }

    /// Makes every acknowledged commit durable now (memory-first mode flushes on a timer).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        detached(py, || Ok(self.db.flush()?))
    }

    /// The user collections' names, as a JSON array.
    fn list_collections(&self, py: Python<'_>) -> PyResult<String> {
        detached(py, || {
            let names: Vec<String> = self
                .db
                .list_collections()?
                .into_iter()
                .map(|meta| meta.name)
                .filter(|name| !cairn::is_system_collection(name))
                .collect();
            Ok(json!(names).to_string())
        })
    }

    /// Creates collection `name` (409 `collection_exists` if it is there).
    fn create_collection(&self, py: Python<'_>, name: String) -> PyResult<()> {
        detached(py, || {
            cairn_server::check_collection_name(&name)?;
            self.db.create_collection(&name)?;
            Ok(())
        })
    }

    /// Drops collection `name` with its documents and indexes.
    fn drop_collection(&self, py: Python<'_>, name: String) -> PyResult<()> {
        detached(py, || Ok(self.db.drop_collection(&name)?))
    }

    /// Inserts a document; returns its `_id` as JSON.
    fn insert(&self, py: Python<'_>, collection: String, document: String) -> PyResult<String> {
        detached(py, || {
            let doc = parse_document(&document)?;
            Ok(self
                .db
                .insert(&collection, doc)?
                .to_value()
                .to_json_string())
        })
    }

    /// The document with `_id` `id` as JSON, or `null`.
    fn get(&self, py: Python<'_>, collection: String, id: String) -> PyResult<String> {
        detached(py, || {
            let id = parse_id(&id)?;
            Ok(match self.db.get(&collection, &id)? {
                Some(doc) => doc.to_json_string(),
                None => "null".to_string(),
            })
        })
    }

    /// Replaces an existing document (404 `document_not_found` if there is none).
    fn replace(
        &self,
        py: Python<'_>,
        collection: String,
        id: String,
        document: String,
    ) -> PyResult<()> {
        detached(py, || {
            let id = parse_id(&id)?;
            let doc = parse_document(&document)?;
            Ok(self.db.replace(&collection, &id, doc)?)
        })
    }

    /// Inserts or replaces by `_id`; returns `"inserted"` or `"replaced"`.
    fn upsert(&self, py: Python<'_>, collection: String, document: String) -> PyResult<String> {
        detached(py, || {
            let doc = parse_document(&document)?;
            Ok(match self.db.upsert(&collection, doc)? {
                cairn::Upserted::Inserted => "inserted".to_string(),
                cairn::Upserted::Replaced => "replaced".to_string(),
            })
        })
    }

    /// Applies update operators; returns the updated document as JSON.
    fn update(
        &self,
        py: Python<'_>,
        collection: String,
        id: String,
        patch: String,
    ) -> PyResult<String> {
        detached(py, || {
            let id = parse_id(&id)?;
            let patch = Patch::from_value(&parse_expression(&patch)?)?;
            Ok(self.db.update(&collection, &id, &patch)?.to_json_string())
        })
    }

    /// Deletes a document; whether it was there.
    fn delete(&self, py: Python<'_>, collection: String, id: String) -> PyResult<bool> {
        detached(py, || {
            let id = parse_id(&id)?;
            Ok(self.db.delete(&collection, &id)?)
        })
    }

    /// One page of a query: `request` is the body of `POST .../query`; answers its response
    /// (`{"documents": [...], "cursor": ...}`).
    fn query(&self, py: Python<'_>, collection: String, request: String) -> PyResult<String> {
        detached(py, || {
            let request: QueryRequest = parse_json(request.as_bytes())?;
            let page = cairn::find(&self.db, &collection, &build_query(request)?)?;
            let documents = Value::Array(page.documents).to_json_string();
            Ok(match page.cursor {
                Some(cursor) => {
                    format!(r#"{{"documents":{documents},"cursor":{}}}"#, json!(cursor))
                }
                None => format!(r#"{{"documents":{documents}}}"#),
            })
        })
    }

    /// How many documents match `filter` (JSON, `null` for all).
    fn count(&self, py: Python<'_>, collection: String, filter: String) -> PyResult<u64> {
        detached(py, || {
            let filter = optional_expression(&filter)?;
            Ok(cairn::count(&self.db, &collection, &parse_filter(filter)?)?)
        })
    }

    /// The distinct values of `field` among the documents matching `filter`, as a JSON array.
    fn distinct(
        &self,
        py: Python<'_>,
        collection: String,
        field: String,
        filter: String,
    ) -> PyResult<String> {
        detached(py, || {
            let filter = parse_filter(optional_expression(&filter)?)?;
            let values = cairn::distinct(&self.db, &collection, &field, &filter)?;
            Ok(Value::Array(values).to_json_string())
        })
    }

    /// Runs an aggregation pipeline (a JSON array of stages); its output as a JSON array.
    fn aggregate(&self, py: Python<'_>, collection: String, pipeline: String) -> PyResult<String> {
        detached(py, || {
            let pipeline = Pipeline::parse(&parse_expression(&pipeline)?)?;
            let documents = pipeline.run(&self.db, &collection)?;
            Ok(Value::Array(documents).to_json_string())
        })
    }

    /// The collection's indexes, as the JSON array `GET .../indexes` answers.
    fn list_indexes(&self, py: Python<'_>, collection: String) -> PyResult<String> {
        detached(py, || {
            let indexes = all_indexes(&self.db, &collection)?;
            serde_json::to_string(&indexes).map_err(ApiError::internal)
        })
    }

    /// Creates and builds an index from the body of `POST .../indexes`; answers its
    /// description as JSON.
    fn create_index(&self, py: Python<'_>, collection: String, spec: String) -> PyResult<String> {
        detached(py, || {
            let spec: CreateIndex = parse_json(spec.as_bytes())?;
            let info = create_index_in(&self.db, &collection, &spec)?;
            serde_json::to_string(&info).map_err(ApiError::internal)
        })
    }

    /// Drops index `name` of any kind.
    fn drop_index(&self, py: Python<'_>, collection: String, name: String) -> PyResult<()> {
        detached(py, || drop_named(&self.db, &collection, &name))
    }

    /// Begins a transaction (serializable; see `cairn.Transaction`).
    fn begin(&self, py: Python<'_>) -> PyResult<Transaction> {
        detached(py, || Ok(Transaction::new(self.db.begin()?)))
    }
}

/// `null` or an operator expression.
fn optional_expression(text: &str) -> CallResult<Option<JsonExpression>> {
    let value = parse_expression(text)?;
    Ok(match value {
        Value::Null => None,
        value => Some(JsonExpression(value)),
    })
}
