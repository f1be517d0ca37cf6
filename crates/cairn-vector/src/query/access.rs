//! The vector index as an access method: it serves no condition by itself (it only ranks),
//! and ranks by `$nearVector` on its field — a graph walk with the rest of the filter tested
//! *during* the walk, or with `exact: true` every distance computed.
//!
//! **Filtered search.** When the filter has conditions besides the `$nearVector`, each node
//! the walk would keep is first tested against the whole filter (`Fetcher::take`: the
//! document is fetched once and remembered). Rejected nodes are still walked through, and the
//! walk does not stop before it holds `ef` accepted nodes or has visited every reachable
//! node; if it then holds fewer than `k`, it finishes with an exact scan (`search.rs`). So a
//! filtered search returns `min(k, matches)` documents at any selectivity (pgvector's HNSW
//! returns fewer). The cost is one document fetch per node tested: at low selectivity the
//! walk widens until it has found `ef` matches. Without other conditions nothing is fetched
//! during the walk. So when another index (a B-tree on the filter's field) narrows the rest
//! of the filter to few enough documents, those are ranked exactly instead (`choice.rs`:
//! by estimated cost, named by `explain`); `exact: true` ranks that set too when it is
//! cheaper than reading every vector.
//!
//! **Consistency.** The graph is read through the query's own snapshot, and every result is
//! rechecked against its document in that snapshot (`search::recheck`): the document's vector
//! must equal the index's copy, and the distance reported is computed from it.

use std::cell::RefCell;
use std::ops::Bound;

use cairn_doc::FieldPath;
use cairn_query::access::{
    AccessMethod, Fetcher, FieldOperator, Path, PlanContext, Ranked, RankedRow, ScanContext,
};
use cairn_query::{Filter, QueryError, Result};

use super::choice::{self, Choice};
use super::ops::NearVector;
use crate::hnsw::layer::Scored;
use crate::hnsw::nodes::Nodes;
use crate::limits::MAX_EF;
use crate::resident::{image_for, search_image};
use crate::search::{graph_search, recheck, KeyFilter, SearchStats};
use crate::spec::VectorSpec;
use crate::store::{EntryVisitor, RawStore};

/// One ready vector index.
pub(crate) struct VectorAccess {
    pub(crate) spec: VectorSpec,
}

impl AccessMethod for VectorAccess {
    fn name(&self) -> &str {
        &self.spec.name
    }

    /// None: a vector index finds nothing by a condition, it ranks.
    fn paths(&self, _: &mut PlanContext<'_>, _: &[&Filter]) -> Result<Vec<Path>> {
        Ok(Vec::new())
    }

    /// `$nearVector` on its field, unless the operator names another metric.
    fn ranks(&self, field: &FieldPath, op: &dyn FieldOperator) -> bool {
        *field == self.spec.field
            && op
                .as_any()
                .downcast_ref::<NearVector>()
                .is_some_and(|near| near.metric.is_none_or(|m| m == self.spec.metric))
    }

    fn rank(
        &self,
        fetch: &mut Fetcher<'_, '_>,
        _: &FieldPath,
        op: &dyn FieldOperator,
        k: usize,
    ) -> Result<Ranked> {
        let Some(near) = op.as_any().downcast_ref::<NearVector>() else {
            return Err(QueryError::invalid(
                op.name(),
                "a vector index ranks by `$nearVector` only",
            ));
        };
        let spec = &self.spec;
        spec.metric
            .validate("vector", spec.dims, &near.vector)
            .map_err(|err| {
                QueryError::invalid(
                    "$nearVector",
                    format!("index `{}` on `{}`: {err}", spec.name, spec.field),
                )
            })?;
        let ef = near.ef.unwrap_or(spec.params.ef_search).max(k).min(MAX_EF);
        let filtered = fetch.filters_beyond_ranking();
        let narrowing = if filtered { fetch.narrowing()? } else { None };
        let choice = match near.exact {
            true => choice::for_exact(narrowing, k),
            false => choice::for_walk(narrowing, k, ef),
        };
        let (order, stats) = match &choice {
            Choice::Walk(_) => graph(fetch, spec, &near.vector, k, ef, filtered)?,
            Choice::ExactAll => exact(fetch, spec, &near.vector, k, filtered, None)?,
            Choice::Narrowed(narrowing) => {
                let keys = fetch.narrowed_keys(narrowing)?;
                fetch
                    .scan()
                    .count("vector_narrowed_candidates", keys.len() as u64);
                exact(fetch, spec, &near.vector, k, true, Some(keys))?
            }
        };
        let mut cx = fetch.scan();
        count(&mut cx, &stats);
        let hits = recheck(cx.txn, cx.collection, spec, &near.vector, order)?;
        let mut rows = Vec::with_capacity(hits.len());
        for hit in hits {
            if let Some(doc) = fetch.take(&hit.key)? {
                rows.push(RankedRow {
                    rank: f64::from(hit.distance),
                    key: hit.key,
                    doc,
                });
            }
        }
        let mode = match (&choice, filtered) {
            (Choice::ExactAll, _) => "exact: every distance".to_string(),
            (Choice::Narrowed(n), _) => format!(
                "exact over the filtered set {}{}",
                choice::describe(n),
                if near.exact {
                    String::new()
                } else {
                    format!(", cheaper than a filtered walk at ef={ef}")
                }
            ),
            (Choice::Walk(_), false) => format!("graph, ef={ef}"),
            (Choice::Walk(rejected), true) => format!(
                "graph, ef={ef}, filter during traversal{}",
                match rejected {
                    Some(n) => format!(" (cheaper than ranking {})", choice::describe(n)),
                    None => " (no index narrows the rest of the filter)".to_string(),
                }
            ),
        };
        let mode = if stats.resident {
            format!("{mode}, resident image")
        } else {
            mode
        };
        Ok(Ranked {
            rows,
            description: format!(
                "vector index `{}` on `{}` ($nearVector k={k}, {}: {mode}; {} nodes visited, \
                 {} distances computed{})",
                spec.name,
                spec.field,
                spec.metric.name(),
                stats.nodes_visited,
                stats.distances_computed,
                if stats.exhaustive_fallback {
                    ", finished by an exact scan"
                } else {
                    ""
                }
            ),
        })
    }
}

/// Counts a search's work into the execution's counters (shown by `explain`).
fn count(cx: &mut ScanContext<'_>, stats: &SearchStats) {
    cx.count("vector_nodes_visited", stats.nodes_visited);
    cx.count("vector_distances", stats.distances_computed);
    cx.count(
        "vector_exact_fallbacks",
        u64::from(stats.exhaustive_fallback),
    );
}

/// The graph walk: the `k` nearest nodes passing the filter (tested during the walk when
/// `filtered`), nearest first.
fn graph(
    fetch: &mut Fetcher<'_, '_>,
    spec: &VectorSpec,
    query: &[f32],
    k: usize,
    ef: usize,
    filtered: bool,
) -> Result<(Vec<Scored>, SearchStats)> {
    let cell = RefCell::new(fetch);
    let failure = RefCell::new(None);
    let accept = |key: &[u8]| -> bool {
        if failure.borrow().is_some() {
            return false;
        }
        match cell.borrow_mut().take(key) {
            Ok(found) => found.is_some(),
            Err(err) => {
                *failure.borrow_mut() = Some(err);
                false
            }
        }
    };
    let image = {
        let mut fetch = cell.borrow_mut();
        let cx = fetch.scan();
        image_for(cx.txn, cx.collection, spec)?
    };
    let mut store = FetchStore {
        fetch: &cell,
        index: &spec.name,
    };
    let mut nodes = Nodes::new(&mut store, &spec.name, spec.dims, spec.metric);
    let mut walk = |filter: Option<KeyFilter<'_>>| match &image {
        Some(image) => Ok(search_image(image, query, k, ef, filter)),
        None => graph_search(&mut nodes, query, k, ef, filter),
    };
    let filter: Option<KeyFilter<'_>> = filtered.then_some(&accept);
    let (mut hits, mut stats) = walk(filter)?;
    if let Some(err) = failure.borrow_mut().take() {
        return Err(err);
    }
    if !filtered && !hits.iter().all(|hit| accept(&hit.key)) {
        // A node the filter rejects although the filter is only the `$nearVector` (a value
        // of another dimension cannot be indexed, so this should not happen): search again,
        // testing during the walk.
        (hits, stats) = walk(Some(&accept))?;
    }
    if let Some(err) = failure.borrow_mut().take() {
        return Err(err);
    }
    Ok((hits, stats))
}

/// Brute force: the distance of every node (or of every node among `candidates`, document
/// keys another index found), then nodes nearest first until `k` pass the filter.
fn exact(
    fetch: &mut Fetcher<'_, '_>,
    spec: &VectorSpec,
    query: &[f32],
    k: usize,
    filtered: bool,
    candidates: Option<Vec<Vec<u8>>>,
) -> Result<(Vec<Scored>, SearchStats)> {
    let image = match candidates {
        Some(_) => {
            let cx = fetch.scan();
            image_for(cx.txn, cx.collection, spec)?
        }
        None => None,
    };
    let cell = RefCell::new(fetch);
    let mut all: Vec<Scored> = Vec::new();
    let mut stats = SearchStats {
        resident: image.is_some(),
        ..SearchStats::default()
    };
    {
        let mut store = FetchStore {
            fetch: &cell,
            index: &spec.name,
        };
        let mut nodes = Nodes::new(&mut store, &spec.name, spec.dims, spec.metric);
        let metric = spec.metric;
        match (candidates, &image) {
            (Some(keys), Some(image)) => {
                for key in keys {
                    if let Some(id) = image.find(&key) {
                        let distance = metric.distance(query, image.vector(id));
                        all.push(Scored { distance, key });
                    }
                }
            }
            (Some(keys), None) => {
                for key in keys {
                    // A key without a node is a document without a vector in the field.
                    if let Some(distance) = nodes.distance(query, &key)? {
                        all.push(Scored { distance, key });
                    }
                }
            }
            (None, _) => nodes.scan_vectors(&mut |key, vector| {
                all.push(Scored {
                    distance: metric.distance(query, vector),
                    key: key.to_vec(),
                });
                Ok(true)
            })?,
        }
    }
    stats.distances_computed = all.len() as u64;
    all.sort_unstable();
    let fetch = cell.into_inner();
    let mut order = Vec::with_capacity(k);
    for scored in all {
        if order.len() == k {
            break;
        }
        if !filtered || fetch.take(&scored.key)?.is_some() {
            order.push(scored);
        }
    }
    Ok((order, stats))
}

/// The index's tables read through the query's snapshot, shared with the filter test that
/// runs during the walk (both go through the one `Fetcher`, never at the same time).
struct FetchStore<'c, 'm, 'e, 'a> {
    fetch: &'c RefCell<&'m mut Fetcher<'e, 'a>>,
    index: &'c str,
}

impl RawStore for FetchStore<'_, '_, '_, '_> {
    fn get(&mut self, table: &str, key: &[u8]) -> crate::Result<Option<Vec<u8>>> {
        let mut fetch = self.fetch.borrow_mut();
        let cx = fetch.scan();
        Ok(cx
            .txn
            .extension_get(cx.collection, self.index, table, key)?)
    }

    fn put(&mut self, table: &str, key: &[u8], value: &[u8]) -> crate::Result<()> {
        let mut fetch = self.fetch.borrow_mut();
        let cx = fetch.scan();
        Ok(cx
            .txn
            .extension_put(cx.collection, self.index, table, key, value)?)
    }

    fn delete(&mut self, table: &str, key: &[u8]) -> crate::Result<()> {
        let mut fetch = self.fetch.borrow_mut();
        let cx = fetch.scan();
        Ok(cx
            .txn
            .extension_delete(cx.collection, self.index, table, key)?)
    }

    /// Reads the table first and visits it afterwards: the visitor may test documents
    /// against the filter (the exact finish of a filtered walk), which needs the `Fetcher`
    /// this read holds.
    fn scan(&mut self, table: &str, visit: &mut EntryVisitor<'_>) -> crate::Result<()> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        {
            let mut fetch = self.fetch.borrow_mut();
            let cx = fetch.scan();
            cx.txn.extension_range::<cairn_engine::EngineError>(
                cx.collection,
                self.index,
                table,
                Bound::Unbounded,
                Bound::Unbounded,
                |key, value| {
                    entries.push((key.to_vec(), value.to_vec()));
                    Ok(true)
                },
            )?;
        }
        for (key, value) in entries {
            if !visit(&key, &value)? {
                break;
            }
        }
        Ok(())
    }
}
