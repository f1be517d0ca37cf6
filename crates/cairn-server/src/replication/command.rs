//! Replicated writes as deterministic commands: one [`WriteCommand`] is one Cairn transaction's
//! operations (or one DDL: a collection, an index, a schema), with every input that could differ between nodes —
//! generated `_id`s, `$currentDate` — fixed before it is proposed ([`WriteCommand::fixed_patch`]).
//! Every node applies the same commands in log order through the ordinary engine API
//! ([`WriteCommand::apply`]) and so reaches the same state; the outcome (the answer the client
//! gets, or the error it means, such as `cas_mismatch`) is itself deterministic.
//!
//! Documents travel as Cairn's extended JSON text, which round-trips every value type.

use axum::http::StatusCode;
use cairn::{
    CasOutcome, Database, DateTime, DocId, EngineError, Object, Patch, Transaction, Upserted, Value,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::api_error::ApiError;
use crate::routes::documents::{cas_result, not_found, parse_expected};
use crate::routes::indexes::{create_index_in, drop_named, CreateIndex};
use crate::routes::schemas::{self, SchemaView};
use crate::transact::{self, TxnError};

/// One replicated write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum WriteCommand {
    /// Create a collection.
    CreateCollection {
        /// Its name.
        name: String,
        /// Whether it keeps routing entries; `None` (and entries logged before the option
        /// existed) takes the default for the name, the same on every node.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        routing: Option<bool>,
    },
    /// Drop a collection.
    DropCollection {
        /// Its name.
        name: String,
    },
    /// Rename a collection.
    RenameCollection {
        /// Its name.
        from: String,
        /// The new name.
        to: String,
    },
    /// Insert one document (its `_id` fixed).
    Insert {
        /// The collection.
        collection: String,
        /// The document, extended JSON.
        doc: String,
    },
    /// Insert or replace the document at its `_id`.
    Put {
        /// The collection.
        collection: String,
        /// The document (with its `_id`), extended JSON.
        doc: String,
    },
    /// Apply update operators (`$currentDate` already turned into `$set`).
    Patch {
        /// The collection.
        collection: String,
        /// The id, extended JSON.
        id: String,
        /// The operators, extended JSON.
        patch: String,
        /// Largest document the server accepts (bytes).
        limit: usize,
    },
    /// Delete one document.
    Delete {
        /// The collection.
        collection: String,
        /// The id, extended JSON.
        id: String,
    },
    /// Compare-and-swap.
    Cas {
        /// The collection.
        collection: String,
        /// The id, extended JSON.
        id: String,
        /// Field path → value, extended JSON.
        expected: String,
        /// The operators, extended JSON.
        patch: String,
        /// Largest document the server accepts (bytes).
        limit: usize,
    },
    /// Create an index and build it from the documents there (any kind).
    CreateIndex {
        /// The collection.
        collection: String,
        /// The `POST .../indexes` body, checked by the leader before proposing.
        request: Json,
    },
    /// Drop an index (any kind).
    DropIndex {
        /// The collection.
        collection: String,
        /// The index name.
        name: String,
    },
    /// Set a collection's schema (a new version).
    SetSchema {
        /// The collection.
        collection: String,
        /// The schema document, extended JSON.
        schema: String,
        /// Who set it (recorded in the schema's history).
        author: String,
        /// The version this creates (the leader's current one + 1 when proposed): applying
        /// it over another version is a `schema_changed` conflict, and finding exactly this
        /// version with this definition means a crash interrupted the entry after the schema
        /// committed (it is not set twice).
        version: u64,
    },
    /// Insert (or upsert) many documents atomically (each `_id` fixed).
    Batch {
        /// The collection.
        collection: String,
        /// The documents, extended JSON.
        docs: Vec<String>,
        /// Replace documents whose `_id` exists.
        upsert: bool,
    },
}

/// What a command did: the HTTP status and JSON body of the answer (errors included), the same
/// on every node.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CommandOutcome {
    /// HTTP status code.
    pub status: u16,
    /// The answer's body.
    pub body: Json,
}

impl CommandOutcome {
    fn ok(status: StatusCode, body: Json) -> CommandOutcome {
        CommandOutcome {
            status: status.as_u16(),
            body,
        }
    }

    fn error(err: &ApiError) -> CommandOutcome {
        CommandOutcome {
            status: err.status.as_u16(),
            body: serde_json::to_value(err.body()).unwrap_or(Json::Null),
        }
    }
}

/// Renders a value as extended JSON text.
fn text(value: &Value) -> String {
    value.to_json_string()
}

fn parse(text: &str) -> Result<Value, ApiError> {
    Ok(Value::from_json_str(text)?)
}

/// Parses an operator expression (patches, CAS expectations: `$` keys and dotted paths).
fn parse_expr(text: &str) -> Result<Value, ApiError> {
    Ok(Value::from_json_expression(text)?)
}

impl WriteCommand {
    /// An insert whose `_id` is fixed now (a UUIDv7 when the document has none).
    pub fn insert(collection: String, doc: Value) -> Result<WriteCommand, ApiError> {
        let doc = with_generated_id(doc)?;
        Ok(WriteCommand::Insert {
            collection,
            doc: text(&doc),
        })
    }

    /// A patch (or CAS patch) with `$currentDate` replaced by `$set` of this instant.
    pub fn fixed_patch(patch: &Value) -> Result<String, ApiError> {
        Patch::from_value(patch)?;
        Ok(text(&fix_current_date(patch.clone(), DateTime::now())))
    }

    /// A batch whose documents' `_id`s are fixed now.
    pub fn batch(
        collection: String,
        docs: Vec<Value>,
        upsert: bool,
    ) -> Result<WriteCommand, ApiError> {
        let docs = docs
            .into_iter()
            .map(|doc| with_generated_id(doc).map(|doc| text(&doc)))
            .collect::<Result<_, _>>()?;
        Ok(WriteCommand::Batch {
            collection,
            docs,
            upsert,
        })
    }

    /// Id text of a document id, for the commands that address one.
    pub fn id_text(id: &DocId) -> String {
        text(&id.to_value())
    }

    /// Applies the command to `db`; `mark` runs inside the same transaction (the replication
    /// layer records the applied log position there, so a restart never applies an entry
    /// twice). DDL (collections, indexes, schemas) commits on its own first, then `mark` in a
    /// transaction of its own: a crash between the two replays the DDL, which then fails
    /// (`collection_exists`, `index_exists`, or a schema version equal to the current one) and
    /// leaves the state as it was — only that replayed entry's answer differs, and nobody
    /// waits for it any more.
    pub fn apply(
        &self,
        db: &Database,
        mark: &dyn Fn(&mut Transaction) -> Result<(), EngineError>,
    ) -> CommandOutcome {
        match self.try_apply(db, mark) {
            Ok(outcome) => outcome,
            Err(err) => {
                // The command failed as a whole (nothing of it committed): still record the
                // position, so the entry is not applied again after a restart.
                if let Err(mark_err) = transact::run(db, |txn| Ok(mark(txn)?)) {
                    tracing::error!(error = %mark_err.message, "recording the applied position failed");
                }
                CommandOutcome::error(&err)
            }
        }
    }

    fn try_apply(
        &self,
        db: &Database,
        mark: &dyn Fn(&mut Transaction) -> Result<(), EngineError>,
    ) -> Result<CommandOutcome, ApiError> {
        match self {
            WriteCommand::CreateCollection { name, routing } => {
                let options = cairn::CollectionOptions { routing: *routing };
                let created = db.create_collection_with(name, &options);
                transact::run(db, |txn| Ok(mark(txn)?))?;
                let info = crate::routes::collections::CollectionInfo::from(created?);
                let body = serde_json::to_value(info).unwrap_or(Json::Null);
                Ok(CommandOutcome::ok(StatusCode::CREATED, body))
            }
            WriteCommand::DropCollection { name } => {
                let dropped = db.drop_collection(name);
                transact::run(db, |txn| Ok(mark(txn)?))?;
                dropped?;
                Ok(CommandOutcome::ok(StatusCode::NO_CONTENT, Json::Null))
            }
            WriteCommand::RenameCollection { from, to } => {
                let meta = crate::routes::collections::rename_in(db, from, to, mark)?;
                let info = crate::routes::collections::CollectionInfo::from(meta);
                let body = serde_json::to_value(info).unwrap_or(Json::Null);
                Ok(CommandOutcome::ok(StatusCode::OK, body))
            }
            WriteCommand::CreateIndex {
                collection,
                request,
            } => {
                let request: CreateIndex = serde_json::from_value(request.clone())
                    .map_err(|err| ApiError::bad_request("invalid_index", err.to_string()))?;
                let info = create_index_in(db, collection, &request)?;
                transact::run(db, |txn| Ok(mark(txn)?))?;
                let body = serde_json::to_value(info).unwrap_or(Json::Null);
                Ok(CommandOutcome::ok(StatusCode::CREATED, body))
            }
            WriteCommand::DropIndex { collection, name } => {
                drop_named(db, collection, name)?;
                transact::run(db, |txn| Ok(mark(txn)?))?;
                Ok(CommandOutcome::ok(StatusCode::NO_CONTENT, Json::Null))
            }
            WriteCommand::SetSchema {
                collection,
                schema,
                author,
                version,
            } => {
                let source = parse(schema)?;
                let current = cairn::schema::schema_of(db, collection)?;
                let replayed = current
                    .as_ref()
                    .is_some_and(|info| info.version == *version && info.source == source);
                if !replayed {
                    let at = current.as_ref().map_or(0, |info| info.version);
                    if at + 1 != *version {
                        return Err(ApiError::new(
                            StatusCode::CONFLICT,
                            "schema_changed",
                            format!("the schema of `{collection}` changed while this change was proposed (now version {at}); read it and retry"),
                        )
                        .with_details(json!({ "collection": collection, "version": at })));
                    }
                    cairn::schema::set_schema(db, collection, &source, author)?;
                }
                transact::run(db, |txn| Ok(mark(txn)?))?;
                let version = *version;
                let view = SchemaView {
                    version,
                    schema: Some(schemas::to_json(&source)),
                    migrating: false,
                    progress: None,
                };
                let body = serde_json::to_value(view).unwrap_or(Json::Null);
                Ok(CommandOutcome::ok(StatusCode::OK, body))
            }
            WriteCommand::Insert { collection, doc } => {
                let doc = parse(doc)?;
                let (id, seq) =
                    committed(db, mark, |txn| Ok(txn.insert(collection, doc.clone())?))?;
                Ok(CommandOutcome::ok(
                    StatusCode::CREATED,
                    json!({ "_id": id_json(&id), "seq": seq }),
                ))
            }
            WriteCommand::Put { collection, doc } => {
                let doc = parse(doc)?;
                let id = doc
                    .as_object()
                    .and_then(|obj| obj.get("_id"))
                    .cloned()
                    .unwrap_or(Value::Null);
                let (upserted, seq) =
                    committed(db, mark, |txn| Ok(txn.upsert(collection, doc.clone())?))?;
                let status = match upserted {
                    Upserted::Inserted => StatusCode::CREATED,
                    Upserted::Replaced => StatusCode::OK,
                };
                Ok(CommandOutcome::ok(
                    status,
                    json!({ "_id": json_of(&id), "seq": seq }),
                ))
            }
            WriteCommand::Patch {
                collection,
                id,
                patch,
                limit,
            } => {
                let id = DocId::from_value(&parse(id)?)?;
                let patch = Patch::from_value(&parse_expr(patch)?)?;
                let (doc, seq) = committed(db, mark, |txn| {
                    let doc = txn.update(collection, &id, &patch)?;
                    transact::guard_size(&doc, *limit)?;
                    Ok(doc)
                })?;
                Ok(CommandOutcome::ok(
                    StatusCode::OK,
                    json!({ "document": json_of(&doc), "seq": seq }),
                ))
            }
            WriteCommand::Delete { collection, id } => {
                let id = DocId::from_value(&parse(id)?)?;
                let (deleted, _) = committed(db, mark, |txn| Ok(txn.delete(collection, &id)?))?;
                if !deleted {
                    return Err(not_found(collection, &id));
                }
                Ok(CommandOutcome::ok(StatusCode::NO_CONTENT, Json::Null))
            }
            WriteCommand::Cas {
                collection,
                id,
                expected,
                patch,
                limit,
            } => {
                let id = DocId::from_value(&parse(id)?)?;
                let expected = parse_expected(&parse_expr(expected)?)?;
                let patch = Patch::from_value(&parse_expr(patch)?)?;
                let (doc, seq) = committed(db, mark, |txn| {
                    let outcome: CasOutcome =
                        txn.compare_and_swap(collection, &id, &expected, &patch)?;
                    let doc = cas_result(outcome, collection, &id, None)?;
                    transact::guard_size(&doc, *limit)?;
                    Ok(doc)
                })?;
                Ok(CommandOutcome::ok(
                    StatusCode::OK,
                    json!({ "document": json_of(&doc), "seq": seq }),
                ))
            }
            WriteCommand::Batch {
                collection,
                docs,
                upsert,
            } => {
                let docs = docs
                    .iter()
                    .map(|doc| parse(doc))
                    .collect::<Result<Vec<_>, _>>()?;
                let (ids, seq) = committed(db, mark, |txn| {
                    txn.collection_meta(collection)?;
                    let mut ids = Vec::with_capacity(docs.len());
                    for doc in &docs {
                        let id = if *upsert {
                            txn.upsert(collection, doc.clone())?;
                            doc.as_object()
                                .and_then(|obj| obj.get("_id"))
                                .cloned()
                                .unwrap_or(Value::Null)
                        } else {
                            txn.insert(collection, doc.clone())?.to_value()
                        };
                        ids.push(json_of(&id));
                    }
                    Ok(ids)
                })?;
                Ok(CommandOutcome::ok(
                    StatusCode::OK,
                    json!({ "ids": ids, "seq": seq }),
                ))
            }
        }
    }
}

/// Runs `body` and `mark` in one transaction (retried on conflicts with local readers'
/// transactions; the body itself is deterministic).
fn committed<T>(
    db: &Database,
    mark: &dyn Fn(&mut Transaction) -> Result<(), EngineError>,
    mut body: impl FnMut(&mut Transaction) -> Result<T, TxnError>,
) -> Result<(T, u64), ApiError> {
    transact::run(db, |txn| {
        let value = body(txn)?;
        mark(txn)?;
        Ok(value)
    })
}

/// The document with a generated UUIDv7 `_id` first when it has none.
fn with_generated_id(doc: Value) -> Result<Value, ApiError> {
    let Value::Object(obj) = doc else {
        return Err(ApiError::bad_request(
            "invalid_document",
            "a document must be a JSON object",
        ));
    };
    if obj.get("_id").is_some() {
        return Ok(Value::Object(obj));
    }
    let mut with = Object::with_capacity(obj.len() + 1);
    with.insert("_id", DocId::new_v7().to_value());
    for (key, value) in obj {
        with.insert(key, value);
    }
    Ok(Value::Object(with))
}

/// `$currentDate: {path: ...}` becomes `$set: {path: now}` (merged into an existing `$set`).
fn fix_current_date(patch: Value, now: DateTime) -> Value {
    let Value::Object(mut ops) = patch else {
        return patch;
    };
    let Some(Value::Object(dates)) = ops.remove("$currentDate") else {
        return Value::Object(ops);
    };
    let mut set = match ops.remove("$set") {
        Some(Value::Object(set)) => set,
        _ => Object::new(),
    };
    for (path, _) in dates {
        set.insert(path, Value::DateTime(now));
    }
    ops.insert("$set", Value::Object(set));
    Value::Object(ops)
}

fn id_json(id: &DocId) -> Json {
    json_of(&id.to_value())
}

/// A value as plain JSON for an answer body (extended JSON wrappers kept).
fn json_of(value: &Value) -> Json {
    serde_json::from_str(&value.to_json_string()).unwrap_or(Json::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_mark(_: &mut Transaction) -> Result<(), EngineError> {
        Ok(())
    }

    #[test]
    fn a_replicated_create_carries_routing_and_old_entries_take_the_default() {
        // Raft entries written before the option existed have no `routing`.
        let old: WriteCommand =
            serde_json::from_str(r#"{"op": "create_collection", "name": "c"}"#).unwrap();
        assert_eq!(
            old,
            WriteCommand::CreateCollection {
                name: "c".into(),
                routing: None
            }
        );
        let unrouted = WriteCommand::CreateCollection {
            name: "u".into(),
            routing: Some(false),
        };
        let text = serde_json::to_string(&unrouted).unwrap();
        assert_eq!(
            serde_json::from_str::<WriteCommand>(&text).unwrap(),
            unrouted
        );
        let db = Database::open_in_memory().unwrap();
        for command in [&old, &unrouted] {
            let outcome = command.apply(&db, &no_mark);
            assert_eq!(outcome.status, 201, "{:?}", outcome.body);
        }
        let routing: Vec<(String, bool)> = db
            .list_collections()
            .unwrap()
            .into_iter()
            .map(|meta| (meta.name, meta.routing))
            .collect();
        assert_eq!(routing, [("c".into(), true), ("u".into(), false)]);
        // The answer says what was created.
        let body = unrouted
            .apply(&Database::open_in_memory().unwrap(), &no_mark)
            .body;
        assert_eq!(body["routing"], Json::Bool(false));
    }

    #[test]
    fn two_databases_applying_the_same_commands_hold_the_same_documents() {
        let patch =
            Value::from_json_expression(r#"{"$currentDate": {"at": true}, "$inc": {"n": 1}}"#)
                .unwrap();
        let commands = [
            WriteCommand::CreateCollection {
                name: "c".into(),
                routing: None,
            },
            WriteCommand::insert("c".into(), Value::from_json_str(r#"{"n": 1}"#).unwrap()).unwrap(),
            WriteCommand::insert(
                "c".into(),
                Value::from_json_str(r#"{"_id": 7, "n": 1}"#).unwrap(),
            )
            .unwrap(),
            WriteCommand::Patch {
                collection: "c".into(),
                id: WriteCommand::id_text(&DocId::Int(7)),
                patch: WriteCommand::fixed_patch(&patch).unwrap(),
                limit: 1 << 20,
            },
        ];
        let dbs = [
            Database::open_in_memory().unwrap(),
            Database::open_in_memory().unwrap(),
        ];
        let mut outcomes = Vec::new();
        for db in &dbs {
            outcomes.push(
                commands
                    .iter()
                    .map(|c| c.apply(db, &no_mark))
                    .collect::<Vec<_>>(),
            );
        }
        // A collection's `created_at` is stamped by each node's engine when it applies the
        // DDL: the one field known to differ (README "Clusters", limitations).
        for outcome in outcomes.iter_mut() {
            outcome[0].body["created_at"] = Json::Null;
        }
        assert_eq!(outcomes[0], outcomes[1]);
        assert_eq!(outcomes[0][3].status, 200);
        let doc = |db: &Database| {
            db.get("c", &DocId::Int(7))
                .unwrap()
                .unwrap()
                .to_json_string()
        };
        assert_eq!(doc(&dbs[0]), doc(&dbs[1]));
        assert!(doc(&dbs[0]).contains("$date"), "{}", doc(&dbs[0]));
    }

    /// A replicated rename moves the documents on every node, records the applied position in
    /// its own transaction, and a replay (after a crash between apply and mark) is refused
    /// without changing anything.
    #[test]
    fn a_replicated_rename_moves_the_collection_on_every_node() {
        let rename = WriteCommand::RenameCollection {
            from: "c".into(),
            to: "d".into(),
        };
        let commands = [
            WriteCommand::CreateCollection {
                name: "c".into(),
                routing: None,
            },
            WriteCommand::insert("c".into(), Value::from_json_str(r#"{"_id": 1}"#).unwrap())
                .unwrap(),
            rename.clone(),
        ];
        for db in [
            Database::open_in_memory().unwrap(),
            Database::open_in_memory().unwrap(),
        ] {
            let marked = std::sync::atomic::AtomicU32::new(0);
            let mark = |_: &mut Transaction| {
                marked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            };
            let outcomes: Vec<_> = commands.iter().map(|c| c.apply(&db, &mark)).collect();
            assert_eq!(outcomes[2].status, 200, "{:?}", outcomes[2]);
            assert_eq!(outcomes[2].body["name"], "d");
            assert!(db.get("d", &DocId::Int(1)).unwrap().is_some());
            let replayed = rename.apply(&db, &mark);
            assert_eq!(replayed.status, 404, "{replayed:?}");
            assert_eq!(marked.load(std::sync::atomic::Ordering::SeqCst), 4);
            assert!(db.get("d", &DocId::Int(1)).unwrap().is_some());
        }
    }

    fn schema(version: u64, fields: &str) -> WriteCommand {
        WriteCommand::SetSchema {
            collection: "c".into(),
            schema: format!(r#"{{"fields": {fields}}}"#),
            author: "root".into(),
            version,
        }
    }

    #[test]
    fn index_and_schema_commands_leave_every_node_alike_and_a_replayed_schema_is_set_once() {
        let index = WriteCommand::CreateIndex {
            collection: "c".into(),
            request: json!({"name": "by_n", "fields": ["n"], "unique": true}),
        };
        let commands = [
            WriteCommand::CreateCollection {
                name: "c".into(),
                routing: None,
            },
            WriteCommand::insert(
                "c".into(),
                Value::from_json_str(r#"{"_id": 1, "n": 1}"#).unwrap(),
            )
            .unwrap(),
            index.clone(),
            schema(1, r#"{"n": {"type": "int"}}"#),
            // Proposed by a leader that had not applied version 1 yet: a conflict everywhere.
            schema(1, r#"{"n": {"type": "int"}, "m": {"type": "string"}}"#),
            WriteCommand::DropIndex {
                collection: "c".into(),
                name: "by_n".into(),
            },
        ];
        // The facade registers the index and schema extension kinds, as `cairn serve` does.
        let dbs = [
            cairn::open_in_memory().unwrap(),
            cairn::open_in_memory().unwrap(),
        ];
        let mut outcomes: Vec<Vec<u16>> = Vec::new();
        for db in &dbs {
            outcomes.push(
                commands
                    .iter()
                    .map(|c| c.apply(db, &no_mark).status)
                    .collect(),
            );
        }
        assert_eq!(outcomes[0], outcomes[1]);
        assert_eq!(outcomes[0][2..].to_vec(), vec![201u16, 200, 409, 204]);
        // A crash after the schema committed but before the applied position: the replayed
        // entry answers as the first time and creates no version 2.
        let replayed = schema(1, r#"{"n": {"type": "int"}}"#).apply(&dbs[0], &no_mark);
        assert_eq!(replayed.status, 200);
        assert_eq!(replayed.body["version"], 1);
        let info = cairn::schema::schema_of(&dbs[0], "c").unwrap().unwrap();
        assert_eq!(info.version, 1);
        // The index command refuses what the route refuses, the same on every node.
        let duplicate = WriteCommand::CreateIndex {
            collection: "c".into(),
            request: json!({"name": "bad", "fields": ["n"], "kind": "vector"}),
        };
        assert_eq!(duplicate.apply(&dbs[1], &no_mark).status, 400);
    }

    #[test]
    fn a_failing_command_is_a_deterministic_error_outcome() {
        let db = Database::open_in_memory().unwrap();
        let outcome = WriteCommand::Delete {
            collection: "missing".into(),
            id: WriteCommand::id_text(&DocId::Int(1)),
        }
        .apply(&db, &no_mark);
        assert_eq!(outcome.status, 404);
        assert!(outcome.body["error"]["code"].is_string());
    }
}
