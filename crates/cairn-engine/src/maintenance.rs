//! Space maintenance and its reporting: compaction, compression statistics, dictionary
//! training on demand.

use std::ops::Bound;

use cairn_storage::{KeySource, RotationReport, StorageMode, Store};

use crate::compression::plain_len;
use crate::database::{Config, Database};
use crate::error::Result;
use crate::layout::docs_table;
use crate::record::record_body;

/// What [`compact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactReport {
    /// Bytes the data file occupied on disk before.
    pub before_bytes: u64,
    /// Bytes it occupies after.
    pub after_bytes: u64,
}

impl CompactReport {
    /// Bytes given back to the file system.
    pub fn reclaimed_bytes(&self) -> u64 {
        self.before_bytes.saturating_sub(self.after_bytes)
    }
}

/// Compacts a closed database: rewrites the data file so free pages are returned to the
/// file system. Needs exclusive access (no other process may have it open).
pub fn compact(config: &Config) -> Result<CompactReport> {
    let mut store_config = config.store_config();
    store_config.mode = StorageMode::Persistent;
    let mut store = Store::open(&store_config)?;
    let (before_bytes, after_bytes) = store.compact()?;
    Ok(CompactReport {
        before_bytes,
        after_bytes,
    })
}

/// How well one collection's documents compress.
#[derive(Debug, Clone, PartialEq)]
pub struct CompressionStats {
    /// The collection.
    pub collection: String,
    /// Documents.
    pub documents: u64,
    /// Bytes of the documents' binary encoding, uncompressed.
    pub logical_bytes: u64,
    /// Bytes of document bodies as stored (compressed where that paid, compression headers
    /// included; the 8-byte version header every record has is not counted on either side).
    pub stored_bytes: u64,
    /// Dictionaries trained for the collection so far.
    pub dictionaries: u64,
}

impl CompressionStats {
    /// stored / logical: 0.25 means documents take a quarter of their uncompressed size.
    pub fn ratio(&self) -> f64 {
        if self.logical_bytes == 0 {
            1.0
        } else {
            self.stored_bytes as f64 / self.logical_bytes as f64
        }
    }
}

impl Database {
    /// Logical and stored bytes per collection, from one snapshot. Reads every record's
    /// header (not its body), so it takes time proportional to the number of documents.
    pub fn compression_stats(&self) -> Result<Vec<CompressionStats>> {
        let shared = &self.inner.shared;
        let snapshot = shared.store.snapshot()?;
        let mut out = Vec::new();
        for meta in self.list_collections()? {
            let table = docs_table(meta.id);
            let mut stats = CompressionStats {
                collection: meta.name.clone(),
                documents: 0,
                logical_bytes: 0,
                stored_bytes: 0,
                dictionaries: shared.codecs.count_for(meta.id) as u64,
            };
            if let Some(docs) = snapshot.table(&table)? {
                if shared.codecs.packed() {
                    packed_stats(&shared.codecs, &table, &docs, &mut stats)?;
                } else {
                    for entry in docs.range(Bound::Unbounded, Bound::Unbounded)? {
                        let entry = entry?;
                        let body = record_body(&table, entry.value())?;
                        stats.documents += 1;
                        stats.logical_bytes += plain_len(body).unwrap_or(body.len()) as u64;
                        stats.stored_bytes += body.len() as u64;
                    }
                }
            }
            out.push(stats);
        }
        Ok(out)
    }

    /// Trains compression dictionaries now for every collection that is due one (normally a
    /// background thread does this within a second of the collection growing enough);
    /// returns the collections that got a new dictionary.
    pub fn train_dictionaries(&self) -> Result<Vec<String>> {
        crate::dictionary::train_due(&self.inner.shared)
    }

    /// Re-encrypts the whole data file under a new random data key while the database stays
    /// open (readers and writers wait at most one chunk at a time); afterwards `new` opens
    /// it and the old data key is gone from the keyring and from memory. Backups taken
    /// afterwards are sealed with the new key. `progress(done, total)` is in blocks;
    /// `chunk_blocks` 0 means the default chunk. An interrupted rotation is finished instead
    /// of a new one started (see `cairn_storage::Store::rotate_data_key`).
    pub fn rotate_data_key(
        &self,
        current: &KeySource,
        new: &KeySource,
        chunk_blocks: u64,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<RotationReport> {
        Ok(self
            .inner
            .shared
            .store
            .rotate_data_key(current, new, chunk_blocks, progress)?)
    }

    /// Whether a data-key rotation was interrupted and still has to be finished.
    pub fn rotation_pending(&self) -> bool {
        self.inner.shared.store.rotation_pending()
    }

    /// The id of the data key new blocks are sealed with; `None` when not encrypted.
    pub fn data_key_id(&self) -> Option<u32> {
        self.inner.shared.store.data_key_id()
    }
}

/// [`Database::compression_stats`] for a table of packed runs: logical bytes are the records'
/// plain bodies, stored bytes the runs as stored (compressed together).
fn packed_stats(
    codecs: &crate::compression::Codecs,
    table: &str,
    docs: &cairn_storage::TableReader,
    stats: &mut CompressionStats,
) -> Result<()> {
    for entry in docs.range(Bound::Excluded(crate::packed::COUNT_KEY), Bound::Unbounded)? {
        let entry = entry?;
        stats.stored_bytes += entry.value().len() as u64;
        let run = crate::packed::Run::decode(codecs, table, entry.value())?;
        for i in 0..run.len() {
            let body = record_body(table, run.record(i))?;
            stats.documents += 1;
            stats.logical_bytes += plain_len(body).unwrap_or(body.len()) as u64;
        }
    }
    Ok(())
}
