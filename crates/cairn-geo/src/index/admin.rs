//! Creating, dropping and listing spatial indexes.

use cairn_engine::Database;

use crate::error::{GeoError, Result};
use crate::index::build::fill;
use crate::index::entries_table;
use crate::index::limits::{MAX_SPATIAL_INDEXES_PER_COLLECTION, MAX_VERIFY_FINDINGS};
use crate::index::maintain::SPATIAL_KIND;
use crate::index::pages::PAGES_TABLE;
use crate::index::read::spatial_indexes;
use crate::index::spec::SpatialSpec;
use crate::index::{residency, stamp};

/// A spatial index as listed.
#[derive(Debug, Clone)]
pub struct SpatialInfo {
    /// The definition.
    pub spec: SpatialSpec,
    /// Whether the index is complete and used by queries.
    pub ready: bool,
    /// Entries (parts), counted exactly by reading every page (a listing reads the whole
    /// index; it is not a hot path).
    pub entries: u64,
    /// Pages the entries are packed into (`pages.rs`).
    pub pages: u64,
    /// Bytes the pages occupy on disk.
    pub bytes: u64,
}

/// Creates a spatial index and fills it online from the documents already there; the
/// collection stays readable and writable. Returns the entries the build wrote. On failure
/// the index is dropped again and the error returned.
pub fn create_spatial_index(db: &Database, collection: &str, spec: &SpatialSpec) -> Result<u64> {
    {
        let mut txn = db.read()?;
        let meta = txn.collection_meta(collection)?;
        let count = meta
            .extensions
            .iter()
            .filter(|e| e.kind == SPATIAL_KIND)
            .count();
        if count >= MAX_SPATIAL_INDEXES_PER_COLLECTION {
            return Err(GeoError::InvalidDefinition {
                name: spec.name.clone(),
                reason: format!(
                    "`{collection}` already has {count} spatial indexes; the limit is \
                     {MAX_SPATIAL_INDEXES_PER_COLLECTION}"
                ),
            });
        }
    }
    db.attach_extension_unfilled(collection, SPATIAL_KIND, &spec.name, spec.to_config())?;
    match fill(db, collection, spec) {
        Ok(written) => Ok(written),
        Err(err) => {
            // Best effort: the build's own error is the one worth reporting.
            let _ = db.detach_extension(collection, &spec.name);
            Err(err)
        }
    }
}

/// Drops a spatial index and its entries.
pub fn drop_spatial_index(db: &Database, collection: &str, name: &str) -> Result<()> {
    let mut txn = db.read()?;
    // By catalog entry, not by parsed definition: an index whose definition this build no
    // longer reads (an older layout) must still be droppable.
    if !txn
        .collection_meta(collection)?
        .extensions
        .iter()
        .any(|e| e.kind == SPATIAL_KIND && e.name == name)
    {
        return Err(GeoError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    }
    drop(txn);
    db.detach_extension(collection, name)?;
    Ok(())
}

/// Makes the current content of a ready spatial index resident in memory now (see
/// `residency.rs`), instead of after [`crate::index::RESIDENT_AFTER_SEARCHES`] searches: for
/// a caller about to query it hard (a warm-up, like PostgreSQL's `pg_prewarm`). Returns
/// whether it is resident: false when the index is not ready, has no stamp (written before
/// stamps existed) or is larger than [`crate::index::MAX_RESIDENT_BYTES`]. The next write to
/// the index makes a new content, which becomes resident by use again.
pub fn make_resident(db: &Database, collection: &str, name: &str) -> Result<bool> {
    let mut txn = db.read()?;
    let Some(handle) = spatial_indexes(&mut txn, collection)?
        .into_iter()
        .find(|h| h.spec.name == name)
    else {
        return Err(GeoError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    };
    if !handle.ready {
        return Ok(false);
    }
    match stamp::read(&mut txn, collection, name)? {
        Some(stamp) => residency::load_now(&mut txn, collection, name, stamp),
        None => Ok(false),
    }
}

/// Lists a collection's spatial indexes with their sizes.
pub fn list_spatial_indexes(db: &Database, collection: &str) -> Result<Vec<SpatialInfo>> {
    let mut txn = db.read()?;
    let mut out = Vec::new();
    for handle in spatial_indexes(&mut txn, collection)? {
        let stats = txn.extension_table_stats(collection, &handle.spec.name, PAGES_TABLE)?;
        let mut entries = 0u64;
        let all = (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded);
        entries_table::range(&mut txn, collection, &handle.spec.name, all, |_, _| {
            entries += 1;
            Ok(true)
        })?;
        out.push(SpatialInfo {
            spec: handle.spec,
            ready: handle.ready,
            entries,
            pages: stats.entries,
            bytes: stats.bytes,
        });
    }
    Ok(out)
}

/// Compares a spatial index's stored entries with a rebuild from the documents in `txn`'s
/// snapshot: one sentence per entry without its document (or with other content) and per
/// missing entry, at most `MAX_VERIFY_FINDINGS` (then one for the rest). An index whose
/// build has not finished is not compared (queries do not use it). Memory: both entry lists.
pub fn verify_spatial(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    spec: &SpatialSpec,
) -> Result<Vec<String>> {
    let ready = spatial_indexes(txn, collection)?
        .iter()
        .any(|handle| handle.spec.name == spec.name && handle.ready);
    if !ready {
        return Ok(Vec::new());
    }
    let stored = stored_entries(txn, collection, &spec.name)?;
    let expected = expected_entries(txn, collection, spec)?;
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let mut details = Vec::new();
    let mut mismatches = 0u64;
    let mut note = |detail: String| {
        mismatches += 1;
        if details.len() < MAX_VERIFY_FINDINGS {
            details.push(detail);
        }
    };
    let (mut i, mut j) = (0, 0);
    while i < stored.len() || j < expected.len() {
        match (stored.get(i), expected.get(j)) {
            (Some(s), Some(e)) if s.0 == e.0 => {
                if s.1 != e.1 {
                    note(format!(
                        "entry {} does not hold its document's part",
                        hex(&s.0)
                    ));
                }
                i += 1;
                j += 1;
            }
            (Some(s), e) if e.is_none_or(|e| s.0 < e.0) => {
                note(format!("entry {} has no matching document", hex(&s.0)));
                i += 1;
            }
            (_, Some(e)) => {
                note(format!("entry {} is missing for its document", hex(&e.0)));
                j += 1;
            }
            (_, None) => break,
        }
    }
    if mismatches > details.len() as u64 {
        details.push(format!(
            "{} more mismatched entries not listed",
            mismatches - details.len() as u64
        ));
    }
    Ok(details)
}

/// Every entry of a spatial index in `txn`'s snapshot, in key order (for tests and checks:
/// compare with [`expected_entries`]).
pub fn stored_entries(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    name: &str,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let all = (std::ops::Bound::Unbounded, std::ops::Bound::Unbounded);
    entries_table::range(txn, collection, name, all, |k, v| {
        out.push((k.to_vec(), v.to_vec()));
        Ok(true)
    })?;
    Ok(out)
}

/// The entries a rebuild from the snapshot's documents would produce, in key order.
pub fn expected_entries(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    spec: &SpatialSpec,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    txn.scan_documents(
        collection,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Unbounded,
        |key, doc| {
            out.extend(crate::index::entries::doc_entries(&spec.field, key, &doc)?);
            Ok::<_, GeoError>(true)
        },
    )?;
    out.sort();
    Ok(out)
}
