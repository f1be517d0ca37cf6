//! Lineage: where a collection's data came from. Each operation that fills a collection from
//! elsewhere leaves a record in the reserved collection `_sys_lineage` — an import names its
//! file (name, size, SHA-256), a derivation (SQL's `CREATE TABLE … AS SELECT`, `INSERT …
//! SELECT`, a materialisation from a source) its input collections and external tables and
//! its statement — so `lineage(db, name)` answers upstream (what filled a collection) and
//! downstream (what a collection or an external table `source.schema.table` fed), and
//! [`openlineage_event`] exports a record as an OpenLineage run event.
//!
//! A derivation records its lineage in the transaction that writes its rows
//! ([`record_in`]): both commit, or neither does.
//!
//! Records name collections as they were called at the time; a rename does not rewrite them.

use cairn_doc::{DateTime, DocId, Object, Value};
use cairn_engine::{Database, EngineError, Result, Transaction};

/// The reserved collection holding lineage records.
pub const LINEAGE: &str = "_sys_lineage";

/// The OpenLineage namespace of Cairn collections in exported events.
pub const OPENLINEAGE_NAMESPACE: &str = "cairn";

/// Where data came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineageInput {
    /// A file read by an import.
    File {
        /// The file name as given.
        name: String,
        /// Its size.
        size_bytes: u64,
        /// SHA-256 of its contents, lowercase hex.
        sha256: String,
    },
    /// A collection read by a derivation.
    Collection {
        /// Its name at the time.
        name: String,
    },
    /// A table of an external source read by a derivation.
    Source {
        /// Its name in SQL: `source.schema.table`.
        name: String,
        /// The source's kind (`postgres`, `sqlite`, `csv`, ...).
        kind: String,
        /// Its OpenLineage dataset namespace (`postgres://host:port`, `file`, ...): never
        /// credentials.
        namespace: String,
        /// Its OpenLineage dataset name (`database.schema.table`, a file's path, ...).
        dataset: String,
    },
}

impl LineageInput {
    /// The name a lineage query matches this input by: a collection's or an external
    /// table's (`source.schema.table`); `None` for a file.
    pub fn table_name(&self) -> Option<&str> {
        match self {
            LineageInput::File { .. } => None,
            LineageInput::Collection { name } | LineageInput::Source { name, .. } => Some(name),
        }
    }
}

/// One operation that filled a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct LineageRecord {
    /// The record's id (set when stored).
    pub id: Option<DocId>,
    /// The collection written.
    pub output: String,
    /// `import`, `create_table_as`, `insert_select`, ...
    pub operation: String,
    /// What it read.
    pub inputs: Vec<LineageInput>,
    /// The statement, for derivations.
    pub statement: Option<String>,
    /// When it finished.
    pub at: DateTime,
    /// Documents written, when known.
    pub documents: Option<u64>,
}

/// A collection's lineage.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lineage {
    /// Records whose output is the collection (what filled it), oldest first.
    pub upstream: Vec<LineageRecord>,
    /// Records reading the collection (what it fed), oldest first.
    pub downstream: Vec<LineageRecord>,
}

/// Stores a record (its `id` is chosen here: a UUIDv7, so records list in time order).
pub fn record(db: &Database, record: &LineageRecord) -> Result<DocId> {
    ensure_collection(db)?;
    db.insert(LINEAGE, to_value(record))
}

/// Stores a record inside `txn`, so it commits with the rows it describes (its `id` is chosen
/// here). The reserved collection must exist ([`ensure_collection`]): creating it inside a
/// user's transaction would make concurrent derivations conflict.
pub fn record_in(txn: &mut Transaction, record: &LineageRecord) -> Result<DocId> {
    txn.insert(LINEAGE, to_value(record))
}

/// Creates the reserved collection if it does not exist yet (its own small commit).
pub fn ensure_collection(db: &Database) -> Result<()> {
    match db.create_collection(LINEAGE) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// The lineage of `name` (a collection, or an external table `source.schema.table`): every
/// record writing it or reading it. Reads every record (one small document per import or
/// derivation).
pub fn lineage(db: &Database, name: &str) -> Result<Lineage> {
    let collection = name;
    let mut out = Lineage::default();
    let visited = db.for_each(LINEAGE, |id, doc| {
        if let Some(mut record) = from_value(doc) {
            record.id = Some(id.clone());
            let reads = record
                .inputs
                .iter()
                .any(|input| input.table_name() == Some(collection));
            if reads {
                out.downstream.push(record.clone());
            }
            if record.output == collection {
                out.upstream.push(record);
            }
        }
        true
    });
    match visited {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => Ok(out),
        Err(err) => Err(err),
    }
}

/// Every record, oldest first.
pub fn all(db: &Database) -> Result<Vec<LineageRecord>> {
    let mut out = Vec::new();
    let visited = db.for_each(LINEAGE, |id, doc| {
        if let Some(mut record) = from_value(doc) {
            record.id = Some(id.clone());
            out.push(record);
        }
        true
    });
    match visited {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => Ok(out),
        Err(err) => Err(err),
    }
}

/// A record as a document for display: its fields with `at` as RFC 3339 text and its `_id`.
pub fn record_value(record: &LineageRecord) -> Value {
    let mut value = to_value(record);
    if let Value::Object(object) = &mut value {
        object.insert("at", record.at.to_string());
        if let Some(id) = &record.id {
            object.insert("_id", id.to_value());
        }
    }
    value
}

fn to_value(record: &LineageRecord) -> Value {
    let inputs = record
        .inputs
        .iter()
        .map(|input| {
            let mut object = Object::new();
            match input {
                LineageInput::File {
                    name,
                    size_bytes,
                    sha256,
                } => {
                    object.insert("kind", "file");
                    object.insert("name", name.as_str());
                    object.insert("size_bytes", i64::try_from(*size_bytes).unwrap_or(i64::MAX));
                    object.insert("sha256", sha256.as_str());
                }
                LineageInput::Collection { name } => {
                    object.insert("kind", "collection");
                    object.insert("name", name.as_str());
                }
                LineageInput::Source {
                    name,
                    kind,
                    namespace,
                    dataset,
                } => {
                    object.insert("kind", "source");
                    object.insert("name", name.as_str());
                    object.insert("source_kind", kind.as_str());
                    object.insert("namespace", namespace.as_str());
                    object.insert("dataset", dataset.as_str());
                }
            }
            Value::Object(object)
        })
        .collect::<Vec<_>>();
    let mut doc = Object::new();
    doc.insert("output", record.output.as_str());
    doc.insert("operation", record.operation.as_str());
    doc.insert("inputs", inputs);
    doc.insert(
        "statement",
        record.statement.as_deref().map_or(Value::Null, Value::from),
    );
    doc.insert("at", record.at);
    doc.insert(
        "documents",
        record.documents.map_or(Value::Null, |n| {
            Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }),
    );
    Value::Object(doc)
}

fn from_value(doc: &Value) -> Option<LineageRecord> {
    let doc = doc.as_object()?;
    let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_string);
    let inputs = doc
        .get("inputs")?
        .as_array()?
        .iter()
        .filter_map(|input| {
            let input = input.as_object()?;
            let field = |key: &str| input.get(key).and_then(Value::as_str).map(str::to_string);
            match input.get("kind")?.as_str()? {
                "file" => Some(LineageInput::File {
                    name: field("name")?,
                    size_bytes: input
                        .get("size_bytes")
                        .and_then(Value::as_i64)
                        .and_then(|n| u64::try_from(n).ok())?,
                    sha256: field("sha256")?,
                }),
                "collection" => Some(LineageInput::Collection {
                    name: field("name")?,
                }),
                "source" => Some(LineageInput::Source {
                    name: field("name")?,
                    kind: field("source_kind")?,
                    namespace: field("namespace")?,
                    dataset: field("dataset")?,
                }),
                _ => None,
            }
        })
        .collect();
    Some(LineageRecord {
        id: None,
        output: text("output")?,
        operation: text("operation")?,
        inputs,
        statement: text("statement"),
        at: match doc.get("at")? {
            Value::DateTime(at) => *at,
            _ => return None,
        },
        documents: doc
            .get("documents")
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok()),
    })
}

/// The record as an OpenLineage `RunEvent` (spec 2-0-2, event type `COMPLETE`): the job is
/// `OPERATION:OUTPUT` in namespace `cairn`, files are inputs in namespace `file`, collections
/// datasets in namespace `cairn`, and a file's size and SHA-256 ride in a `cairn_file` facet.
pub fn openlineage_event(record: &LineageRecord) -> Value {
    let dataset = |namespace: &str, name: &str, facets: Option<Object>| {
        let mut object = Object::new();
        object.insert("namespace", namespace);
        object.insert("name", name);
        object.insert("facets", facets.unwrap_or_default());
        Value::Object(object)
    };
    let inputs: Vec<Value> = record
        .inputs
        .iter()
        .map(|input| match input {
            LineageInput::File {
                name,
                size_bytes,
                sha256,
            } => {
                let mut facet = Object::new();
                facet.insert("_producer", PRODUCER);
                facet.insert("_schemaURL", CAIRN_FILE_FACET_SCHEMA);
                facet.insert("size_bytes", i64::try_from(*size_bytes).unwrap_or(i64::MAX));
                facet.insert("sha256", sha256.as_str());
                let mut facets = Object::new();
                facets.insert("cairn_file", facet);
                dataset("file", name, Some(facets))
            }
            LineageInput::Collection { name } => dataset(OPENLINEAGE_NAMESPACE, name, None),
            LineageInput::Source {
                name,
                kind,
                namespace,
                dataset: physical,
            } => {
                let mut facet = Object::new();
                facet.insert("_producer", PRODUCER);
                facet.insert("_schemaURL", CAIRN_SOURCE_FACET_SCHEMA);
                facet.insert("name", name.as_str());
                facet.insert("kind", kind.as_str());
                let mut facets = Object::new();
                facets.insert("cairn_source", facet);
                dataset(namespace, physical, Some(facets))
            }
        })
        .collect();
    let mut run = Object::new();
    run.insert(
        "runId",
        match &record.id {
            Some(DocId::Uuid(id)) => id.to_string(),
            Some(other) => other.to_string(),
            None => String::new(),
        },
    );
    let mut job = Object::new();
    job.insert("namespace", OPENLINEAGE_NAMESPACE);
    job.insert("name", format!("{}:{}", record.operation, record.output));
    if let Some(statement) = &record.statement {
        let mut sql = Object::new();
        sql.insert("_producer", PRODUCER);
        sql.insert(
            "_schemaURL",
            "https://openlineage.io/spec/facets/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet",
        );
        sql.insert("query", statement.as_str());
        let mut facets = Object::new();
        facets.insert("sql", sql);
        job.insert("facets", facets);
    }
    let mut event = Object::new();
    event.insert("eventType", "COMPLETE");
    event.insert("eventTime", record.at.to_string());
    event.insert("run", run);
    event.insert("job", job);
    event.insert("inputs", inputs);
    event.insert(
        "outputs",
        vec![dataset(OPENLINEAGE_NAMESPACE, &record.output, None)],
    );
    event.insert("producer", PRODUCER);
    event.insert(
        "schemaURL",
        "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    );
    Value::Object(event)
}

/// The schema URL of the custom source facet (the table's name in Cairn's SQL and its kind).
const CAIRN_SOURCE_FACET_SCHEMA: &str =
    "https://github.com/cairn-db/cairn/docs/design/server.md#lineage-sources";

/// The `producer` of exported events.
const PRODUCER: &str = "https://github.com/cairn-db/cairn";

/// The schema URL of the custom file facet (size and SHA-256).
const CAIRN_FILE_FACET_SCHEMA: &str =
    "https://github.com/cairn-db/cairn/docs/design/server.md#lineage";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_and_derivations_read_back_upstream_and_downstream() {
        let db = crate::open_in_memory().unwrap();
        let at = DateTime::from_micros(1_700_000_000_000_000);
        let import = LineageRecord {
            id: None,
            output: "runs".to_string(),
            operation: "import".to_string(),
            inputs: vec![LineageInput::File {
                name: "runs.csv".to_string(),
                size_bytes: 42,
                sha256: "ab".repeat(32),
            }],
            statement: None,
            at,
            documents: Some(3),
        };
        let id = record(&db, &import).unwrap();
        let derived = LineageRecord {
            id: None,
            output: "best".to_string(),
            operation: "create_table_as".to_string(),
            inputs: vec![LineageInput::Collection {
                name: "runs".to_string(),
            }],
            statement: Some("CREATE TABLE best AS SELECT * FROM runs".to_string()),
            at,
            documents: None,
        };
        record(&db, &derived).unwrap();
        let runs = lineage(&db, "runs").unwrap();
        assert_eq!(runs.upstream.len(), 1);
        assert_eq!(runs.upstream[0].id.as_ref(), Some(&id));
        assert_eq!(runs.upstream[0].inputs, import.inputs);
        assert_eq!(runs.upstream[0].documents, Some(3));
        assert_eq!(runs.downstream.len(), 1);
        assert_eq!(runs.downstream[0].output, "best");
        let best = lineage(&db, "best").unwrap();
        assert_eq!(best.upstream[0].statement, derived.statement);
        assert!(lineage(&db, "nothing").unwrap().upstream.is_empty());

        let event = openlineage_event(&runs.upstream[0]);
        let json = event.to_json_string();
        for needle in [
            r#""eventType":"COMPLETE""#,
            r#""name":"import:runs""#,
            r#""namespace":"file""#,
            r#""size_bytes":42"#,
            r#""schemaURL":"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent""#,
        ] {
            assert!(json.contains(needle), "{needle} in {json}");
        }
        let derived_event = openlineage_event(&runs.downstream[0]).to_json_string();
        assert!(derived_event.contains(r#""query":"CREATE TABLE best AS SELECT * FROM runs""#));
    }
}
