//! The planner: chooses how to find a query's documents.
//!
//! Access paths considered:
//! * full scan of the collection in `_id` order;
//! * the primary key, for top-level `_id` conditions: point reads for `$eq`/`$in`, a key
//!   range (within one id type) for `$gt`/`$gte`/`$lt`/`$lte` (see [`crate::primary_key`]),
//!   in `_id` order (serving an ascending `_id` sort); equality costs a few fetches, so it
//!   beats every other path; `_id` point reads also serve `$or` branches in a union;
//! * what each index offers through its access method ([`crate::access`]): for B-tree and
//!   hash indexes equality on a leftmost prefix of their fields then maybe a range, or a
//!   B-tree read whole for its order; for a spatial index a search around the shape;
//! * intersection of the two cheapest paths that narrow by the filter;
//! * union of per-branch paths for a top-level `$or`.
//!
//! Each access method costs its paths from its own statistics, in units of "one document
//! read in a sequential scan" ([`crate::access::COST_SCAN_DOC`]). The executor re-checks the
//! whole filter on every fetched document (unless a path decides it), so an index only has
//! to find a superset of the matches: plans differ in speed, never in results.

use std::sync::Arc;

use cairn_doc::FieldPath;
use cairn_engine::Transaction;

use crate::access::{
    filter_selectivity, residual_selectivity, sort_matches, AccessMethod, IndexPath, Path,
    PlanContext, COST_FETCH_DOC, COST_INDEX_ENTRY, COST_SCAN_DOC, DEFAULT_SELECTIVITY,
};
use crate::error::Result;
use crate::filter::Filter;
use crate::primary_key::{id_path, key_access, KeyAccess};
use crate::query::SortKey;

/// How documents are found.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every document, in `_id` order.
    FullScan,
    /// Documents read by their primary key (`_id`), in `_id` order.
    PrimaryKey(KeyAccess),
    /// What one index finds (a path its access method planned).
    Index(Arc<dyn IndexPath>),
    /// Documents found by both sides.
    Intersect(Box<Access>, Box<Access>),
    /// Documents found by any side.
    Union(Vec<Access>),
}

/// A costed candidate plan.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// How documents are found.
    pub access: Access,
    /// Estimated documents fetched.
    pub estimated_rows: f64,
    /// Estimated cost.
    pub cost: f64,
    /// Whether the access returns documents in sort order (no sort needed).
    pub ordered: bool,
}

impl Candidate {
    fn of(path: Path) -> Candidate {
        Candidate {
            access: Access::Index(path.scan),
            estimated_rows: path.estimated_rows,
            cost: path.cost,
            ordered: path.ordered,
        }
    }
}

impl Access {
    /// A one-line description for `explain`.
    pub fn describe(&self) -> String {
        match self {
            Access::FullScan => "full scan".to_string(),
            Access::PrimaryKey(keys) => keys.describe(),
            Access::Index(path) => path.describe(),
            Access::Intersect(a, b) => {
                format!("intersection of [{}] and [{}]", a.describe(), b.describe())
            }
            Access::Union(parts) => format!(
                "union of {}",
                parts
                    .iter()
                    .map(|p| format!("[{}]", p.describe()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// What the planner needs to know about a query.
pub struct PlanInput<'a> {
    /// The filter.
    pub filter: &'a Filter,
    /// The requested order (empty: any order is fine, `_id` is used).
    pub sort: &'a [SortKey],
    /// Documents needed from the start of the ordered result (skip + limit), if bounded.
    pub needed: Option<usize>,
}

/// Plans a query over the usable indexes `methods`: every candidate considered, cheapest
/// first.
pub fn plan(
    txn: &mut Transaction,
    collection: &str,
    methods: &[Arc<dyn AccessMethod>],
    input: &PlanInput<'_>,
) -> Result<Vec<Candidate>> {
    let total = txn.document_count(collection)? as f64;
    let mut planner = Planner {
        cx: PlanContext {
            txn,
            collection,
            total,
            sort: input.sort,
            needed: input.needed,
        },
        filter: input.filter,
    };
    let conjuncts = conjuncts(input.filter);
    // First, so that it wins ties (the stable sort below keeps it ahead).
    let mut candidates: Vec<Candidate> = planner.primary_key(&conjuncts).into_iter().collect();
    candidates.push(planner.full_scan());
    let mut singles = Vec::new();
    for method in methods {
        for path in method.paths(&mut planner.cx, &conjuncts)? {
            if path.narrows {
                singles.push(Candidate::of(path));
            } else {
                candidates.push(Candidate::of(path));
            }
        }
    }
    singles.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    if singles.len() >= 2 {
        candidates.push(planner.intersection(&singles[0], &singles[1]));
    }
    candidates.extend(singles);
    if let Filter::Or(branches) = input.filter {
        if let Some(union) = planner.union(methods, branches)? {
            candidates.push(union);
        }
    }
    candidates.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    Ok(candidates)
}

/// The top-level conjuncts of a filter.
pub(crate) fn conjuncts(filter: &Filter) -> Vec<&Filter> {
    match filter {
        Filter::And(parts) => parts.iter().flat_map(conjuncts).collect(),
        Filter::All => Vec::new(),
        other => vec![other],
    }
}

struct Planner<'p, 'a> {
    cx: PlanContext<'p>,
    filter: &'a Filter,
}

impl Planner<'_, '_> {
    fn sort_cost(&self, rows: f64) -> f64 {
        self.cx.sort_cost(rows)
    }

    fn full_scan(&self) -> Candidate {
        let ordered = self.cx.sort.is_empty();
        let total = self.cx.total;
        let mut rows = total;
        if ordered {
            if let Some(needed) = self.cx.needed {
                // Stops early once enough matches are found.
                let selectivity = filter_selectivity(self.filter);
                rows = rows.min(needed as f64 / selectivity.max(1.0 / total.max(1.0)));
            }
        }
        Candidate {
            access: Access::FullScan,
            estimated_rows: rows,
            cost: rows * COST_SCAN_DOC + self.sort_cost(total * filter_selectivity(self.filter)),
            ordered,
        }
    }

    /// The primary key serving the `_id` conditions among `conjuncts`: equality is a few
    /// point reads (cheaper than any index, which would fetch the same documents after
    /// reading entries); a range is a part of the full scan, read in the same order.
    fn primary_key(&self, conjuncts: &[&Filter]) -> Option<Candidate> {
        let access = key_access(conjuncts)?;
        if matches!(access, KeyAccess::Points(_)) {
            return self.primary_key_points(access);
        }
        let id_path = id_path()?;
        let ordered = self.cx.sort.is_empty() || self.sorts_by_id(id_path);
        let in_range = access.estimated_rows(self.cx.total, DEFAULT_SELECTIVITY);
        let residual = residual_selectivity(conjuncts, std::slice::from_ref(id_path));
        let mut rows = in_range;
        let mut cost_sort = self.sort_cost(in_range * residual);
        if ordered {
            cost_sort = 0.0;
            if let Some(needed) = self.cx.needed {
                // Stops early once enough matches are found, like a full scan.
                rows = rows.min(needed as f64 / residual);
            }
        }
        let cost = rows * COST_SCAN_DOC + cost_sort;
        Some(Candidate {
            access: Access::PrimaryKey(access),
            estimated_rows: rows,
            cost,
            ordered,
        })
    }

    /// Point reads of `_id`s: one fetch each, in key order.
    fn primary_key_points(&self, access: KeyAccess) -> Option<Candidate> {
        let KeyAccess::Points(keys) = &access else {
            return None;
        };
        let rows = keys.len() as f64;
        let ordered = self.cx.sort.is_empty() || id_path().is_some_and(|id| self.sorts_by_id(id));
        Some(Candidate {
            cost: rows * COST_FETCH_DOC + if ordered { 0.0 } else { self.sort_cost(rows) },
            estimated_rows: rows,
            ordered,
            access: Access::PrimaryKey(access),
        })
    }

    /// Whether the query sorts by `_id` ascending alone: then document key order is the
    /// sort order, because sort keys encode ids (numbers, then strings with an
    /// order-preserving escape, then UUIDs) in the same order as `DocId` keys.
    fn sorts_by_id(&self, id_path: &FieldPath) -> bool {
        self.cx.sort.len() == 1 && sort_matches(std::slice::from_ref(id_path), self.cx.sort)
    }

    fn intersection(&self, a: &Candidate, b: &Candidate) -> Candidate {
        let both = (a.estimated_rows * b.estimated_rows / self.cx.total.max(1.0)).max(1.0);
        let cost = (a.estimated_rows + b.estimated_rows) * COST_INDEX_ENTRY
            + both * COST_FETCH_DOC
            + self.sort_cost(both);
        Candidate {
            access: Access::Intersect(Box::new(a.access.clone()), Box::new(b.access.clone())),
            estimated_rows: both,
            cost,
            ordered: false,
        }
    }

    fn union(
        &mut self,
        methods: &[Arc<dyn AccessMethod>],
        branches: &[Filter],
    ) -> Result<Option<Candidate>> {
        let mut parts = Vec::with_capacity(branches.len());
        let mut rows = 0.0;
        for branch in branches {
            let branch_conjuncts = conjuncts(branch);
            // `_id` point reads serve a branch too (a range would be read twice: once for
            // its keys, once to fetch, so ranges are left to the index paths).
            let mut best: Option<Candidate> = match key_access(&branch_conjuncts) {
                Some(access @ KeyAccess::Points(_)) => self.primary_key_points(access),
                _ => None,
            };
            for method in methods {
                for path in method.paths(&mut self.cx, &branch_conjuncts)? {
                    if path.narrows && best.as_ref().is_none_or(|b| path.cost < b.cost) {
                        best = Some(Candidate::of(path));
                    }
                }
            }
            let Some(best) = best else { return Ok(None) };
            rows += best.estimated_rows;
            parts.push(best.access);
        }
        Ok(Some(Candidate {
            access: Access::Union(parts),
            estimated_rows: rows,
            cost: rows * (COST_INDEX_ENTRY + COST_FETCH_DOC) + self.sort_cost(rows),
            ordered: false,
        }))
    }
}
