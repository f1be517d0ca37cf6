//! Migrations: a new schema plus a transformation, run online over existing documents.
//!
//! A migration file is
//! ```yaml
//! schema: { fields: … }            # the new schema
//! transform:                        # optional, applied in order to each older document
//!   - rename: {from: name, to: full_name}
//!   - set: {field: total, to: "price * quantity"}   # an expression (see `expr`)
//!   - remove: legacy
//! ```
//! Starting it (after a dry run finds no document that would fail) creates the indexes the
//! new schema needs, then in one transaction makes the new version current *with* the
//! transformation, records the start in the history and resets the progress record. From then
//! on every write of an older document is transformed first, so writers and the migration
//! agree. The pass rewrites documents in key order in chunks of
//! `MIGRATION_CHUNK_DOCUMENTS`, each chunk one transaction that also stores the cursor — so a
//! crash loses at most the chunk in flight, and `migrate --resume` (or running the same file
//! again) continues after the cursor. A final transaction drops the transformation.
//! Transformation steps address top-level fields.

pub use crate::layout::MIGRATION_TABLE;
use crate::layout::PROGRESS_KEY;
use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::{DocId, Value};
use cairn_engine::{Database, EngineError, Transaction};

use crate::admin;
use crate::definition::Schema;
use crate::error::{Result, SchemaError};
use crate::expr::Expr;
use crate::extension::{check, document_version, upgrade, StoredSchema, SCHEMA_EXTENSION};
use crate::limits::{
    MAX_DRY_RUN_REASONS, MAX_DRY_RUN_SAMPLES, MAX_DRY_RUN_UNIQUE_VALUES, MAX_MIGRATION_STEPS,
};
use crate::validate::Probe;

/// One transformation step.
#[derive(Debug, Clone)]
enum Step {
    Rename { from: String, to: String },
    Set { field: String, to: Expr },
    Remove { field: String },
}

/// A declared transformation of documents.
#[derive(Debug, Clone)]
pub struct Transform {
    steps: Vec<Step>,
    source: Value,
}

fn invalid(at: String, reason: impl Into<String>) -> SchemaError {
    SchemaError::InvalidSchema {
        at,
        reason: reason.into(),
    }
}

impl Transform {
    /// Parses the `transform` list.
    pub fn from_value(value: &Value) -> Result<Transform> {
        let list = value
            .as_array()
            .ok_or_else(|| invalid("transform".into(), "a list of steps"))?;
        if list.len() > MAX_MIGRATION_STEPS {
            return Err(invalid(
                "transform".into(),
                format!("{} steps; the limit is {MAX_MIGRATION_STEPS}", list.len()),
            ));
        }
        let mut steps = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let at = format!("transform[{i}]");
            let obj = item
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| invalid(at.clone(), "a step is one of {rename}, {set}, {remove}"))?;
            let name_of = |v: Option<&Value>, what: &str| -> Result<String> {
                let name = v
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(at.clone(), format!("`{what}` is a field name")))?;
                if name.is_empty() || name.contains('.') || name == "_id" {
                    return Err(invalid(
                        at.clone(),
                        format!("`{name}`: steps address top-level fields other than `_id`"),
                    ));
                }
                Ok(name.to_string())
            };
            let step = if let Some(field) = obj.get("remove") {
                Step::Remove {
                    field: name_of(Some(field), "remove")?,
                }
            } else if let Some(Value::Object(args)) = obj.get("rename") {
                Step::Rename {
                    from: name_of(args.get("from"), "from")?,
                    to: name_of(args.get("to"), "to")?,
                }
            } else if let Some(Value::Object(args)) = obj.get("set") {
                let source = args
                    .get("to")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid(at.clone(), "`set.to` is an expression"))?;
                Step::Set {
                    field: name_of(args.get("field"), "field")?,
                    to: Expr::parse(source)?,
                }
            } else {
                return Err(invalid(
                    at,
                    "a step is one of {rename: {from, to}}, {set: {field, to}}, {remove: field}",
                ));
            };
            steps.push(step);
        }
        Ok(Transform {
            steps,
            source: value.clone(),
        })
    }

    /// The steps as written.
    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Applies every step to a document.
    pub fn apply(&self, doc: &mut Value) -> std::result::Result<(), String> {
        for step in &self.steps {
            match step {
                Step::Set { field, to } => {
                    let value = to
                        .eval(doc)
                        .map_err(|err| format!("set `{field}`: {err}"))?
                        .into_owned();
                    if let Some(obj) = doc.as_object_mut() {
                        obj.insert(field.clone(), value);
                    }
                }
                Step::Rename { from, to } => {
                    if let Some(obj) = doc.as_object_mut() {
                        if let Some(value) = obj.remove(from) {
                            obj.insert(to.clone(), value);
                        }
                    }
                }
                Step::Remove { field } => {
                    if let Some(obj) = doc.as_object_mut() {
                        obj.remove(field);
                    }
                }
            }
        }
        Ok(())
    }
}

/// A migration: the target schema and the transformation.
#[derive(Debug, Clone)]
pub struct Migration {
    /// The new schema as written.
    pub schema_source: Value,
    /// Parsed.
    pub schema: Schema,
    /// The transformation (empty: documents are only re-checked, defaulted and stamped).
    pub transform: Transform,
}

impl Migration {
    /// Parses a migration document (`schema`, optional `transform`).
    pub fn from_value(value: &Value) -> Result<Migration> {
        let obj = value
            .as_object()
            .ok_or_else(|| invalid(".".into(), "a migration is {schema, transform}"))?;
        for (key, _) in obj.iter() {
            if key != "schema" && key != "transform" {
                return Err(invalid(
                    key.to_string(),
                    "unknown key (expected schema, transform)",
                ));
            }
        }
        let schema_source = obj
            .get("schema")
            .cloned()
            .ok_or_else(|| invalid("schema".into(), "required"))?;
        let schema = Schema::from_value(&schema_source)?;
        let transform =
            Transform::from_value(obj.get("transform").unwrap_or(&Value::Array(Vec::new())))?;
        Ok(Migration {
            schema_source,
            schema,
            transform,
        })
    }
}

/// What a dry run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DryRunReport {
    /// Documents examined.
    pub total: u64,
    /// Documents that would fail.
    pub failed: u64,
    /// Per reason (kind and place, e.g. ``schema `age` ``): how many, an example message and
    /// sample ids; at most `MAX_DRY_RUN_REASONS` reasons.
    pub reasons: Vec<(String, u64, String, Vec<DocId>)>,
}

/// Reports how many documents the migration would fail on, and why, without changing anything.
pub fn dry_run(db: &Database, collection: &str, migration: &Migration) -> Result<DryRunReport> {
    let current = admin::stored(db, collection)?;
    let target = StoredSchema {
        version: current.as_ref().map_or(1, |s| s.version + 1),
        source: migration.schema_source.clone(),
        schema: migration.schema.clone(),
        migration: Some(migration.transform.clone()),
    };
    // One snapshot streams the documents; a second one (same database state, no writes in
    // between that matter to a report) answers reference lookups, so memory stays flat.
    let mut scan = db.read()?;
    let mut lookups = db.read()?;
    let mut reasons: BTreeMap<String, (u64, String, Vec<DocId>)> = BTreeMap::new();
    let mut report = DryRunReport::default();
    let mut unique = UniqueTracker::new(&migration.schema);
    scan.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, mut doc| {
            report.total += 1;
            let id = DocId::decode_key(key)?;
            let outcome = match upgrade(&target, &mut doc, true) {
                Err(reason) => Err(("transformation".to_string(), reason)),
                Ok(()) => check_with_references(&mut lookups, &target, collection, &id, &doc)
                    .and_then(|()| unique.note(&doc, &id)),
            };
            if let Err((key, message)) = outcome {
                report.failed += 1;
                if reasons.len() < MAX_DRY_RUN_REASONS || reasons.contains_key(&key) {
                    let entry = reasons
                        .entry(key)
                        .or_insert_with(|| (0, message, Vec::new()));
                    entry.0 += 1;
                    if entry.2.len() < MAX_DRY_RUN_SAMPLES {
                        entry.2.push(id);
                    }
                }
            }
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    report.reasons = reasons
        .into_iter()
        .map(|(k, (n, m, ids))| (k, n, m, ids))
        .collect();
    Ok(report)
}

/// Values of the new schema's unique fields seen so far in a dry run, to report documents the
/// transformation would give duplicate values (the unique index would refuse them mid-way).
/// Holds at most `MAX_DRY_RUN_UNIQUE_VALUES` values; past that the check stops (and says so).
struct UniqueTracker {
    fields: Vec<(String, cairn_doc::FieldPath)>,
    seen: std::collections::HashMap<(usize, Vec<u8>), DocId>,
    full: bool,
}

impl UniqueTracker {
    fn new(schema: &Schema) -> UniqueTracker {
        let fields = schema
            .field_paths()
            .into_iter()
            .filter(|(_, def)| def.unique)
            .filter_map(|(path, _)| cairn_doc::FieldPath::parse(&path).ok().map(|p| (path, p)))
            .collect();
        UniqueTracker {
            fields,
            seen: Default::default(),
            full: false,
        }
    }

    fn note(&mut self, doc: &Value, id: &DocId) -> std::result::Result<(), (String, String)> {
        for (i, (name, path)) in self.fields.iter().enumerate() {
            let Some(value) = path.get(doc).filter(|v| !v.is_null()) else {
                continue;
            };
            let key = (i, cairn_index::keys::encode_to_vec(value));
            if let Some(first) = self.seen.get(&key) {
                return Err((
                    format!("unique `{name}`"),
                    format!(
                        "documents `{first}` and `{id}` would share {name} = {}",
                        value.to_json_string()
                    ),
                ));
            }
            if self.seen.len() >= MAX_DRY_RUN_UNIQUE_VALUES {
                if !self.full {
                    self.full = true;
                    return Err((
                        "unique check incomplete".into(),
                        format!("more than {MAX_DRY_RUN_UNIQUE_VALUES} unique values; the rest were not compared"),
                    ));
                }
                continue;
            }
            self.seen.insert(key, id.clone());
        }
        Ok(())
    }
}

/// Type, constraint, rule and reference check of an upgraded document, as `(reason key, message)`.
fn check_with_references(
    txn: &mut Transaction,
    target: &StoredSchema,
    collection: &str,
    id: &DocId,
    doc: &Value,
) -> std::result::Result<(), (String, String)> {
    let mut probe = Probe::default();
    if let Err(err) = check(target, collection, id, doc, &mut probe) {
        let key = match &err {
            EngineError::SchemaViolation { path, .. } => format!("schema `{path}`"),
            EngineError::RuleViolation { rule, .. } => format!("rule `{rule}`"),
            other => other.to_string(),
        };
        return Err((key, err.to_string()));
    }
    for (path, value, reference) in probe.references {
        let exists = DocId::from_value(&value)
            .ok()
            .map(|target| txn.get(&reference.collection, &target));
        if !matches!(exists, Some(Ok(Some(_)))) {
            return Err((
                format!("reference `{path}`"),
                format!(
                    "document `{id}`: `{path}` references {} in `{}`, which does not exist",
                    value.to_json_string(),
                    reference.collection
                ),
            ));
        }
    }
    Ok(())
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MigrationProgress {
    /// The version being migrated to.
    pub target_version: u64,
    /// Documents rewritten so far (across restarts).
    pub migrated: u64,
    /// Documents examined so far.
    pub scanned: u64,
    /// Documents in the collection when the pass last looked.
    pub total: u64,
    /// Whether this run continued an interrupted migration.
    pub resumed: bool,
    /// Whether the pass reached the end (false: stopped by `max_chunks`; resume later).
    pub finished: bool,
}

/// Options of a migration run.
#[derive(Debug, Clone, Copy)]
pub struct MigrateOptions {
    /// Documents per chunk transaction.
    pub chunk_documents: usize,
    /// Pause after each chunk (throttles a migration on a busy database; also lets a test
    /// interrupt a real process mid-way). Zero by default.
    pub pause: std::time::Duration,
    /// Stop after this many chunks, leaving the migration resumable (bounds one run).
    pub max_chunks: Option<usize>,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            chunk_documents: crate::limits::MIGRATION_CHUNK_DOCUMENTS,
            pause: std::time::Duration::ZERO,
            max_chunks: None,
        }
    }
}

/// Starts (or, when `migration` is `None` or matches the one in progress, resumes) a migration
/// and runs it to the end. Refuses to start when the dry run finds documents that would fail.
pub fn migrate(
    db: &Database,
    collection: &str,
    migration: Option<&Migration>,
    by: &str,
    options: MigrateOptions,
    progress: &mut dyn FnMut(MigrationProgress),
) -> Result<MigrationProgress> {
    let current = admin::stored(db, collection)?;
    let in_progress = current.as_ref().filter(|s| s.migration.is_some());
    let resumed = match (in_progress, migration) {
        (Some(_), None) => true,
        (Some(stored), Some(m))
            if stored.source == m.schema_source
                && stored.migration.as_ref().map(Transform::source)
                    == Some(m.transform.source()) =>
        {
            true
        }
        (Some(stored), Some(_)) => {
            return Err(SchemaError::MigrationInProgress {
                collection: collection.into(),
                target_version: stored.version,
            })
        }
        (None, None) => {
            return Err(SchemaError::NoMigration {
                collection: collection.into(),
            })
        }
        (None, Some(m)) => {
            let report = dry_run(db, collection, m)?;
            if report.failed > 0 {
                let first = report
                    .reasons
                    .first()
                    .map(|r| r.2.clone())
                    .unwrap_or_default();
                return Err(SchemaError::ExistingDocumentsInvalid {
                    failed: report.failed,
                    total: report.total,
                    first,
                });
            }
            admin::apply(db, collection, &m.schema_source, Some(&m.transform), by)?;
            false
        }
    };
    let target = admin::stored(db, collection)?.ok_or_else(|| SchemaError::NoMigration {
        collection: collection.into(),
    })?;
    let mut state = MigrationProgress {
        target_version: target.version,
        resumed,
        ..Default::default()
    };
    let mut chunks = 0;
    loop {
        let chunk =
            db.transaction(|txn| run_chunk(txn, collection, &target, options.chunk_documents))?;
        state.migrated = chunk.migrated;
        state.scanned = chunk.scanned;
        state.total = chunk.total;
        state.finished = chunk.finished;
        progress(state);
        chunks += 1;
        if chunk.finished {
            break;
        }
        if options.max_chunks.is_some_and(|max| chunks >= max) {
            return Ok(state);
        }
        if !options.pause.is_zero() {
            std::thread::sleep(options.pause);
        }
    }
    admin::finish_migration(db, collection, by, state.migrated)?;
    Ok(state)
}

struct Chunk {
    migrated: u64,
    scanned: u64,
    total: u64,
    finished: bool,
}

/// The stored cursor: `(last key done, migrated, scanned)`.
fn read_progress(
    txn: &mut Transaction,
    collection: &str,
) -> Result<(Option<Vec<u8>>, u64, u64), EngineError> {
    let Some(bytes) =
        txn.extension_get(collection, SCHEMA_EXTENSION, MIGRATION_TABLE, PROGRESS_KEY)?
    else {
        return Ok((None, 0, 0));
    };
    let value = cairn_doc::decode_document(&bytes).map_err(|err| EngineError::Corrupt {
        table: MIGRATION_TABLE.into(),
        detail: err.to_string(),
    })?;
    let obj = value.as_object();
    let get = |key: &str| obj.and_then(|o| o.get(key));
    let count = |key: &str| {
        get(key)
            .and_then(Value::as_i64)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0)
    };
    Ok((
        get("cursor").and_then(Value::as_bytes).map(<[u8]>::to_vec),
        count("migrated"),
        count("scanned"),
    ))
}

/// Stores the cursor (inside the chunk's transaction).
pub(crate) fn write_progress(
    txn: &mut Transaction,
    collection: &str,
    cursor: Option<&[u8]>,
    migrated: u64,
    scanned: u64,
) -> Result<(), EngineError> {
    let mut obj = cairn_doc::Object::new();
    if let Some(cursor) = cursor {
        obj.insert("cursor", Value::Bytes(cursor.to_vec()));
    }
    obj.insert("migrated", Value::Int(migrated as i64));
    obj.insert("scanned", Value::Int(scanned as i64));
    let mut bytes = Vec::new();
    cairn_doc::encode_document(&Value::Object(obj), &mut bytes)?;
    txn.extension_put(
        collection,
        SCHEMA_EXTENSION,
        MIGRATION_TABLE,
        PROGRESS_KEY,
        &bytes,
    )
}

fn run_chunk(
    txn: &mut Transaction,
    collection: &str,
    target: &StoredSchema,
    chunk_documents: usize,
) -> Result<Chunk, EngineError> {
    let (cursor, mut migrated, mut scanned) = read_progress(txn, collection)?;
    let start = cursor.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    let mut batch = Vec::new();
    let mut last = None;
    let mut more = false;
    txn.scan_documents(collection, start, Bound::Unbounded, |key, doc| {
        if batch.len() == chunk_documents {
            more = true;
            return Ok::<_, cairn_engine::EngineError>(false);
        }
        last = Some(key.to_vec());
        batch.push(doc);
        Ok(true)
    })?;
    for mut doc in batch {
        scanned += 1;
        if document_version(&doc).is_some_and(|v| v >= target.version) {
            continue; // written under the new version by a concurrent writer
        }
        let id = match doc.as_object().and_then(|o| o.get("_id")) {
            Some(id) => DocId::from_value(id)?,
            None => {
                return Err(EngineError::Corrupt {
                    table: collection.into(),
                    detail: "document without `_id`".into(),
                })
            }
        };
        upgrade(target, &mut doc, true).map_err(|reason| EngineError::SchemaViolation {
            collection: collection.into(),
            id: id.clone(),
            path: ".".into(),
            reason: format!("migration transformation failed: {reason}"),
        })?;
        txn.replace(collection, &id, doc)?;
        migrated += 1;
    }
    let cursor = last.or(cursor);
    write_progress(txn, collection, cursor.as_deref(), migrated, scanned)?;
    let total = txn.document_count(collection)?;
    Ok(Chunk {
        migrated,
        scanned,
        total,
        finished: !more,
    })
}
