//! Setting a schema, reading it back, and its version history.
//!
//! Every change creates a new version in one transaction: the catalog configuration of the
//! collection's schema extension (version, definition, transformation of a migration in
//! progress), a history entry (who, when, what changed, the full definition) in the
//! extension's `history` table, and the referrers lists of referenced collections. The
//! indexes the schema needs (`schema_unique_*`, `schema_ref_*`) are built online *before*
//! that transaction (and dropped again if it fails); indexes no longer needed are dropped
//! after it.

pub use crate::layout::HISTORY_TABLE;
use std::ops::Bound;

use cairn_doc::{DateTime, Object, Value};
use cairn_engine::{Database, EngineError, Transaction};
use cairn_index::{IndexKind, IndexSpec, INDEX_KIND};

use crate::compat::{diff, incompatibilities};
use crate::definition::{FieldDef, FieldType, Schema};
use crate::error::{Result, SchemaError};
use crate::extension::{
    check, referrers_from_config, referrers_to_config, upgrade, Referrer, StoredSchema,
    REFERRERS_KIND, SCHEMA_EXTENSION, SCHEMA_KIND,
};
use crate::limits::MAX_SCHEMA_FILE_BYTES;
use crate::migrate::{write_progress, MigrationProgress, Transform};
use crate::validate::Probe;

/// Prefix of the names of indexes a schema creates and owns.
pub const SCHEMA_INDEX_PREFIX: &str = "schema_";

/// A collection's current schema.
#[derive(Debug, Clone)]
pub struct SchemaInfo {
    /// The current version.
    pub version: u64,
    /// The definition as written.
    pub source: Value,
    /// Whether a migration to this version is still running (or was interrupted).
    pub migrating: bool,
    /// The migration's progress record, when one is running.
    pub progress: Option<MigrationProgress>,
}

/// One entry of a schema's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    /// The version created (or whose migration finished).
    pub version: u64,
    /// When.
    pub at: DateTime,
    /// Who (as given by the caller: the CLI's user, the server's principal).
    pub by: String,
    /// What changed, one line per change.
    pub changes: Vec<String>,
    /// The definition of this version.
    pub schema: Value,
}

/// Parses a schema or migration file: JSON, or YAML when it is not JSON.
pub fn parse_schema_file(text: &str) -> Result<Value> {
    if text.len() > MAX_SCHEMA_FILE_BYTES {
        return Err(SchemaError::Parse(format!(
            "{} bytes; the limit is {MAX_SCHEMA_FILE_BYTES}",
            text.len()
        )));
    }
    if let Ok(value) = Value::from_json_str(text) {
        return Ok(value);
    }
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|err| SchemaError::Parse(err.to_string()))?;
    let mut json = String::new();
    yaml_to_json(&yaml, &mut json, 0)?;
    Value::from_json_str(&json).map_err(|err| SchemaError::Parse(err.to_string()))
}

/// Writes YAML as JSON text, keeping mapping order (field declaration order matters) and
/// letting the JSON reader interpret `$` wrappers exactly as in JSON schemas.
fn yaml_to_json(value: &serde_yaml::Value, out: &mut String, depth: usize) -> Result<()> {
    use serde_yaml::Value as Y;
    if depth > cairn_doc::limits::MAX_NESTING_DEPTH {
        return Err(SchemaError::Parse("YAML nested too deeply".into()));
    }
    let quoted =
        |text: &str| serde_json::to_string(text).map_err(|err| SchemaError::Parse(err.to_string()));
    match value {
        Y::Null => out.push_str("null"),
        Y::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Y::Number(n) => out.push_str(&n.to_string()),
        Y::String(s) => out.push_str(&quoted(s)?),
        Y::Sequence(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                yaml_to_json(item, out, depth + 1)?;
            }
            out.push(']');
        }
        Y::Mapping(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match key {
                    Y::String(s) => s.clone(),
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    _ => return Err(SchemaError::Parse("mapping keys must be strings".into())),
                };
                out.push_str(&quoted(&key)?);
                out.push(':');
                yaml_to_json(item, out, depth + 1)?;
            }
            out.push('}');
        }
        Y::Tagged(_) => return Err(SchemaError::Parse("YAML tags are not supported".into())),
    }
    Ok(())
}

/// The stored schema of a collection, if it has one.
pub(crate) fn stored(db: &Database, collection: &str) -> Result<Option<StoredSchema>> {
    let mut txn = db.read()?;
    stored_in(&mut txn, collection)
}

fn stored_in(txn: &mut Transaction, collection: &str) -> Result<Option<StoredSchema>> {
    let meta = txn.collection_meta(collection)?;
    match meta.extensions.iter().find(|e| e.kind == SCHEMA_KIND) {
        Some(ext) => Ok(Some(StoredSchema::from_config(&ext.config)?)),
        None => Ok(None),
    }
}

/// The current schema of a collection (`None`: schemaless).
pub fn schema_of(db: &Database, collection: &str) -> Result<Option<SchemaInfo>> {
    let mut txn = db.read()?;
    let Some(stored) = stored_in(&mut txn, collection)? else {
        return Ok(None);
    };
    let migrating = stored.migration.is_some();
    let progress = if migrating {
        let bytes = txn.extension_get(
            collection,
            SCHEMA_EXTENSION,
            crate::migrate::MIGRATION_TABLE,
            b"progress",
        )?;
        let value = bytes.and_then(|b| cairn_doc::decode_document(&b).ok());
        let count = |key: &str| {
            value
                .as_ref()
                .and_then(|v| v.as_object())
                .and_then(|o| o.get(key))
                .and_then(Value::as_i64)
                .unwrap_or(0) as u64
        };
        Some(MigrationProgress {
            target_version: stored.version,
            migrated: count("migrated"),
            scanned: count("scanned"),
            total: txn.document_count(collection)?,
            resumed: false,
            finished: false,
        })
    } else {
        None
    };
    Ok(Some(SchemaInfo {
        version: stored.version,
        source: stored.source,
        migrating,
        progress,
    }))
}

/// Sets a collection's schema. A first schema is checked against the documents already there
/// (defaults filled in memory); a change must be compatible (see [`incompatibilities`](crate::incompatibilities)) or it is
/// refused with [`SchemaError::MigrationRequired`]. Returns the new version.
pub fn set_schema(db: &Database, collection: &str, source: &Value, by: &str) -> Result<u64> {
    apply(db, collection, source, None, by)
}

/// Creates a new schema version (a plain change, or the start of a migration when `transform`
/// is given).
pub(crate) fn apply(
    db: &Database,
    collection: &str,
    source: &Value,
    transform: Option<&Transform>,
    by: &str,
) -> Result<u64> {
    let schema = Schema::from_value(source)?;
    check_reference_places(&schema)?;
    let current = stored(db, collection)?;
    if let Some(current) = &current {
        if current.migration.is_some() {
            return Err(SchemaError::MigrationInProgress {
                collection: collection.into(),
                target_version: current.version,
            });
        }
        if transform.is_none() {
            let reasons = incompatibilities(Some(&current.schema), &schema);
            if !reasons.is_empty() {
                return Err(SchemaError::MigrationRequired { reasons });
            }
        }
    }
    let wanted = wanted_indexes(&schema)?;
    let created = create_indexes(db, collection, &wanted)?;
    let next = StoredSchema {
        version: current.as_ref().map_or(1, |c| c.version + 1),
        source: source.clone(),
        schema,
        migration: transform.cloned(),
    };
    let mut changes: Vec<String> = diff(current.as_ref().map(|c| &c.schema), &next.schema)
        .into_iter()
        .map(|c| c.description)
        .collect();
    if transform.is_some() {
        changes.insert(0, "migration started".into());
    }
    let check_existing = current.is_none() && transform.is_none();
    let result = db.transaction(|txn| {
        if current.is_some() {
            txn.set_extension_config(collection, SCHEMA_EXTENSION, next.to_config())?;
        } else {
            txn.attach_extension(collection, SCHEMA_KIND, SCHEMA_EXTENSION, next.to_config())?;
        }
        if check_existing {
            check_documents(txn, collection, &next)?;
        }
        record_history(
            txn,
            collection,
            (next.version, 0),
            by,
            &changes,
            &next.source,
        )?;
        if next.migration.is_some() {
            write_progress(txn, collection, None, 0, 0)?;
        }
        update_referrers(
            txn,
            collection,
            current.as_ref().map(|c| &c.schema),
            &next.schema,
            &wanted,
        )
    });
    if let Err(err) = result {
        for name in &created {
            // Best effort: the transaction's error is the one worth reporting.
            let _ = cairn_index::drop_index(db, collection, name);
        }
        return Err(err.into());
    }
    drop_unwanted_indexes(db, collection, &wanted)?;
    Ok(next.version)
}

/// Ends a migration: the transformation is dropped from the configuration.
pub(crate) fn finish_migration(
    db: &Database,
    collection: &str,
    by: &str,
    migrated: u64,
) -> Result<()> {
    let Some(mut current) = stored(db, collection)? else {
        return Err(SchemaError::NoMigration {
            collection: collection.into(),
        });
    };
    if current.migration.is_none() {
        return Ok(());
    }
    current.migration = None;
    let changes = vec![format!(
        "migration finished: {migrated} documents rewritten"
    )];
    db.transaction(|txn| {
        txn.set_extension_config(collection, SCHEMA_EXTENSION, current.to_config())?;
        record_history(
            txn,
            collection,
            (current.version, 1),
            by,
            &changes,
            &current.source,
        )
    })?;
    Ok(())
}

/// The version history, oldest first.
pub fn history(db: &Database, collection: &str) -> Result<Vec<HistoryEntry>> {
    let mut txn = db.read()?;
    if stored_in(&mut txn, collection)?.is_none() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    txn.extension_range(
        collection,
        SCHEMA_EXTENSION,
        HISTORY_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |_, bytes| {
            let value = cairn_doc::decode_document(bytes).map_err(|err| EngineError::Corrupt {
                table: HISTORY_TABLE.into(),
                detail: err.to_string(),
            })?;
            let obj = value.as_object();
            let get = |key: &str| obj.and_then(|o| o.get(key));
            out.push(HistoryEntry {
                version: get("version").and_then(Value::as_i64).unwrap_or(0) as u64,
                at: get("at")
                    .and_then(Value::as_datetime)
                    .unwrap_or_else(DateTime::now),
                by: get("by").and_then(Value::as_str).unwrap_or("").to_string(),
                changes: get("changes")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| c.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                schema: get("schema").cloned().unwrap_or(Value::Null),
            });
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    Ok(out)
}

fn record_history(
    txn: &mut Transaction,
    collection: &str,
    (version, event): (u64, u8),
    by: &str,
    changes: &[String],
    schema: &Value,
) -> Result<(), EngineError> {
    let mut obj = Object::new();
    obj.insert("version", Value::Int(version as i64));
    obj.insert("at", Value::DateTime(DateTime::now()));
    obj.insert("by", Value::String(by.to_string()));
    obj.insert(
        "changes",
        Value::Array(changes.iter().map(|c| Value::String(c.clone())).collect()),
    );
    obj.insert("schema", schema.clone());
    let mut bytes = Vec::new();
    cairn_doc::encode_document(&Value::Object(obj), &mut bytes)?;
    let mut key = version.to_be_bytes().to_vec();
    key.push(event);
    txn.extension_put(collection, SCHEMA_EXTENSION, HISTORY_TABLE, &key, &bytes)
}

/// Checks every existing document against a first schema (defaults filled in memory),
/// streaming: only the references found are kept, then looked up (conflict-checked) in the
/// same transaction.
fn check_documents(
    txn: &mut Transaction,
    collection: &str,
    stored: &StoredSchema,
) -> Result<(), EngineError> {
    let mut references = Vec::new();
    txn.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, mut doc| {
            let id = cairn_doc::DocId::decode_key(key)?;
            // A first schema has no transformation: `upgrade` only fills defaults and stamps.
            let _ = upgrade(stored, &mut doc, false);
            let mut probe = Probe::default();
            check(stored, collection, &id, &doc, &mut probe)?;
            for (path, value, reference) in probe.references {
                references.push((id.clone(), path, value, reference.collection));
            }
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    for (id, path, value, target_collection) in references {
        let target = cairn_doc::DocId::from_value(&value)?;
        if txn.get(&target_collection, &target)?.is_none() {
            return Err(EngineError::ReferenceViolation {
                collection: collection.into(),
                id,
                reason: format!(
                    "`{path}` references `{target}` in `{target_collection}`, which does not exist"
                ),
            });
        }
    }
    Ok(())
}

/// An index a schema needs: name, field, unique.
type WantedIndex = (String, String, bool);

fn index_name(kind: &str, path: &str) -> String {
    let clean: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{SCHEMA_INDEX_PREFIX}{kind}_{clean}")
}

fn wanted_indexes(schema: &Schema) -> Result<Vec<WantedIndex>> {
    let mut out = Vec::new();
    for (path, def) in schema.field_paths() {
        if def.unique {
            out.push((index_name("unique", &path), path.clone(), true));
        }
        if def.references.is_some() {
            out.push((index_name("ref", &path), path.clone(), false));
        }
    }
    Ok(out)
}

/// References are enforced on delete through an index on the field, so they may sit only in
/// objects, not inside arrays or maps.
fn check_reference_places(schema: &Schema) -> Result<()> {
    fn nested(def: &FieldDef) -> bool {
        match &def.ty {
            FieldType::Array(item) | FieldType::Map(item) => {
                item.references.is_some() || nested(item)
            }
            FieldType::Object(object) => object.fields.iter().any(|(_, d)| nested(d)),
            _ => false,
        }
    }
    for (path, def) in schema.field_paths() {
        if nested(def) {
            return Err(SchemaError::InvalidSchema {
                at: path,
                reason: "references inside arrays or maps are not supported".into(),
            });
        }
    }
    Ok(())
}

fn existing_schema_indexes(db: &Database, collection: &str) -> Result<Vec<String>> {
    let meta = db.read()?.collection_meta(collection)?;
    Ok(meta
        .extensions
        .iter()
        .filter(|e| e.kind == INDEX_KIND && e.name.starts_with(SCHEMA_INDEX_PREFIX))
        .map(|e| e.name.clone())
        .collect())
}

fn create_indexes(db: &Database, collection: &str, wanted: &[WantedIndex]) -> Result<Vec<String>> {
    let existing = existing_schema_indexes(db, collection)?;
    let mut created: Vec<String> = Vec::new();
    for (name, field, unique) in wanted {
        if existing.contains(name) {
            continue;
        }
        let spec = IndexSpec::new(name, &[field.as_str()], IndexKind::BTree, *unique)?;
        if let Err(err) = cairn_index::create_index(db, collection, &spec, &mut |_| {}) {
            for name in &created {
                let _ = cairn_index::drop_index(db, collection, name);
            }
            return Err(err.into());
        }
        created.push(name.clone());
    }
    Ok(created)
}

fn drop_unwanted_indexes(db: &Database, collection: &str, wanted: &[WantedIndex]) -> Result<()> {
    for name in existing_schema_indexes(db, collection)? {
        if !wanted.iter().any(|(w, _, _)| *w == name) {
            cairn_index::drop_index(db, collection, &name)?;
        }
    }
    Ok(())
}

/// Rewrites the referrers lists of every collection the old or new schema references.
fn update_referrers(
    txn: &mut Transaction,
    collection: &str,
    old: Option<&Schema>,
    new: &Schema,
    wanted: &[WantedIndex],
) -> Result<(), EngineError> {
    let mut targets: Vec<String> = Vec::new();
    for schema in old.into_iter().chain(std::iter::once(new)) {
        for (_, def) in schema.field_paths() {
            if let Some(reference) = &def.references {
                if !targets.contains(&reference.collection) {
                    targets.push(reference.collection.clone());
                }
            }
        }
    }
    for target in targets {
        let meta = txn.collection_meta(&target)?;
        let attached = meta.extensions.iter().find(|e| e.kind == REFERRERS_KIND);
        let mut refs = match attached {
            Some(ext) => referrers_from_config(&ext.config).map_err(EngineError::from)?,
            None => Vec::new(),
        };
        refs.retain(|r| r.collection != collection);
        for (path, def) in new.field_paths() {
            let Some(reference) = def.references.as_ref().filter(|r| r.collection == target) else {
                continue;
            };
            let index = wanted
                .iter()
                .find(|(_, field, unique)| *field == path && !unique)
                .map(|(name, _, _)| name.clone())
                .unwrap_or_default();
            refs.push(Referrer {
                collection: collection.to_string(),
                field: path.clone(),
                index,
                on_delete: reference.on_delete,
            });
        }
        match (attached.is_some(), refs.is_empty()) {
            (true, true) => txn.detach_extension(&target, REFERRERS_KIND)?,
            (true, false) => {
                txn.set_extension_config(&target, REFERRERS_KIND, referrers_to_config(&refs))?
            }
            (false, false) => txn.attach_extension(
                &target,
                REFERRERS_KIND,
                REFERRERS_KIND,
                referrers_to_config(&refs),
            )?,
            (false, true) => {}
        }
    }
    Ok(())
}
