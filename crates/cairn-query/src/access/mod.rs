//! The access-method seam: how an index kind plugs into queries.
//!
//! Modelled on PostgreSQL's index access-method API (an index says which operators it
//! serves, estimates its own cost, produces tuple ids and says whether the condition must be
//! re-checked) and on DataFusion's `TableProvider::supports_filters_pushdown` (the provider
//! looks at the filter's conjuncts and says what it takes over), cut down to what Cairn needs:
//!
//! * A model registers a [`QueryModel`] ([`register`]): the operators it defines
//!   ([`QueryModel::parse_operator`], e.g. `$near`, whose exact test is
//!   [`FieldOperator::holds`]) and, per collection, its indexes as [`AccessMethod`]s.
//! * The planner asks each access method for [`Path`]s serving the filter's top-level
//!   conjuncts ([`AccessMethod::paths`]), each costed from the index's own statistics in the
//!   units of [`COST_FETCH_DOC`] and friends; it compares them with the full scan, the
//!   primary key, intersections and unions.
//! * A chosen path produces document keys ([`IndexPath::keys`], or in sort order through
//!   [`IndexPath::ordered_batch`]); the executor fetches each document and re-checks the whole
//!   filter, unless the query keeps only `_id` and the path decides the filter by itself
//!   ([`IndexPath::decides`]).
//! * "Order by distance or score, then limit" ([`Ranking`]: `$near`, k-nearest vectors, top-k
//!   text): an operator that ranks says so, an access method that can produce documents best
//!   first says so ([`AccessMethod::ranks`]) and produces the `k` best that pass the filter
//!   ([`AccessMethod::rank`]); without one, a scan ranks every match. `find`, `count`,
//!   `distinct`, `explain` and pipelines' `$match` all take that one path (`ranked.rs`).
//! * Whatever an access method counts while it works goes to `explain` as named counters
//!   ([`ScanContext::count`], [`crate::exec::ExecStats::counters`]).
//!
//! B-tree and hash indexes are the built-in model (`btree.rs`); the spatial index is
//! `cairn-geo`'s, registered by the `cairn` facade.

mod btree;
mod registry;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use cairn_doc::{FieldPath, Value};
use cairn_engine::{Direction, Transaction};

use crate::error::Result;
use crate::exec::{ExecStats, Executor};
use crate::filter::Filter;
use crate::index_only;
use crate::query::SortKey;

pub use crate::ranked::keep_best;
pub use registry::{access_methods, parse_operator, register, source};

/// Cost of reading one document in a sequential scan (decode and filter included): the unit
/// of every cost.
pub const COST_SCAN_DOC: f64 = 1.0;
/// Cost of reading one index entry.
pub const COST_INDEX_ENTRY: f64 = 0.15;
/// Cost of fetching one document by key (a B-tree descent plus decode).
pub const COST_FETCH_DOC: f64 = 2.5;
/// Cost per comparison of an in-memory sort.
pub const COST_SORT_COMPARE: f64 = 0.02;
/// Selectivity assumed for a condition no index or statistic describes.
pub const DEFAULT_SELECTIVITY: f64 = 0.33;

/// A field operator a model defines (`$withinDistance`, `$near`, ...): parsed by the model
/// ([`QueryModel::parse_operator`]), held in the filter as [`crate::Op::Registered`].
pub trait FieldOperator: fmt::Debug + Send + Sync + 'static {
    /// The operator as written in filters (`$near`).
    fn name(&self) -> &str;
    /// The exact test: whether one value the field path reaches (or an element of a reached
    /// array) satisfies the operator. Every plan's answers are re-checked with it.
    fn holds(&self, value: &Value) -> bool;
    /// What the operator ranks by, when it asks for "the `k` best" rather than a condition.
    fn ranking(&self) -> Option<&Ranking> {
        None
    }
    /// A value's rank under a ranking operator (smaller is better: a distance, or a negated
    /// score); `None` when the value has none (not a geometry, not a vector...).
    fn rank(&self, value: &Value) -> Option<f64> {
        let _ = value;
        None
    }
    /// What a result shows in the ranking's output field for `rank`: the rank itself by
    /// default (a distance); an operator ranking by a negated score shows the score.
    fn shown_rank(&self, rank: f64) -> f64 {
        rank
    }
    /// The operator as `Any`, so the model's own access methods can read its operands.
    fn as_any(&self) -> &dyn Any;
}

/// "Order by rank, then keep the first `k`": what a ranking operator asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// How many documents.
    pub k: usize,
    /// The field each result's rank is written into.
    pub output_field: String,
}

/// A model's part of the query language: its operators and its indexes.
pub trait QueryModel: Send + Sync {
    /// A stable name; registering a second model of the same name replaces nothing.
    fn name(&self) -> &'static str;
    /// Parses `operand` of operator `name` (at `at` in the filter); `None` when the model
    /// does not define `name`.
    fn parse_operator(
        &self,
        name: &str,
        operand: &Value,
        at: &str,
    ) -> Option<Result<Arc<dyn FieldOperator>>> {
        let _ = (name, operand, at);
        None
    }
    /// The model's indexes on `collection` that queries may use (built and ready), as seen
    /// by `txn`, for a query with `filter`: a model whose indexes serve only its own
    /// operators returns none when the filter has none of them, so other queries pay
    /// nothing for it (see [`mentions`]).
    fn access_methods(
        &self,
        txn: &mut Transaction,
        collection: &str,
        filter: &Filter,
    ) -> Result<Vec<Arc<dyn AccessMethod>>>;
    /// Where `collection`'s documents come from when the model keeps them itself rather than
    /// as stored documents (a time-series collection's points live in compressed chunks):
    /// then every query of the collection reads them through the source, and no index or
    /// primary-key plan applies. Default: none (the collection's stored documents).
    fn source(
        &self,
        txn: &mut Transaction,
        collection: &str,
    ) -> Result<Option<Arc<dyn DocumentSource>>> {
        let _ = (txn, collection);
        Ok(None)
    }
}

/// A collection's documents as a model produces them (see [`QueryModel::source`]).
pub trait DocumentSource: Send + Sync {
    /// What the source reads, for `explain` (`timeseries chunks`).
    fn describe(&self) -> String;
    /// Hands `visit` every document that may match `filter`, each with a key unique in the
    /// collection, in key order, until `visit` returns false. The source may leave out
    /// whatever `filter` cannot match (chunks outside a time range) and count what it read
    /// with [`ScanContext::count`]; the executor re-checks `filter` on every document, so a
    /// source never needs to decide it exactly.
    fn scan(
        &self,
        cx: &mut ScanContext<'_>,
        filter: &Filter,
        visit: &mut dyn FnMut(&[u8], Value) -> Result<bool>,
    ) -> Result<()>;
    /// Deletes the documents with these keys (as [`DocumentSource::scan`] gave them) in
    /// `txn`; returns how many existed. What `delete_many` does on such a collection. The
    /// default refuses: a source need not be writable.
    fn delete(&self, txn: &mut Transaction, keys: &[Vec<u8>]) -> Result<u64> {
        let _ = (txn, keys);
        Err(crate::QueryError::invalid(
            "collection",
            format!("{} cannot be deleted from by a filter", self.describe()),
        ))
    }
    /// Replaces the documents with these keys (as [`DocumentSource::scan`] gave them) by
    /// `documents` in `txn`: what `update_many` does on such a collection (each document is its
    /// patched form). The default refuses: a source need not be writable.
    fn rewrite(&self, txn: &mut Transaction, keys: &[Vec<u8>], documents: &[Value]) -> Result<()> {
        let _ = (txn, keys, documents);
        Err(crate::QueryError::invalid(
            "collection",
            format!("{} cannot be updated by a filter", self.describe()),
        ))
    }
}

/// One index as the planner and executor see it.
pub trait AccessMethod: Send + Sync {
    /// The index's name.
    fn name(&self) -> &str;
    /// The ways this index can find documents for the filter whose top-level conjuncts are
    /// `conjuncts`, each costed from the index's own statistics; empty when it serves none.
    fn paths(&self, cx: &mut PlanContext<'_>, conjuncts: &[&Filter]) -> Result<Vec<Path>>;
    /// Whether it can produce documents best first under the ranking operator `op` on
    /// `field`.
    fn ranks(&self, field: &FieldPath, op: &dyn FieldOperator) -> bool {
        let _ = (field, op);
        false
    }
    /// The `k` documents with the best rank under `op` (on `field`) among those that pass
    /// the filter (`fetch.take`), best first, ties by key. Ranks must be exact (what
    /// [`FieldOperator::rank`] gives, minimised over the document's values).
    fn rank(
        &self,
        fetch: &mut Fetcher<'_, '_>,
        field: &FieldPath,
        op: &dyn FieldOperator,
        k: usize,
    ) -> Result<Ranked> {
        let _ = (fetch, field, k);
        Err(crate::QueryError::invalid(
            op.name(),
            format!("index `{}` does not rank by `{}`", self.name(), op.name()),
        ))
    }
}

/// A way to find documents, as an access method offers it.
#[derive(Debug, Clone)]
pub struct Path {
    /// What runs.
    pub scan: Arc<dyn IndexPath>,
    /// Estimated documents fetched.
    pub estimated_rows: f64,
    /// Estimated cost, in units of [`COST_SCAN_DOC`].
    pub cost: f64,
    /// Whether documents come in the query's sort order ([`IndexPath::ordered_batch`]).
    pub ordered: bool,
    /// Whether it narrows by the filter (then it may be intersected with another path or
    /// serve a branch of an `$or`); a whole index read for its order does not.
    pub narrows: bool,
}

/// A planned index read.
pub trait IndexPath: fmt::Debug + Send + Sync {
    /// One line for `explain`.
    fn describe(&self) -> String;
    /// The keys of the documents it finds, in any order, possibly repeated; what it reads
    /// is counted into `cx`.
    fn keys(&self, cx: &mut ScanContext<'_>) -> Result<Vec<Vec<u8>>>;
    /// For a path planned as ordered: up to `max` keys in order, after the position
    /// `after` (`None`: from the start). The default hands all keys at once.
    fn ordered_batch(
        &self,
        cx: &mut ScanContext<'_>,
        after: Option<Vec<u8>>,
        max: usize,
    ) -> Result<OrderedBatch> {
        let _ = max;
        let keys = match after {
            Some(_) => Vec::new(),
            None => self.keys(cx)?,
        };
        Ok(OrderedBatch { keys, next: None })
    }
    /// Whether a document may be found more than once (multikey entries, overlapping scans).
    fn may_repeat(&self) -> bool {
        true
    }
    /// Whether its keys are exactly the documents matching `filter` (no re-check needed):
    /// then a query keeping only `_id` is answered from the keys.
    fn decides(&self, filter: &Filter) -> bool {
        let _ = filter;
        false
    }
}

/// Keys of an ordered path, in order, and where the next batch starts.
#[derive(Debug, Clone, Default)]
pub struct OrderedBatch {
    /// Document keys, in the path's order.
    pub keys: Vec<Vec<u8>>,
    /// The position after the last key (opaque, the path's own), `None` when nothing follows.
    pub next: Option<Vec<u8>>,
}

/// What an access method may use while planning.
pub struct PlanContext<'p> {
    /// The query's snapshot.
    pub txn: &'p mut Transaction,
    /// The collection.
    pub collection: &'p str,
    /// Documents in the collection.
    pub total: f64,
    /// The requested order (empty: any).
    pub sort: &'p [SortKey],
    /// Documents needed from the start of the ordered result (skip + limit), if bounded.
    pub needed: Option<usize>,
}

impl PlanContext<'_> {
    /// The cost of sorting `rows` documents (0 when no sort is asked for).
    pub fn sort_cost(&self, rows: f64) -> f64 {
        if self.sort.is_empty() || rows < 2.0 {
            return 0.0;
        }
        rows * rows.log2() * COST_SORT_COMPARE
    }
}

/// A rough selectivity of a filter, for costing early-stopping scans.
pub fn filter_selectivity(filter: &Filter) -> f64 {
    match filter {
        Filter::All => 1.0,
        Filter::And(parts) => parts.iter().map(filter_selectivity).product(),
        Filter::Or(parts) => parts.iter().map(filter_selectivity).sum::<f64>().min(1.0),
        Filter::Nor(_) | Filter::Field(..) => DEFAULT_SELECTIVITY,
    }
}

/// Selectivity of the conjuncts on fields other than `covered`.
pub fn residual_selectivity(conjuncts: &[&Filter], covered: &[FieldPath]) -> f64 {
    conjuncts
        .iter()
        .filter(|c| !matches!(c, Filter::Field(p, _) if covered.contains(p)))
        .map(|c| filter_selectivity(c))
        .product::<f64>()
        .max(1e-6)
}

/// Which way reading an index on `fields` yields the order `sort` asks for: forward when the
/// sort names every field ascending ([`sort_matches`]), backward when it names every field
/// descending (a backward read gives ties on the sort in descending key order, so the reader
/// regroups each run of equal tuples: sorts order ties by `_id` ascending); `None` otherwise
/// (mixed directions, other fields).
pub fn sort_direction(fields: &[FieldPath], sort: &[SortKey]) -> Option<Direction> {
    if sort_matches(fields, sort) {
        return Some(Direction::Forward);
    }
    let backward = !sort.is_empty()
        && sort.len() == fields.len()
        && sort
            .iter()
            .zip(fields)
            .all(|(key, field)| key.descending && &key.path == field);
    backward.then_some(Direction::Backward)
}

/// Whether reading `fields` in ascending order yields the order `sort` asks for.
///
/// The sort must name *every* remaining index field: entries that tie on the sort are ordered
/// by the index's later fields before the document id, while a sort orders ties by `_id`. An
/// index on `(a, b)` therefore does not provide the sort `a` (ties on `a` come out by `b`).
pub fn sort_matches(fields: &[FieldPath], sort: &[SortKey]) -> bool {
    !sort.is_empty()
        && sort.len() == fields.len()
        && sort
            .iter()
            .zip(fields)
            .all(|(key, field)| !key.descending && &key.path == field)
}

/// The options object of a registered operator's operand (`{"$near": {...}}`): an operand
/// that is not an object, or that names an option not in `allowed`, is refused naming the
/// operator and the options it knows — one wording for every model's operators.
pub fn operand_options<'v>(
    operand: &'v Value,
    operator: &str,
    allowed: &[&str],
    place: &str,
) -> Result<&'v cairn_doc::Object> {
    let known = || allowed.join(", ");
    let object = operand.as_object().ok_or_else(|| {
        crate::QueryError::invalid(
            place,
            format!("`{operator}` expects an object with {}", known()),
        )
    })?;
    if let Some(extra) = object.keys().find(|k| !allowed.contains(k)) {
        return Err(crate::QueryError::invalid(
            place,
            format!("unknown option `{extra}` (known: {})", known()),
        ));
    }
    Ok(object)
}

/// Whether a condition of `filter` (at the top level or in a branch of `$and`, `$or`,
/// `$nor`) uses a registered operator for which `wanted` holds.
pub fn mentions(filter: &Filter, wanted: &dyn Fn(&dyn FieldOperator) -> bool) -> bool {
    match filter {
        Filter::All => false,
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().any(|part| mentions(part, wanted))
        }
        Filter::Field(_, ops) => ops
            .iter()
            .any(|op| matches!(op, crate::Op::Registered(op) if wanted(op.as_ref()))),
    }
}

/// The registered operators of the conditions on `path` among `conjuncts`.
pub fn registered_on<'f>(
    conjuncts: &'f [&'f Filter],
    path: &'f FieldPath,
) -> impl Iterator<Item = &'f Arc<dyn FieldOperator>> + 'f {
    conjuncts.iter().flat_map(move |c| {
        let ops: &[crate::Op] = match c {
            Filter::Field(p, ops) if p == path => ops,
            _ => &[],
        };
        ops.iter().filter_map(|op| match op {
            crate::Op::Registered(op) => Some(op),
            _ => None,
        })
    })
}

/// What an index read may use while it runs: the snapshot, and the execution's counters.
pub struct ScanContext<'s> {
    /// The query's snapshot.
    pub txn: &'s mut Transaction,
    /// The collection.
    pub collection: &'s str,
    pub(crate) stats: &'s mut ExecStats,
}

impl ScanContext<'_> {
    /// Counts `n` index entries read (`explain`'s `keys_examined`).
    pub fn keys_examined(&mut self, n: u64) {
        self.stats.keys_examined += n;
    }

    /// Adds `n` to the access method's own counter `name` (shown by `explain`).
    pub fn count(&mut self, name: &'static str, n: u64) {
        self.stats.add(name, n);
    }
}

/// One ranked result: its rank, key and document.
#[derive(Debug, Clone)]
pub struct RankedRow {
    /// The rank (a distance, a negated score).
    pub rank: f64,
    /// The document's key.
    pub key: Vec<u8>,
    /// The document (only `_id` when answered from keys).
    pub doc: Value,
}

/// What a ranking produced.
#[derive(Debug, Clone)]
pub struct Ranked {
    /// The rows, best first, ties by key.
    pub rows: Vec<RankedRow>,
    /// How they were found, for `explain`.
    pub description: String,
}

/// What a ranking access method uses to read and to test documents: the snapshot, the
/// counters, and [`Fetcher::take`], which fetches a document once and checks it against the
/// whole filter.
pub struct Fetcher<'e, 'a> {
    pub(crate) executor: &'e mut Executor<'a>,
    pub(crate) from_keys: bool,
    pub(crate) only_ranking: bool,
    pub(crate) fetched: std::collections::HashMap<Vec<u8>, Option<Value>>,
    /// The query's other usable indexes (what [`Fetcher::narrowing`] plans over).
    pub(crate) methods: Vec<Arc<dyn AccessMethod>>,
}

/// The documents another index (or `_id`) finds for the filter's conditions besides the
/// ranking one, as the planner costs them: what a ranking access method may rank exactly
/// instead of searching its own structure with the filter (see [`Fetcher::narrowing`]).
#[derive(Debug, Clone)]
pub struct Narrowing {
    access: crate::plan::Access,
    /// Documents the planner expects it to find (a superset of the matches).
    pub estimated_rows: f64,
    /// Documents in the collection.
    pub total: f64,
}

impl Narrowing {
    /// One line for `explain` (`index equality on m100`).
    pub fn describe(&self) -> String {
        self.access.describe()
    }
}

impl<'a> Fetcher<'_, 'a> {
    /// A context for reading the index.
    pub fn scan(&mut self) -> ScanContext<'_> {
        ScanContext {
            txn: self.executor.txn,
            collection: self.executor.collection,
            stats: &mut self.executor.stats,
        }
    }

    /// Whether the filter has conditions besides the ranking one: when it has none, every
    /// document the index holds passes, so a ranking need not test candidates while it
    /// searches (a test fetches the document).
    pub fn filters_beyond_ranking(&self) -> bool {
        !self.only_ranking
    }

    /// The cheapest plan among the query's other indexes and the primary key that narrows
    /// the filter (full scans excluded), with its estimated size; `None` when the filter has
    /// no other conditions or no index serves them. A ranking access method compares it with
    /// its own filtered search (the planner's choice between a filtered index walk and an
    /// exact ranking of the narrowed set, PostgreSQL's and Qdrant's "filter first when the
    /// filter is selective").
    pub fn narrowing(&mut self) -> Result<Option<Narrowing>> {
        if self.only_ranking || self.executor.source.is_some() {
            return Ok(None);
        }
        let input = crate::plan::PlanInput {
            filter: self.executor.filter,
            sort: &[],
            needed: None,
        };
        let total = self.executor.txn.document_count(self.executor.collection)? as f64;
        let candidates = crate::plan::plan(
            self.executor.txn,
            self.executor.collection,
            &self.methods,
            &input,
        )?;
        Ok(candidates
            .into_iter()
            .find(|c| !matches!(c.access, crate::plan::Access::FullScan))
            .map(|c| Narrowing {
                access: c.access,
                estimated_rows: c.estimated_rows,
                total,
            }))
    }

    /// The document keys `narrowing` finds, sorted, without repeats: a superset of the
    /// documents matching the filter (test each with [`Fetcher::take`]).
    pub fn narrowed_keys(&mut self, narrowing: &Narrowing) -> Result<Vec<Vec<u8>>> {
        self.executor.doc_keys(&narrowing.access)
    }

    /// The document of `key` if it passes the filter (fetched once per ranking, remembered);
    /// from the key alone when the filter is the ranking condition itself and the query
    /// keeps only `_id`.
    pub fn take(&mut self, key: &[u8]) -> Result<Option<Value>> {
        if let Some(known) = self.fetched.get(key) {
            return Ok(known.clone());
        }
        let mut doc = None;
        if self.from_keys {
            self.executor.stats.matched += 1;
            doc = Some(index_only::id_document(key)?);
        } else {
            self.executor.fetch_one(key, &mut |_, found| {
                doc = Some(found);
                Ok(true)
            })?;
        }
        self.fetched.insert(key.to_vec(), doc.clone());
        Ok(doc)
    }
}
