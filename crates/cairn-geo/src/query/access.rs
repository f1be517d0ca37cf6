//! The spatial index as an access method: which conditions it serves, what a search would
//! cost (its probe is the search itself, stopped after [`SPATIAL_PROBE_CAP`] candidates, and
//! a complete probe is reused by the executor), the keys it finds, and when those keys decide
//! the filter without fetching documents.

use std::collections::HashSet;
use std::sync::Arc;

use cairn_doc::{FieldPath, Geometry};
use cairn_query::access::{
    registered_on, AccessMethod, Fetcher, FieldOperator, IndexPath, Path, PlanContext, Ranked,
    ScanContext, COST_FETCH_DOC, COST_INDEX_ENTRY,
};
use cairn_query::{Filter, Op, Result};

use super::near;
use super::ops::GeoOp;
use crate::index::limits::SPATIAL_PROBE_CAP;
use crate::index::{SearchStats, SpatialHandle, Visit};
use crate::primitive::{Aabb, Primitive};

/// One ready spatial index.
pub(crate) struct SpatialAccess {
    pub(crate) handle: SpatialHandle,
}

impl AccessMethod for SpatialAccess {
    fn name(&self) -> &str {
        &self.handle.spec.name
    }

    /// Serves the first geometric condition on its field other than `$near` (which ranks).
    fn paths(&self, cx: &mut PlanContext<'_>, conjuncts: &[&Filter]) -> Result<Vec<Path>> {
        let served = registered_on(conjuncts, &self.handle.spec.field)
            .filter_map(|op| op.as_any().downcast_ref::<GeoOp>())
            .find(|g| !matches!(g, GeoOp::Near { .. }))
            .cloned();
        let Some(geo) = served else {
            return Ok(Vec::new());
        };
        Ok(vec![self.probe(cx, geo)?])
    }

    fn ranks(&self, field: &FieldPath, op: &dyn FieldOperator) -> bool {
        *field == self.handle.spec.field
            && matches!(
                op.as_any().downcast_ref::<GeoOp>(),
                Some(GeoOp::Near { .. })
            )
    }

    fn rank(
        &self,
        fetch: &mut Fetcher<'_, '_>,
        _: &FieldPath,
        op: &dyn FieldOperator,
        k: usize,
    ) -> Result<Ranked> {
        let Some(GeoOp::Near { shape, max, .. }) = op.as_any().downcast_ref::<GeoOp>() else {
            return Err(cairn_query::QueryError::invalid(
                op.name(),
                "a spatial index ranks by `$near` only",
            ));
        };
        near::nearest(fetch, &self.handle, shape, *max, k)
    }
}

impl SpatialAccess {
    /// The path serving `geo`, estimated by searching up to [`SPATIAL_PROBE_CAP`] candidate
    /// parts (past that, half the collection).
    fn probe(&self, cx: &mut PlanContext<'_>, geo: GeoOp) -> Result<Path> {
        let shape_box = crate::bbox(geo.shape());
        let (query, test, ball) = match geo {
            GeoOp::WithinDistance { shape, max } => (
                shape_box.expanded(max),
                SpatialTest::WithinDistance(shape, max),
                Some((shape_box, max)),
            ),
            GeoOp::Intersects { shape } => (shape_box, SpatialTest::Intersects(shape), None),
            _ => (shape_box, SpatialTest::BoxOnly, None),
        };
        let mut path = SpatialPath {
            handle: self.handle.clone(),
            query,
            test,
            ball,
            found: None,
        };
        // A small query's probe finds everything, and the executor reuses it.
        let mut matched = MatchedDocs::default();
        let mut tests = 0u64;
        let search = path.search(cx.txn, cx.collection, &mut |key, part| {
            let said = matched.offer(key, part, &path.test, &mut tests);
            Ok(match tests.max(matched.len() as u64) < SPATIAL_PROBE_CAP {
                true => said,
                false => Visit::Stop,
            })
        })?;
        let parts = search.candidates;
        let complete = parts < SPATIAL_PROBE_CAP;
        let keys = matched.into_sorted();
        let rows = if complete {
            keys.len() as f64
        } else {
            (cx.total * 0.5).max(SPATIAL_PROBE_CAP as f64)
        };
        if complete {
            path.found = Some(Arc::new(Found {
                keys,
                search,
                exact_tests: tests,
            }));
        }
        Ok(Path {
            scan: Arc::new(path),
            estimated_rows: rows,
            cost: parts as f64 * COST_INDEX_ENTRY + rows * COST_FETCH_DOC + cx.sort_cost(rows),
            ordered: false,
            narrows: true,
        })
    }
}

/// Counts what a spatial-index search read into the execution's counters; its entries count
/// as keys examined.
pub(crate) fn count_search(cx: &mut ScanContext<'_>, search: &SearchStats) {
    cx.keys_examined(search.entries);
    cx.count("spatial_candidates", search.candidates);
    cx.count("spatial_bucket_hits", search.bucket_hits);
    cx.count("spatial_bucket_loads", search.bucket_loads);
    cx.count("spatial_seeks", search.seeks);
    cx.count("spatial_resident", search.resident);
}

/// The exact test a spatial index applies to each candidate part. A document matches a
/// geometric condition when one of its parts does (`$withinDistance`, `$intersects`), so
/// these tests find exactly the matching documents; `$within` needs every part inside, so it
/// only narrows by box and leaves the decision to the filter.
#[derive(Debug, Clone)]
enum SpatialTest {
    /// Exact distance to the shape at most the bound.
    WithinDistance(Geometry, f64),
    /// Exact distance to the shape is 0.
    Intersects(Geometry),
    /// Bounding-box overlap only.
    BoxOnly,
}

impl SpatialTest {
    /// Whether a candidate part passes; counts the exact tests in `tests`.
    fn passes(&self, part: &Primitive, tests: &mut u64) -> bool {
        match self {
            SpatialTest::WithinDistance(shape, max) => {
                *tests += 1;
                crate::distance::primitive_to_geometry(part, shape) <= *max
            }
            SpatialTest::Intersects(shape) => {
                *tests += 1;
                crate::distance::primitive_to_geometry(part, shape) == 0.0
            }
            SpatialTest::BoxOnly => true,
        }
    }
}

/// The outcome of a complete spatial search: the documents whose parts passed the exact test
/// (sorted) and what finding them cost.
#[derive(Debug)]
struct Found {
    keys: Vec<Vec<u8>>,
    search: SearchStats,
    exact_tests: u64,
}

/// Parts a spatial index finds in a box, each tested exactly before its document is fetched.
#[derive(Debug)]
struct SpatialPath {
    handle: SpatialHandle,
    /// Parts whose bounding box overlaps this box are candidates.
    query: Aabb,
    /// The exact test a candidate part must pass.
    test: SpatialTest,
    /// For a distance test, the shape's box and the distance: only grid blocks within it of
    /// the box are read (a ball, not the whole query box).
    ball: Option<(Aabb, f64)>,
    /// What the planner's probe already found, when it read the whole box (small queries).
    found: Option<Arc<Found>>,
}

impl SpatialPath {
    /// Searches the query box, or only the ball it bounds when there is one.
    fn search(
        &self,
        txn: &mut cairn_engine::Transaction,
        collection: &str,
        visit: &mut dyn FnMut(&[u8], &Primitive) -> crate::Result<Visit>,
    ) -> crate::Result<SearchStats> {
        match &self.ball {
            Some((around, radius)) => self
                .handle
                .search_near(txn, collection, around, *radius, visit),
            None => self.handle.search(txn, collection, &self.query, visit),
        }
    }
}

impl IndexPath for SpatialPath {
    fn describe(&self) -> String {
        let what = match self.test {
            SpatialTest::WithinDistance(..) => "$withinDistance",
            SpatialTest::Intersects(_) => "$intersects",
            SpatialTest::BoxOnly => "$within",
        };
        format!(
            "spatial index `{}` on `{}` ({what}, exact test per part)",
            self.handle.spec.name, self.handle.spec.field
        )
    }

    fn keys(&self, cx: &mut ScanContext<'_>) -> Result<Vec<Vec<u8>>> {
        if let Some(found) = &self.found {
            count_search(cx, &found.search);
            cx.count("exact_tests", found.exact_tests);
            return Ok(found.keys.clone());
        }
        let mut matched = MatchedDocs::default();
        let mut tests = 0u64;
        let search = self.search(cx.txn, cx.collection, &mut |key, part| {
            Ok(matched.offer(key, part, &self.test, &mut tests))
        })?;
        count_search(cx, &search);
        cx.count("exact_tests", tests);
        Ok(matched.into_sorted())
    }

    fn may_repeat(&self) -> bool {
        false
    }

    /// A search with an exact per-part test (`$withinDistance`, `$intersects`) decides a
    /// filter that is that one condition on the index's field: a document matches when one
    /// of its parts passes, which is what the search tested on the parts the index stores.
    fn decides(&self, filter: &Filter) -> bool {
        let filter = match filter {
            Filter::And(items) if items.len() == 1 => &items[0],
            other => other,
        };
        let Filter::Field(path, ops) = filter else {
            return false;
        };
        let [Op::Registered(op)] = ops.as_slice() else {
            return false;
        };
        if *path != self.handle.spec.field {
            return false;
        }
        match (op.as_any().downcast_ref::<GeoOp>(), &self.test) {
            (Some(GeoOp::WithinDistance { shape, max }), SpatialTest::WithinDistance(s, m)) => {
                shape == s && max == m
            }
            (Some(GeoOp::Intersects { shape }), SpatialTest::Intersects(s)) => shape == s,
            _ => false,
        }
    }
}

/// The documents a spatial search has matched so far. A document matches once one of its
/// parts passes, so the parts of a matched document are not tested again (a mesh's triangles
/// near the query would each pass), and each document is kept once.
#[derive(Default)]
struct MatchedDocs {
    keys: HashSet<Vec<u8>, foldhash::fast::RandomState>,
    /// The last document matched: searches hand a document's parts mostly one after
    /// another, so most parts of a matched document are skipped without hashing its key.
    last: Vec<u8>,
}

impl MatchedDocs {
    /// Tests `part` of the document stored under `key`, unless that document already
    /// matched; counts the exact tests in `tests`. Tells the search whether it may skip the
    /// document's other parts (it has matched).
    fn offer(
        &mut self,
        key: &[u8],
        part: &Primitive,
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
    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The matched documents' keys, sorted.
    fn into_sorted(self) -> Vec<Vec<u8>> {
        let mut keys: Vec<Vec<u8>> = self.keys.into_iter().collect();
        keys.sort_unstable();
        keys
    }
}
