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
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};

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

/// The physical operator of a Cairn table scan.
#[derive(Debug)]
pub struct CairnScanExec {
    spec: ScanSpec,
    schema: SchemaRef,
    txn: Arc<SharedTxn>,
    properties: Arc<PlanProperties>,
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
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
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

    fn execute(
        &self,
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let mut builder =
            RecordBatchReceiverStreamBuilder::new(self.schema.clone(), SCAN_CHANNEL_BATCHES);
        let tx = builder.tx();
        let spec = self.spec.clone();
        let schema = self.schema.clone();
        let txn = self.txn.clone();
        builder.spawn_blocking(move || {
            let mut emit = |batch| tx.blocking_send(Ok(batch)).is_ok();
            produce(&spec, &schema, &txn, &mut emit).map_err(SqlError::into_datafusion)
        });
        Ok(builder.build())
    }
}

/// Reads the scan page by page, handing each batch to `emit` until it returns false.
fn produce(
    spec: &ScanSpec,
    schema: &SchemaRef,
    txn: &SharedTxn,
    emit: &mut dyn FnMut(datafusion::arrow::array::RecordBatch) -> bool,
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
