//! Creating, dropping and listing indexes.

use cairn_engine::Database;

use crate::build::{fill, BuildProgress};
use crate::error::{IndexError, Result};
use crate::limits::MAX_INDEXES_PER_COLLECTION;
use crate::maintain::{ENTRIES_TABLE, INDEX_KIND};
use crate::read::indexes;
use crate::spec::IndexSpec;

/// An index as listed.
#[derive(Debug, Clone)]
pub struct IndexInfo {
    /// The definition.
    pub spec: IndexSpec,
    /// Whether the index is complete and used by queries.
    pub ready: bool,
    /// Whether some document held an array in an indexed field.
    pub multikey: bool,
    /// Entries.
    pub entries: u64,
    /// Bytes the entries occupy on disk.
    pub bytes: u64,
}

/// Creates an index and fills it from the documents already there, online: the collection
/// stays readable and writable throughout. `progress` is called as the build advances. If the
/// build fails (a duplicate in a unique index, say) the index is dropped again and the error
/// returned.
pub fn create_index(
    db: &Database,
    collection: &str,
    spec: &IndexSpec,
    progress: &mut dyn FnMut(BuildProgress),
) -> Result<()> {
    {
        let mut txn = db.read()?;
        let meta = txn.collection_meta(collection)?;
        let count = meta
            .extensions
            .iter()
            .filter(|e| e.kind == INDEX_KIND)
            .count();
        if count >= MAX_INDEXES_PER_COLLECTION {
            return Err(IndexError::InvalidDefinition {
                name: spec.name.clone(),
                reason: format!(
                    "`{collection}` already has {count} indexes; the limit is \
                     {MAX_INDEXES_PER_COLLECTION}"
                ),
            });
        }
    }
    db.attach_extension_unfilled(collection, INDEX_KIND, &spec.name, spec.to_config())?;
    match fill(db, collection, spec, progress) {
        Ok(()) => Ok(()),
        Err(err) => {
            // Best effort: the build's own error is the one worth reporting.
            let _ = db.detach_extension(collection, &spec.name);
            Err(err)
        }
    }
}

/// What [`resume_builds`] did with one interrupted build.
#[derive(Debug)]
pub struct ResumedBuild {
    /// The collection.
    pub collection: String,
    /// The index.
    pub name: String,
    /// `Ok` when the build finished (the index is ready); otherwise why it failed — the
    /// index was then dropped, as a failed `create_index` drops it.
    pub outcome: Result<()>,
}

/// Finishes the index builds a crash interrupted: an index attached but not yet marked
/// ready (the process died mid-build) is filled again from a fresh snapshot and marked ready,
/// exactly as an online build would (entries the interrupted build already wrote are
/// rewritten in place; writes since its attach kept theirs up to date through the write
/// hook). A build that fails now (a duplicate in a unique index) is rolled back: the index is
/// dropped. Called on open (`cairn::open`), before the database serves anything.
pub fn resume_builds(db: &Database) -> Result<Vec<ResumedBuild>> {
    let mut unfinished = Vec::new();
    {
        let mut txn = db.read()?;
        for meta in db.list_collections()? {
            for handle in indexes(&mut txn, &meta.name)? {
                if !handle.ready {
                    unfinished.push((meta.name.clone(), handle.spec));
                }
            }
        }
    }
    let mut resumed = Vec::new();
    for (collection, spec) in unfinished {
        let outcome = fill(db, &collection, &spec, &mut |_| {});
        if outcome.is_err() {
            // Best effort, as in `create_index`: the build's own error is the one to report.
            let _ = db.detach_extension(&collection, &spec.name);
        }
        resumed.push(ResumedBuild {
            collection,
            name: spec.name,
            outcome,
        });
    }
    Ok(resumed)
}

/// Drops an index and its entries.
pub fn drop_index(db: &Database, collection: &str, name: &str) -> Result<()> {
    let mut txn = db.read()?;
    let meta = txn.collection_meta(collection)?;
    if !meta
        .extensions
        .iter()
        .any(|e| e.kind == INDEX_KIND && e.name == name)
    {
        return Err(IndexError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    }
    drop(txn);
    db.detach_extension(collection, name)?;
    Ok(())
}

/// Lists a collection's indexes with their sizes.
pub fn list_indexes(db: &Database, collection: &str) -> Result<Vec<IndexInfo>> {
    let mut txn = db.read()?;
    let mut out = Vec::new();
    for handle in indexes(&mut txn, collection)? {
        let stats = txn.extension_table_stats(collection, &handle.spec.name, ENTRIES_TABLE)?;
        out.push(IndexInfo {
            spec: handle.spec,
            ready: handle.ready,
            multikey: handle.multikey,
            entries: stats.entries,
            bytes: stats.bytes,
        });
    }
    Ok(out)
}
