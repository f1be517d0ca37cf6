//! Per-collection zstd dictionaries: when to train one, how, and where they are kept.
//!
//! A collection whose settings ask for dictionaries gets its first one once it holds
//! [`TRAIN_MIN_DOCS`] documents, and a new one each time it has grown [`RETRAIN_GROWTH`]-fold
//! since the last (up to [`MAX_DICTIONARIES_PER_COLLECTION`]), so the dictionary follows the
//! data as it changes shape. Training samples documents evenly across the collection from one
//! snapshot. A background thread checks every [`TRAIN_CHECK_INTERVAL`] after new commits;
//! `Database::train_dictionaries` does the same on demand.
//!
//! `sys.dicts` maps a database-wide dictionary id (u32 BE) to
//! `collection id u32 LE ‖ documents at training u64 LE ‖ dictionary bytes`. Dictionaries are
//! written in their own storage commit, before any record can use them, and never deleted, so
//! every compressed record (and change-log payload) can always be read back. They are storage
//! settings, not data: they are not in the change log, and full backups carry the table.

use std::ops::Bound;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use cairn_storage::{StorageError, Store};

use crate::catalog::CollectionMeta;
use crate::committer::Shared;
use crate::compression::{Codecs, Dictionary};
use crate::error::{EngineError, Result};
use crate::layout::{docs_table, CATALOG_TABLE, DICTIONARY_TABLE};
use crate::limits::MAX_DICTIONARIES_PER_COLLECTION;
use crate::record::record_body;

/// Documents a collection needs before its first dictionary: 1,000. Fewer samples give a
/// dictionary that fits them and little else.
pub const TRAIN_MIN_DOCS: u64 = 1_000;
/// Growth factor between dictionaries of one collection: 10×, so a collection that grows to
/// millions of documents is retrained a handful of times, each on a more representative sample.
pub const RETRAIN_GROWTH: u64 = 10;
/// Documents sampled for one training run: 4,000, zstd's rule of thumb being about 100 samples
/// per KiB of dictionary.
pub const TRAIN_SAMPLE_DOCS: u64 = 4_000;
/// Bytes of samples for one training run: 8 MiB, which bounds the memory and time (well under a
/// second) training may take on the background thread.
pub const TRAIN_SAMPLE_BYTES_MAX: usize = 8 * 1024 * 1024;
/// Size of a trained dictionary: at most 64 KiB. Every reader keeps the decoders of a collection
/// in memory, and beyond this size the gain for small documents flattens.
pub const DICTIONARY_BYTES_MAX: usize = 64 * 1024;
/// How often the background trainer looks for collections due a dictionary: every second,
/// and only when something was committed since it last looked.
pub const TRAIN_CHECK_INTERVAL: Duration = Duration::from_secs(1);

const ENTRY_HEADER_BYTES: usize = 12;

/// Loads every stored dictionary into `codecs` (at open).
pub(crate) fn load(store: &Store, codecs: &Codecs) -> Result<()> {
    let snapshot = store.snapshot()?;
    let Some(table) = snapshot.table(DICTIONARY_TABLE)? else {
        return Ok(());
    };
    for entry in table.range(Bound::Unbounded, Bound::Unbounded)? {
        let entry = entry?;
        let (id, dict) = decode_entry(entry.key(), entry.value())?;
        codecs.install(id, dict);
    }
    Ok(())
}

fn decode_id(key: &[u8]) -> Result<u32> {
    let key = key
        .try_into()
        .map_err(|_| EngineError::corrupt(DICTIONARY_TABLE, "malformed dictionary key"))?;
    Ok(u32::from_be_bytes(key))
}

pub(crate) fn decode_entry(key: &[u8], value: &[u8]) -> Result<(u32, Dictionary)> {
    let corrupt = || EngineError::corrupt(DICTIONARY_TABLE, "malformed dictionary entry");
    let id = decode_id(key)?;
    let header = value.get(..ENTRY_HEADER_BYTES).ok_or_else(corrupt)?;
    let collection = u32::from_le_bytes(header[..4].try_into().map_err(|_| corrupt())?);
    let docs = u64::from_le_bytes(header[4..].try_into().map_err(|_| corrupt())?);
    let raw = value[ENTRY_HEADER_BYTES..].to_vec();
    Ok((id, Dictionary::new(collection, docs, raw)))
}

/// Trains a dictionary for every collection that is due one; returns the names of the
/// collections that got one.
pub(crate) fn train_due(shared: &Shared) -> Result<Vec<String>> {
    // One training at a time: dictionary ids are allocated from the table's last key.
    let mut attempts = shared.training.lock();
    let snapshot = shared.store.snapshot()?;
    let Some(catalog) = snapshot.table(CATALOG_TABLE)? else {
        return Ok(Vec::new());
    };
    let mut trained = Vec::new();
    for entry in catalog.range(Bound::Unbounded, Bound::Unbounded)? {
        let meta = CollectionMeta::decode(entry?.value())?;
        let settings = shared.codecs.settings(&meta.name);
        if settings.level.is_none() || !settings.dictionaries {
            continue;
        }
        let Some(docs) = snapshot.table(&docs_table(meta.id))? else {
            continue;
        };
        let count = crate::packed::documents_in(&docs, &shared.codecs)?;
        let last = shared.codecs.newest(meta.id).map(|d| d.trained_at_docs);
        let attempted = attempts.get(&meta.id).copied();
        if !is_due(count, last, attempted, shared.codecs.count_for(meta.id)) {
            continue;
        }
        attempts.insert(meta.id, count);
        let samples = sample(shared, &docs, &docs_table(meta.id), count)?;
        // Training fails on samples too uniform or too small to learn from; that is not an
        // error, the collection simply stays on plain zstd until it has grown.
        let Ok(raw) = zstd::dict::from_samples(&samples, DICTIONARY_BYTES_MAX) else {
            continue;
        };
        store_dictionary(shared, meta.id, count, raw)?;
        trained.push(meta.name);
    }
    Ok(trained)
}

/// Whether a collection with `count` documents should get a (new) dictionary.
fn is_due(
    count: u64,
    last_trained: Option<u64>,
    last_attempt: Option<u64>,
    existing: usize,
) -> bool {
    if count < TRAIN_MIN_DOCS || existing >= MAX_DICTIONARIES_PER_COLLECTION {
        return false;
    }
    // A failed attempt is retried only once the collection has doubled.
    if last_attempt.is_some_and(|at| count < at.saturating_mul(2)) {
        return false;
    }
    last_trained.is_none_or(|at| count >= at.saturating_mul(RETRAIN_GROWTH))
}

/// Document encodings sampled evenly across the collection.
fn sample(
    shared: &Shared,
    docs: &cairn_storage::TableReader,
    table: &str,
    count: u64,
) -> Result<Vec<Vec<u8>>> {
    let stride = (count / TRAIN_SAMPLE_DOCS).max(1);
    let mut samples = Vec::new();
    let mut bytes = 0usize;
    let mut i = 0u64;
    let stored = crate::merge_scan::Stored::of(docs, &shared.codecs, table);
    crate::merge_scan::merge_scan::<EngineError>(
        Some(stored),
        None,
        (Bound::Unbounded, Bound::Unbounded),
        |_, record| {
            i += 1;
            if !(i - 1).is_multiple_of(stride) {
                return Ok(true);
            }
            let plain = shared
                .codecs
                .plain_body(table, record_body(table, record)?)?;
            bytes += plain.len();
            samples.push(plain);
            Ok(bytes < TRAIN_SAMPLE_BYTES_MAX)
        },
    )?;
    Ok(samples)
}

/// Stores a dictionary (its own durable-per-mode commit) and makes it the collection's
/// current one. Stored before installed, so no record can name a dictionary not on disk.
fn store_dictionary(shared: &Shared, collection_id: u32, docs: u64, raw: Vec<u8>) -> Result<u32> {
    let txn = shared.store.begin_write()?;
    let id = {
        let mut table = txn.table(DICTIONARY_TABLE)?;
        let next = match table.last()? {
            Some((key, _)) => decode_id(&key)? + 1,
            None => 1,
        };
        let mut value = Vec::with_capacity(ENTRY_HEADER_BYTES + raw.len());
        value.extend_from_slice(&collection_id.to_le_bytes());
        value.extend_from_slice(&docs.to_le_bytes());
        value.extend_from_slice(&raw);
        table.put(&next.to_be_bytes(), &value)?;
        next
    };
    txn.commit()?;
    shared
        .codecs
        .install(id, Dictionary::new(collection_id, docs, raw));
    Ok(id)
}

/// The background trainer; dropping it stops the thread.
pub(crate) struct Trainer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Trainer {
    pub(crate) fn start(shared: Arc<Shared>) -> Result<Trainer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cairn-dict-trainer".to_string())
            .spawn(move || {
                let mut seen = u64::MAX;
                while let Err(mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(TRAIN_CHECK_INTERVAL)
                {
                    let published = shared.published_seq.load(Ordering::Acquire);
                    if published != seen {
                        seen = published;
                        // A failure (disk full, say) is retried at the next tick; records
                        // keep being written with the dictionaries already in place.
                        let _ = train_due(&shared);
                    }
                }
            })
            .map_err(|source| StorageError::Io {
                path: "<dictionary trainer thread>".into(),
                source,
            })?;
        Ok(Trainer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Trainer {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_due;

    #[test]
    fn training_waits_for_enough_documents_and_then_for_growth() {
        assert!(!is_due(999, None, None, 0));
        assert!(is_due(1_000, None, None, 0));
        assert!(!is_due(9_999, Some(1_000), None, 1));
        assert!(is_due(10_000, Some(1_000), None, 1));
        assert!(!is_due(1_500, None, Some(1_000), 0));
        assert!(!is_due(1_000_000, Some(10), None, 8));
    }
}
