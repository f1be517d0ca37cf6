//! A shared, cached read view for reads outside transactions.
//!
//! A transaction pays for a snapshot registration, a sequence-number read and a catalog lookup,
//! which is right for a unit of work but dominates a single point read. Plain `Database::get`
//! calls instead share one view — a storage snapshot with its collections and document tables
//! already opened — until a newer commit is published, at which point the next read takes a
//! fresh one.
//!
//! Invariant: a view is never older than the last commit published before the read began, so a
//! writer that got `Ok` from a commit and then reads sees its own write.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use cairn_doc::{DocId, Value};
use cairn_storage::{Snapshot, TableReader};
use parking_lot::{Mutex, RwLock};

use crate::catalog::CollectionMeta;
use crate::committer::Shared;
use crate::compression::Codecs;
use crate::error::{EngineError, Result};
use crate::layout::CATALOG_TABLE;
use crate::record::{decode_record, RecordAt};

/// One collection as seen by a view: its document table, opened once.
struct ViewCollection {
    docs: Option<TableReader>,
    /// The documents table's name (how its entries are stored follows from it).
    table: String,
}

/// A snapshot shared by concurrent readers, with lazily opened collections.
pub(crate) struct ReadView {
    seq: u64,
    snapshot: Snapshot,
    collections: RwLock<HashMap<String, Arc<ViewCollection>>>,
}

/// Holder of the current view.
#[derive(Default)]
pub(crate) struct ViewCache {
    current: Mutex<Option<Arc<ReadView>>>,
}

impl ViewCache {
    /// The current view, refreshed if a newer commit has been published.
    pub(crate) fn view(&self, shared: &Shared) -> Result<Arc<ReadView>> {
        let published = shared.published_seq.load(Ordering::Acquire);
        let mut current = self.current.lock();
        if let Some(view) = current.as_ref().filter(|view| view.seq >= published) {
            return Ok(view.clone());
        }
        // The snapshot is taken after reading `published`, so it holds at least that commit.
        let view = Arc::new(ReadView {
            seq: published,
            snapshot: shared.store.snapshot()?,
            collections: RwLock::new(HashMap::new()),
        });
        *current = Some(view.clone());
        Ok(view)
    }

    /// Releases the cached view so an idle reader does not pin pages the writer has replaced
    /// (a live snapshot stops the storage engine from reusing them). Called after each commit.
    pub(crate) fn release(&self) {
        self.current.lock().take();
    }
}

impl ReadView {
    fn collection(&self, name: &str) -> Result<Arc<ViewCollection>> {
        if let Some(found) = self.collections.read().get(name) {
            return Ok(found.clone());
        }
        let catalog = self.snapshot.table(CATALOG_TABLE)?;
        let bytes = match catalog {
            Some(catalog) => catalog.get(name.as_bytes())?,
            None => None,
        };
        let Some(bytes) = bytes else {
            return Err(EngineError::UnknownCollection {
                name: name.to_string(),
            });
        };
        let meta = CollectionMeta::decode(&bytes)?;
        let table = crate::layout::docs_table(meta.id);
        let docs = self.snapshot.table(&table)?;
        let found = Arc::new(ViewCollection { docs, table });
        self.collections
            .write()
            .insert(name.to_string(), found.clone());
        Ok(found)
    }

    /// Reads one document.
    pub(crate) fn get(
        &self,
        codecs: &Codecs,
        collection: &str,
        id: &DocId,
    ) -> Result<Option<Value>> {
        let coll = self.collection(collection)?;
        let Some(docs) = coll.docs.as_ref() else {
            return Ok(None);
        };
        let mut key = Vec::with_capacity(24);
        id.encode_key(&mut key)?;
        let at = RecordAt {
            collection,
            key: &key,
        };
        crate::packed::get_any(docs, codecs, &coll.table, &key, |record| {
            decode_record(codecs, at, record)
        })?
        .transpose()
    }
}
