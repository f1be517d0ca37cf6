//! Searching a vector index: the calls the query layer's `$nearVector` plans into.
//!
//! [`search`] walks the graph; [`search_exact`] computes every distance over a given
//! candidate set (say, the documents a B-tree index found for the rest of the filter) or the
//! whole index. Both read through a [`Transaction`], so they see exactly its snapshot plus its
//! own pending writes.
//!
//! **Consistency with the snapshot.** The graph and the vector copies are written by the
//! same transaction as the documents (`maintain.rs`), so in any snapshot the index describes
//! exactly that snapshot's documents: a deleted or updated document's old vector is not in
//! it, and a transaction's own writes are. On top of that, like PostgreSQL rechecking heap
//! visibility for index hits, every result is rechecked against its document in the
//! snapshot: the document is read, its vector taken from the indexed field, and the distance
//! reported is computed from *that* vector. A result whose document is missing or holds
//! another vector would mean the index is out of step (a bug); it is reported as
//! [`VectorError::OutOfStep`] rather than silently dropped, so it cannot go unnoticed.

use std::collections::BinaryHeap;

use cairn_doc::DocId;
use cairn_engine::Transaction;

use crate::error::{Result, VectorError};
use crate::hnsw::layer::{search_layer, Scored};
use crate::hnsw::nodes::Nodes;
use crate::layout::{META_TABLE, READY_KEY, VECTORS_TABLE};
use crate::limits::MAX_EF;
use crate::maintain::{document_vector, VectorExtension};
use crate::spec::VectorSpec;
use crate::store::TxnStore;

/// A document key as stored (`DocId::to_key`): what filters are asked about.
pub type DocKey = [u8];

/// A filter applied to candidates during a search: only keys it accepts are returned.
pub type KeyFilter<'f> = &'f dyn Fn(&DocKey) -> bool;

/// One result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document's id.
    pub id: DocId,
    /// The document's stored key (for `Transaction::get_by_key`).
    pub key: Vec<u8>,
    /// Its distance to the query under the index's metric (smaller is nearer).
    pub distance: f32,
}

/// The work a search did, for `explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchStats {
    /// The candidate list size used (`ef`, at least `k`); 0 for an exact search.
    pub ef: usize,
    /// Nodes whose neighbour lists were read.
    pub nodes_visited: u64,
    /// Distances computed.
    pub distances_computed: u64,
    /// Whether the walk read a resident image (`resident/`) rather than the tables.
    pub resident: bool,
    /// Whether the graph walk ran out of reachable nodes with fewer than `k` accepted and
    /// the search finished with an exact scan, so it still returned `min(k, matches)`.
    pub exhaustive_fallback: bool,
}

/// What a search returns: the hits, nearest first, and the work done.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchOutcome {
    /// At most `k` results, nearest first (ties by key).
    pub hits: Vec<Hit>,
    /// The work done.
    pub stats: SearchStats,
}

/// The definition of the vector index `name` on `collection`.
pub fn vector_index(txn: &mut Transaction, collection: &str, name: &str) -> Result<VectorSpec> {
    let instance = txn.extension_instance(collection, name)?;
    instance
        .as_ref()
        .and_then(|ext| ext.as_any().downcast_ref::<VectorExtension>())
        .map(|ext| ext.spec().clone())
        .ok_or_else(|| VectorError::UnknownIndex {
            collection: collection.to_string(),
            name: name.to_string(),
        })
}

/// Resolves a ready index and checks the query against it.
pub(crate) fn prepare(
    txn: &mut Transaction,
    collection: &str,
    name: &str,
    query: &[f32],
    k: usize,
) -> Result<VectorSpec> {
    let spec = vector_index(txn, collection, name)?;
    if txn
        .extension_get(collection, name, META_TABLE, READY_KEY)?
        .is_none()
    {
        return Err(VectorError::NotReady {
            collection: collection.to_string(),
            name: name.to_string(),
        });
    }
    spec.metric.validate("query", spec.dims, query)?;
    if k == 0 || k > MAX_EF {
        return Err(VectorError::InvalidArgument {
            reason: format!("k is {k}; it must be between 1 and {MAX_EF}"),
        });
    }
    Ok(spec)
}

/// The `k` nearest documents to `query` in the index `name` of `collection`, walking the
/// graph with a candidate list of `ef` (default: the index's `ef_search`; raised to `k`).
///
/// With a `filter`, only documents whose key it accepts are returned; the filter is applied
/// during the walk, which goes on until it holds `ef` accepted candidates or has visited
/// every reachable node — and if it still has fewer than `k`, finishes with an exact scan.
/// So a filtered search returns `min(k, matching documents)` results at any selectivity.
pub fn search(
    txn: &mut Transaction,
    collection: &str,
    name: &str,
    query: &[f32],
    k: usize,
    ef: Option<usize>,
    filter: Option<KeyFilter<'_>>,
) -> Result<SearchOutcome> {
    let spec = prepare(txn, collection, name, query, k)?;
    let ef = ef.unwrap_or(spec.params.ef_search);
    if ef == 0 || ef > MAX_EF {
        return Err(VectorError::InvalidArgument {
            reason: format!("ef is {ef}; it must be between 1 and {MAX_EF}"),
        });
    }
    let ef = ef.max(k);
    let (hits, stats) = match crate::resident::image_for(txn, collection, &spec)? {
        Some(image) => crate::resident::search_image(&image, query, k, ef, filter),
        None => {
            let mut store = TxnStore {
                txn,
                collection,
                index: name,
            };
            let mut nodes = Nodes::new(&mut store, name, spec.dims, spec.metric);
            graph_search(&mut nodes, query, k, ef, filter)?
        }
    };
    let hits = recheck(txn, collection, &spec, query, hits)?;
    Ok(SearchOutcome { hits, stats })
}

/// The graph walk of [`search`] over any view of the nodes (`ef` already at least `k`): up
/// to `k` accepted nodes, nearest first, not yet rechecked against their documents.
pub(crate) fn graph_search(
    nodes: &mut Nodes<'_>,
    query: &[f32],
    k: usize,
    ef: usize,
    filter: Option<KeyFilter<'_>>,
) -> Result<(Vec<Scored>, SearchStats)> {
    let Some(entry) = nodes.entry()? else {
        return Ok((Vec::new(), SearchStats::default()));
    };
    let Some(distance) = nodes.distance(query, &entry.key)? else {
        return Err(VectorError::Corrupt {
            index: nodes.index().to_string(),
            reason: "the entry point has no vector",
        });
    };
    let mut nearest = vec![Scored {
        distance,
        key: entry.key,
    }];
    for layer in (1..=entry.level as usize).rev() {
        nearest = search_layer(nodes, query, &nearest, 1, layer, None)?.nearest;
    }
    let found = search_layer(nodes, query, &nearest, ef, 0, filter)?;
    let mut stats = nodes.stats;
    stats.ef = ef;
    let mut hits = found.nearest;
    if hits.len() < k && found.exhausted {
        // Fewer accepted nodes are reachable than asked for: the graph alone cannot tell
        // whether more match, an exact scan can.
        stats.exhaustive_fallback = true;
        hits = exact_top_k(nodes, query, k, None, filter)?;
        stats.distances_computed = nodes.stats.distances_computed;
    }
    hits.truncate(k);
    Ok((hits, stats))
}

/// The `k` nearest documents to `query` by computing every distance: over `candidates`
/// (document keys, say from a B-tree index; keys without a vector are skipped) or, with
/// `None`, over the whole index; `filter` as in [`search`]. Exact, so it is also the
/// reference the graph is tested against.
pub fn search_exact(
    txn: &mut Transaction,
    collection: &str,
    name: &str,
    query: &[f32],
    k: usize,
    candidates: Option<&[Vec<u8>]>,
    filter: Option<KeyFilter<'_>>,
) -> Result<SearchOutcome> {
    let spec = prepare(txn, collection, name, query, k)?;
    let mut store = TxnStore {
        txn,
        collection,
        index: name,
    };
    let mut nodes = Nodes::new(&mut store, name, spec.dims, spec.metric);
    let hits = exact_top_k(&mut nodes, query, k, candidates, filter)?;
    let stats = nodes.stats;
    drop(nodes);
    let hits = recheck(txn, collection, &spec, query, hits)?;
    Ok(SearchOutcome { hits, stats })
}

/// The `k` nearest accepted nodes among `candidates` (or all), nearest first.
pub(crate) fn exact_top_k(
    nodes: &mut Nodes<'_>,
    query: &[f32],
    k: usize,
    candidates: Option<&[Vec<u8>]>,
    filter: Option<KeyFilter<'_>>,
) -> Result<Vec<Scored>> {
    let mut best: BinaryHeap<Scored> = BinaryHeap::with_capacity(k + 1);
    let offer = |best: &mut BinaryHeap<Scored>, key: &[u8], distance: f32| {
        if best.len() < k || best.peek().is_some_and(|w| distance < w.distance) {
            best.push(Scored {
                distance,
                key: key.to_vec(),
            });
            if best.len() > k {
                best.pop();
            }
        }
    };
    let accepts = |key: &[u8]| filter.is_none_or(|f| f(key));
    match candidates {
        Some(keys) => {
            for key in keys {
                if !accepts(key) {
                    continue;
                }
                if let Some(distance) = nodes.distance(query, key)? {
                    offer(&mut best, key, distance);
                }
            }
        }
        None => {
            let metric = nodes.metric();
            let mut computed = 0u64;
            nodes.scan_vectors(&mut |key, vector| {
                if accepts(key) {
                    computed += 1;
                    offer(&mut best, key, metric.distance(query, vector));
                }
                Ok(true)
            })?;
            nodes.stats.distances_computed += computed;
        }
    }
    Ok(best.into_sorted_vec())
}

/// Rechecks hits against their documents in the snapshot (see the module doc).
pub(crate) fn recheck(
    txn: &mut Transaction,
    collection: &str,
    spec: &VectorSpec,
    query: &[f32],
    hits: Vec<Scored>,
) -> Result<Vec<Hit>> {
    let mut out = Vec::with_capacity(hits.len());
    for hit in hits {
        let id = DocId::decode_key(&hit.key)?;
        let out_of_step = |reason| VectorError::OutOfStep {
            index: spec.name.clone(),
            id: format!("{id:?}"),
            reason,
        };
        let doc = txn
            .get_by_key(collection, &hit.key)?
            .ok_or_else(|| out_of_step("the document does not exist"))?;
        let vector = document_vector(spec, &doc)?
            .ok_or_else(|| out_of_step("the document holds no vector"))?;
        let stored = txn
            .extension_get(collection, &spec.name, VECTORS_TABLE, &hit.key)?
            .map(|bytes| crate::layout::decode_vector(&spec.name, spec.dims, &bytes))
            .transpose()?;
        if stored.as_deref() != Some(vector) {
            return Err(out_of_step(
                "the document's vector differs from the index's copy",
            ));
        }
        out.push(Hit {
            id,
            distance: spec.metric.distance(query, vector),
            key: hit.key,
        });
    }
    Ok(out)
}
