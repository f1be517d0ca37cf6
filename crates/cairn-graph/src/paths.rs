//! Shortest paths (breadth-first by hops, Dijkstra by a numeric edge field) and k-hop
//! neighbourhood counts.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use cairn_doc::DocId;
use cairn_engine::Transaction;
use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use crate::budget::Meter;
use crate::error::{GraphError, Result};
use crate::explain::GraphExplain;
use crate::read::{edge_ref, expand, vertex_ref, Prepared, Step};
use crate::traverse::{check_depth, Path, Walk};
use crate::vertex::VertexRef;

/// How a path was reached: previous vertex key, edge collection index, edge key.
type Parent = (Vec<u8>, usize, Vec<u8>);

/// What a search found: how each reached vertex was reached, and the target's distance.
type Found = Option<(HashMap<Vec<u8>, Parent>, f64)>;

/// The shortest path from `from` to `to` following `walk`: fewest edges when `weight` is
/// `None` (breadth-first), else the least sum of the edges' numeric field `weight` (a dotted
/// path into the edge document; Dijkstra). Weights must be finite and `>= 0`: an edge the
/// search relaxes with a missing, non-numeric, negative or non-finite weight fails the query
/// with [`GraphError::InvalidWeight`] (edges never reached are not read). `None` when `to`
/// cannot be reached. Among equally short paths, which one is returned is unspecified.
pub fn shortest_path(
    txn: &mut Transaction,
    from: &VertexRef,
    to: &VertexRef,
    walk: &Walk<'_>,
    weight: Option<&str>,
) -> Result<Option<Path>> {
    shortest_path_explained(txn, from, to, walk, weight).map(|(path, _)| path)
}

/// [`shortest_path`], also returning what it did (`explain`). When the weight field is a
/// property the edge collections store in their adjacency, no edge document is read.
pub fn shortest_path_explained(
    txn: &mut Transaction,
    from: &VertexRef,
    to: &VertexRef,
    walk: &Walk<'_>,
    weight: Option<&str>,
) -> Result<(Option<Path>, GraphExplain)> {
    let prepared = Prepared::new(txn, walk, weight)?;
    let source = from.key()?;
    let target = to.key()?;
    let mut meter = Meter::new(walk.budget);
    let search = Search {
        walk,
        prepared: &prepared,
    };
    let parents = match weight {
        None => bfs(txn, &search, &source, &target, &mut meter)?,
        Some(field) => dijkstra(txn, &search, (&source, &target), field, &mut meter)?,
    };
    let algorithm = match weight {
        None => "breadth-first (fewest edges)".to_string(),
        Some(field) => format!("Dijkstra on `{field}`"),
    };
    let plan = format!("{algorithm}; {}", prepared.describe(walk, weight));
    let path = assemble(walk, parents, (source, target), weight.is_some())?;
    let returned = path.as_ref().map_or(0, |p| p.edges.len() as u64);
    Ok((path, GraphExplain::of(plan, &meter, returned)))
}

/// What every search step needs: the walk and what its edge collections store.
struct Search<'s, 'a> {
    walk: &'s Walk<'a>,
    prepared: &'s Prepared,
}

/// The path to `target` from the parent links a search left.
fn assemble(
    walk: &Walk<'_>,
    parents: Found,
    (source, target): (Vec<u8>, Vec<u8>),
    weighted: bool,
) -> Result<Option<Path>> {
    let Some((parents, total)) = parents else {
        return Ok(None);
    };
    let mut vertices = vec![vertex_ref(&walk.edge_collections[0], &target)?];
    let mut edges = Vec::new();
    let mut at = target;
    while at != source {
        let Some((previous, coll, edge)) = parents.get(&at) else {
            break;
        };
        edges.push(edge_ref(&walk.edge_collections[*coll], edge)?);
        vertices.push(vertex_ref(&walk.edge_collections[0], previous)?);
        at = previous.clone();
    }
    vertices.reverse();
    edges.reverse();
    Ok(Some(Path {
        weight: if weighted { total } else { edges.len() as f64 },
        vertices,
        edges,
    }))
}

/// Breadth-first search until `target` is reached: the parent links and the hop count.
fn bfs(
    txn: &mut Transaction,
    search: &Search<'_, '_>,
    source: &[u8],
    target: &[u8],
    meter: &mut Meter,
) -> Result<Found> {
    let mut parents: HashMap<Vec<u8>, Parent> = HashMap::new();
    if source == target {
        return Ok(Some((parents, 0.0)));
    }
    let mut seen = HashSet::new();
    seen.insert(source.to_vec());
    let mut frontier = vec![source.to_vec()];
    let mut steps = Vec::new();
    let mut hops = 0.0;
    while !frontier.is_empty() {
        hops += 1.0;
        let mut next = Vec::new();
        for vertex in &frontier {
            meter.step()?;
            expand(
                txn,
                (search.walk, search.prepared),
                vertex,
                &mut steps,
                meter,
            )?;
            for step in steps.drain(..) {
                if !seen.insert(step.other.clone()) {
                    continue;
                }
                meter.charge(step.other.len() * 3 + step.edge_key.len())?;
                let found = step.other == target;
                parents.insert(
                    step.other.clone(),
                    (vertex.clone(), step.collection, step.edge_key),
                );
                if found {
                    return Ok(Some((parents, hops)));
                }
                next.push(step.other);
            }
        }
        frontier = next;
    }
    Ok(None)
}

/// A distance in Dijkstra's queue, ordered totally (weights are checked finite).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Distance(f64);

impl Eq for Distance {}

impl PartialOrd for Distance {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Distance {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Dijkstra's algorithm until `target` is settled: the parent links and the distance.
fn dijkstra(
    txn: &mut Transaction,
    search: &Search<'_, '_>,
    (source, target): (&[u8], &[u8]),
    field: &str,
    meter: &mut Meter,
) -> Result<Found> {
    let mut parents: HashMap<Vec<u8>, Parent> = HashMap::new();
    let mut best: HashMap<Vec<u8>, f64> = HashMap::new();
    let mut settled = HashSet::new();
    let mut queue = BinaryHeap::new();
    best.insert(source.to_vec(), 0.0);
    queue.push(Reverse((Distance(0.0), source.to_vec())));
    let mut steps = Vec::new();
    while let Some(Reverse((Distance(distance), vertex))) = queue.pop() {
        if !settled.insert(vertex.clone()) {
            continue;
        }
        if vertex == target {
            return Ok(Some((parents, distance)));
        }
        meter.step()?;
        expand(
            txn,
            (search.walk, search.prepared),
            &vertex,
            &mut steps,
            meter,
        )?;
        for step in steps.drain(..) {
            if settled.contains(&step.other) {
                continue;
            }
            let candidate = distance + edge_weight(txn, search, &step, field, meter)?;
            if best
                .get(&step.other)
                .is_some_and(|&known| known <= candidate)
            {
                continue;
            }
            meter.charge(step.other.len() * 4 + step.edge_key.len())?;
            best.insert(step.other.clone(), candidate);
            parents.insert(
                step.other.clone(),
                (vertex.clone(), step.collection, step.edge_key),
            );
            queue.push(Reverse((Distance(candidate), step.other)));
        }
    }
    Ok(None)
}

/// The weight of the edge of `step`: its field `field`, a finite number `>= 0`; from the
/// stored properties when the adjacency entry carries the field's top-level property, else
/// from the edge document.
fn edge_weight(
    txn: &mut Transaction,
    search: &Search<'_, '_>,
    step: &Step,
    field: &str,
    meter: &mut Meter,
) -> Result<f64> {
    let collection = &search.walk.edge_collections[step.collection];
    let read;
    let doc = match &step.stored {
        Some(stored) if search.prepared.weight_stored[step.collection] => {
            meter.counts.stored_property_reads += 1;
            Some(stored)
        }
        _ => {
            meter.counts.edge_documents_read += 1;
            read = txn.get_by_key(collection, &step.edge_key)?;
            read.as_ref()
        }
    };
    let invalid = |reason: String| GraphError::InvalidWeight {
        collection: collection.clone(),
        edge: DocId::decode_key(&step.edge_key).unwrap_or(DocId::Int(0)),
        field: field.to_string(),
        reason,
    };
    let value = doc.and_then(|doc| {
        field
            .split('.')
            .try_fold(doc, |value, name| value.as_object()?.get(name))
    });
    match value.map(|v| (v, v.as_f64())) {
        None => Err(invalid("missing".into())),
        Some((_, Some(w))) if w.is_finite() && w >= 0.0 => Ok(w),
        Some((_, Some(w))) => Err(invalid(format!("= {w}"))),
        Some((v, None)) => Err(invalid(format!("holding {}", v.type_name()))),
    }
}

/// The number of distinct vertices within `k` hops of `start` following `walk` (the start
/// vertex itself not counted): 1-hop, 2-hop, ... neighbourhood sizes. `k` is at most
/// [`crate::limits::MAX_TRAVERSAL_DEPTH`].
pub fn khop_count(
    txn: &mut Transaction,
    start: &VertexRef,
    walk: &Walk<'_>,
    k: u32,
) -> Result<u64> {
    khop_count_explained(txn, start, walk, k).map(|(count, _)| count)
}

/// [`khop_count`], also returning what it did (`explain`).
pub fn khop_count_explained(
    txn: &mut Transaction,
    start: &VertexRef,
    walk: &Walk<'_>,
    k: u32,
) -> Result<(u64, GraphExplain)> {
    check_depth("k", k)?;
    let prepared = Prepared::new(txn, walk, None)?;
    let mut meter = Meter::new(walk.budget);
    let source = start.key()?;
    let mut seen = HashSet::new();
    seen.insert(source.clone());
    let mut frontier = vec![source];
    let mut steps = Vec::new();
    for depth in 1..=k {
        let mut next = Vec::new();
        for vertex in &frontier {
            meter.step()?;
            expand(txn, (walk, &prepared), vertex, &mut steps, &mut meter)?;
            for step in steps.drain(..) {
                if seen.contains(&step.other) {
                    continue;
                }
                meter.charge(step.other.len())?;
                seen.insert(step.other.clone());
                if depth < k {
                    next.push(step.other);
                }
            }
        }
        frontier = next;
    }
    let count = seen.len() as u64 - 1;
    let plan = format!(
        "breadth-first {k}-hop distinct count; {}",
        prepared.describe(walk, None)
    );
    Ok((count, GraphExplain::of(plan, &meter, count)))
}
