//! The planner's choice for a filtered `$nearVector`: walk the graph testing the filter during
//! the traversal, or rank exactly the documents another index (a B-tree on the filter's
//! field, the primary key) finds for the rest of the filter.
//!
//! With a selective filter the walk must reach about `ef / selectivity` nodes, each tested
//! by fetching its document, before it holds `ef` matches; ranking the few matches exactly
//! reads one index entry and one vector per match and fetches only the documents it returns.
//! The exact ranking is also exact (no recall loss). So, as Qdrant's and Weaviate's planners
//! do (filter first when the filter is selective), the choice is by estimated cost, from the
//! other index's own estimate of how many documents it finds. `explain` names the choice.

use cairn_query::access::{Narrowing, COST_FETCH_DOC, COST_INDEX_ENTRY};

/// Cost (in units of one document read in a scan) of reading one vector by its key and
/// computing its distance: a point read of a record far smaller than a document, with no
/// document decode.
pub(crate) const COST_VECTOR_LOOKUP: f64 = 0.5;

/// Cost of one vector read (and its distance) in a sequential read of the whole index: an
/// entry of a table read in order.
pub(crate) const COST_VECTOR_SCANNED: f64 = COST_INDEX_ENTRY;

/// Cost of one node a filtered walk tests: the document fetch the filter test needs (the
/// neighbour reads and distances around it are small beside it).
pub(crate) const COST_WALK_TEST: f64 = COST_FETCH_DOC;

/// How a `$nearVector` with other conditions is answered.
pub(crate) enum Choice {
    /// Walk the graph, testing the filter on each node the walk would keep (with the
    /// narrowing found costlier, for `explain`).
    Walk(Option<Narrowing>),
    /// Rank exactly the documents the narrowing finds.
    Narrowed(Narrowing),
    /// Rank exactly every vector of the index (an `exact: true` search no index narrows).
    ExactAll,
}

/// The estimated cost of ranking `narrowed` documents exactly and fetching the `k` returned.
fn exact_cost(narrowed: f64, k: usize) -> f64 {
    narrowed * (COST_INDEX_ENTRY + COST_VECTOR_LOOKUP) + k as f64 * COST_FETCH_DOC
}

/// The estimated cost of a filtered walk with candidate list `ef` when `matches` of `total`
/// documents pass the filter: it tests about `ef / selectivity` nodes (at most all of them).
fn walk_cost(matches: f64, total: f64, ef: usize) -> f64 {
    let matches = matches.clamp(1.0, total.max(1.0));
    (ef as f64 * total / matches).min(total) * COST_WALK_TEST
}

/// The choice for a graph search (`exact: false`) with candidate list `ef`.
pub(crate) fn for_walk(narrowing: Option<Narrowing>, k: usize, ef: usize) -> Choice {
    match narrowing {
        Some(n) if exact_cost(n.estimated_rows, k) < walk_cost(n.estimated_rows, n.total, ef) => {
            Choice::Narrowed(n)
        }
        other => Choice::Walk(other),
    }
}

/// The choice for an exact search (`exact: true`): the narrowed set when ranking it costs
/// less than reading every vector.
pub(crate) fn for_exact(narrowing: Option<Narrowing>, k: usize) -> Choice {
    match narrowing {
        Some(n) if exact_cost(n.estimated_rows, k) < n.total * COST_VECTOR_SCANNED => {
            Choice::Narrowed(n)
        }
        _ => Choice::ExactAll,
    }
}

/// How `explain` names a narrowing: what finds it and its estimated share.
pub(crate) fn describe(n: &Narrowing) -> String {
    format!(
        "[{}] estimated at {:.0} of {:.0} documents ({:.2}%)",
        n.describe(),
        n.estimated_rows,
        n.total,
        100.0 * n.estimated_rows / n.total.max(1.0)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selective_filter_is_ranked_exactly_and_a_broad_one_walked() {
        let (total, k, ef) = (100_000.0, 10, 64);
        // 1%: the walk would test ~6,400 documents, the exact ranking reads 1,000 vectors.
        assert!(exact_cost(1_000.0, k) < walk_cost(1_000.0, total, ef));
        // 10%: the walk tests ~640, the exact ranking would read 10,000.
        assert!(exact_cost(10_000.0, k) > walk_cost(10_000.0, total, ef));
        // Nothing passes: the walk would visit everything.
        assert!(exact_cost(0.0, k) < walk_cost(0.0, total, ef));
    }
}
