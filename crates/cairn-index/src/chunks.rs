//! Writing an online build's entries: the step every online-built index kind shares
//! (secondary indexes here, spatial indexes in `cairn-geo`).
//!
//! The entries come from a snapshot `S_B` taken after the index was attached unfilled. They
//! are written in chunk transactions that skip every document the change log shows changed
//! after `S_B` (the write hook stored that document's whole entry set, see `ready.rs`) and note
//! a read of every document they do write for, so a document changing while the chunk is in
//! flight makes the chunk conflict and retry instead of leaving a stale entry. A conflicting
//! chunk is halved, so under heavy write load its window shrinks until it fits between writes.

use std::collections::HashSet;

use cairn_engine::{Database, EngineError, Result as EngineResult, Transaction};

use crate::error::{IndexError, Result};
use crate::limits::BUILD_CHUNK_RETRIES;

/// A conflicting chunk is halved until it is this small; then it is retried as is.
const MIN_CHUNK_ENTRIES: usize = 64;

/// Change-log records read per catch-up call.
const LOG_BATCH: usize = 10_000;

/// Writes one online build's entries in conflict-checked chunk transactions.
pub struct ChunkWriter<'a> {
    db: &'a Database,
    collection: &'a str,
    index: &'a str,
    collection_id: u32,
    chunk_entries: usize,
    /// Keys of documents changed after the build snapshot (their entries are the hook's).
    changed: HashSet<Vec<u8>>,
    /// The change log has been read up to here into `changed`.
    log_cursor: u64,
}

impl<'a> ChunkWriter<'a> {
    /// A writer for the build of `index` on `collection` whose entries come from `snapshot`
    /// (the build snapshot `S_B`), writing at most `chunk_entries` entries per transaction.
    pub fn new(
        db: &'a Database,
        snapshot: &mut Transaction,
        collection: &'a str,
        index: &'a str,
        chunk_entries: usize,
    ) -> Result<ChunkWriter<'a>> {
        debug_assert!(chunk_entries > 0);
        Ok(ChunkWriter {
            db,
            collection,
            index,
            collection_id: snapshot.collection_meta(collection)?.id,
            chunk_entries: chunk_entries.max(1),
            changed: HashSet::new(),
            log_cursor: snapshot.snapshot_seq(),
        })
    }

    /// Writes `entries` (sorted by stored key, so each chunk is one sweep through the key
    /// space): `doc_key` names the document an entry came from, `put` stores it in a chunk
    /// transaction. Entries of documents changed since the snapshot are skipped.
    pub fn write<T>(
        &mut self,
        entries: &[T],
        doc_key: fn(&T) -> &[u8],
        put: &mut dyn FnMut(&mut Transaction, &T) -> EngineResult<()>,
    ) -> Result<()> {
        self.write_batched(entries, doc_key, &mut |txn, kept| {
            kept.iter().try_for_each(|entry| put(txn, entry))
        })
    }

    /// Like [`ChunkWriter::write`], but hands each chunk transaction all of its kept entries
    /// at once (in order), for a store that writes many entries with one operation (say, a
    /// spatial index packing them into pages, and stamping the chunk once).
    pub fn write_batched<T>(
        &mut self,
        entries: &[T],
        doc_key: fn(&T) -> &[u8],
        apply: &mut dyn FnMut(&mut Transaction, &[&T]) -> EngineResult<()>,
    ) -> Result<()> {
        for chunk in entries.chunks(self.chunk_entries) {
            self.write_chunk(chunk, doc_key, apply)?;
        }
        Ok(())
    }

    fn write_chunk<T>(
        &mut self,
        chunk: &[T],
        doc_key: fn(&T) -> &[u8],
        apply: &mut dyn FnMut(&mut Transaction, &[&T]) -> EngineResult<()>,
    ) -> Result<()> {
        let mut conflicts = 0;
        loop {
            match self.try_chunk(chunk, doc_key, apply) {
                Ok(()) => return Ok(()),
                Err(IndexError::Engine(err)) if err.is_retryable() => {
                    conflicts += 1;
                    if chunk.len() > MIN_CHUNK_ENTRIES {
                        // The documents that changed are in the change log by the retry.
                        let (left, right) = chunk.split_at(chunk.len() / 2);
                        self.write_chunk(left, doc_key, apply)?;
                        return self.write_chunk(right, doc_key, apply);
                    }
                    if conflicts >= BUILD_CHUNK_RETRIES {
                        return Err(
                            self.failed("concurrent writes kept conflicting with the build".into())
                        );
                    }
                }
                Err(other) => return Err(other),
            }
        }
    }

    fn try_chunk<T>(
        &mut self,
        chunk: &[T],
        doc_key: fn(&T) -> &[u8],
        apply: &mut dyn FnMut(&mut Transaction, &[&T]) -> EngineResult<()>,
    ) -> Result<()> {
        let mut txn = self.db.begin()?;
        // Read the log up to at least this transaction's snapshot: anything changed later
        // conflicts with the reads noted below.
        self.catch_up(txn.snapshot_seq())?;
        let mut noted: Option<&[u8]> = None;
        let mut kept: Vec<&T> = Vec::with_capacity(chunk.len());
        for entry in chunk {
            let key = doc_key(entry);
            if self.changed.contains(key) {
                continue;
            }
            // Entries of one document are usually adjacent; one noted read covers them.
            if noted != Some(key) {
                txn.note_document_read(self.collection, key)?;
                noted = Some(key);
            }
            kept.push(entry);
        }
        if !kept.is_empty() {
            apply(&mut txn, &kept)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Adds to `changed` every document of the collection changed up to `seq`.
    fn catch_up(&mut self, seq: u64) -> Result<()> {
        while self.log_cursor < seq {
            let changes =
                self.db
                    .changes_after(self.log_cursor, LOG_BATCH)
                    .map_err(|err| match err {
                        EngineError::ChangeLogTrimmed { .. } => self.failed(format!(
                            "the change log was trimmed past the build's snapshot ({err}); retry \
                         with fewer concurrent writes or a longer change-log retention"
                        )),
                        other => other.into(),
                    })?;
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

    fn failed(&self, reason: String) -> IndexError {
        IndexError::BuildFailed {
            collection: self.collection.to_string(),
            name: self.index.to_string(),
            reason,
        }
    }
}
