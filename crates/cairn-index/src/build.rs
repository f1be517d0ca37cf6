//! Online index builds: the collection stays readable and writable while an index fills.
//!
//! 1. The index is attached *unfilled*: from that commit (`S_A`) on, every write maintains
//!    its entries through the write hook.
//! 2. A read-only snapshot (`S_B >= S_A`) is scanned; its documents' entries are collected
//!    into runs of at most [`BUILD_RUN_BYTES`], each sorted so it is written as one sweep
//!    through the key space (random-order inserts would rewrite a page per entry).
//! 3. Each run is written in chunk transactions. A chunk skips every document the change log
//!    shows changed after `S_B` (its entries came from the write hook, which saw the newer
//!    version) and records a read of every document it writes entries for, so a document
//!    changing while the chunk is in flight makes the chunk conflict and retry instead of
//!    leaving a stale entry.
//! 4. A last transaction marks the index ready; only then does the planner use it.
//!
//! A unique index that meets a duplicate fails the build, and the index is dropped again.

use std::collections::HashSet;

use cairn_doc::Value;
use cairn_engine::{Database, EngineError};

use crate::entries::{doc_entries, layout, Entry};
use crate::error::{IndexError, Result};
use crate::limits::{BUILD_CHUNK_ENTRIES, BUILD_CHUNK_RETRIES, BUILD_RUN_BYTES};

/// A conflicting chunk is split until it is this small; then it is retried as is.
const MIN_CHUNK_ENTRIES: usize = 64;

/// Documents scanned between progress reports.
const PROGRESS_EVERY_DOCUMENTS: u64 = 10_000;
use crate::maintain::{add_entry, BuilderTables, META_TABLE, MULTIKEY_KEY, READY_KEY};
use crate::spec::IndexSpec;

/// How far a build has got, reported to a progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildProgress {
    /// Documents read from the build snapshot so far.
    pub scanned: u64,
    /// Documents in the build snapshot.
    pub total: u64,
    /// Entries written so far.
    pub written: u64,
}

/// Fills an index attached unfilled, then marks it ready.
pub(crate) fn fill(
    db: &Database,
    collection: &str,
    spec: &IndexSpec,
    progress: &mut dyn FnMut(BuildProgress),
) -> Result<()> {
    let mut snapshot = db.read()?;
    let collection_id = snapshot.collection_meta(collection)?.id;
    let mut builder = Builder {
        db,
        collection,
        collection_id,
        spec,
        changed: HashSet::new(),
        log_cursor: snapshot.snapshot_seq(),
        multikey: false,
        progress: BuildProgress {
            scanned: 0,
            total: snapshot.document_count(collection)?,
            written: 0,
        },
    };
    let mut run: Vec<(Vec<u8>, Entry, Vec<u8>)> = Vec::new();
    let mut run_bytes = 0usize;
    let mut failure = None;
    snapshot.scan_documents(
        collection,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |doc_key, doc| {
            let result = (|| -> Result<()> {
                let entries = doc_entries(spec, &doc)?;
                builder.multikey |= entries.multikey;
                for entry in entries.entries {
                    let (key, _) = layout(spec, &entry, doc_key);
                    run_bytes += key.len() + entry.tuple.len() + doc_key.len() + 96;
                    run.push((key, entry, doc_key.to_vec()));
                }
                builder.progress.scanned += 1;
                if run_bytes >= BUILD_RUN_BYTES {
                    builder.write_run(&mut run)?;
                    run_bytes = 0;
                }
                if builder
                    .progress
                    .scanned
                    .is_multiple_of(PROGRESS_EVERY_DOCUMENTS)
                {
                    progress(builder.progress);
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
    db.transaction(|txn| {
        txn.extension_put(collection, &spec.name, META_TABLE, READY_KEY, &[])?;
        if builder.multikey {
            txn.extension_put(collection, &spec.name, META_TABLE, MULTIKEY_KEY, &[])?;
        }
        Ok(())
    })?;
    progress(builder.progress);
    Ok(())
}

struct Builder<'a> {
    db: &'a Database,
    collection: &'a str,
    collection_id: u32,
    spec: &'a IndexSpec,
    /// Keys of documents changed after the build snapshot (their entries are the hook's).
    changed: HashSet<Vec<u8>>,
    /// The change log has been read up to here into `changed`.
    log_cursor: u64,
    multikey: bool,
    progress: BuildProgress,
}

impl Builder<'_> {
    /// Sorts a run by stored key and writes it in chunks, emptying it.
    fn write_run(&mut self, run: &mut Vec<(Vec<u8>, Entry, Vec<u8>)>) -> Result<()> {
        run.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for chunk in run.chunks(BUILD_CHUNK_ENTRIES) {
            self.write_chunk(chunk)?;
            self.progress.written += chunk.len() as u64;
        }
        run.clear();
        Ok(())
    }

    /// Writes one chunk. A conflict means some of its documents changed while it was in
    /// flight; those are in the change log by the retry, so they get skipped. Under heavy
    /// write load the chunk is halved on each conflict, so its window shrinks until it fits
    /// between concurrent writes.
    fn write_chunk(&mut self, chunk: &[(Vec<u8>, Entry, Vec<u8>)]) -> Result<()> {
        let mut conflicts = 0;
        loop {
            match self.try_chunk(chunk) {
                Ok(()) => return Ok(()),
                Err(IndexError::Engine(err)) if err.is_retryable() => {
                    conflicts += 1;
                    if chunk.len() > MIN_CHUNK_ENTRIES {
                        let (left, right) = chunk.split_at(chunk.len() / 2);
                        self.write_chunk(left)?;
                        return self.write_chunk(right);
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

    fn try_chunk(&mut self, chunk: &[(Vec<u8>, Entry, Vec<u8>)]) -> Result<()> {
        let mut txn = self.db.begin()?;
        // Read the log up to at least this transaction's snapshot: anything changed later
        // conflicts with the reads noted below.
        self.catch_up(txn.snapshot_seq())?;
        let mut tables = BuilderTables {
            txn: &mut txn,
            collection: self.collection,
            index: &self.spec.name,
        };
        for (_, entry, doc_key) in chunk {
            if self.changed.contains(doc_key) {
                continue;
            }
            tables.txn.note_document_read(self.collection, doc_key)?;
            add_entry(&mut tables, self.spec, entry, doc_key)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Adds to `changed` every document of the collection changed up to `seq`.
    fn catch_up(&mut self, seq: u64) -> Result<()> {
        while self.log_cursor < seq {
            let changes =
                self.db
                    .changes_after(self.log_cursor, 10_000)
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
            name: self.spec.name.clone(),
            reason,
        }
    }
}

/// Used by tests and `check`: the entries a full rebuild would produce, as stored keys.
pub fn expected_keys(
    spec: &IndexSpec,
    docs: &[(Vec<u8>, Value)],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    for (doc_key, doc) in docs {
        for entry in doc_entries(spec, doc)?.entries {
            out.push(layout(spec, &entry, doc_key));
        }
    }
    out.sort();
    Ok(out)
}
