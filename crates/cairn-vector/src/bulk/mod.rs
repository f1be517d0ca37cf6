//! The bulk build: filling a vector index attached unfilled from the documents already there
//! by building its graph in memory and writing it once, in key order, instead of inserting
//! the documents one transaction chunk at a time (each insert rewriting dozens of stored
//! neighbour lists). Chosen by `admin.rs` when the vectors fit in [`BULK_BUILD_MAX_BYTES`].
//!
//! **Online, in four steps.** The collection stays readable and writable throughout.
//! 1. *Defer* (one transaction): put [`BUILDING_KEY`]. From then on the write hook
//!    (`maintain.rs`) does not touch the graph: it records the written document's key in
//!    [`PENDING_TABLE`], in the writer's transaction. Nodes the hook inserted between the
//!    attach and this commit are removed and their keys recorded as pending too, so the
//!    graph tables hold nothing but what step 3 writes.
//! 2. *Build*: read every vector of a snapshot taken after step 1 and build the graph in
//!    memory (`graph.rs`): the same parameters, levels and algorithm as the incremental
//!    path, so it is the graph inserting those documents in key order would give.
//! 3. *Write*: store the nodes in key order, [`BULK_WRITE_BATCH_BYTES`] of records per
//!    transaction, then the entry point. Nothing else writes these tables meanwhile (step
//!    1), so the batches never conflict.
//! 4. *Catch up*: take up to [`CATCH_UP_CHUNK_KEYS`] pending keys per transaction and
//!    re-apply each document as it is now through the ordinary transactional insert or
//!    delete (an insert replaces the node step 3 wrote from the older snapshot). The
//!    transaction that finds no pending key left puts [`READY_KEY`] and deletes
//!    [`BUILDING_KEY`] in one commit. The engine validates reads at commit, so a writer that
//!    read [`BUILDING_KEY`] and recorded a key this commit did not see conflicts with it (or
//!    it with the writer) and retries: no write is lost between the last catch-up and ready.
//!
//! A writer changes a document at most once in the graph: either step 2 sees its write (the
//! snapshot is taken after step 1, the write committed before) or step 4 applies it.
//!
//! [`BULK_BUILD_MAX_BYTES`]: crate::limits::BULK_BUILD_MAX_BYTES
//! [`BULK_WRITE_BATCH_BYTES`]: crate::limits::BULK_WRITE_BATCH_BYTES
//! [`CATCH_UP_CHUNK_KEYS`]: crate::limits::CATCH_UP_CHUNK_KEYS
//! [`BUILDING_KEY`]: crate::layout::BUILDING_KEY
//! [`PENDING_TABLE`]: crate::layout::PENDING_TABLE
//! [`READY_KEY`]: crate::layout::READY_KEY

mod graph;

use std::ops::Bound;

use cairn_engine::{Database, EngineError, Transaction};

use crate::error::{Result, VectorError};
use crate::hnsw::{delete::delete, insert::insert, nodes::Nodes};
use crate::layout::{
    encode_vector, Entry, Links, BUILDING_KEY, ENTRY_KEY, LINKS_TABLE, META_TABLE, PENDING_TABLE,
    READY_KEY, VECTORS_TABLE,
};
use crate::limits::{BUILD_CHUNK_DOCS, BULK_WRITE_BATCH_BYTES, CATCH_UP_CHUNK_KEYS};
use crate::maintain::document_vector;
use crate::spec::VectorSpec;
use crate::store::TxnStore;

pub(crate) use graph::Graph;

/// Bytes the bulk build holds in memory per vector of `spec`: the vector, a layer-0 list at
/// capacity, the key and the bookkeeping (upper layers add about 1/M of that). Compared with
/// [`crate::limits::BULK_BUILD_MAX_BYTES`] before choosing the bulk build.
pub(crate) fn bytes_per_vector(spec: &VectorSpec) -> u64 {
    (spec.dims * 4 + (spec.params.max_neighbours(0) + 1) * 4 + 32 + 24 * 3) as u64
}

/// Fills an index attached unfilled by the bulk build (module documentation); `progress` is
/// called with the documents built so far. Returns the documents the build indexed.
pub(crate) fn bulk_fill(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    defer(db, collection, spec)?;
    let graph_keys = {
        let mut snapshot = db.read()?;
        let (keys, vectors) = collect(&mut snapshot, collection, spec)?;
        drop(snapshot);
        let mut graph = Graph::new(spec.dims, spec.metric, spec.params, &keys, vectors);
        for id in 0..graph.len() {
            graph.insert(id as u32);
            if (id + 1) % BUILD_CHUNK_DOCS == 0 {
                progress((id + 1) as u64);
            }
        }
        progress(graph.len() as u64);
        write_out(db, collection, spec, &keys, &graph)?;
        keys.len() as u64
    };
    let caught_up = catch_up(db, collection, spec)?;
    progress(graph_keys + caught_up);
    Ok(graph_keys + caught_up)
}

/// Step 1: from this commit on, writes are recorded as pending; nodes the hook inserted since
/// the attach become pending too.
fn defer(db: &Database, collection: &str, spec: &VectorSpec) -> Result<()> {
    let index = spec.name.as_str();
    db.transaction(|txn| {
        txn.extension_put(collection, index, META_TABLE, BUILDING_KEY, &[])?;
        let mut early: Vec<Vec<u8>> = Vec::new();
        txn.extension_range::<EngineError>(
            collection,
            index,
            LINKS_TABLE,
            Bound::Unbounded,
            Bound::Unbounded,
            |key, _| {
                early.push(key.to_vec());
                Ok(true)
            },
        )?;
        for key in &early {
            txn.extension_delete(collection, index, VECTORS_TABLE, key)?;
            txn.extension_delete(collection, index, LINKS_TABLE, key)?;
            txn.extension_put(collection, index, PENDING_TABLE, key, &[])?;
        }
        txn.extension_delete(collection, index, META_TABLE, ENTRY_KEY)?;
        txn.extension_put(
            collection,
            index,
            META_TABLE,
            crate::stamp::STAMP_KEY,
            &crate::stamp::fresh(),
        )
    })?;
    Ok(())
}

/// Step 2's input: the keys (in key order) and vectors, one flat array, of the documents of
/// `snapshot` holding a vector; a document holding an invalid one fails the build.
fn collect(
    snapshot: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
) -> Result<(Vec<Vec<u8>>, Vec<f32>)> {
    // Sized once from the document count (an upper bound on the vectors): growing by
    // doubling would hold the old and the new array at once, half again the vectors' bytes.
    let documents = usize::try_from(snapshot.document_count(collection)?).unwrap_or(0);
    let mut keys = Vec::with_capacity(documents);
    let mut vectors = Vec::with_capacity(documents.saturating_mul(spec.dims));
    snapshot.scan_documents::<VectorError>(
        collection,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, doc| {
            if let Some(vector) = document_vector(spec, &doc)? {
                keys.push(key.to_vec());
                vectors.extend_from_slice(vector);
            }
            Ok(true)
        },
    )?;
    Ok((keys, vectors))
}

/// A node's stored records: its vector and its neighbour lists by document key.
fn records(keys: &[Vec<u8>], graph: &Graph, id: usize) -> (Vec<u8>, Vec<u8>) {
    let links = Links {
        layers: graph.links[id]
            .iter()
            .map(|layer| layer.iter().map(|&n| keys[n as usize].clone()).collect())
            .collect(),
    };
    (
        encode_vector(graph.vector(id as u32)),
        links.encode(&keys[id]),
    )
}

/// Step 3: the nodes in key order, a batch of at most [`BULK_WRITE_BATCH_BYTES`] of records
/// per transaction, then the entry point and a fresh stamp.
fn write_out(
    db: &Database,
    collection: &str,
    spec: &VectorSpec,
    keys: &[Vec<u8>],
    graph: &Graph,
) -> Result<()> {
    let index = spec.name.as_str();
    let mut batch: Vec<(usize, Vec<u8>, Vec<u8>)> = Vec::new();
    let mut batch_bytes = 0usize;
    let flush = |batch: &mut Vec<(usize, Vec<u8>, Vec<u8>)>| -> Result<()> {
        db.transaction(|txn| {
            for (id, vector, links) in batch.iter() {
                txn.extension_put(collection, index, VECTORS_TABLE, &keys[*id], vector)?;
                txn.extension_put(collection, index, LINKS_TABLE, &keys[*id], links)?;
            }
            Ok(())
        })?;
        batch.clear();
        Ok(())
    };
    for id in 0..graph.len() {
        let (vector, links) = records(keys, graph, id);
        batch_bytes += 2 * keys[id].len() + vector.len() + links.len();
        batch.push((id, vector, links));
        if batch_bytes >= BULK_WRITE_BATCH_BYTES {
            flush(&mut batch)?;
            batch_bytes = 0;
        }
    }
    flush(&mut batch)?;
    db.transaction(|txn| {
        if let Some((id, level)) = graph.entry {
            let entry = Entry {
                key: keys[id as usize].clone(),
                level,
            };
            txn.extension_put(collection, index, META_TABLE, ENTRY_KEY, &entry.encode())?;
        }
        txn.extension_put(
            collection,
            index,
            META_TABLE,
            crate::stamp::STAMP_KEY,
            &crate::stamp::fresh(),
        )
    })?;
    Ok(())
}

/// Step 4: applies the pending documents as they are now, then marks the index ready in the
/// commit that finds none left. Returns the documents inserted.
fn catch_up(db: &Database, collection: &str, spec: &VectorSpec) -> Result<u64> {
    let mut inserted = 0u64;
    loop {
        let step = db.transaction(|txn| catch_up_step(txn, collection, spec))?;
        match step {
            Some(n) => inserted += n,
            None => return Ok(inserted),
        }
    }
}

/// One catch-up transaction: `Some(inserted)` after applying a chunk of pending keys, `None`
/// once none was left and the index is marked ready.
fn catch_up_step(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
) -> cairn_engine::Result<Option<u64>> {
    let index = spec.name.as_str();
    let mut keys: Vec<Vec<u8>> = Vec::new();
    txn.extension_range::<EngineError>(
        collection,
        index,
        PENDING_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, _| {
            keys.push(key.to_vec());
            Ok(keys.len() < CATCH_UP_CHUNK_KEYS)
        },
    )?;
    if keys.is_empty() {
        txn.extension_put(collection, index, META_TABLE, READY_KEY, &[])?;
        txn.extension_delete(collection, index, META_TABLE, BUILDING_KEY)?;
        return Ok(None);
    }
    let mut inserted = 0u64;
    for key in &keys {
        txn.extension_delete(collection, index, PENDING_TABLE, key)?;
        let doc = txn.get_by_key(collection, key)?;
        // Stored documents were validated by the hook when written.
        let vector = match &doc {
            Some(doc) => document_vector(spec, doc)
                .map_err(EngineError::from)?
                .map(<[f32]>::to_vec),
            None => None,
        };
        let mut store = TxnStore {
            txn,
            collection,
            index,
        };
        let mut nodes = Nodes::new(&mut store, index, spec.dims, spec.metric);
        match vector {
            Some(vector) => {
                insert(&mut nodes, &spec.params, key, &vector).map_err(EngineError::from)?;
                inserted += 1;
            }
            None => delete(&mut nodes, &spec.params, key).map_err(EngineError::from)?,
        }
    }
    Ok(Some(inserted))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_doc::{Object, Value, Vector};
    use cairn_engine::{Config, StorageMode};

    use super::*;
    use crate::admin::create_with;
    use crate::maintain::VectorExtensionKind;
    use crate::metric::Metric;
    use crate::spec::HnswParams;

    fn database() -> Database {
        let mut config = Config::new(std::path::PathBuf::new(), StorageMode::MemoryOnly);
        config.extension_kinds.push(Arc::new(VectorExtensionKind));
        Database::open(config).expect("open")
    }

    /// `n` vectors of `dims` from a splitmix64 stream, with clusters (every fifth vector
    /// repeats the one before it, so distance ties are exercised too).
    fn vectors(n: usize, dims: usize) -> Vec<Vec<f32>> {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let mut out: Vec<Vec<f32>> = Vec::with_capacity(n);
        for i in 0..n {
            let v = match out.last() {
                Some(last) if i % 5 == 4 => last.clone(),
                _ => (0..dims).map(|_| next()).collect(),
            };
            out.push(v);
        }
        out
    }

    /// Every record of the index's graph tables and its entry point, in key order.
    fn tables(db: &Database, index: &str) -> Vec<(String, Vec<u8>, Vec<u8>)> {
        let mut txn = db.read().expect("read");
        let mut out = Vec::new();
        for table in [VECTORS_TABLE, LINKS_TABLE, PENDING_TABLE] {
            txn.extension_range::<EngineError>(
                "c",
                index,
                table,
                Bound::Unbounded,
                Bound::Unbounded,
                |key, value| {
                    out.push((table.to_string(), key.to_vec(), value.to_vec()));
                    Ok(true)
                },
            )
            .expect("scan");
        }
        for key in [ENTRY_KEY, READY_KEY, BUILDING_KEY] {
            let value = txn.extension_get("c", index, META_TABLE, key).expect("get");
            out.push(("meta".to_string(), key.to_vec(), value.unwrap_or_default()));
        }
        out
    }

    fn built(data: &[Vec<f32>], spec: &VectorSpec, bulk: bool) -> Database {
        let db = database();
        db.create_collection("c").expect("collection");
        let mut txn = db.begin().expect("begin");
        for (i, v) in data.iter().enumerate() {
            let mut o = Object::new();
            o.insert("_id", Value::Int(i as i64));
            o.insert("emb", Value::Vector(Vector::from(v.as_slice())));
            txn.insert("c", Value::Object(o)).expect("insert");
        }
        txn.commit().expect("commit");
        create_with(&db, "c", spec, bulk, &mut |_| {}).expect("build");
        db
    }

    #[test]
    fn the_bulk_build_stores_the_graph_the_incremental_build_stores() {
        let params = HnswParams {
            m: 6,
            ef_construction: 24,
            ef_search: 24,
        };
        for metric in [Metric::L2, Metric::Cosine] {
            let data = vectors(700, 8);
            let spec = VectorSpec::with_params("by_emb", "emb", 8, metric, params).expect("spec");
            let bulk = tables(&built(&data, &spec, true), "by_emb");
            let chunked = tables(&built(&data, &spec, false), "by_emb");
            assert_eq!(bulk.len(), chunked.len(), "{metric:?}");
            for (a, b) in bulk.iter().zip(&chunked) {
                assert_eq!(a, b, "{metric:?}");
            }
        }
    }
}
