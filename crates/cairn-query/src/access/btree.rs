//! The built-in model: `cairn-index`'s B-tree and hash indexes as access methods.
//!
//! A path is equality on a leftmost prefix of the index's fields (several prefixes for
//! `$in`), then optionally a range on the next field (a hash index needs equality on every
//! field), or a whole B-tree index read in order when its fields are the sort. Rows are
//! estimated by counting the scans up to [`PROBE_CAP`] entries, past that from the index's
//! histogram and distinct counts (see `cairn-index/src/stats.rs`). Every found document is
//! re-checked against the filter, so a path only has to find a superset of the matches.

use std::ops::Bound;
use std::sync::{Arc, Mutex};

use cairn_doc::{FieldPath, Value};
use cairn_engine::{Direction, Transaction};
use cairn_index::keys::{self, TAG_FALSE, TAG_TRUE};
use cairn_index::{indexes, IndexHandle, IndexKind, IndexScan};

use super::{
    residual_selectivity, sort_direction, AccessMethod, IndexPath, OrderedBatch, Path, PlanContext,
    QueryModel, ScanContext, COST_FETCH_DOC, COST_INDEX_ENTRY,
};
use crate::error::Result;
use crate::filter::{Filter, Op};
use crate::key_bounds::{as_slice, tighter_lower, tighter_upper};
use crate::limits::{MAX_IN_LIST, PROBE_CAP};

/// The model of secondary indexes (kind `index`: B-tree and hash).
pub(crate) struct SecondaryIndexes;

impl QueryModel for SecondaryIndexes {
    fn name(&self) -> &'static str {
        "index"
    }

    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        _: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>> {
        Ok(indexes(txn, collection)?
            .into_iter()
            .filter(|index| index.ready)
            .map(|index| Arc::new(Secondary { index }) as Arc<dyn AccessMethod>)
            .collect())
    }
}

/// One ready secondary index.
struct Secondary {
    index: IndexHandle,
}

impl AccessMethod for Secondary {
    fn name(&self) -> &str {
        &self.index.spec.name
    }

    fn paths(&self, cx: &mut PlanContext<'_>, conjuncts: &[&Filter]) -> Result<Vec<Path>> {
        let mut paths: Vec<Path> = self.constrained(cx, conjuncts)?.into_iter().collect();
        paths.extend(self.ordered_full(cx, conjuncts));
        Ok(paths)
    }
}

impl Secondary {
    /// Equality prefix (and maybe one range) on the index.
    fn constrained(&self, cx: &mut PlanContext<'_>, conjuncts: &[&Filter]) -> Result<Option<Path>> {
        let index = &self.index;
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
        let (rows, probed) = self.estimate(cx, &scans, equal_fields)?;
        let direction =
            (index.spec.kind == IndexKind::BTree && !index.multikey && scans.len() == 1)
                .then(|| sort_direction(&index.spec.fields[equal_fields..], cx.sort))
                .flatten();
        let ordered = direction.is_some();
        let mut cost = rows * (COST_INDEX_ENTRY + COST_FETCH_DOC);
        if ordered {
            if let Some(needed) = cx.needed {
                let selectivity = residual_selectivity(
                    conjuncts,
                    &index.spec.fields[..equal_fields.min(index.spec.fields.len())],
                );
                cost =
                    cost.min((needed as f64 / selectivity) * (COST_INDEX_ENTRY + COST_FETCH_DOC));
            }
        } else {
            cost += cx.sort_cost(rows);
        }
        Ok(Some(Path {
            scan: Arc::new(SecondaryScan {
                index: index.clone(),
                scans,
                ordered,
                backward: direction == Some(Direction::Backward),
                exact_fields: if range.is_none() { equal_fields } else { 0 },
                expected_keys: rows as usize,
                probed: Mutex::new(probed),
            }),
            estimated_rows: rows,
            cost,
            ordered,
            narrows: true,
        }))
    }

    /// A whole B-tree index read in order, when it provides the requested sort.
    fn ordered_full(&self, cx: &PlanContext<'_>, conjuncts: &[&Filter]) -> Option<Path> {
        let index = &self.index;
        if index.spec.kind != IndexKind::BTree || index.multikey {
            return None;
        }
        let direction = sort_direction(&index.spec.fields, cx.sort)?;
        let selectivity = residual_selectivity(conjuncts, &[]);
        let rows = match cx.needed {
            Some(needed) => cx.total.min(needed as f64 / selectivity),
            None => cx.total,
        };
        Some(Path {
            scan: Arc::new(SecondaryScan {
                index: index.clone(),
                scans: vec![IndexScan::Range {
                    lower: Bound::Unbounded,
                    upper: Bound::Unbounded,
                }],
                ordered: true,
                backward: direction == Direction::Backward,
                exact_fields: 0,
                expected_keys: rows as usize,
                probed: Mutex::new(None),
            }),
            estimated_rows: rows,
            cost: rows * (COST_INDEX_ENTRY + COST_FETCH_DOC),
            ordered: true,
            narrows: false,
        })
    }

    /// The rows `scans` find: counted by reading up to [`PROBE_CAP`] entries of each, past
    /// that from the statistics. When every scan was read to its end, also the document keys
    /// they found (in scan order), which the execution then need not read again.
    fn estimate(
        &self,
        cx: &mut PlanContext<'_>,
        scans: &[IndexScan],
        equal_fields: usize,
    ) -> Result<(f64, Option<Vec<Vec<u8>>>)> {
        let index = &self.index;
        let mut rows = 0.0;
        let mut stats = None;
        let mut probed = Some(Vec::new());
        for scan in scans {
            let mut found = Vec::new();
            let mut counted = 0;
            index.scan(cx.txn, cx.collection, scan, |_, doc_key| {
                counted += 1;
                if counted < PROBE_CAP {
                    found.push(doc_key.to_vec());
                }
                Ok(counted < PROBE_CAP)
            })?;
            if counted < PROBE_CAP {
                rows += counted as f64;
                if let Some(keys) = &mut probed {
                    keys.append(&mut found);
                }
                continue;
            }
            probed = None;
            if stats.is_none() {
                stats = Some(index.stats(cx.txn, cx.collection)?);
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
        Ok((rows, probed))
    }
}

/// Most document keys an index read reserves up front from the planner's estimate.
const RESERVED_KEYS_MAX: usize = 4096;

/// Scans of one secondary index.
#[derive(Debug)]
struct SecondaryScan {
    index: IndexHandle,
    /// Each in index order; together in index order when `ordered` (one scan).
    scans: Vec<IndexScan>,
    ordered: bool,
    /// Ordered backwards (a descending sort): scans are read last to first, each from its end.
    backward: bool,
    /// The leading index fields whose `$eq`/`$in` values the scans look up exactly, when the
    /// path has no range (0 otherwise): what [`IndexPath::decides`] checks a filter against.
    exact_fields: usize,
    /// The planner's estimate of the keys the scans find (what [`IndexPath::keys`] reserves).
    expected_keys: usize,
    /// The document keys the planner's probe read, when it read every scan to its end (see
    /// `Secondary::estimate`): the first [`IndexPath::keys`] takes them instead of reading
    /// the same entries again. The plan runs in the transaction that planned it, before it
    /// writes anything, so they are the keys a new read would find.
    probed: Mutex<Option<Vec<Vec<u8>>>>,
}

impl IndexPath for SecondaryScan {
    fn describe(&self) -> String {
        let scans = &self.scans;
        let what = if scans.len() == 1 && is_full_range(&scans[0]) {
            "full index scan"
        } else if scans.iter().all(is_point) {
            "index equality"
        } else {
            "index range"
        };
        let order = match (self.ordered, self.backward) {
            (true, true) => ", provides sort, backward",
            (true, false) => ", provides sort",
            _ => "",
        };
        format!(
            "{what} on `{}` ({} scan(s){order})",
            self.index.spec.name,
            scans.len()
        )
    }

    fn keys(&self, cx: &mut ScanContext<'_>) -> Result<Vec<Vec<u8>>> {
        let probed = self.probed.lock().ok().and_then(|mut probed| probed.take());
        if let Some(keys) = probed {
            cx.stats.keys_examined += keys.len() as u64;
            return Ok(keys);
        }
        let mut keys = Vec::with_capacity(self.expected_keys.min(RESERVED_KEYS_MAX));
        for scan in &self.scans {
            let stats = &mut *cx.stats;
            self.index.scan(cx.txn, cx.collection, scan, |_, doc_key| {
                stats.keys_examined += 1;
                keys.push(doc_key.to_vec());
                Ok(true)
            })?;
        }
        Ok(keys)
    }

    /// The position is the scan's number (4 bytes, counted in reading order) and where to go
    /// on: forwards the last entry read (tuple ‖ key), backwards the tuple of the last run of
    /// equal tuples handed out (a batch ends only between runs, see [`Self::backward_run`]).
    fn ordered_batch(
        &self,
        cx: &mut ScanContext<'_>,
        after: Option<Vec<u8>>,
        max: usize,
    ) -> Result<OrderedBatch> {
        let (mut number, mut resume) = match after {
            Some(position) if position.len() >= 4 => {
                let mut n = [0u8; 4];
                n.copy_from_slice(&position[..4]);
                let last = position[4..].to_vec();
                (
                    u32::from_be_bytes(n) as usize,
                    (!last.is_empty()).then_some(last),
                )
            }
            _ => (0, None),
        };
        let count = self.scans.len();
        while number < count {
            let (keys, stopped_at) = if self.backward {
                let scan = &self.scans[count - 1 - number];
                self.backward_run(cx, scan, resume.take(), max)?
            } else {
                self.forward_run(cx, &self.scans[number], resume.take(), max)?
            };
            if let Some(at) = stopped_at {
                let position = [(number as u32).to_be_bytes().as_slice(), &at].concat();
                return Ok(OrderedBatch {
                    keys,
                    next: Some(position),
                });
            }
            number += 1;
            if !keys.is_empty() {
                let next = (number < count).then(|| (number as u32).to_be_bytes().to_vec());
                return Ok(OrderedBatch { keys, next });
            }
        }
        Ok(OrderedBatch::default())
    }

    /// Exact when the filter is nothing but one `$eq`/`$in` of [`decidable`] values per field
    /// looked up (each field once) and the index holds no arrays: then a document has one
    /// entry, whose tuple is the values its fields reach, so every key found matches and none
    /// is missed. Ranges are left to the re-check (NaN, type brackets), as are multikey indexes
    /// (an array matches by element *or* as a whole).
    fn decides(&self, filter: &Filter) -> bool {
        let fields = &self.index.spec.fields;
        if self.index.multikey || self.exact_fields == 0 || self.exact_fields > fields.len() {
            return false;
        }
        let conjuncts = crate::plan::conjuncts(filter);
        let mut seen = vec![false; self.exact_fields];
        conjuncts.len() == self.exact_fields
            && conjuncts.iter().all(|conjunct| {
                let Filter::Field(path, ops) = conjunct else {
                    return false;
                };
                let Some(at) = fields[..self.exact_fields].iter().position(|f| f == path) else {
                    return false;
                };
                let exact = match ops.as_slice() {
                    [Op::Eq(v)] => decidable(v),
                    [Op::In(vs)] => vs.iter().all(decidable),
                    _ => false,
                };
                exact && !std::mem::replace(&mut seen[at], true)
            })
    }

    fn may_repeat(&self) -> bool {
        // Prefixes are deduplicated, so only an array's several entries repeat a document.
        self.index.multikey
    }
}

/// Document keys read by one run of an ordered scan, and where the run stopped when it
/// filled its batch (`None`: the scan is exhausted).
type KeyRun = (Vec<Vec<u8>>, Option<Vec<u8>>);

impl SecondaryScan {
    /// Up to `max` keys of `scan` in order after entry `after`; with the last entry read when
    /// the batch filled up (more may follow).
    fn forward_run(
        &self,
        cx: &mut ScanContext<'_>,
        scan: &IndexScan,
        after: Option<Vec<u8>>,
        max: usize,
    ) -> Result<KeyRun> {
        let mut scan_now = scan.clone();
        if let (Some(last), IndexScan::Range { lower, .. }) = (after, &mut scan_now) {
            *lower = Bound::Excluded(last);
        }
        let mut keys = Vec::new();
        let mut last_entry = None;
        let stats = &mut *cx.stats;
        self.index
            .scan(cx.txn, cx.collection, &scan_now, |tuple, doc_key| {
                stats.keys_examined += 1;
                keys.push(doc_key.to_vec());
                last_entry = Some([tuple, doc_key].concat());
                Ok(keys.len() < max)
            })?;
        let full = keys.len() >= max;
        Ok((keys, last_entry.filter(|_| full)))
    }

    /// Keys of `scan` read backwards, below tuple `before`: descending by tuple, each run of
    /// equal tuples in ascending key order (the order a descending sort gives ties). Stops
    /// between runs once at least `max` keys are in hand, returning the last run's tuple.
    fn backward_run(
        &self,
        cx: &mut ScanContext<'_>,
        scan: &IndexScan,
        before: Option<Vec<u8>>,
        max: usize,
    ) -> Result<KeyRun> {
        let mut scan_now = scan.clone();
        if let (Some(before), IndexScan::Range { upper, .. }) = (before, &mut scan_now) {
            *upper = Bound::Excluded(before);
        }
        let mut keys = Vec::new();
        let mut run: Vec<Vec<u8>> = Vec::new();
        let mut run_tuple: Vec<u8> = Vec::new();
        let mut full = false;
        let stats = &mut *cx.stats;
        self.index.scan_toward(
            Direction::Backward,
            cx.txn,
            cx.collection,
            &scan_now,
            |tuple, doc_key| {
                stats.keys_examined += 1;
                if tuple != run_tuple.as_slice() {
                    keys.extend(run.drain(..).rev());
                    if keys.len() >= max {
                        full = true;
                        return Ok(false);
                    }
                    run_tuple.clear();
                    run_tuple.extend_from_slice(tuple);
                }
                run.push(doc_key.to_vec());
                Ok(true)
            },
        )?;
        if full {
            return Ok((keys, Some(run_tuple)));
        }
        keys.extend(run.drain(..).rev());
        Ok((keys, None))
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

/// Equality operands whose index entries match exactly what the filter matches: not arrays
/// (see [`indexable`]), not null (a path that reaches nothing, say through an empty array,
/// has a null entry), not NaN (equal keys, but not an equal number).
fn decidable(v: &Value) -> bool {
    indexable(v) && !v.is_null() && !is_nan(v)
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
