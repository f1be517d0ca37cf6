//! Online builds: the collection stays readable and writable while a spatial index fills.
//!
//! The same protocol as `cairn_index::build`: attach unfilled at `S_A` (the write hook
//! maintains every later write), scan a snapshot `S_B >= S_A`, and write the snapshot's
//! entries in chunk transactions that skip documents the change log shows changed after
//! `S_B` and note a read of every document they index — a concurrent change makes the chunk
//! conflict and retry (halved) rather than leave a stale entry. A last commit marks it ready.

use std::collections::HashSet;
use std::ops::Bound;

use cairn_engine::{Database, EngineError};

use crate::error::{GeoError, Result};
use crate::index::entries::doc_entries;
use crate::index::limits::{BUILD_CHUNK_ENTRIES, BUILD_CHUNK_RETRIES};
use crate::index::maintain::{ENTRIES_TABLE, META_TABLE, READY_KEY};
use crate::index::spec::SpatialSpec;

/// A conflicting chunk is halved until it is this small; then it is retried as is.
const MIN_CHUNK_ENTRIES: usize = 64;

/// One entry to write: key, value, and the document it came from.
type Pending = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Fills an index attached unfilled, then marks it ready. Returns the entries written.
pub(crate) fn fill(db: &Database, collection: &str, spec: &SpatialSpec) -> Result<u64> {
    let mut snapshot = db.read()?;
    let collection_id = snapshot.collection_meta(collection)?.id;
    let mut builder = Builder {
        db,
        collection,
        collection_id,
        spec,
        changed: HashSet::new(),
        log_cursor: snapshot.snapshot_seq(),
        written: 0,
    };
    let mut run: Vec<Pending> = Vec::new();
    let mut failure = None;
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
                    builder.write_run(&mut run)?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => Ok(true),
                Err(err) => {
                    failure = Some(err);
                    Ok(false)
                }
            }
        },
    )?;
    if let Some(err) = failure {
        return Err(err);
    }
    drop(snapshot);
    builder.write_run(&mut run)?;
    db.transaction(|txn| txn.extension_put(collection, &spec.name, META_TABLE, READY_KEY, &[]))?;
    Ok(builder.written)
}

struct Builder<'a> {
    db: &'a Database,
    collection: &'a str,
    collection_id: u32,
    spec: &'a SpatialSpec,
    /// Keys of documents changed after the build snapshot (their entries are the hook's).
    changed: HashSet<Vec<u8>>,
    /// The change log has been read up to here into `changed`.
    log_cursor: u64,
    written: u64,
}

impl Builder<'_> {
    fn write_run(&mut self, run: &mut Vec<Pending>) -> Result<()> {
        run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in run.chunks(BUILD_CHUNK_ENTRIES) {
            self.write_chunk(chunk, 0)?;
            self.written += chunk.len() as u64;
        }
        run.clear();
        Ok(())
    }

    fn write_chunk(&mut self, chunk: &[Pending], mut conflicts: usize) -> Result<()> {
        loop {
            match self.try_chunk(chunk) {
                Ok(()) => return Ok(()),
                Err(GeoError::Engine(err)) if err.is_retryable() => {
                    conflicts += 1;
                    if chunk.len() > MIN_CHUNK_ENTRIES {
                        let (left, right) = chunk.split_at(chunk.len() / 2);
                        self.write_chunk(left, conflicts)?;
                        return self.write_chunk(right, conflicts);
                    }
                    if conflicts >= BUILD_CHUNK_RETRIES {
                        return Err(GeoError::InvalidDefinition {
                            name: self.spec.name.clone(),
                            reason: "concurrent writes kept conflicting with the build".into(),
                        });
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn try_chunk(&mut self, chunk: &[Pending]) -> Result<()> {
        let mut txn = self.db.begin()?;
        self.catch_up(txn.snapshot_seq())?;
        let mut noted: Option<&[u8]> = None;
        for (key, value, doc_key) in chunk {
            if self.changed.contains(doc_key) {
                continue;
            }
            if noted != Some(doc_key.as_slice()) {
                txn.note_document_read(self.collection, doc_key)?;
                noted = Some(doc_key);
            }
            txn.extension_put(self.collection, &self.spec.name, ENTRIES_TABLE, key, value)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Adds to `changed` every document of the collection changed up to `seq`.
    fn catch_up(&mut self, seq: u64) -> Result<()> {
        while self.log_cursor < seq {
            let changes = self.db.changes_after(self.log_cursor, 10_000)?;
            let Some(last) = changes.last() else { break };
            self.log_cursor = last.seq;
            for change in changes {
                if change.collection_id != self.collection_id {
                    continue;
                }
                if let Some(id) = change.id {
                    self.changed.insert(id.to_key().map_err(EngineError::from)?);
                }
            }
        }
        Ok(())
    }
}
