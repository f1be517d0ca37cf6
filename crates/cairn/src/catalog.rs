//! One catalog of what a database holds: for every user collection its columns and types
//! (from the declared schema, else from inference), schema version, documents and bytes,
//! extensions (indexes of every kind, schemas, invariants) and tags; and, through
//! [`CatalogSource`], entries that live elsewhere (external tables), so one listing shows all.
//!
//! Tags are key/value strings on a collection, kept in the reserved collection `_sys_tags`
//! keyed by the collection's internal id: a rename keeps its tags, a collection dropped and
//! created again under the same name starts without them.

use std::collections::BTreeMap;

use cairn_doc::{DocId, Value};
use cairn_engine::limits::{MAX_TAGS_PER_COLLECTION, MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES};
use cairn_engine::{is_system_collection, Database, EngineError};

/// The reserved collection holding tags.
pub const TAGS: &str = "_sys_tags";

/// Why a catalog call failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The storage engine refused (unknown collection, I/O, ...).
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Reading the declared schema failed.
    #[error(transparent)]
    Schema(#[from] cairn_schema::SchemaError),
    /// Inferring the columns failed.
    #[error(transparent)]
    Infer(#[from] cairn_infer::InferError),
    /// A tag (or tag filter) is malformed or over a limit.
    #[error("invalid tag `{tag}`: {reason}")]
    InvalidTag {
        /// The tag as given.
        tag: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A collection would hold more than [`MAX_TAGS_PER_COLLECTION`] tags.
    #[error("collection `{collection}` would have {count} tags; the limit is {limit}")]
    TooManyTags {
        /// The collection.
        collection: String,
        /// Tags it would have.
        count: usize,
        /// [`MAX_TAGS_PER_COLLECTION`].
        limit: usize,
    },
    /// An external source could not list its tables.
    #[error("source `{source_name}` could not list its tables: {reason}")]
    Source {
        /// The source's name.
        source_name: String,
        /// Why.
        reason: String,
    },
}

/// Result of catalog calls.
pub type Result<T> = std::result::Result<T, CatalogError>;

/// Where a column's type comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnOrigin {
    /// The collection's declared schema.
    Declared,
    /// Schema inference over the documents.
    Inferred,
    /// An external source's own catalog.
    Source,
}

impl ColumnOrigin {
    /// `declared`, `inferred` or `source`.
    pub fn name(self) -> &'static str {
        match self {
            ColumnOrigin::Declared => "declared",
            ColumnOrigin::Inferred => "inferred",
            ColumnOrigin::Source => "source",
        }
    }
}

/// One column (a field path) and its types.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The field path.
    pub path: String,
    /// Its type(s): the declared type, or every type inference saw (e.g. `int`, `string`).
    pub types: Vec<String>,
}

/// One extension attached to a collection (an index of some kind, a schema, an invariant).
#[derive(Debug, Clone, PartialEq)]
pub struct ExtensionEntry {
    /// The extension kind (`index`, `spatial`, `vector`, `text`, `schema`, `invariant`, ...).
    pub kind: String,
    /// Its instance name.
    pub name: String,
}

/// One entry of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogEntry {
    /// The name (`source.schema.table` for an external table).
    pub name: String,
    /// `collection`, or what an external source calls it (e.g. `external_table`).
    pub kind: String,
    /// Where it lives: `None` for this database, else the source's name.
    pub source: Option<String>,
    /// Columns and types, and where they come from.
    pub columns: Vec<Column>,
    /// Where the columns come from.
    pub column_origin: ColumnOrigin,
    /// The declared schema's version, if there is a schema.
    pub schema_version: Option<u64>,
    /// Documents (rows), when known.
    pub documents: Option<u64>,
    /// Bytes of storage, when known.
    pub bytes: Option<u64>,
    /// Attached extensions.
    pub extensions: Vec<ExtensionEntry>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

/// A place the catalog lists besides the database's own collections (an external source's
/// tables). Implementations answer from their own metadata; errors name the source.
pub trait CatalogSource: Send + Sync {
    /// The source's name, as entries' `source` shows it.
    fn name(&self) -> &str;
    /// The source's entries.
    fn entries(&self) -> Result<Vec<CatalogEntry>>;
}

/// A tag filter: every pair must be on an entry (`alpha=0.55`).
pub type TagFilter = Vec<(String, String)>;

/// Parses `KEY=VALUE` (the value may contain `=`; the key may not be empty).
pub fn parse_tag(text: &str) -> Result<(String, String)> {
    let invalid = |reason: &str| CatalogError::InvalidTag {
        tag: text.to_string(),
        reason: reason.to_string(),
    };
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| invalid("write KEY=VALUE"))?;
    check_tag(key, value).map_err(|reason| invalid(&reason))?;
    Ok((key.to_string(), value.to_string()))
}

fn check_tag(key: &str, value: &str) -> std::result::Result<(), String> {
    if key.is_empty() {
        return Err("the key is empty".to_string());
    }
    if key.len() > MAX_TAG_KEY_BYTES {
        return Err(format!("keys are at most {MAX_TAG_KEY_BYTES} bytes"));
    }
    if value.len() > MAX_TAG_VALUE_BYTES {
        return Err(format!("values are at most {MAX_TAG_VALUE_BYTES} bytes"));
    }
    Ok(())
}

impl CatalogEntry {
    /// Whether the entry carries every tag of `filter`.
    pub fn matches(&self, filter: &[(String, String)]) -> bool {
        filter
            .iter()
            .all(|(key, value)| self.tags.get(key) == Some(value))
    }
}

/// The catalog: every user collection (in name order), then each source's entries, keeping
/// those that carry every tag of `filter`. Columns of a collection without a declared schema
/// come from inference, which scans the collection the first time and then follows the
/// change log (so it writes its statistics).
pub fn catalog(
    db: &Database,
    sources: &[&dyn CatalogSource],
    filter: &[(String, String)],
) -> Result<Vec<CatalogEntry>> {
    let stats = db.stats()?;
    let tags = all_tags(db)?;
    let mut entries = Vec::new();
    let mut metas = db.list_collections()?;
    metas.retain(|meta| !is_system_collection(&meta.name));
    metas.sort_by(|a, b| a.name.cmp(&b.name));
    for meta in metas {
        let entry_tags = tags.get(&meta.id).cloned().unwrap_or_default();
        if !filter
            .iter()
            .all(|(key, value)| entry_tags.get(key) == Some(value))
        {
            continue;
        }
        let figures = stats.collections.iter().find(|c| c.name == meta.name);
        let schema = cairn_schema::schema_of(db, &meta.name)?;
        let (columns, column_origin) = match &schema {
            Some(info) => (declared_columns(&info.source), ColumnOrigin::Declared),
            None => (inferred_columns(db, &meta.name)?, ColumnOrigin::Inferred),
        };
        entries.push(CatalogEntry {
            name: meta.name.clone(),
            kind: "collection".to_string(),
            source: None,
            columns,
            column_origin,
            schema_version: schema.map(|info| info.version),
            documents: figures.map(|c| c.documents),
            bytes: figures.map(|c| c.bytes),
            extensions: meta
                .extensions
                .iter()
                .map(|ext| ExtensionEntry {
                    kind: ext.kind.clone(),
                    name: ext.name.clone(),
                })
                .collect(),
            tags: entry_tags,
        });
    }
    for source in sources {
        entries.extend(
            source
                .entries()?
                .into_iter()
                .filter(|entry| entry.matches(filter)),
        );
    }
    Ok(entries)
}

/// Columns of a declared schema: each field of its `fields` object with the type it names.
fn declared_columns(source: &Value) -> Vec<Column> {
    let Some(fields) = source
        .as_object()
        .and_then(|doc| doc.get("fields"))
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, spec)| {
            let declared = match spec {
                Value::String(kind) => Some(kind.clone()),
                other => other
                    .as_object()
                    .and_then(|spec| spec.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            };
            Column {
                path: name.to_string(),
                types: declared.into_iter().collect(),
            }
        })
        .collect()
}

/// Columns inference found, with every type seen.
fn inferred_columns(db: &Database, collection: &str) -> Result<Vec<Column>> {
    let inferred = cairn_infer::infer_schema(db, collection)?;
    Ok(inferred
        .fields
        .into_iter()
        .map(|(path, stats)| Column {
            path,
            types: stats.types.into_keys().collect(),
        })
        .collect())
}

/// Tags of every collection, by collection id.
fn all_tags(db: &Database) -> Result<BTreeMap<u32, BTreeMap<String, String>>> {
    let mut out = BTreeMap::new();
    let visited = db.for_each(TAGS, |id, doc| {
        if let (DocId::Int(id), Some(tags)) = (id, tags_of_record(doc)) {
            if let Ok(id) = u32::try_from(*id) {
                out.insert(id, tags);
            }
        }
        true
    });
    match visited {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => Ok(out),
        Err(err) => Err(err.into()),
    }
}

fn tags_of_record(doc: &Value) -> Option<BTreeMap<String, String>> {
    let tags = doc.as_object()?.get("tags")?.as_object()?;
    Some(
        tags.iter()
            .filter_map(|(key, value)| Some((key.to_string(), value.as_str()?.to_string())))
            .collect(),
    )
}

/// The tags of one collection.
pub fn tags(db: &Database, collection: &str) -> Result<BTreeMap<String, String>> {
    let meta = db.begin()?.collection_meta(collection)?;
    Ok(all_tags(db)?.remove(&meta.id).unwrap_or_default())
}

/// Sets tags on a collection (adding or replacing those keys) and removes the keys in
/// `remove`, in one transaction; returns the collection's tags after.
pub fn update_tags(
    db: &Database,
    collection: &str,
    set: &[(String, String)],
    remove: &[String],
) -> Result<BTreeMap<String, String>> {
    for (key, value) in set {
        check_tag(key, value).map_err(|reason| CatalogError::InvalidTag {
            tag: format!("{key}={value}"),
            reason,
        })?;
    }
    if is_system_collection(collection) {
        return Err(EngineError::UnknownCollection {
            name: collection.to_string(),
        }
        .into());
    }
    match db.create_collection(TAGS) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let mut outcome = Ok(BTreeMap::new());
    db.transaction(|txn| {
        let meta = txn.collection_meta(collection)?;
        let id = DocId::Int(i64::from(meta.id));
        let mut tags = txn
            .get(TAGS, &id)?
            .as_ref()
            .and_then(tags_of_record)
            .unwrap_or_default();
        for (key, value) in set {
            tags.insert(key.clone(), value.clone());
        }
        for key in remove {
            tags.remove(key);
        }
        if tags.len() > MAX_TAGS_PER_COLLECTION {
            outcome = Err(CatalogError::TooManyTags {
                collection: collection.to_string(),
                count: tags.len(),
                limit: MAX_TAGS_PER_COLLECTION,
            });
            return Ok(());
        }
        let record = tag_record(meta.id, &meta.name, &tags);
        txn.upsert(TAGS, record)?;
        outcome = Ok(tags);
        Ok(())
    })?;
    outcome
}

fn tag_record(id: u32, name: &str, tags: &BTreeMap<String, String>) -> Value {
    let mut object = cairn_doc::Object::new();
    for (key, value) in tags {
        object.insert(key.clone(), Value::String(value.clone()));
    }
    let mut record = cairn_doc::Object::new();
    record.insert("_id".to_string(), Value::Int(i64::from(id)));
    // The name when last tagged, for someone reading the reserved collection by hand.
    record.insert("collection".to_string(), Value::String(name.to_string()));
    record.insert("tags".to_string(), Value::Object(object));
    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_follow_renames_filter_the_catalog_and_are_checked() {
        let db = crate::open_in_memory().unwrap();
        db.create_collection("runs").unwrap();
        db.create_collection("other").unwrap();
        db.insert(
            "runs",
            Value::from_json_str(r#"{"_id": 1, "loss": 0.5}"#).unwrap(),
        )
        .unwrap();
        let set = [
            parse_tag("alpha=0.55").unwrap(),
            parse_tag("model=v=2").unwrap(),
        ];
        let after = update_tags(&db, "runs", &set, &[]).unwrap();
        assert_eq!(after.get("model").map(String::as_str), Some("v=2"));
        db.rename_collection("runs", "runs2").unwrap();
        let filter = vec![("alpha".to_string(), "0.55".to_string())];
        let found = catalog(&db, &[], &filter).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "runs2");
        assert_eq!(found[0].documents, Some(1));
        assert_eq!(found[0].column_origin, ColumnOrigin::Inferred);
        let loss = found[0].columns.iter().find(|c| c.path == "loss").unwrap();
        assert_eq!(loss.types, ["float"]);
        // All collections without a filter; `_sys_tags` is never listed.
        let names: Vec<String> = catalog(&db, &[], &[])
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["other", "runs2"]);
        update_tags(&db, "runs2", &[], &["alpha".to_string()]).unwrap();
        assert!(catalog(&db, &[], &filter).unwrap().is_empty());
        // A collection created again under a dropped one's name has no tags.
        update_tags(&db, "other", &set, &[]).unwrap();
        db.drop_collection("other").unwrap();
        db.create_collection("other").unwrap();
        assert!(tags(&db, "other").unwrap().is_empty());

        assert!(matches!(
            parse_tag("novalue"),
            Err(CatalogError::InvalidTag { .. })
        ));
        assert!(matches!(
            parse_tag("=x"),
            Err(CatalogError::InvalidTag { .. })
        ));
        assert!(matches!(
            update_tags(&db, "missing", &set, &[]),
            Err(CatalogError::Engine(EngineError::UnknownCollection { .. }))
        ));
        let many: Vec<(String, String)> = (0..=MAX_TAGS_PER_COLLECTION)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(matches!(
            update_tags(&db, "other", &many, &[]),
            Err(CatalogError::TooManyTags { .. })
        ));
    }

    struct Fake;

    impl CatalogSource for Fake {
        fn name(&self) -> &str {
            "pg"
        }

        fn entries(&self) -> Result<Vec<CatalogEntry>> {
            Ok(vec![CatalogEntry {
                name: "pg.public.people".to_string(),
                kind: "external_table".to_string(),
                source: Some("pg".to_string()),
                columns: vec![Column {
                    path: "id".to_string(),
                    types: vec!["int8".to_string()],
                }],
                column_origin: ColumnOrigin::Source,
                schema_version: None,
                documents: None,
                bytes: None,
                extensions: Vec::new(),
                tags: BTreeMap::new(),
            }])
        }
    }

    #[test]
    fn sources_plug_into_the_same_listing() {
        let db = crate::open_in_memory().unwrap();
        db.create_collection("a").unwrap();
        let entries = catalog(&db, &[&Fake], &[]).unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a", "pg.public.people"]);
        assert_eq!(entries[1].source.as_deref(), Some("pg"));
    }
}
