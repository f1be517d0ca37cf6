//! Creating (with an online build), dropping and listing vector indexes.
//!
//! The build: when the collection's vectors fit in [`BULK_BUILD_MAX_BYTES`], the graph is
//! built in memory and written once (`bulk/`, online too). Otherwise (and as the reference
//! the bulk build is tested against): attach the index unfilled (from then on the write hook maintains every write),
//! walk a snapshot's document keys, and insert them into the graph in chunk transactions of
//! [`BUILD_CHUNK_DOCS`]. Each chunk re-reads every document in its own transaction
//! (conflict-checked) and skips documents whose node is already there (the hook put it, for
//! a write after the attach) or that no longer hold a vector; so a document changed while
//! the build runs is indexed exactly once, as it is now, and a chunk racing with a writer on
//! the same document or neighbour lists conflicts and retries. A last commit marks the index
//! ready; searches refuse an index that is not.

use std::ops::Bound;

use cairn_engine::Database;

use crate::error::{Result, VectorError};
use crate::hnsw::{insert::insert, nodes::Nodes};
use crate::layout::{LINKS_TABLE, META_TABLE, READY_KEY, VECTORS_TABLE};
use crate::limits::{BUILD_CHUNK_DOCS, BULK_BUILD_MAX_BYTES, MAX_VECTOR_INDEXES_PER_COLLECTION};
use crate::maintain::{document_vector, VECTOR_KIND};
use crate::search::vector_index;
use crate::spec::VectorSpec;
use crate::store::TxnStore;

/// A vector index as listed.
#[derive(Debug, Clone)]
pub struct VectorInfo {
    /// The definition.
    pub spec: VectorSpec,
    /// Whether the build finished and searches may use it.
    pub ready: bool,
    /// Vectors (nodes) in the index, as of the snapshot.
    pub vectors: u64,
    /// Bytes the vectors and neighbour lists occupy on disk.
    pub bytes: u64,
}

/// Creates a vector index and fills it online from the documents already there; the
/// collection stays readable and writable. `progress` is called after each chunk with the
/// documents indexed so far. Returns the documents indexed by the build. On failure (say, a
/// document holding an invalid vector) the index is dropped again and the error returned.
pub fn create_vector_index(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let documents = room_for(db, collection, spec)?;
    let in_memory = documents.saturating_mul(crate::bulk::bytes_per_vector(spec));
    create_with(
        db,
        collection,
        spec,
        in_memory <= BULK_BUILD_MAX_BYTES,
        progress,
    )
}

/// [`create_vector_index`] by inserting [`BUILD_CHUNK_DOCS`] documents per transaction,
/// whatever the collection's size: memory stays bounded, but it is many times slower than
/// the in-memory build (every insert rewrites dozens of stored neighbour lists). What
/// [`create_vector_index`] falls back to above [`BULK_BUILD_MAX_BYTES`]; public so that
/// benchmarks can compare the two. Both store the same graph.
pub fn create_vector_index_chunked(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    room_for(db, collection, spec)?;
    create_with(db, collection, spec, false, progress)
}

/// Checks that `collection` may take one more vector index; returns its document count.
fn room_for(db: &Database, collection: &str, spec: &VectorSpec) -> Result<u64> {
    let mut txn = db.read()?;
    let meta = txn.collection_meta(collection)?;
    let count = meta
        .extensions
        .iter()
        .filter(|e| e.kind == VECTOR_KIND)
        .count();
    if count >= MAX_VECTOR_INDEXES_PER_COLLECTION {
        return Err(VectorError::InvalidDefinition {
            name: spec.name.clone(),
            reason: format!(
                "`{collection}` already has {count} vector indexes; the limit is \
                     {MAX_VECTOR_INDEXES_PER_COLLECTION}"
            ),
        });
    }
    Ok(txn.document_count(collection)?)
}

/// Attaches the index and fills it, in memory (`bulk`) or by chunks of inserts; drops it
/// again on failure.
pub(crate) fn create_with(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    bulk: bool,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    db.attach_extension_unfilled(collection, VECTOR_KIND, &spec.name, spec.to_config())?;
    let filled = if bulk {
        crate::bulk::bulk_fill(db, collection, spec, progress)
    } else {
        fill(db, collection, spec, progress)
    };
    match filled {
        Ok(indexed) => Ok(indexed),
        Err(err) => {
            // Best effort: the build's own error is the one worth reporting.
            let _ = db.detach_extension(collection, &spec.name);
            Err(err)
        }
    }
}

/// Fills an index attached unfilled, then marks it ready.
fn fill(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let mut snapshot = db.read()?;
    let mut indexed = 0u64;
    let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(BUILD_CHUNK_DOCS);
    let mut run = |chunk: &mut Vec<Vec<u8>>| -> Result<()> {
        indexed += insert_chunk(db, collection, spec, chunk)?;
        chunk.clear();
        progress(indexed);
        Ok(())
    };
    snapshot.scan_documents(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            if spec.field.get(&doc).is_none() {
                return Ok::<_, VectorError>(true);
            }
            chunk.push(key.to_vec());
            if chunk.len() >= BUILD_CHUNK_DOCS {
                run(&mut chunk)?;
            }
            Ok(true)
        },
    )?;
    drop(snapshot);
    run(&mut chunk)?;
    db.transaction(|txn| txn.extension_put(collection, &spec.name, META_TABLE, READY_KEY, &[]))?;
    Ok(indexed)
}

/// Inserts the documents of one chunk as they are now, in one transaction (retried on
/// conflict). Returns how many it inserted.
fn insert_chunk(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    keys: &[Vec<u8>],
) -> Result<u64> {
    let mut failure = None;
    let result = db.transaction(|txn| {
        let mut inserted = 0u64;
        for key in keys {
            let Some(doc) = txn.get_by_key(collection, key)? else {
                continue;
            };
            let vector = match document_vector(spec, &doc) {
                Ok(Some(vector)) => vector,
                Ok(None) => continue,
                Err(err) => {
                    failure = Some(err);
                    return Err(cairn_engine::EngineError::ExtensionFailed {
                        message: "build stopped".to_string(),
                    });
                }
            };
            let mut store = TxnStore {
                txn,
                collection,
                index: &spec.name,
            };
            let mut nodes = Nodes::new(&mut store, &spec.name, spec.dims, spec.metric);
            if nodes
                .links(key)
                .map_err(cairn_engine::EngineError::from)?
                .is_some()
            {
                continue; // The write hook indexed a later version already.
            }
            insert(&mut nodes, &spec.params, key, vector)
                .map_err(cairn_engine::EngineError::from)?;
            inserted += 1;
        }
        Ok(inserted)
    });
    match (result, failure) {
        (_, Some(err)) => Err(err),
        (result, None) => Ok(result?),
    }
}

/// Drops a vector index and its graph.
pub fn drop_vector_index(db: &Database, collection: &str, name: &str) -> Result<()> {
    let mut txn = db.read()?;
    // By catalog entry, not by parsed definition: an index whose definition this build no
    // longer reads must still be droppable.
    if !txn
        .collection_meta(collection)?
        .extensions
        .iter()
        .any(|e| e.kind == VECTOR_KIND && e.name == name)
    {
        return Err(VectorError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    }
    drop(txn);
    db.detach_extension(collection, name)?;
    Ok(())
}

/// Lists a collection's vector indexes with their sizes.
pub fn list_vector_indexes(db: &Database, collection: &str) -> Result<Vec<VectorInfo>> {
    let mut txn = db.read()?;
    let names: Vec<String> = txn
        .collection_meta(collection)?
        .extensions
        .iter()
        .filter(|e| e.kind == VECTOR_KIND)
        .map(|e| e.name.clone())
        .collect();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let spec = vector_index(&mut txn, collection, &name)?;
        let ready = txn
            .extension_get(collection, &name, META_TABLE, READY_KEY)?
            .is_some();
        let vectors = txn.extension_table_stats(collection, &name, VECTORS_TABLE)?;
        let links = txn.extension_table_stats(collection, &name, LINKS_TABLE)?;
        out.push(VectorInfo {
            spec,
            ready,
            vectors: vectors.entries,
            bytes: vectors.bytes + links.bytes,
        });
    }
    Ok(out)
}
