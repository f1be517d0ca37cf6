//! The write hooks: the schema of a collection, and the referenced side of references.
//!
//! * [`SchemaExtension`] (kind [`SCHEMA_KIND`], attached as [`SCHEMA_EXTENSION`]) runs in
//!   `prepare_write`: it applies an in-progress migration's transformation to documents written
//!   under an older version, fills defaults, stamps [`SCHEMA_VERSION_FIELD`], checks types and
//!   constraints, evaluates the rules, and looks up every reference (a conflict-checked read,
//!   so a concurrent delete of the referenced document and this write cannot both commit).
//!   Uniqueness is kept by `cairn-index` unique indexes the schema creates.
//! * [`ReferrersExtension`] (kind [`REFERRERS_KIND`]) sits on a *referenced* collection and
//!   lists who references it. When one of its documents is deleted it finds the referring
//!   documents through their collection's index on the reference field (a conflict-checked
//!   range read: a concurrent insert of a new referrer conflicts) and restricts, cascades or
//!   sets the references to null.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, Patch, Value};
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
};

use crate::definition::{OnDelete, Schema};
use crate::error::{Result, SchemaError};
use crate::migrate::Transform;
use crate::validate::{check_document, fill_defaults, Probe};

/// Extension kind of schemas in the catalog.
pub const SCHEMA_KIND: &str = "schema";
/// The name a collection's schema is attached under.
pub const SCHEMA_EXTENSION: &str = "schema";
/// Extension kind (and instance name) of the referenced side of references.
pub const REFERRERS_KIND: &str = "schema_referrers";
/// The reserved top-level field holding the schema version a document was written under.
/// Chosen over a record-header slot so that it travels with the document everywhere a
/// document goes (change log, backups, exports, replication) and queries can find documents
/// still on an old version; see `docs/design/schema.md`.
pub const SCHEMA_VERSION_FIELD: &str = "_schema_version";

/// A schema as stored in the catalog: the version, its definition, and the transformation of
/// a migration in progress.
#[derive(Debug, Clone)]
pub struct StoredSchema {
    /// The version documents are stamped with.
    pub version: u64,
    /// The definition as written (returned by `schema show`).
    pub source: Value,
    /// Parsed.
    pub schema: Schema,
    /// While a migration runs: the transformation applied to documents of older versions.
    pub migration: Option<Transform>,
}

impl StoredSchema {
    /// Reads the catalog configuration.
    pub fn from_config(config: &Value) -> Result<StoredSchema> {
        let bad = |reason: &str| SchemaError::InvalidSchema {
            at: "(stored)".into(),
            reason: reason.into(),
        };
        let obj = config.as_object().ok_or_else(|| bad("not an object"))?;
        let version = obj
            .get("version")
            .and_then(Value::as_i64)
            .and_then(|v| u64::try_from(v).ok())
            .ok_or_else(|| bad("no version"))?;
        let source = obj.get("schema").cloned().ok_or_else(|| bad("no schema"))?;
        let schema = Schema::from_value(&source)?;
        let migration = match obj.get("migration") {
            Some(steps) => Some(Transform::from_value(steps)?),
            None => None,
        };
        Ok(StoredSchema {
            version,
            source,
            schema,
            migration,
        })
    }

    /// The catalog configuration.
    pub fn to_config(&self) -> Value {
        let mut obj = cairn_doc::Object::new();
        obj.insert("version", Value::Int(self.version as i64));
        obj.insert("schema", self.source.clone());
        if let Some(migration) = &self.migration {
            obj.insert("migration", migration.source().clone());
        }
        Value::Object(obj)
    }
}

/// The live schema of one collection.
pub struct SchemaExtension {
    stored: StoredSchema,
}

/// The version a document says it was written under.
pub fn document_version(doc: &Value) -> Option<u64> {
    doc.as_object()?
        .get(SCHEMA_VERSION_FIELD)?
        .as_i64()
        .and_then(|v| u64::try_from(v).ok())
}

/// Brings a document to the current version: the migration's transformation (when it is
/// older), defaults and the version stamp. `assume_old` treats a document without a version
/// as older (the migration pass); a client's document without one is taken as current.
pub fn upgrade(
    stored: &StoredSchema,
    doc: &mut Value,
    assume_old: bool,
) -> std::result::Result<(), String> {
    if let Some(transform) = &stored.migration {
        let older = match document_version(doc) {
            Some(version) => version < stored.version,
            None => assume_old,
        };
        if older {
            transform.apply(doc)?;
        }
    }
    fill_defaults(&stored.schema.root, doc);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(SCHEMA_VERSION_FIELD, Value::Int(stored.version as i64));
    }
    Ok(())
}

/// Checks types, constraints and rules (not references): the error is the engine's typed
/// violation for `collection`/`id`.
pub fn check(
    stored: &StoredSchema,
    collection: &str,
    id: &DocId,
    doc: &Value,
    probe: &mut Probe,
) -> EngineResult<()> {
    check_document(&stored.schema, doc, probe).map_err(|violation| {
        EngineError::SchemaViolation {
            collection: collection.to_string(),
            id: id.clone(),
            path: violation.path,
            reason: violation.reason,
        }
    })?;
    for rule in &stored.schema.rules {
        let failure = match rule.expr.holds(doc) {
            Ok(true) => continue,
            Ok(false) => rule.expr.describe_values(doc),
            Err(err) => format!("{}; {err}", rule.expr.describe_values(doc)),
        };
        return Err(EngineError::RuleViolation {
            collection: collection.to_string(),
            id: id.clone(),
            rule: rule.name.clone(),
            values: failure,
        });
    }
    Ok(())
}

impl Extension for SchemaExtension {
    fn prepare_write(
        &self,
        txn: &mut ExtensionTxn<'_>,
        id: &DocId,
        old: Option<&Value>,
        new: &mut Value,
    ) -> EngineResult<()> {
        let mut probe = Probe::default();
        {
            let collection = txn.collection();
            upgrade(&self.stored, new, false).map_err(|reason| EngineError::SchemaViolation {
                collection: collection.to_string(),
                id: id.clone(),
                path: ".".into(),
                reason: format!("migration transformation failed: {reason}"),
            })?;
            check(&self.stored, collection, id, new, &mut probe)?;
        }
        if probe.references.is_empty() {
            return Ok(());
        }
        let collection = txn.collection().to_string();
        for (path, value, reference) in probe.references {
            let unchanged = old
                .and_then(|old| path_value(old, &path))
                .is_some_and(|prev| cairn_doc::values_equal(prev, &value));
            if unchanged {
                // No lookup needed: this document already has its index entry under the
                // target's id, so a concurrent delete of the target finds it (and restricts,
                // or rewrites this document, which then conflicts with this write).
                continue;
            }
            let target = DocId::from_value(&value).map_err(|err| EngineError::SchemaViolation {
                collection: collection.clone(),
                id: id.clone(),
                path: path.clone(),
                reason: format!("not a document id: {err}"),
            })?;
            if txn.get_document(&reference.collection, &target)?.is_none() {
                return Err(EngineError::ReferenceViolation {
                    collection,
                    id: id.clone(),
                    reason: format!(
                        "`{path}` references `{target}` in `{}`, which does not exist",
                        reference.collection
                    ),
                });
            }
        }
        Ok(())
    }

    fn on_write(&self, _txn: &mut ExtensionTxn<'_>, _change: &DocChange<'_>) -> EngineResult<()> {
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Top-level or dotted (object-only) path lookup.
fn path_value<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(doc, |value, name| value.as_object()?.get(name))
}

/// Instantiates schemas from their catalog entries.
#[derive(Debug, Default)]
pub struct SchemaExtensionKind;

impl ExtensionKind for SchemaExtensionKind {
    fn kind(&self) -> &str {
        SCHEMA_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        _name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let stored = StoredSchema::from_config(config).map_err(EngineError::from)?;
        Ok(Arc::new(SchemaExtension { stored }))
    }
}

/// One inbound reference: documents of `collection` hold ids of this collection in `field`.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrer {
    /// The referring collection.
    pub collection: String,
    /// The reference field (dotted path).
    pub field: String,
    /// The referring collection's index on `field`.
    pub index: String,
    /// What deleting a referenced document does.
    pub on_delete: OnDelete,
}

/// Reads the referrers list from its catalog configuration.
pub fn referrers_from_config(config: &Value) -> Result<Vec<Referrer>> {
    let bad = |reason: &str| SchemaError::InvalidSchema {
        at: "(stored referrers)".into(),
        reason: reason.into(),
    };
    let list = config
        .as_object()
        .and_then(|o| o.get("refs"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no refs"))?;
    list.iter()
        .map(|item| {
            let text = |key: &str| {
                item.as_object()
                    .and_then(|o| o.get(key))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad(key))
            };
            let on_delete = match text("on_delete")?.as_str() {
                "restrict" => OnDelete::Restrict,
                "cascade" => OnDelete::Cascade,
                "set_null" => OnDelete::SetNull,
                _ => return Err(bad("on_delete")),
            };
            Ok(Referrer {
                collection: text("collection")?,
                field: text("field")?,
                index: text("index")?,
                on_delete,
            })
        })
        .collect()
}

/// The catalog configuration of a referrers list.
pub fn referrers_to_config(refs: &[Referrer]) -> Value {
    let items = refs
        .iter()
        .map(|r| {
            let mut obj = cairn_doc::Object::new();
            obj.insert("collection", Value::String(r.collection.clone()));
            obj.insert("field", Value::String(r.field.clone()));
            obj.insert("index", Value::String(r.index.clone()));
            obj.insert("on_delete", Value::String(r.on_delete.name().to_string()));
            Value::Object(obj)
        })
        .collect();
    let mut obj = cairn_doc::Object::new();
    obj.insert("refs", Value::Array(items));
    Value::Object(obj)
}

/// The referenced side: acts when a referenced document is deleted.
pub struct ReferrersExtension {
    refs: Vec<Referrer>,
}

impl ReferrersExtension {
    /// Ids of `referrer.collection` documents whose `field` holds `id`.
    fn referring(
        txn: &mut ExtensionTxn<'_>,
        referrer: &Referrer,
        id: &DocId,
    ) -> EngineResult<Vec<DocId>> {
        let prefix = cairn_index::keys::encode_to_vec(&id.to_value());
        let end = cairn_index::keys::prefix_successor(&prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let mut found = Vec::new();
        let mut bad_key = None;
        txn.scan_extension_of(
            (
                &referrer.collection,
                &referrer.index,
                cairn_index::ENTRIES_TABLE,
            ),
            Bound::Included(&prefix),
            end,
            |key, _| {
                match key.get(prefix.len()..).map(DocId::decode_key) {
                    Some(Ok(doc)) => found.push(doc),
                    _ => bad_key = Some(()),
                }
                Ok::<_, cairn_engine::EngineError>(true)
            },
        )?;
        if bad_key.is_some() {
            return Err(EngineError::ExtensionFailed {
                message: format!(
                    "index `{}` on `{}` holds an undecodable key",
                    referrer.index, referrer.collection
                ),
            });
        }
        Ok(found)
    }
}

impl Extension for ReferrersExtension {
    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        if change.new.is_some() {
            return Ok(());
        }
        for referrer in &self.refs {
            let ids = match Self::referring(txn, referrer, change.id) {
                Ok(ids) => ids,
                // The referring collection was dropped (or its schema index detached): nothing
                // references this document through it any more.
                Err(EngineError::UnknownCollection { .. } | EngineError::ExtensionState { .. }) => {
                    continue
                }
                Err(other) => return Err(other),
            };
            for doc in ids {
                match referrer.on_delete {
                    OnDelete::Restrict => {
                        return Err(EngineError::ReferenceViolation {
                            collection: txn.collection().to_string(),
                            id: change.id.clone(),
                            reason: format!(
                                "cannot delete: `{}` document `{doc}` references it in `{}` (on_delete: restrict)",
                                referrer.collection, referrer.field
                            ),
                        });
                    }
                    OnDelete::Cascade => {
                        txn.delete_document(&referrer.collection, &doc)?;
                    }
                    OnDelete::SetNull => {
                        let field = serde_json::to_string(&referrer.field).map_err(|err| {
                            EngineError::ExtensionFailed {
                                message: err.to_string(),
                            }
                        })?;
                        let patch =
                            Patch::from_json_str(&format!("{{\"$set\": {{{field}: null}}}}"))?;
                        txn.update_document(&referrer.collection, &doc, &patch)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Instantiates referrers lists from their catalog entries.
#[derive(Debug, Default)]
pub struct ReferrersExtensionKind;

impl ExtensionKind for ReferrersExtensionKind {
    fn kind(&self) -> &str {
        REFERRERS_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        _name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let refs = referrers_from_config(config).map_err(EngineError::from)?;
        Ok(Arc::new(ReferrersExtension { refs }))
    }
}
