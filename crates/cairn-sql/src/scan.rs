//! The scan of one collection: Cairn's planner and executor, page by page over the
//! statement's transaction, each page one Arrow record batch.
//!
//! Pages are read with `find_in` and a cursor (`Query::after`) on one transaction, so the
//! whole scan sees one snapshot; a blocking task produces them into a bounded channel
//! ([`SCAN_CHANNEL_BATCHES`]), so a result is streamed, never materialised, and a consumer
//! that stops (a `LIMIT` met, a client gone) stops the producer at its next page.

use std::fmt;
use std::sync::Arc;

use cairn::query::{Filter, Projection, Query, SortKey};
use cairn::{DocId, Value};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::metrics::{
    Count, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::stream::{
    RecordBatchReceiverStreamBuilder, RecordBatchStreamAdapter,
};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use futures::StreamExt;

use crate::convert::{rows_to_batch, Row};
use crate::error::{Result, SqlError};
use crate::limits::{SCAN_BATCH_ROWS, SCAN_CHANNEL_BATCHES};
use crate::txn::SharedTxn;
use crate::types::{Column, TableShape, ID_COLUMN};

/// What a scan reads: planned once, run per `execute`.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    /// The collection.
    pub collection: String,
    /// The table's shape.
    pub shape: Arc<TableShape>,
    /// Indices of the columns produced, in `shape.columns`.
    pub projection: Vec<usize>,
    /// The filter pushed into Cairn (`{}`: all documents).
    pub filter: Filter,
    /// The SQL filters it was translated from, for `EXPLAIN`.
    pub pushed: Vec<String>,
    /// At most this many rows (pushed only when every filter was exact).
    pub limit: Option<usize>,
    /// Cairn's chosen access path, for `EXPLAIN`.
    pub access: String,
    /// A ranking condition in `filter` (`$nearVector`, `$near`) asks for this many best
    /// documents, read in one page, best first (`crate::functions::rank`).
    pub ranked: Option<usize>,
    /// The order Cairn reads in (for `ranked` without a ranking condition: `ORDER BY column
    /// LIMIT k` as an ordered index read); empty: any.
    pub order: Vec<SortKey>,
    /// Read the collection as it was at a past commit instead of in the statement's snapshot
    /// (`crate::functions::as_of`).
    pub as_of: Option<AsOfRead>,
    /// Accept filters DataFusion learns while running (a hash join's build-side keys,
    /// `crate::runtime_filter`): a table scan with pushdown on. Off for ranked reads (a
    /// filter would change which `k` are best) and reads of the past.
    pub runtime_filters: bool,
}

/// DataFusion's projection of a table's columns (all of them when `None`) and the schema the
/// scan then produces: what every Cairn scan (tables and table functions) starts from.
pub fn projected(
    schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> DfResult<(Vec<usize>, SchemaRef)> {
    let projection = projection
        .cloned()
        .unwrap_or_else(|| (0..schema.fields().len()).collect());
    let produced = Arc::new(schema.project(&projection)?);
    Ok((projection, produced))
}

/// A read of a collection's past: its state right after commit `seq`, rebuilt from `db`'s
/// change log (`cairn::find_as_of`).
#[derive(Clone)]
pub struct AsOfRead {
    /// The database whose change log rebuilds the state.
    pub db: cairn::Database,
    /// The commit the state is read right after.
    pub seq: u64,
}

impl std::fmt::Debug for AsOfRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AsOfRead({})", self.seq)
    }
}

/// The `EXPLAIN ANALYZE` metric counting the documents Cairn read and tested (more than
/// `output_rows` when a filter is checked on each document rather than answered by a key).
pub const DOCS_EXAMINED: &str = "docs_examined";

/// The physical operator of a Cairn table scan.
#[derive(Debug)]
pub struct CairnScanExec {
    spec: ScanSpec,
    schema: SchemaRef,
    txn: Arc<SharedTxn>,
    properties: Arc<PlanProperties>,
    /// Filters DataFusion fills in while running, read when the scan starts producing.
    runtime: Vec<Arc<dyn PhysicalExpr>>,
    /// Rows produced, for `EXPLAIN ANALYZE`.
    metrics: ExecutionPlanMetricsSet,
}

impl CairnScanExec {
    /// A scan of `spec` in `txn`, producing `schema` (the projected table schema).
    pub fn new(spec: ScanSpec, schema: SchemaRef, txn: Arc<SharedTxn>) -> CairnScanExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        CairnScanExec {
            spec,
            schema,
            txn,
            properties: Arc::new(properties),
            runtime: Vec::new(),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl CairnScanExec {
    /// What the scan reads.
    pub fn spec(&self) -> &ScanSpec {
        &self.spec
    }

    /// The statement's transaction the scan reads in.
    pub fn txn(&self) -> &SharedTxn {
        &self.txn
    }

    /// The same scan reading `spec` instead (same columns, same transaction).
    pub fn with_spec(&self, spec: ScanSpec) -> CairnScanExec {
        CairnScanExec::new(spec, self.schema.clone(), self.txn.clone())
    }
}

impl DisplayAs for CairnScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "CairnScan: collection={}, access=[{}], pushed=[{}]",
            self.spec.collection,
            self.spec.access,
            self.spec.pushed.join(", ")
        )?;
        if let Some(limit) = self.spec.limit {
            write!(f, ", limit={limit}")?;
        }
        if !self.runtime.is_empty() {
            let runtime: Vec<String> = self.runtime.iter().map(ToString::to_string).collect();
            write!(f, ", runtime=[{}]", runtime.join(", "))?;
        }
        Ok(())
    }
}

impl ExecutionPlan for CairnScanExec {
    fn name(&self) -> &str {
        "CairnScanExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        // The runtime filters are this node's expressions: a hash join fills its filter in
        // only when it finds the filter in its probe subtree this way.
        for expr in &self.runtime {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn handle_child_pushdown_result(
        &self,
        phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> DfResult<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters: Vec<_> = child_pushdown_result
            .parent_filters
            .into_iter()
            .map(|f| f.filter)
            .collect();
        // Every filter stays with the operator that offered it too: Cairn's use of one only
        // narrows what is read (`runtime_filter`'s invariant), it never answers it.
        let answer = FilterPushdownPropagation::with_parent_pushdown_result(vec![
            PushedDown::No;
            filters.len()
        ]);
        let runtime: Vec<_> = filters
            .into_iter()
            .filter(crate::runtime_filter::is_runtime)
            .collect();
        if phase != FilterPushdownPhase::Post
            || runtime.is_empty()
            || !self.spec.runtime_filters
            || self.spec.ranked.is_some()
        {
            return Ok(answer);
        }
        let mut node = self.with_spec(self.spec.clone());
        node.runtime = self.runtime.iter().cloned().chain(runtime).collect();
        Ok(answer.with_updated_node(Arc::new(node)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let mut spec = self.spec.clone();
        let schema = self.schema.clone();
        let txn = self.txn.clone();
        let runtime = self.runtime.clone();
        let rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let examined = MetricBuilder::new(&self.metrics).counter(DOCS_EXAMINED, partition);
        // Nothing is read until the first poll: a hash join polls its probe side only once
        // its build side is in and its runtime filter final (`crate::runtime_filter`).
        let start = async move {
            let narrowing = match spec.ranked {
                None => crate::runtime_filter::to_filter(&spec.shape, &runtime),
                Some(_) => None,
            };
            let mut builder =
                RecordBatchReceiverStreamBuilder::new(schema.clone(), SCAN_CHANNEL_BATCHES);
            let tx = builder.tx();
            builder.spawn_blocking(move || {
                if let Some(narrowing) = narrowing {
                    narrow(&mut spec, &txn, narrowing).map_err(SqlError::into_datafusion)?;
                }
                let mut emit = |batch: RecordBatch| {
                    rows.add(batch.num_rows());
                    tx.blocking_send(Ok(batch)).is_ok()
                };
                produce(&spec, &schema, &txn, &examined, &mut emit)
                    .map_err(SqlError::into_datafusion)
            });
            builder.build()
        };
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema.clone(),
            futures::stream::once(start).flatten(),
        )))
    }
}

/// Adds a runtime filter to what `spec` reads, unless it assumes what the snapshot
/// contradicts (`Narrowing::assumes_no_string_ids`), then it reads as if there were none.
fn narrow(
    spec: &mut ScanSpec,
    txn: &SharedTxn,
    narrowing: crate::runtime_filter::Narrowing,
) -> Result<()> {
    if narrowing.assumes_no_string_ids
        && !txn.with(|t| holds_only_integer_ids(t, &spec.collection))?
    {
        return Ok(());
    }
    spec.filter = Filter::and([spec.filter.clone(), narrowing.filter]);
    Ok(())
}

/// Whether every id in `collection` is an integer (no string or UUID id) in `txn`'s
/// snapshot. Ids compare within their type and each type's ids sort together, so one
/// key-range read of at most one document per other type answers it.
pub(crate) fn holds_only_integer_ids(
    txn: &mut cairn::Transaction,
    collection: &str,
) -> Result<bool> {
    for lowest in [Value::String(String::new()), Value::Uuid(uuid::Uuid::nil())] {
        let mut probe = Query::new(Filter::field(ID_COLUMN)?.gte(lowest));
        probe.limit = Some(1);
        if !cairn::query::find_in(txn, collection, &probe)?
            .documents
            .is_empty()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Reads the scan page by page, handing each batch to `emit` until it returns false.
fn produce(
    spec: &ScanSpec,
    schema: &SchemaRef,
    txn: &SharedTxn,
    examined: &Count,
    emit: &mut dyn FnMut(RecordBatch) -> bool,
) -> Result<()> {
    let columns: Vec<&Column> = spec
        .projection
        .iter()
        .map(|&i| &spec.shape.columns[i])
        .collect();
    let mut query = Query::new(spec.filter.clone());
    query.projection = projection_of(&columns)?;
    if let Some(read) = &spec.as_of {
        // The past has no cursor: one read, bounded by the query layer's result limit.
        query.limit = spec.limit;
        let result = cairn::find_as_of(
            &read.db,
            &spec.collection,
            &query,
            cairn::AsOf::Seq(read.seq),
        )?;
        let rows = rows_of(result.documents);
        for chunk in rows.chunks(SCAN_BATCH_ROWS) {
            if !emit(rows_to_batch(schema, &columns, chunk)?) {
                return Ok(());
            }
        }
        return Ok(());
    }
    if let Some(k) = spec.ranked {
        // A ranking has no cursor: its `k` documents come in one page.
        query.limit = Some(k);
        query.sort = spec.order.clone();
        let result = txn.with(|t| Ok(cairn::query::find_in(t, &spec.collection, &query)?))?;
        examined.add(result.stats.docs_examined as usize);
        let rows = rows_of(result.documents);
        for chunk in rows.chunks(SCAN_BATCH_ROWS) {
            if !emit(rows_to_batch(schema, &columns, chunk)?) {
                return Ok(());
            }
        }
        return Ok(());
    }
    let mut remaining = spec.limit;
    loop {
        let page = remaining.map_or(SCAN_BATCH_ROWS, |r| r.min(SCAN_BATCH_ROWS));
        if page == 0 {
            return Ok(());
        }
        query.limit = Some(page);
        let result = txn.with(|t| Ok(cairn::query::find_in(t, &spec.collection, &query)?))?;
        examined.add(result.stats.docs_examined as usize);
        let rows = rows_of(result.documents);
        if let Some(r) = remaining.as_mut() {
            *r -= rows.len().min(*r);
        }
        if !rows.is_empty() && !emit(rows_to_batch(schema, &columns, &rows)?) {
            return Ok(());
        }
        match result.cursor {
            Some(cursor) if rows.len() == page => query.after = Some(cursor),
            _ => return Ok(()),
        }
    }
}

/// Documents as rows keyed by their ids.
fn rows_of(documents: Vec<Value>) -> Vec<Row> {
    documents
        .into_iter()
        .map(|doc| {
            let id = doc
                .as_object()
                .and_then(|o| o.get(ID_COLUMN))
                .and_then(|v| DocId::from_value(v).ok())
                .unwrap_or(DocId::Int(0));
            (id, doc)
        })
        .collect()
}

/// The Cairn projection keeping the produced columns (and `_id`, which every row needs).
fn projection_of(columns: &[&Column]) -> Result<Option<Projection>> {
    let mut spec = cairn::Object::new();
    spec.insert(ID_COLUMN, Value::Int(1));
    for column in columns {
        spec.insert(column.name.clone(), Value::Int(1));
    }
    Ok(Some(Projection::parse(&Value::Object(spec))?))
}
