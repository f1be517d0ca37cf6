//! The two building blocks of HNSW: best-first search of one layer, and the choice of a
//! node's neighbours among candidates.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::rc::Rc;

use crate::error::Result;
use crate::hnsw::nodes::{KeySet, Nodes};

/// A node with its distance to whatever it is being compared with; ordered by distance, then
/// key (so ties break the same way every time).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Scored {
    pub(crate) distance: f32,
    pub(crate) key: Vec<u8>,
}

impl Eq for Scored {}

impl PartialOrd for Scored {
    fn partial_cmp(&self, other: &Scored) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scored {
    fn cmp(&self, other: &Scored) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.key.cmp(&other.key))
    }
}

/// Which nodes a search may return; the others are still walked through.
pub(crate) type Accept<'f> = Option<&'f dyn Fn(&[u8]) -> bool>;

/// What a layer search found.
pub(crate) struct LayerResult {
    /// Up to `ef` accepted nodes, nearest first.
    pub(crate) nearest: Vec<Scored>,
    /// Whether the search ran out of nodes to walk (every node reachable from the entry
    /// points was visited) rather than stopping because nothing closer could come.
    pub(crate) exhausted: bool,
}

/// Best-first search of one layer from `entries` (Algorithm 2 of the paper), keeping the `ef`
/// nearest *accepted* nodes. Nodes the filter rejects are walked through but not kept, and
/// the search does not stop before it holds `ef` accepted nodes unless the reachable graph is
/// exhausted: this is what makes a filtered search return its `k` results at any selectivity.
pub(crate) fn search_layer(
    nodes: &mut Nodes<'_>,
    query: &[f32],
    entries: &[Scored],
    ef: usize,
    layer: usize,
    accept: Accept<'_>,
) -> Result<LayerResult> {
    let accepts = |key: &[u8]| accept.is_none_or(|f| f(key));
    let mut visited: KeySet = entries.iter().map(|e| e.key.clone()).collect();
    let mut candidates: BinaryHeap<Reverse<Scored>> =
        entries.iter().cloned().map(Reverse).collect();
    let mut results: BinaryHeap<Scored> = entries
        .iter()
        .filter(|e| accepts(&e.key))
        .cloned()
        .collect();
    while results.len() > ef {
        results.pop();
    }
    let mut exhausted = true;
    while let Some(Reverse(current)) = candidates.pop() {
        if results.len() >= ef
            && results
                .peek()
                .is_some_and(|worst| current.distance > worst.distance)
        {
            exhausted = false;
            break;
        }
        let Some(links) = nodes.links(&current.key)? else {
            continue;
        };
        let Some(neighbours) = links.layers.get(layer) else {
            continue;
        };
        for neighbour in neighbours {
            if !visited.insert(neighbour.clone()) {
                continue;
            }
            let Some(distance) = nodes.distance(query, neighbour)? else {
                continue; // A dangling link (see `hnsw/mod.rs`).
            };
            let worst = results.peek().map(|w| w.distance);
            if results.len() < ef || worst.is_some_and(|w| distance < w) {
                let scored = Scored {
                    distance,
                    key: neighbour.clone(),
                };
                if accepts(neighbour) {
                    results.push(scored.clone());
                    if results.len() > ef {
                        results.pop();
                    }
                }
                candidates.push(Reverse(scored));
            }
        }
    }
    Ok(LayerResult {
        nearest: results.into_sorted_vec(),
        exhausted,
    })
}

/// Chooses at most `m` neighbours for a node among `candidates` (scored by distance to that
/// node), with the paper's heuristic (Algorithm 4): a candidate is kept only if it is nearer
/// to the node than to every neighbour kept so far, which spreads links over directions and
/// keeps clusters connected. Slots the heuristic leaves free are filled with the nearest
/// discarded candidates ("keep pruned connections"), so nodes keep their full degree — more
/// paths for filtered searches and after deletes. Candidates without a vector (dangling) are
/// dropped.
pub(crate) fn select_neighbours(
    nodes: &mut Nodes<'_>,
    mut candidates: Vec<Scored>,
    m: usize,
) -> Result<Vec<Vec<u8>>> {
    candidates.sort();
    candidates.dedup_by(|a, b| a.key == b.key);
    let mut kept: Vec<(Scored, Rc<[f32]>)> = Vec::with_capacity(m);
    let mut pruned: Vec<Scored> = Vec::new();
    let metric = nodes.metric();
    for candidate in candidates {
        if kept.len() >= m {
            break;
        }
        let Some(vector) = nodes.vector(&candidate.key)? else {
            continue;
        };
        let diverse = kept
            .iter()
            .all(|(_, other)| metric.distance(&vector, other) > candidate.distance);
        if diverse {
            kept.push((candidate, vector));
        } else {
            pruned.push(candidate);
        }
    }
    let mut chosen: Vec<Vec<u8>> = kept.into_iter().map(|(s, _)| s.key).collect();
    chosen.extend(
        pruned
            .into_iter()
            .take(m.saturating_sub(chosen.len()))
            .map(|s| s.key),
    );
    Ok(chosen)
}
