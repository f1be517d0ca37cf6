//! Online index builds: the collection stays readable and writable while an index fills.
//!
//! 1. The index is attached *unfilled*: from that commit (`S_A`) on, every write maintains
//!    its entries through the write hook.
//! 2. A read-only snapshot (`S_B >= S_A`) is scanned; its documents' entries are collected
//!    into runs of at most [`BUILD_RUN_BYTES`], each sorted so it is written as one sweep
//!    through the key space (random-order inserts would rewrite a page per entry).
//! 3. Each run is written by a [`ChunkWriter`] (shared with spatial indexes): chunk
//!    transactions that skip documents changed after `S_B` and conflict with documents that
//!    change while they are in flight.
//! 4. A last transaction marks the index ready; only then does the planner use it.
//!
//! A unique index that meets a duplicate fails the build, and the index is dropped again.

use cairn_doc::Value;
use cairn_engine::Database;

use crate::chunks::ChunkWriter;
use crate::entries::{doc_entries, layout, Entry};
use crate::error::Result;
use crate::limits::{BUILD_CHUNK_ENTRIES, BUILD_RUN_BYTES};
use crate::maintain::{
    add_entry, BuilderTables, ENTRIES_TABLE, META_TABLE, MULTIKEY_KEY, READY_KEY,
};
use crate::spec::IndexSpec;

/// Documents scanned between progress reports.
const PROGRESS_EVERY_DOCUMENTS: u64 = 10_000;

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
    let mut builder = Builder {
        writer: ChunkWriter::new(
            db,
            &mut snapshot,
            collection,
            &spec.name,
            BUILD_CHUNK_ENTRIES,
        )?,
        collection,
        spec,
        multikey: false,
        progress: BuildProgress {
            scanned: 0,
            total: snapshot.document_count(collection)?,
            written: 0,
        },
    };
    let mut run: Vec<Pending> = Vec::new();
    let mut run_bytes = 0usize;
    // Entries need only the indexed fields: the rest of each document is never decoded.
    let fields = top_level_fields(spec);
    snapshot.scan_document_fields(
        collection,
        (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded),
        &fields,
        |doc_key, doc| {
            let result = (|| -> Result<()> {
                let entries = doc_entries(spec, &doc)?;
                builder.multikey |= entries.multikey;
                for entry in entries.entries {
                    let (key, value) = layout(spec, &entry, doc_key);
                    run_bytes += key.len() + value.len() + entry.tuple.len() + doc_key.len() + 96;
                    run.push(Pending {
                        key,
                        value,
                        entry,
                        doc_key: doc_key.to_vec(),
                    });
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
            result.map(|()| true)
        },
    )?;
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

/// The top-level fields an index's paths start with, each once: what a build decodes.
fn top_level_fields(spec: &IndexSpec) -> Vec<&str> {
    let mut fields: Vec<&str> = Vec::with_capacity(spec.fields.len());
    for path in &spec.fields {
        if !fields.contains(&path.first()) {
            fields.push(path.first());
        }
    }
    fields
}

/// One entry to write: its stored key and value, the entry, and the document it came from.
struct Pending {
    key: Vec<u8>,
    value: Vec<u8>,
    entry: Entry,
    doc_key: Vec<u8>,
}

struct Builder<'a> {
    writer: ChunkWriter<'a>,
    collection: &'a str,
    spec: &'a IndexSpec,
    multikey: bool,
    progress: BuildProgress,
}

impl Builder<'_> {
    /// Sorts a run by stored key and writes it in chunks, emptying it.
    fn write_run(&mut self, run: &mut Vec<Pending>) -> Result<()> {
        run.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        let (collection, spec) = (self.collection, self.spec);
        self.writer
            .write(run, |pending| &pending.doc_key, &mut |txn, pending| {
                if !spec.unique {
                    // No duplicate to look for: the entry laid out while scanning is stored.
                    return txn.extension_put(
                        collection,
                        &spec.name,
                        ENTRIES_TABLE,
                        &pending.key,
                        &pending.value,
                    );
                }
                let mut tables = BuilderTables {
                    txn,
                    collection,
                    index: &spec.name,
                };
                add_entry(&mut tables, spec, &pending.entry, &pending.doc_key)
            })?;
        self.progress.written += run.len() as u64;
        run.clear();
        Ok(())
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
