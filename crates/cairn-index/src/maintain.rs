//! Keeping an index in step with its collection: the extension the engine calls on every
//! write, and the entry writes (with uniqueness checks) shared with online builds.

pub use crate::layout::ENTRIES_TABLE;
pub use crate::layout::META_TABLE;
pub use crate::layout::MULTIKEY_KEY;
pub use crate::layout::READY_KEY;
use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
    Transaction,
};

use crate::entries::{doc_entries, layout, Entry};
use crate::error::{IndexError, Result};
use crate::keys;
use crate::ready::ReadyFlag;
use crate::spec::{IndexKind, IndexSpec};
use crate::stats::StatsCell;

/// The extension kind name of secondary indexes in the catalog.
pub const INDEX_KIND: &str = "index";

/// A callback over `(key, value)` entries; returns whether to continue.
pub(crate) type EntryVisitor<'v> = dyn FnMut(&[u8], &[u8]) -> EngineResult<bool> + 'v;

/// Table access an entry writer needs; implemented for the engine's write hook and for
/// online builds, so both run the same code (including uniqueness checks).
pub(crate) trait EntryTables {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>>;
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()>;
    fn scan_prefix(
        &mut self,
        table: &str,
        prefix: &[u8],
        visit: &mut EntryVisitor<'_>,
    ) -> EngineResult<()>;
    fn collection(&self) -> &str;
}

impl EntryTables for ExtensionTxn<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        ExtensionTxn::get(self, table, key)
    }
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()> {
        ExtensionTxn::put(self, table, key, value)
    }
    fn scan_prefix(
        &mut self,
        table: &str,
        prefix: &[u8],
        visit: &mut EntryVisitor<'_>,
    ) -> EngineResult<()> {
        let end = keys::prefix_successor(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.scan(table, Bound::Included(prefix), end, visit)
    }
    fn collection(&self) -> &str {
        ExtensionTxn::collection(self)
    }
}

/// A builder's view of one index inside a plain transaction.
pub(crate) struct BuilderTables<'t> {
    pub(crate) txn: &'t mut Transaction,
    pub(crate) collection: &'t str,
    pub(crate) index: &'t str,
}

impl EntryTables for BuilderTables<'_> {
    fn get(&mut self, table: &str, key: &[u8]) -> EngineResult<Option<Vec<u8>>> {
        self.txn
            .extension_get(self.collection, self.index, table, key)
    }
    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> EngineResult<()> {
        self.txn
            .extension_put(self.collection, self.index, table, key, value)
    }
    fn scan_prefix(
        &mut self,
        table: &str,
        prefix: &[u8],
        visit: &mut EntryVisitor<'_>,
    ) -> EngineResult<()> {
        let end = keys::prefix_successor(prefix);
        let end = end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        self.txn.extension_range(
            self.collection,
            self.index,
            table,
            Bound::Included(prefix),
            end,
            visit,
        )
    }
    fn collection(&self) -> &str {
        self.collection
    }
}

/// Adds one entry for the document `doc_key`, refusing a duplicate in a unique index.
pub(crate) fn add_entry(
    tables: &mut dyn EntryTables,
    spec: &IndexSpec,
    entry: &Entry,
    doc_key: &[u8],
) -> EngineResult<()> {
    if spec.unique && !entry.has_null {
        if let Some(existing) = find_duplicate(tables, spec, entry, doc_key)? {
            return Err(unique_violation(
                tables.collection(),
                spec,
                entry,
                &existing,
            ));
        }
    }
    let (key, value) = layout(spec, entry, doc_key);
    tables.put(ENTRIES_TABLE, &key, &value)
}

/// Another document's key holding `entry`'s tuple, if any.
fn find_duplicate(
    tables: &mut dyn EntryTables,
    spec: &IndexSpec,
    entry: &Entry,
    doc_key: &[u8],
) -> EngineResult<Option<Vec<u8>>> {
    match spec.kind {
        IndexKind::BTree => Ok(tables
            .get(ENTRIES_TABLE, &entry.tuple)?
            .filter(|existing| existing != doc_key)),
        IndexKind::Hash => {
            let prefix = crate::entries::hash_tuple(&entry.tuple).to_be_bytes();
            let mut found = None;
            tables.scan_prefix(ENTRIES_TABLE, &prefix, &mut |key, value| {
                if value == entry.tuple.as_slice() && key.get(8..) != Some(doc_key) {
                    found = key.get(8..).map(<[u8]>::to_vec);
                    return Ok(false);
                }
                Ok(true)
            })?;
            Ok(found)
        }
    }
}

fn unique_violation(
    collection: &str,
    spec: &IndexSpec,
    entry: &Entry,
    existing: &[u8],
) -> EngineError {
    let existing = match DocId::decode_key(existing) {
        Ok(id) => id,
        Err(err) => return EngineError::from(err),
    };
    EngineError::UniqueViolation {
        collection: collection.to_string(),
        index: spec.name.clone(),
        value: describe_tuple(spec, &entry.tuple),
        existing,
    }
}

/// The tuple's values as JSON, for messages: `"x"` for one field, `["x", 2]` for several.
fn describe_tuple(spec: &IndexSpec, tuple: &[u8]) -> String {
    match crate::decode::decode_tuple(tuple, spec.fields.len()) {
        Ok(mut values) if values.len() == 1 => values.remove(0).to_json_string(),
        Ok(values) => Value::Array(values).to_json_string(),
        Err(_) => "(undecodable key)".to_string(),
    }
}

/// A live index: the engine calls it on every write to its collection.
pub struct IndexExtension {
    spec: IndexSpec,
    stats: Arc<StatsCell>,
    /// Whether the online build finished (the write hook then writes only differences).
    ready: ReadyFlag,
}

impl Extension for IndexExtension {
    fn verifies(&self) -> bool {
        true
    }

    /// Compares the index with a rebuild from the documents ([`crate::verify::verify_index`]);
    /// an index whose build has not finished is not compared (queries do not use it).
    fn verify(
        &self,
        txn: &mut Transaction,
        collection: &str,
        name: &str,
    ) -> EngineResult<Vec<String>> {
        let handle = crate::read::indexes(txn, collection)
            .map_err(EngineError::from)?
            .into_iter()
            .find(|handle| handle.spec.name == name && handle.ready);
        let Some(handle) = handle else {
            return Ok(Vec::new());
        };
        Ok(crate::verify::verify_index(txn, collection, &handle)
            .map_err(EngineError::from)?
            .details())
    }

    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        let old = match change.old {
            Some(doc) => doc_entries(&self.spec, doc).map_err(EngineError::from)?,
            None => Default::default(),
        };
        let new = match change.new {
            Some(doc) => doc_entries(&self.spec, doc).map_err(EngineError::from)?,
            None => Default::default(),
        };
        let doc_key = change.id.to_key().map_err(EngineError::from)?;
        // While an online build runs, an entry the old version shares with the new one may
        // not be stored yet: the build skips every document changed after its snapshot and
        // relies on this hook for the document's *whole* entry set. So until the index is
        // known ready every new entry is (re)put; once ready only the difference is written.
        let complete = self.ready.is_ready(txn, META_TABLE, READY_KEY)?;
        // Both lists are sorted: a merge finds what to remove and what to add.
        for entry in old
            .entries
            .iter()
            .filter(|e| new.entries.binary_search(e).is_err())
        {
            let (key, _) = layout(&self.spec, entry, &doc_key);
            txn.delete(ENTRIES_TABLE, &key)?;
        }
        for entry in new
            .entries
            .iter()
            .filter(|e| !complete || old.entries.binary_search(e).is_err())
        {
            add_entry(txn, &self.spec, entry, &doc_key)?;
        }
        if new.multikey && !old.multikey {
            // A blind write (no read), so concurrent writers never conflict on the flag.
            txn.put(META_TABLE, MULTIKEY_KEY, &[])?;
        }
        self.stats.note_writes(1);
        Ok(())
    }

    fn backfilled(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
        // Attached with every existing document fed through `on_write`: complete at once.
        txn.put(META_TABLE, READY_KEY, &[])
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The extension kind that instantiates indexes from their catalog entries.
#[derive(Debug, Default)]
pub struct IndexExtensionKind;

impl ExtensionKind for IndexExtensionKind {
    fn kind(&self) -> &str {
        INDEX_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let spec = IndexSpec::from_config(name, config).map_err(EngineError::from)?;
        Ok(Arc::new(IndexExtension {
            spec,
            stats: Arc::new(StatsCell::default()),
            ready: ReadyFlag::default(),
        }))
    }
}

/// Finds a live index instance (for its statistics) through the engine.
pub(crate) fn instance(
    txn: &mut Transaction,
    collection: &str,
    name: &str,
) -> Result<Arc<dyn Extension>> {
    txn.extension_instance(collection, name)?
        .ok_or_else(|| IndexError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        })
}

impl IndexExtension {
    /// The statistics cell of this index.
    pub(crate) fn stats(&self) -> &Arc<StatsCell> {
        &self.stats
    }
}
