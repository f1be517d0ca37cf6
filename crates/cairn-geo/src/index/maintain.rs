//! Keeping a spatial index in step with its collection: the extension the engine calls on
//! every write, inside the writing transaction.

pub use crate::index::layout::META_TABLE;
pub use crate::index::layout::READY_KEY;
use std::sync::Arc;

use cairn_doc::Value;
use cairn_engine::{
    DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn, Result as EngineResult,
};

use cairn_index::ReadyFlag;

use crate::index::entries::doc_entries;
use crate::index::pages::{self, EntryOp, PageStore, PAGES_TABLE};
use crate::index::spec::SpatialSpec;
use crate::index::stamp;

/// The extension kind name of spatial indexes in the catalog.
pub const SPATIAL_KIND: &str = "spatial";

/// A live spatial index.
pub struct SpatialExtension {
    spec: SpatialSpec,
    /// Whether the online build finished (the write hook then writes only differences).
    ready: ReadyFlag,
}

impl Extension for SpatialExtension {
    fn verifies(&self) -> bool {
        true
    }

    /// Compares the stored entries with a rebuild from the documents
    /// ([`crate::index::admin::verify_spatial`]).
    fn verify(
        &self,
        txn: &mut cairn_engine::Transaction,
        collection: &str,
        _name: &str,
    ) -> EngineResult<Vec<String>> {
        Ok(crate::index::admin::verify_spatial(
            txn, collection, &self.spec,
        )?)
    }

    fn on_write(&self, txn: &mut ExtensionTxn<'_>, change: &DocChange<'_>) -> EngineResult<()> {
        let doc_key = change.id.to_key().map_err(EngineError::from)?;
        let entries = |doc: Option<&Value>| match doc {
            Some(doc) => doc_entries(&self.spec.field, &doc_key, doc).map_err(EngineError::from),
            None => Ok(Vec::new()),
        };
        let old = entries(change.old)?;
        let new = entries(change.new)?;
        // While an online build runs, an entry the old version shares with the new one may
        // not be stored yet: the build skips documents changed after its snapshot and relies
        // on this hook for the document's *whole* entry set. Until ready, put every entry.
        let complete = self.ready.is_ready(txn, META_TABLE, READY_KEY)?;
        // Both lists are sorted by key: what is only in `old` goes, what is new or changed comes.
        let mut ops: Vec<EntryOp<'_>> = Vec::with_capacity(old.len() + new.len());
        let (mut o, mut n) = (old.iter().peekable(), new.iter().peekable());
        loop {
            let op = match (o.peek(), n.peek()) {
                (None, None) => break,
                (Some((ok, _)), Some((nk, _))) if ok < nk => o.next().map(|(k, _)| (k, None)),
                (Some(_), None) => o.next().map(|(k, _)| (k, None)),
                (Some((ok, ov)), Some((nk, nv))) if ok == nk => {
                    o.next();
                    n.next();
                    (ov != nv || !complete).then_some((nk, Some(nv)))
                }
                _ => n.next().map(|(k, v)| (k, Some(v))),
            };
            ops.extend(op.map(|(k, v)| (k.as_slice(), v.map(Vec::as_slice))));
        }
        if !ops.is_empty() {
            pages::apply(&mut HookPages(txn), &ops).map_err(EngineError::from)?;
            // Same transaction, same operation (rolled back together): the stamp a snapshot
            // sees names exactly the entries it sees (see `stamp.rs`).
            stamp::write_in_hook(txn)?;
        }
        Ok(())
    }

    fn backfilled(&self, txn: &mut ExtensionTxn<'_>) -> EngineResult<()> {
        // Attached with every existing document fed through `on_write` (say, an index
        // creation replayed by a restore): complete at once. A fresh stamp too, for an index
        // over an empty collection, whose hook never wrote one.
        txn.put(META_TABLE, READY_KEY, &[])?;
        stamp::write_in_hook(txn)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// The extension kind that instantiates spatial indexes from their catalog entries.
#[derive(Debug, Default)]
pub struct SpatialExtensionKind;

impl ExtensionKind for SpatialExtensionKind {
    fn kind(&self) -> &str {
        SPATIAL_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        name: &str,
        config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        let spec = SpatialSpec::from_config(name, config).map_err(EngineError::from)?;
        Ok(Arc::new(SpatialExtension {
            spec,
            ready: ReadyFlag::default(),
        }))
    }
}

/// The write hook's view of the pages: reads see the transaction's own writes and are
/// conflict-checked, so two writers rewriting one page cannot both commit.
struct HookPages<'h, 't>(&'h mut ExtensionTxn<'t>);

impl PageStore for HookPages<'_, '_> {
    fn page_at_or_after(&mut self, key: &[u8]) -> crate::error::Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self.0.ceiling(PAGES_TABLE, key)?)
    }

    fn put_page(&mut self, key: &[u8], page: &[u8]) -> crate::error::Result<()> {
        Ok(self.0.put(PAGES_TABLE, key, page)?)
    }

    fn delete_page(&mut self, key: &[u8]) -> crate::error::Result<()> {
        Ok(self.0.delete(PAGES_TABLE, key)?)
    }
}
