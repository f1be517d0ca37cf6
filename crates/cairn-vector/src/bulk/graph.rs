//! The HNSW graph built in memory for a bulk build: the same algorithm as `hnsw/` (the same
//! levels, the same best-first layer search, the same neighbour heuristic and link-back
//! pruning, the same tie-breaks) over dense node numbers instead of stored records, so the
//! graph it produces is the one inserting the same documents one by one, in key order,
//! through `hnsw::insert` produces (`bulk::tests` compares them record for record).
//!
//! Nodes are numbered in key order, so comparing numbers compares keys and every tie breaks
//! as it does on the tables (`hnsw::layer::Scored` orders by distance, then key).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use crate::hnsw::level::level_for;
use crate::metric::Metric;
use crate::spec::HnswParams;

/// A node and its distance to whatever it is compared with; ordered by distance, then number
/// (that is, key).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Scored {
    distance: f32,
    id: u32,
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
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Which nodes a layer search has met: a generation number per node, so clearing between
/// searches costs nothing (a hash set per search cost more than the distances at 128-d).
struct Visited {
    marks: Vec<u32>,
    generation: u32,
}

impl Visited {
    fn new(n: usize) -> Visited {
        Visited {
            marks: vec![0; n],
            generation: 0,
        }
    }

    fn clear(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.marks.fill(0);
            self.generation = 1;
        }
    }

    /// Marks `id`; false when it was already marked in this generation.
    fn insert(&mut self, id: u32) -> bool {
        let mark = &mut self.marks[id as usize];
        if *mark == self.generation {
            return false;
        }
        *mark = self.generation;
        true
    }
}

/// An HNSW graph over `n` vectors held in memory.
pub(crate) struct Graph {
    dims: usize,
    metric: Metric,
    params: HnswParams,
    /// Node `i`'s vector is `vectors[i * dims..(i + 1) * dims]`.
    vectors: Vec<f32>,
    /// Node `i`'s neighbour lists, layer 0 first (`links[i].len() - 1` is its level).
    pub(crate) links: Vec<Vec<Vec<u32>>>,
    /// The entry point and its level, once a node is inserted.
    pub(crate) entry: Option<(u32, u8)>,
    visited: Visited,
}

impl Graph {
    /// An empty graph over `vectors` (`keys.len()` vectors of `dims`, in key order), with
    /// each node's level drawn from its key as `hnsw::level` does.
    pub(crate) fn new(
        dims: usize,
        metric: Metric,
        params: HnswParams,
        keys: &[Vec<u8>],
        vectors: Vec<f32>,
    ) -> Graph {
        let links = keys
            .iter()
            .map(|key| {
                let level = level_for(key, params.m) as usize;
                let mut layers = vec![Vec::new(); level + 1];
                // Layer 0 holds up to 2M links, plus one while link-back prunes.
                layers[0].reserve_exact(params.max_neighbours(0) + 1);
                layers
            })
            .collect();
        Graph {
            dims,
            metric,
            params,
            vectors,
            links,
            entry: None,
            visited: Visited::new(keys.len()),
        }
    }

    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.links.len()
    }

    /// Node `id`'s vector.
    pub(crate) fn vector(&self, id: u32) -> &[f32] {
        let at = id as usize * self.dims;
        &self.vectors[at..at + self.dims]
    }

    fn level(&self, id: u32) -> u8 {
        // At most MAX_LEVEL + 1 layers (`level_for` caps).
        (self.links[id as usize].len() - 1) as u8
    }

    fn distance(&self, a: &[f32], id: u32) -> f32 {
        self.metric.distance(a, self.vector(id))
    }

    /// Inserts node `id` (Algorithm 1), exactly as `hnsw::insert::insert` does.
    pub(crate) fn insert(&mut self, id: u32) {
        let level = self.level(id);
        let Some((entry, entry_level)) = self.entry else {
            self.entry = Some((id, level));
            return;
        };
        let query = self.vector(id).to_vec();
        let mut nearest = vec![Scored {
            distance: self.distance(&query, entry),
            id: entry,
        }];
        for layer in (level as usize + 1..=entry_level as usize).rev() {
            nearest = self.search_layer(&query, &nearest, 1, layer);
        }
        let top = level.min(entry_level) as usize;
        for layer in (0..=top).rev() {
            let mut found = self.search_layer(&query, &nearest, self.params.ef_construction, layer);
            found.retain(|s| s.id != id);
            let chosen = self.select_neighbours(found.clone(), self.params.m);
            self.links[id as usize][layer] = chosen;
            nearest = found;
        }
        for layer in 0..=top {
            for i in 0..self.links[id as usize][layer].len() {
                let neighbour = self.links[id as usize][layer][i];
                self.link_back(neighbour, id, layer);
            }
        }
        if level > entry_level {
            self.entry = Some((id, level));
        }
    }

    /// Best-first search of one layer (Algorithm 2), as `hnsw::layer::search_layer` without
    /// a filter: the `ef` nearest nodes, nearest first.
    fn search_layer(
        &mut self,
        query: &[f32],
        entries: &[Scored],
        ef: usize,
        layer: usize,
    ) -> Vec<Scored> {
        let mut visited = std::mem::replace(&mut self.visited, Visited::new(0));
        visited.clear();
        for e in entries {
            visited.insert(e.id);
        }
        let mut candidates: BinaryHeap<Reverse<Scored>> =
            entries.iter().copied().map(Reverse).collect();
        let mut results: BinaryHeap<Scored> = entries.iter().copied().collect();
        while results.len() > ef {
            results.pop();
        }
        while let Some(Reverse(current)) = candidates.pop() {
            if results.len() >= ef
                && results
                    .peek()
                    .is_some_and(|worst| current.distance > worst.distance)
            {
                break;
            }
            let Some(neighbours) = self.links[current.id as usize].get(layer) else {
                continue;
            };
            for &neighbour in neighbours {
                if !visited.insert(neighbour) {
                    continue;
                }
                let distance = self.distance(query, neighbour);
                let worst = results.peek().map(|w| w.distance);
                if results.len() < ef || worst.is_some_and(|w| distance < w) {
                    let scored = Scored {
                        distance,
                        id: neighbour,
                    };
                    results.push(scored);
                    if results.len() > ef {
                        results.pop();
                    }
                    candidates.push(Reverse(scored));
                }
            }
        }
        self.visited = visited;
        results.into_sorted_vec()
    }

    /// The neighbour heuristic (Algorithm 4 with kept pruned connections), as
    /// `hnsw::layer::select_neighbours`.
    fn select_neighbours(&self, mut candidates: Vec<Scored>, m: usize) -> Vec<u32> {
        candidates.sort();
        candidates.dedup_by(|a, b| a.id == b.id);
        let mut kept: Vec<Scored> = Vec::with_capacity(m);
        let mut pruned: Vec<Scored> = Vec::new();
        for candidate in candidates {
            if kept.len() >= m {
                break;
            }
            let vector = self.vector(candidate.id);
            let diverse = kept.iter().all(|other| {
                self.metric.distance(vector, self.vector(other.id)) > candidate.distance
            });
            if diverse {
                kept.push(candidate);
            } else {
                pruned.push(candidate);
            }
        }
        let mut chosen: Vec<u32> = kept.into_iter().map(|s| s.id).collect();
        chosen.extend(
            pruned
                .into_iter()
                .take(m.saturating_sub(chosen.len()))
                .map(|s| s.id),
        );
        chosen
    }

    /// Adds `new` to `node`'s list on `layer`, pruning past capacity, as
    /// `hnsw::insert::link_back`.
    fn link_back(&mut self, node: u32, new: u32, layer: usize) {
        let Some(list) = self.links[node as usize].get(layer) else {
            return;
        };
        if list.contains(&new) {
            return;
        }
        let capacity = self.params.max_neighbours(layer);
        if list.len() < capacity {
            self.links[node as usize][layer].push(new);
            return;
        }
        let mut list = list.clone();
        list.push(new);
        let base = self.vector(node);
        let scored: Vec<Scored> = list
            .iter()
            .filter(|&&id| id != node)
            .map(|&id| Scored {
                distance: self.metric.distance(base, self.vector(id)),
                id,
            })
            .collect();
        let chosen = self.select_neighbours(scored, capacity);
        self.links[node as usize][layer] = chosen;
    }
}
