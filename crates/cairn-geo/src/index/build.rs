//! Online builds: the collection stays readable and writable while a spatial index fills.
//!
//! The same protocol as `cairn-index/src/build.rs`: attach unfilled at `S_A` (the write hook
//! maintains every later write), scan a snapshot `S_B >= S_A`, and write the snapshot's
//! entries through `cairn_index::ChunkWriter` (chunk transactions that skip documents changed
//! after `S_B` and conflict with documents changing while they are in flight). A last commit
//! marks the index ready. Every one of these commits writes a fresh content stamp
//! (`stamp.rs`), as the write hook does.

use std::ops::Bound;

use cairn_engine::{Database, EngineError, Transaction};
use cairn_index::ChunkWriter;

use crate::error::Result;
use crate::index::entries::doc_entries;
use crate::index::limits::BUILD_CHUNK_ENTRIES;
use crate::index::maintain::{META_TABLE, READY_KEY};
use crate::index::pages::{self, EntryOp, PageStore, PAGES_TABLE};
use crate::index::spec::SpatialSpec;
use crate::index::stamp;

/// One entry to write: key, value, and the document it came from.
type Pending = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Fills an index attached unfilled, then marks it ready. Returns the entries written.
pub(crate) fn fill(db: &Database, collection: &str, spec: &SpatialSpec) -> Result<u64> {
    let mut snapshot = db.read()?;
    let mut writer = ChunkWriter::new(
        db,
        &mut snapshot,
        collection,
        &spec.name,
        BUILD_CHUNK_ENTRIES,
    )?;
    let mut written = 0u64;
    let mut write_run = |run: &mut Vec<Pending>| -> Result<()> {
        run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        writer.write_batched(run, |(_, _, doc_key)| doc_key, &mut |txn, kept| {
            let ops: Vec<EntryOp<'_>> = kept
                .iter()
                .map(|(key, value, _)| (key.as_slice(), Some(value.as_slice())))
                .collect();
            let mut store = BuildPages {
                txn,
                collection,
                index: &spec.name,
            };
            pages::apply(&mut store, &ops).map_err(EngineError::from)?;
            // Every chunk commit that wrote entries carries a fresh stamp.
            stamp::write_in_txn(txn, collection, &spec.name)
        })?;
        written += run.len() as u64;
        run.clear();
        Ok(())
    };
    let mut run: Vec<Pending> = Vec::new();
    snapshot.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |doc_key, doc| {
            let result = (|| -> Result<()> {
                for (key, value) in doc_entries(&spec.field, doc_key, &doc)? {
                    run.push((key, value, doc_key.to_vec()));
                }
                if run.len() >= BUILD_CHUNK_ENTRIES {
                    write_run(&mut run)?;
                }
                Ok(())
            })();
            result.map(|()| true)
        },
    )?;
    drop(snapshot);
    write_run(&mut run)?;
    db.transaction(|txn| {
        txn.extension_put(collection, &spec.name, META_TABLE, READY_KEY, &[])?;
        stamp::write_in_txn(txn, collection, &spec.name)
    })?;
    Ok(written)
}

/// A build chunk transaction's view of the pages (it sees its own writes).
struct BuildPages<'b> {
    txn: &'b mut Transaction,
    collection: &'b str,
    index: &'b str,
}

impl PageStore for BuildPages<'_> {
    fn page_at_or_after(&mut self, key: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .txn
            .extension_ceiling(self.collection, self.index, PAGES_TABLE, key)?)
    }

    fn put_page(&mut self, key: &[u8], page: &[u8]) -> Result<()> {
        Ok(self
            .txn
            .extension_put(self.collection, self.index, PAGES_TABLE, key, page)?)
    }

    fn delete_page(&mut self, key: &[u8]) -> Result<()> {
        Ok(self
            .txn
            .extension_delete(self.collection, self.index, PAGES_TABLE, key)?)
    }
}
