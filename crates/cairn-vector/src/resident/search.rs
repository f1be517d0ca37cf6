//! The graph walk over an image: `search::graph_search` (and `hnsw::layer::search_layer`)
//! step for step, over node numbers instead of keys. Numbers follow key order, so ties break
//! as on the tables and the same nodes come out.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::Image;
use crate::hnsw::layer::Scored;
use crate::search::{KeyFilter, SearchStats};

/// A node number with its distance; ordered by distance, then number (= key order).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Near {
    distance: f32,
    id: u32,
}

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Near) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Near) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Nodes seen by one layer search: one bit per node.
struct Visited(Vec<u64>);

impl Visited {
    fn new(n: usize) -> Visited {
        Visited(vec![0; n.div_ceil(64)])
    }

    /// Marks `id`; whether it was new.
    fn insert(&mut self, id: u32) -> bool {
        let (word, bit) = ((id / 64) as usize, 1u64 << (id % 64));
        let new = self.0[word] & bit == 0;
        self.0[word] |= bit;
        new
    }
}

/// The walk of one search over an image.
struct Walk<'i> {
    image: &'i Image,
    query: &'i [f32],
    stats: SearchStats,
}

impl Walk<'_> {
    fn distance(&mut self, id: u32) -> f32 {
        self.stats.distances_computed += 1;
        self.image
            .metric
            .distance(self.query, self.image.vector(id))
    }

    /// `hnsw::layer::search_layer` over node numbers.
    fn layer(
        &mut self,
        entries: &[Near],
        ef: usize,
        layer: usize,
        accept: Option<KeyFilter<'_>>,
    ) -> (Vec<Near>, bool) {
        let image = self.image;
        let accepts = |id: u32| accept.is_none_or(|f| f(&image.keys[id as usize]));
        let mut visited = Visited::new(image.len());
        for e in entries {
            visited.insert(e.id);
        }
        let mut candidates: BinaryHeap<Reverse<Near>> =
            entries.iter().copied().map(Reverse).collect();
        let mut results: BinaryHeap<Near> =
            entries.iter().copied().filter(|e| accepts(e.id)).collect();
        while results.len() > ef {
            results.pop();
        }
        let mut exhausted = true;
        while let Some(Reverse(current)) = candidates.pop() {
            if results.len() >= ef
                && results
                    .peek()
                    .is_some_and(|w| current.distance > w.distance)
            {
                exhausted = false;
                break;
            }
            self.stats.nodes_visited += 1;
            for &neighbour in image.neighbours(current.id, layer) {
                if !visited.insert(neighbour) {
                    continue;
                }
                let distance = self.distance(neighbour);
                let worst = results.peek().map(|w| w.distance);
                if results.len() < ef || worst.is_some_and(|w| distance < w) {
                    let near = Near {
                        distance,
                        id: neighbour,
                    };
                    if accepts(neighbour) {
                        results.push(near);
                        if results.len() > ef {
                            results.pop();
                        }
                    }
                    candidates.push(Reverse(near));
                }
            }
        }
        (results.into_sorted_vec(), exhausted)
    }

    /// Every accepted node's distance, the `k` nearest.
    fn exact(&mut self, k: usize, accept: Option<KeyFilter<'_>>) -> Vec<Near> {
        let image = self.image;
        let mut best: BinaryHeap<Near> = BinaryHeap::with_capacity(k + 1);
        for id in 0..image.len() as u32 {
            if accept.is_some_and(|f| !f(&image.keys[id as usize])) {
                continue;
            }
            let distance = self.distance(id);
            if best.len() < k || best.peek().is_some_and(|w| distance < w.distance) {
                best.push(Near { distance, id });
                if best.len() > k {
                    best.pop();
                }
            }
        }
        best.into_sorted_vec()
    }
}

/// `search::graph_search` over an image: up to `k` accepted nodes, nearest first.
pub(crate) fn search_image(
    image: &Image,
    query: &[f32],
    k: usize,
    ef: usize,
    filter: Option<KeyFilter<'_>>,
) -> (Vec<Scored>, SearchStats) {
    let mut walk = Walk {
        image,
        query,
        stats: SearchStats::default(),
    };
    let Some((entry, level)) = image.entry else {
        return (Vec::new(), walk.stats);
    };
    let mut nearest = vec![Near {
        distance: walk.distance(entry),
        id: entry,
    }];
    for layer in (1..=level as usize).rev() {
        nearest = walk.layer(&nearest, 1, layer, None).0;
    }
    let (mut hits, exhausted) = walk.layer(&nearest, ef, 0, filter);
    walk.stats.ef = ef;
    walk.stats.resident = true;
    if hits.len() < k && exhausted {
        walk.stats.exhaustive_fallback = true;
        hits = walk.exact(k, filter);
    }
    hits.truncate(k);
    let scored = hits
        .into_iter()
        .map(|near| Scored {
            distance: near.distance,
            key: image.keys[near.id as usize].to_vec(),
        })
        .collect();
    (scored, walk.stats)
}
