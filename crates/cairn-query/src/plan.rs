//! The planner: chooses how to find a query's documents.
//!
//! Access paths considered:
//! * full scan of the collection in `_id` order;
//! * the primary key, for top-level `_id` conditions: point reads for `$eq`/`$in`, a key
//!   range (within one id type) for `$gt`/`$gte`/`$lt`/`$lte` (see [`crate::primary_key`]),
//!   in `_id` order (serving an ascending `_id` sort); equality costs a few fetches, so it
//!   beats every other path; `_id` point reads also serve `$or` branches in a union;
//! * one index: equality on a leftmost prefix of its fields (several prefixes for `$in`), then
//!   optionally a range on the next field; a hash index needs equality on every field;
//! * an ordered full scan of a B-tree index whose fields match the sort (no filter needed);
//! * intersection of the two cheapest single-index paths;
//! * union of per-branch index paths for a top-level `$or`.
//!
//! Each is costed from estimated rows: an exact count when an index range holds fewer than
//! [`PROBE_CAP`] entries, otherwise the index's histogram and distinct counts (see
//! `cairn_index::stats`). Costs are in units of "one document read in a sequential scan".
//! The executor re-checks the whole filter on every fetched document, so an index only has
//! to find a superset of the matches: plans differ in speed, never in results.

use std::ops::Bound;
use std::sync::Arc;

use cairn_doc::{FieldPath, Geometry, Value};
use cairn_engine::Transaction;
use cairn_geo::index::{spatial_indexes, SpatialHandle, Visit};
use cairn_geo::Aabb;
use cairn_index::keys::{self, TAG_FALSE, TAG_TRUE};
use cairn_index::{IndexHandle, IndexKind, IndexScan};

use crate::error::Result;
use crate::filter::geo::GeoOp;
use crate::filter::{Filter, Op};
use crate::key_bounds::{as_slice, tighter_lower, tighter_upper};
use crate::limits::{MAX_IN_LIST, PROBE_CAP, SPATIAL_PROBE_CAP};
use crate::primary_key::{id_path, key_access, KeyAccess};
use crate::query::SortKey;

/// Cost of reading one document in a sequential scan (decode and filter included).
const COST_SCAN_DOC: f64 = 1.0;
/// Cost of reading one index entry.
const COST_INDEX_ENTRY: f64 = 0.15;
/// Cost of fetching one document by key (a B-tree descent plus decode).
const COST_FETCH_DOC: f64 = 2.5;
/// Cost per comparison of an in-memory sort.
const COST_SORT_COMPARE: f64 = 0.02;
/// Selectivity assumed for a condition no index or statistic describes.
const DEFAULT_SELECTIVITY: f64 = 0.33;

/// How documents are found.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every document, in `_id` order.
    FullScan,
    /// Documents read by their primary key (`_id`), in `_id` order.
    PrimaryKey(KeyAccess),
    /// Entries of one index in these scans, in order.
    Index {
        /// The index.
        index: String,
        /// The scans, each in index order; together they give index order when `ordered`.
        scans: Vec<IndexScan>,
        /// Whether documents come out in the query's sort order.
        ordered: bool,
        /// Whether one document may appear more than once (multikey, overlapping scans).
        may_repeat: bool,
    },
    /// Documents found by both sides.
    Intersect(Box<Access>, Box<Access>),
    /// Documents found by any side.
    Union(Vec<Access>),
    /// Parts a spatial index finds in a box, each tested exactly before its document is
    /// fetched.
    Spatial {
        /// The index.
        handle: SpatialHandle,
        /// Parts whose bounding box overlaps this box are candidates.
        query: Aabb,
        /// The exact test a candidate part must pass.
        test: SpatialTest,
        /// For a distance test, the shape's box and the distance: only grid blocks within it
        /// of the box are read (a ball, not the whole query box).
        ball: Option<Box<(Aabb, f64)>>,
        /// What the planner's probe already found, when it read the whole box (small
        /// queries): the executor then reuses it instead of searching again.
        found: Option<Arc<SpatialFound>>,
    },
}

/// The outcome of a complete spatial search: the documents whose parts passed the exact test
/// (unsorted, possibly repeated) and what finding them cost.
#[derive(Debug, Clone, Default)]
pub struct SpatialFound {
    /// Keys of the documents with a passing part.
    pub keys: Vec<Vec<u8>>,
    /// What the index search read (entries, candidate parts, cache use).
    pub search: cairn_geo::index::SearchStats,
    /// Exact tests performed.
    pub exact_tests: u64,
}

impl SpatialTest {
    /// Whether a candidate part passes; counts the exact tests in `tests`.
    pub fn passes(&self, part: &cairn_geo::Primitive, tests: &mut u64) -> bool {
        match self {
            SpatialTest::WithinDistance(shape, max) => {
                *tests += 1;
                cairn_geo::distance::primitive_to_geometry(part, shape) <= *max
            }
            SpatialTest::Intersects(shape) => {
                *tests += 1;
                cairn_geo::distance::primitive_to_geometry(part, shape) == 0.0
            }
            SpatialTest::BoxOnly => true,
        }
    }
}

/// The documents a spatial search has matched so far. A document matches once one of its
/// parts passes, so the parts of a matched document are not tested again (a mesh's triangles
/// near the query would each pass), and each document is kept once.
#[derive(Default)]
pub(crate) struct MatchedDocs {
    keys: std::collections::HashSet<Vec<u8>, foldhash::fast::RandomState>,
    /// The last document matched: searches hand a document's parts mostly one after
    /// another, so most parts of a matched document are skipped without hashing its key.
    last: Vec<u8>,
}

impl MatchedDocs {
    /// Tests `part` of the document stored under `key`, unless that document already
    /// matched; counts the exact tests in `tests`. Tells the search whether it may skip the
    /// document's other parts (it has matched).
    pub(crate) fn offer(
        &mut self,
        key: &[u8],
        part: &cairn_geo::Primitive,
        test: &SpatialTest,
        tests: &mut u64,
    ) -> Visit {
        if (!self.last.is_empty() && key == self.last.as_slice()) || self.keys.contains(key) {
            return Visit::DocumentDone;
        }
        if !test.passes(part, tests) {
            return Visit::Next;
        }
        self.keys.insert(key.to_vec());
        self.last.clear();
        self.last.extend_from_slice(key);
        Visit::DocumentDone
    }

    /// Documents matched.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The matched documents' keys, sorted.
    pub(crate) fn into_sorted(self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self.keys.into_iter().collect();
        keys.sort_unstable();
        keys
    }
}

/// The exact test a spatial index applies to each candidate part. A document matches a
/// geometric condition when one of its parts does (`$withinDistance`, `$intersects`), so
/// these tests find exactly the matching documents; `$within` needs every part inside, so it
/// only narrows by box and leaves the decision to the filter.
#[derive(Debug, Clone)]
pub enum SpatialTest {
    /// Exact distance to the shape at most the bound.
    WithinDistance(Geometry, f64),
    /// Exact distance to the shape is 0.
    Intersects(Geometry),
    /// Bounding-box overlap only.
    BoxOnly,
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

impl Access {
    /// A one-line description for `explain`.
    pub fn describe(&self) -> String {
        match self {
            Access::FullScan => "full scan".to_string(),
            Access::PrimaryKey(keys) => keys.describe(),
            Access::Index {
                index,
                scans,
                ordered,
                ..
            } => {
                let what = if scans.len() == 1 && is_full_range(&scans[0]) {
                    "full index scan"
                } else if scans.iter().all(is_point) {
                    "index equality"
                } else {
                    "index range"
                };
                let order = if *ordered { ", provides sort" } else { "" };
                format!("{what} on `{index}` ({} scan(s){order})", scans.len())
            }
            Access::Intersect(a, b) => {
                format!("intersection of [{}] and [{}]", a.describe(), b.describe())
            }
            Access::Spatial { handle, test, .. } => {
                let what = match test {
                    SpatialTest::WithinDistance(..) => "$withinDistance",
                    SpatialTest::Intersects(_) => "$intersects",
                    SpatialTest::BoxOnly => "$within",
                };
                format!(
                    "spatial index `{}` on `{}` ({what}, exact test per part)",
                    handle.spec.name, handle.spec.field
                )
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

fn is_full_range(scan: &IndexScan) -> bool {
    matches!(
        scan,
        IndexScan::Range {
            lower: Bound::Unbounded,
            upper: Bound::Unbounded
        }
    )
}

fn is_point(scan: &IndexScan) -> bool {
    match scan {
        IndexScan::HashEqual { .. } => true,
        IndexScan::Range {
            lower: Bound::Included(l),
            upper: Bound::Included(u),
        } => l == u,
        _ => false,
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

/// Plans a query: every candidate considered, cheapest first.
pub fn plan(
    txn: &mut Transaction,
    collection: &str,
    indexes: &[IndexHandle],
    input: &PlanInput<'_>,
) -> Result<Vec<Candidate>> {
    let total = txn.document_count(collection)? as f64;
    let mut planner = Planner {
        txn,
        collection,
        total,
        input,
    };
    let conjuncts = conjuncts(input.filter);
    // First, so that it wins ties (the stable sort below keeps it ahead).
    let mut candidates: Vec<Candidate> = planner.primary_key(&conjuncts).into_iter().collect();
    candidates.push(planner.full_scan());
    let mut singles = Vec::new();
    for index in indexes.iter().filter(|i| i.ready) {
        if let Some(candidate) = planner.index_candidate(index, &conjuncts)? {
            singles.push(candidate);
        }
        if let Some(candidate) = planner.ordered_full_index(index, &conjuncts)? {
            candidates.push(candidate);
        }
    }
    singles.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    if singles.len() >= 2 {
        candidates.push(planner.intersection(&singles[0], &singles[1]));
    }
    candidates.extend(singles);
    if let Filter::Or(branches) = input.filter {
        if let Some(union) = planner.union(indexes, branches)? {
            candidates.push(union);
        }
    }
    if conjuncts.iter().any(|c| geo_ops(c).next().is_some()) {
        for handle in spatial_indexes(planner.txn, collection)?
            .into_iter()
            .filter(|h| h.ready)
        {
            if let Some(candidate) = planner.spatial_candidate(handle, &conjuncts)? {
                candidates.push(candidate);
            }
        }
    }
    candidates.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    Ok(candidates)
}

/// The top-level conjuncts of a filter.
fn conjuncts(filter: &Filter) -> Vec<&Filter> {
    match filter {
        Filter::And(parts) => parts.iter().flat_map(conjuncts).collect(),
        Filter::All => Vec::new(),
        other => vec![other],
    }
}

/// What the conjuncts say about one field that an index can use.
#[derive(Default)]
struct FieldConstraint {
    /// Equal to one of these (`$eq`/`$in`), if constrained so.
    equal: Option<Vec<Value>>,
    /// Range bounds on encoded values.
    lower: Option<Bound<Vec<u8>>>,
    upper: Option<Bound<Vec<u8>>>,
    /// Range operators seen (for the multikey rule: only one bound may be used).
    ranges: usize,
}

fn constraint_for(conjuncts: &[&Filter], path: &FieldPath, multikey: bool) -> FieldConstraint {
    let mut c = FieldConstraint::default();
    for conjunct in conjuncts {
        let Filter::Field(p, ops) = conjunct else {
            continue;
        };
        if p != path {
            continue;
        }
        for op in ops {
            match op {
                Op::Eq(v) if indexable(v) && c.equal.is_none() => c.equal = Some(vec![v.clone()]),
                Op::In(vs) if vs.iter().all(indexable) && c.equal.is_none() => {
                    c.equal = Some(vs.clone())
                }
                Op::Gt(v) | Op::Gte(v) | Op::Lt(v) | Op::Lte(v) if !v.is_null() && !is_nan(v) => {
                    if multikey && c.ranges > 0 {
                        continue;
                    }
                    c.ranges += 1;
                    add_range(&mut c, op, v);
                }
                _ => {}
            }
        }
    }
    c
}

fn is_nan(v: &Value) -> bool {
    matches!(v, Value::Float(f) if f.is_nan())
}

/// Equality operands an index can look up: arrays match by element *or* as a whole, so they
/// are left to a scan.
fn indexable(v: &Value) -> bool {
    !matches!(v, Value::Array(_))
}

/// The bounds of a value's type bracket, as tuple prefixes.
fn bracket_bounds(v: &Value) -> (Vec<u8>, Vec<u8>) {
    let tag = keys::bracket(v);
    let end = if tag == TAG_FALSE {
        TAG_TRUE + 1
    } else {
        tag + 1
    };
    (vec![tag], vec![end])
}

fn add_range(c: &mut FieldConstraint, op: &Op, v: &Value) {
    let encoded = keys::encode_to_vec(v);
    let (bracket_start, bracket_end) = bracket_bounds(v);
    let (lower, upper) = match op {
        Op::Gt(_) => (Bound::Excluded(encoded), Bound::Excluded(bracket_end)),
        Op::Gte(_) => (Bound::Included(encoded), Bound::Excluded(bracket_end)),
        Op::Lt(_) => (Bound::Included(bracket_start), Bound::Excluded(encoded)),
        _ => (Bound::Included(bracket_start), Bound::Included(encoded)),
    };
    c.lower = Some(match c.lower.take() {
        None => lower,
        Some(existing) => tighter_lower(existing, lower),
    });
    c.upper = Some(match c.upper.take() {
        None => upper,
        Some(existing) => tighter_upper(existing, upper),
    });
}

struct Planner<'p, 'a> {
    txn: &'p mut Transaction,
    collection: &'p str,
    total: f64,
    input: &'p PlanInput<'a>,
}

impl Planner<'_, '_> {
    fn sort_cost(&self, rows: f64) -> f64 {
        if self.input.sort.is_empty() || rows < 2.0 {
            return 0.0;
        }
        rows * rows.log2() * COST_SORT_COMPARE
    }

    fn full_scan(&self) -> Candidate {
        let ordered = self.input.sort.is_empty();
        let mut rows = self.total;
        if ordered {
            if let Some(needed) = self.input.needed {
                // Stops early once enough matches are found.
                let selectivity = filter_selectivity(self.input.filter);
                rows = rows.min(needed as f64 / selectivity.max(1.0 / self.total.max(1.0)));
            }
        }
        Candidate {
            access: Access::FullScan,
            estimated_rows: rows,
            cost: rows * COST_SCAN_DOC
                + self.sort_cost(self.total * filter_selectivity(self.input.filter)),
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
        let ordered = self.input.sort.is_empty() || self.sorts_by_id(id_path);
        let in_range = access.estimated_rows(self.total, DEFAULT_SELECTIVITY);
        let residual = residual_selectivity(conjuncts, std::slice::from_ref(id_path));
        let mut rows = in_range;
        let mut cost_sort = self.sort_cost(in_range * residual);
        if ordered {
            cost_sort = 0.0;
            if let Some(needed) = self.input.needed {
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
        let ordered =
            self.input.sort.is_empty() || id_path().is_some_and(|id| self.sorts_by_id(id));
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
        self.input.sort.len() == 1 && sort_matches(std::slice::from_ref(id_path), self.input.sort)
    }

    /// Equality prefix (and maybe one range) on `index`.
    fn index_candidate(
        &mut self,
        index: &IndexHandle,
        conjuncts: &[&Filter],
    ) -> Result<Option<Candidate>> {
        let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
        let mut equal_fields = 0;
        let mut range = None;
        for path in &index.spec.fields {
            let c = constraint_for(conjuncts, path, index.multikey);
            if let Some(values) = c.equal {
                if prefixes.len() * values.len() > MAX_IN_LIST {
                    break;
                }
                let mut encoded: Vec<Vec<u8>> = values.iter().map(keys::encode_to_vec).collect();
                encoded.sort();
                encoded.dedup();
                prefixes = prefixes
                    .iter()
                    .flat_map(|p| encoded.iter().map(move |e| [p.as_slice(), e].concat()))
                    .collect();
                equal_fields += 1;
                continue;
            }
            if index.spec.kind == IndexKind::BTree && (c.lower.is_some() || c.upper.is_some()) {
                range = Some((
                    c.lower.unwrap_or(Bound::Unbounded),
                    c.upper.unwrap_or(Bound::Unbounded),
                ));
            }
            break;
        }
        if equal_fields == 0 && range.is_none() {
            return Ok(None);
        }
        let scans: Vec<IndexScan> = match index.spec.kind {
            IndexKind::Hash if equal_fields == index.spec.fields.len() => prefixes
                .into_iter()
                .map(|tuple| IndexScan::HashEqual { tuple })
                .collect(),
            IndexKind::Hash => return Ok(None),
            IndexKind::BTree => prefixes
                .into_iter()
                .map(|prefix| match &range {
                    None => IndexScan::prefix(prefix),
                    Some((lower, upper)) => IndexScan::Range {
                        lower: prefixed(&prefix, lower),
                        upper: prefixed(&prefix, upper),
                    },
                })
                .collect(),
        };
        let rows = self.estimate(index, &scans, equal_fields)?;
        let ordered = index.spec.kind == IndexKind::BTree
            && !index.multikey
            && scans.len() == 1
            && sort_matches(&index.spec.fields[equal_fields..], self.input.sort);
        let mut cost = rows * (COST_INDEX_ENTRY + COST_FETCH_DOC);
        if ordered {
            if let Some(needed) = self.input.needed {
                let selectivity = residual_selectivity(
                    conjuncts,
                    &index.spec.fields[..equal_fields.min(index.spec.fields.len())],
                );
                cost =
                    cost.min((needed as f64 / selectivity) * (COST_INDEX_ENTRY + COST_FETCH_DOC));
            }
        } else {
            cost += self.sort_cost(rows);
        }
        Ok(Some(Candidate {
            access: Access::Index {
                index: index.spec.name.clone(),
                scans,
                ordered,
                may_repeat: index.multikey,
            },
            estimated_rows: rows,
            cost,
            ordered,
        }))
    }

    /// A whole B-tree index read in order, when it provides the requested sort.
    fn ordered_full_index(
        &mut self,
        index: &IndexHandle,
        conjuncts: &[&Filter],
    ) -> Result<Option<Candidate>> {
        if self.input.sort.is_empty()
            || index.spec.kind != IndexKind::BTree
            || index.multikey
            || !sort_matches(&index.spec.fields, self.input.sort)
        {
            return Ok(None);
        }
        let selectivity = residual_selectivity(conjuncts, &[]);
        let rows = match self.input.needed {
            Some(needed) => self.total.min(needed as f64 / selectivity),
            None => self.total,
        };
        Ok(Some(Candidate {
            access: Access::Index {
                index: index.spec.name.clone(),
                scans: vec![IndexScan::Range {
                    lower: Bound::Unbounded,
                    upper: Bound::Unbounded,
                }],
                ordered: true,
                may_repeat: false,
            },
            estimated_rows: rows,
            cost: rows * (COST_INDEX_ENTRY + COST_FETCH_DOC),
            ordered: true,
        }))
    }

    fn estimate(
        &mut self,
        index: &IndexHandle,
        scans: &[IndexScan],
        equal_fields: usize,
    ) -> Result<f64> {
        let mut rows = 0.0;
        let mut stats = None;
        for scan in scans {
            let counted = index.count_up_to(self.txn, self.collection, scan, PROBE_CAP)?;
            if counted < PROBE_CAP {
                rows += counted as f64;
                continue;
            }
            if stats.is_none() {
                stats = Some(index.stats(self.txn, self.collection)?);
            }
            let Some(stats) = &stats else { continue };
            let estimate = match scan {
                IndexScan::HashEqual { .. } => stats.estimate_equal(index.spec.fields.len()),
                IndexScan::Range { .. } if is_point(scan) => stats.estimate_equal(equal_fields),
                IndexScan::Range { lower, upper } => {
                    stats.estimate_range(as_slice(lower), as_slice(upper))
                }
            };
            rows += estimate.max(PROBE_CAP as f64);
        }
        Ok(rows)
    }

    /// A spatial index serving the first geometric condition on its field. Estimated by
    /// counting candidate parts up to [`SPATIAL_PROBE_CAP`] (past that, half the collection).
    fn spatial_candidate(
        &mut self,
        handle: SpatialHandle,
        conjuncts: &[&Filter],
    ) -> Result<Option<Candidate>> {
        let found = conjuncts.iter().find_map(|c| match c {
            Filter::Field(path, _) if *path == handle.spec.field => geo_ops(c)
                .find(|g| !matches!(g, GeoOp::Near { .. }))
                .cloned(),
            _ => None,
        });
        let Some(geo) = found else { return Ok(None) };
        let shape_box = cairn_geo::bbox(geo.shape());
        let (query, test, ball) = match geo {
            GeoOp::WithinDistance { shape, max } => (
                shape_box.expanded(max),
                SpatialTest::WithinDistance(shape, max),
                Some(Box::new((shape_box, max))),
            ),
            GeoOp::Intersects { shape } => (shape_box, SpatialTest::Intersects(shape), None),
            _ => (shape_box, SpatialTest::BoxOnly, None),
        };
        // The probe is the search itself, stopped after SPATIAL_PROBE_CAP candidates: a small query's
        // probe finds everything, and the executor reuses it.
        let mut found = SpatialFound::default();
        let mut matched = MatchedDocs::default();
        let mut tests = 0u64;
        let stats = spatial_search(
            &handle,
            self.txn,
            self.collection,
            &query,
            ball.as_deref(),
            &mut |key, part| {
                let said = matched.offer(key, part, &test, &mut tests);
                Ok(match tests.max(matched.len() as u64) < SPATIAL_PROBE_CAP {
                    true => said,
                    false => Visit::Stop,
                })
            },
        )?;
        found.keys = matched.into_sorted();
        let parts = stats.candidates;
        let complete = parts < SPATIAL_PROBE_CAP;
        let rows = if complete {
            found.keys.len() as f64
        } else {
            (self.total * 0.5).max(SPATIAL_PROBE_CAP as f64)
        };
        found.search = stats;
        found.exact_tests = tests;
        Ok(Some(Candidate {
            access: Access::Spatial {
                handle,
                query,
                test,
                ball,
                found: complete.then(|| Arc::new(found)),
            },
            estimated_rows: rows,
            cost: parts as f64 * COST_INDEX_ENTRY + rows * COST_FETCH_DOC + self.sort_cost(rows),
            ordered: false,
        }))
    }

    fn intersection(&self, a: &Candidate, b: &Candidate) -> Candidate {
        let both = (a.estimated_rows * b.estimated_rows / self.total.max(1.0)).max(1.0);
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

    fn union(&mut self, indexes: &[IndexHandle], branches: &[Filter]) -> Result<Option<Candidate>> {
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
            for index in indexes.iter().filter(|i| i.ready) {
                if let Some(c) = self.index_candidate(index, &branch_conjuncts)? {
                    if best.as_ref().is_none_or(|b| c.cost < b.cost) {
                        best = Some(c);
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

/// Puts an equality prefix in front of a range bound on the next field.
/// Either side works alike: `Included(prefix)` keeps exactly the tuples that begin with it.
fn prefixed(prefix: &[u8], bound: &Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    match bound {
        Bound::Included(k) => Bound::Included([prefix, k].concat()),
        Bound::Excluded(k) => Bound::Excluded([prefix, k].concat()),
        // No bound on the next field: the prefix itself bounds the scan.
        Bound::Unbounded if prefix.is_empty() => Bound::Unbounded,
        Bound::Unbounded => Bound::Included(prefix.to_vec()),
    }
}

/// Whether reading `fields` in ascending order yields the order `sort` asks for.
///
/// The sort must name *every* remaining index field: entries that tie on the sort are ordered
/// by the index's later fields before the document id, while a sort orders ties by `_id`. An
/// index on `(a, b)` therefore does not provide the sort `a` (ties on `a` come out by `b`).
fn sort_matches(fields: &[FieldPath], sort: &[SortKey]) -> bool {
    !sort.is_empty()
        && sort.len() == fields.len()
        && sort
            .iter()
            .zip(fields)
            .all(|(key, field)| !key.descending && &key.path == field)
}

/// A rough selectivity of a filter, for costing early-stopping scans.
fn filter_selectivity(filter: &Filter) -> f64 {
    match filter {
        Filter::All => 1.0,
        Filter::And(parts) => parts.iter().map(filter_selectivity).product(),
        Filter::Or(parts) => parts.iter().map(filter_selectivity).sum::<f64>().min(1.0),
        Filter::Nor(_) | Filter::Field(..) => DEFAULT_SELECTIVITY,
    }
}

/// Selectivity of the conjuncts an index does not already cover.
fn residual_selectivity(conjuncts: &[&Filter], covered: &[FieldPath]) -> f64 {
    conjuncts
        .iter()
        .filter(|c| !matches!(c, Filter::Field(p, _) if covered.contains(p)))
        .map(|c| filter_selectivity(c))
        .product::<f64>()
        .max(1e-6)
}

/// Searches `handle` over `query`, or only over the ball `ball` (shape box, distance) that
/// `query` bounds when there is one.
pub(crate) fn spatial_search(
    handle: &SpatialHandle,
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    query: &Aabb,
    ball: Option<&(Aabb, f64)>,
    visit: &mut dyn FnMut(&[u8], &cairn_geo::Primitive) -> cairn_geo::Result<Visit>,
) -> cairn_geo::Result<cairn_geo::index::SearchStats> {
    match ball {
        Some((around, radius)) => handle.search_near(txn, collection, around, *radius, visit),
        None => handle.search(txn, collection, query, visit),
    }
}

/// The geometric operators of a field condition.
fn geo_ops<'f>(filter: &'f Filter) -> impl Iterator<Item = &'f GeoOp> + 'f {
    let ops: &[Op] = match filter {
        Filter::Field(_, ops) => ops,
        _ => &[],
    };
    ops.iter().filter_map(|op| match op {
        Op::Geo(geo) => Some(&**geo),
        _ => None,
    })
}
