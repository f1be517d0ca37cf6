//! One catalog of what a database holds: for every user collection its columns and types
//! (from the declared schema, else from inference), schema version and version history
//! (`cairn-schema`), documents and bytes, extensions (indexes of every kind, schemas,
//! invariants), tags, owner, creation time and where its data came from (lineage); and,
//! through [`CatalogSource`], entries that live elsewhere (external tables with their columns
//! and source), so one listing shows all.
//!
//! Tags are key/value strings on a collection, kept in the reserved collection `_sys_tags`
//! keyed by the collection's internal id: a rename keeps its tags, a collection dropped and
//! created again under the same name starts without them. Owners (the user who created a
//! collection over HTTP or SQL; none for the embedded API and local CLI) are kept the same
//! way in `_sys_owners`, written in the transaction that creates the collection
//! ([`create_collection_owned`]).

use std::collections::BTreeMap;

use cairn_doc::{DateTime, DocId, Value};
use cairn_engine::limits::{MAX_TAGS_PER_COLLECTION, MAX_TAG_KEY_BYTES, MAX_TAG_VALUE_BYTES};
use cairn_engine::{
    is_system_collection, CollectionMeta, CollectionOptions, Database, EngineError, Transaction,
};

/// The reserved collection holding tags.
pub const TAGS: &str = "_sys_tags";

/// The reserved collection holding owners (`{_id: collection id, owner, collection}`).
pub const OWNERS: &str = "_sys_owners";

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

/// One version of a collection's declared schema.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaVersion {
    /// The version.
    pub version: u64,
    /// When it was set (or its migration finished).
    pub at: DateTime,
    /// Who set it.
    pub by: String,
    /// What changed, one line per change.
    pub changes: Vec<String>,
}

/// Where an entry's data came from: one lineage record writing it.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// `import`, `create_table_as`, `insert_select`, ...
    pub operation: String,
    /// What it read: collections and external tables by name, files by name.
    pub inputs: Vec<String>,
    /// When.
    pub at: DateTime,
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
    /// The declared schema's versions, oldest first (empty without a schema).
    pub schema_history: Vec<SchemaVersion>,
    /// Who created it (`None`: created without a user, or before owners were recorded).
    pub owner: Option<String>,
    /// When it was created, when known.
    pub created_at: Option<DateTime>,
    /// Where its data came from (its upstream lineage), oldest first.
    pub origins: Vec<Origin>,
}

impl CatalogEntry {
    /// An entry for an external table: columns from the source, nothing Cairn keeps.
    pub fn external(name: String, kind: &str, source: &str, columns: Vec<Column>) -> CatalogEntry {
        CatalogEntry {
            name,
            kind: kind.to_string(),
            source: Some(source.to_string()),
            columns,
            column_origin: ColumnOrigin::Source,
            schema_version: None,
            documents: None,
            bytes: None,
            extensions: Vec::new(),
            tags: BTreeMap::new(),
            schema_history: Vec::new(),
            owner: None,
            created_at: None,
            origins: Vec::new(),
        }
    }
}

/// A place the catalog lists besides the database's own collections (an external source's
/// tables). Implementations answer from their own metadata; errors name the source.
pub trait CatalogSource: Send + Sync {
    /// The source's name, as entries' `source` shows it.
    fn name(&self) -> &str;
    /// The source's entries.
    fn entries(&self) -> Result<Vec<CatalogEntry>>;
}

/// Entries gathered beforehand (say, every external source's tables, whose listing is
/// asynchronous), listed as they are.
#[derive(Debug, Clone, Default)]
pub struct ListedEntries {
    /// The name the entries are listed under.
    pub name: String,
    /// The entries.
    pub entries: Vec<CatalogEntry>,
}

impl CatalogSource for ListedEntries {
    fn name(&self) -> &str {
        &self.name
    }

    fn entries(&self) -> Result<Vec<CatalogEntry>> {
        Ok(self.entries.clone())
    }
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
    let owners = all_owners(db)?;
    let mut origins = all_origins(db)?;
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
            schema_version: schema.as_ref().map(|info| info.version),
            schema_history: match schema {
                Some(_) => schema_history(db, &meta.name)?,
                None => Vec::new(),
            },
            owner: owners.get(&meta.id).cloned(),
            created_at: Some(meta.created_at),
            origins: origins.remove(&meta.name).unwrap_or_default(),
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

/// The versions of a collection's declared schema, oldest first.
fn schema_history(db: &Database, collection: &str) -> Result<Vec<SchemaVersion>> {
    Ok(cairn_schema::history(db, collection)?
        .into_iter()
        .map(|entry| SchemaVersion {
            version: entry.version,
            at: entry.at,
            by: entry.by,
            changes: entry.changes,
        })
        .collect())
}

/// Every lineage record's output and inputs, by output name (one pass over the records).
fn all_origins(db: &Database) -> Result<BTreeMap<String, Vec<Origin>>> {
    let mut out: BTreeMap<String, Vec<Origin>> = BTreeMap::new();
    for record in crate::lineage::all(db)? {
        let inputs = record
            .inputs
            .iter()
            .map(|input| match input {
                crate::lineage::LineageInput::File { name, .. } => name.clone(),
                other => other.table_name().unwrap_or_default().to_string(),
            })
            .collect();
        out.entry(record.output).or_default().push(Origin {
            operation: record.operation,
            inputs,
            at: record.at,
        });
    }
    Ok(out)
}

/// Creates the reserved owners collection if it does not exist yet (its own small commit).
pub fn ensure_owners(db: &Database) -> std::result::Result<(), EngineError> {
    match db.create_collection(OWNERS) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Records `owner` as the owner of the collection `meta` just created in `txn` (nothing for
/// `None`). [`ensure_owners`] must have run.
pub fn record_owner(
    txn: &mut Transaction,
    meta: &CollectionMeta,
    owner: Option<&str>,
) -> std::result::Result<(), EngineError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let mut record = cairn_doc::Object::new();
    record.insert("_id".to_string(), Value::Int(i64::from(meta.id)));
    record.insert("owner".to_string(), Value::String(owner.to_string()));
    // The name at creation, for someone reading the reserved collection by hand.
    record.insert("collection".to_string(), Value::String(meta.name.clone()));
    txn.upsert(OWNERS, Value::Object(record))?;
    Ok(())
}

/// Creates a collection owned by `owner` (the authenticated user; `None` for none), the
/// collection and its owner in one transaction.
pub fn create_collection_owned(
    db: &Database,
    name: &str,
    owner: Option<&str>,
) -> std::result::Result<CollectionMeta, EngineError> {
    create_collection_owned_with(db, name, owner, &CollectionOptions::default())
}

/// [`create_collection_owned`] with the collection's creation options (routing).
pub fn create_collection_owned_with(
    db: &Database,
    name: &str,
    owner: Option<&str>,
    options: &CollectionOptions,
) -> std::result::Result<CollectionMeta, EngineError> {
    let Some(owner) = owner else {
        return db.create_collection_with(name, options);
    };
    ensure_owners(db)?;
    db.transaction(|txn| {
        let meta = txn.create_collection_with(name, options)?;
        record_owner(txn, &meta, Some(owner))?;
        Ok(meta)
    })
}

/// The owner of a collection, if one was recorded.
pub fn owner(db: &Database, collection: &str) -> Result<Option<String>> {
    let meta = db.begin()?.collection_meta(collection)?;
    Ok(all_owners(db)?.remove(&meta.id))
}

/// Owners of every collection, by collection id.
fn all_owners(db: &Database) -> Result<BTreeMap<u32, String>> {
    let mut out = BTreeMap::new();
    let visited = db.for_each(OWNERS, |id, doc| {
        let owner = doc
            .as_object()
            .and_then(|o| o.get("owner"))
            .and_then(Value::as_str);
        if let (DocId::Int(id), Some(owner)) = (id, owner) {
            if let Ok(id) = u32::try_from(*id) {
                out.insert(id, owner.to_string());
            }
        }
        true
    });
    match visited {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => Ok(out),
        Err(err) => Err(err.into()),
    }
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

    #[test]
    fn entries_carry_owner_schema_history_creation_time_and_origins() {
        let db = crate::open_in_memory().unwrap();
        let created = create_collection_owned(&db, "runs", Some("ana")).unwrap();
        create_collection_owned(&db, "plain", None).unwrap();
        let v1 = Value::from_json_str(r#"{"fields": {"loss": "float"}}"#).unwrap();
        let v2 = Value::from_json_str(r#"{"fields": {"loss": "float", "epoch": "int"}}"#).unwrap();
        cairn_schema::set_schema(&db, "runs", &v1, "ana").unwrap();
        cairn_schema::set_schema(&db, "runs", &v2, "ben").unwrap();
        crate::lineage::record(
            &db,
            &crate::lineage::LineageRecord {
                id: None,
                output: "runs".to_string(),
                operation: "import".to_string(),
                inputs: vec![crate::lineage::LineageInput::File {
                    name: "runs.csv".to_string(),
                    size_bytes: 3,
                    sha256: "00".repeat(32),
                }],
                statement: None,
                at: DateTime::from_micros(1),
                documents: Some(0),
            },
        )
        .unwrap();
        let entries = catalog(&db, &[], &[]).unwrap();
        let (plain, runs) = (&entries[0], &entries[1]);
        assert_eq!(runs.owner.as_deref(), Some("ana"));
        assert_eq!(owner(&db, "runs").unwrap().as_deref(), Some("ana"));
        assert_eq!(plain.owner, None, "no user, no owner");
        assert_eq!(runs.created_at, Some(created.created_at));
        assert_eq!(runs.schema_version, Some(2));
        let history: Vec<(u64, &str)> = runs
            .schema_history
            .iter()
            .map(|v| (v.version, v.by.as_str()))
            .collect();
        assert_eq!(history, [(1, "ana"), (2, "ben")]);
        assert!(plain.schema_history.is_empty());
        assert_eq!(runs.origins.len(), 1);
        assert_eq!(runs.origins[0].operation, "import");
        assert_eq!(runs.origins[0].inputs, ["runs.csv"]);
        assert!(plain.origins.is_empty());
        // The owner follows the collection's id: a rename keeps it, a new one has none.
        db.rename_collection("runs", "runs2").unwrap();
        assert_eq!(owner(&db, "runs2").unwrap().as_deref(), Some("ana"));
        db.drop_collection("runs2").unwrap();
        db.create_collection("runs2").unwrap();
        assert_eq!(owner(&db, "runs2").unwrap(), None);
        // `_sys_owners` is never listed.
        let names: Vec<String> = catalog(&db, &[], &[])
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["plain", "runs2"]);
    }

    struct Fake;

    impl CatalogSource for Fake {
        fn name(&self) -> &str {
            "pg"
        }

        fn entries(&self) -> Result<Vec<CatalogEntry>> {
            Ok(vec![CatalogEntry::external(
                "pg.public.people".to_string(),
                "external_table",
                "pg",
                vec![Column {
                    path: "id".to_string(),
                    types: vec!["int8".to_string()],
                }],
            )])
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
