//! A collection as a DataFusion table: scans through Cairn's planner, writes through the
//! statement's Cairn transaction.

use std::sync::Arc;

use async_trait::async_trait;
use cairn::query::access::access_methods;
use cairn::query::{plan, PlanInput};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::error::SqlError;
use crate::pushdown;
use crate::scan::{CairnScanExec, ScanSpec};
use crate::sink::{WriteKind, WriteSink};
use crate::txn::{authorize, Authorizer, SharedTxn, TxnSlot};
use crate::types::{TableShape, ID_COLUMN};

/// One collection as a table.
#[derive(Debug)]
pub struct CairnTable {
    collection: String,
    shape: Arc<TableShape>,
    schema: SchemaRef,
    authorizer: Option<Arc<dyn Authorizer>>,
    pushdown: bool,
}

impl CairnTable {
    /// The table of `collection` with columns `shape`, written as `authorizer` allows.
    pub fn new(
        collection: String,
        shape: TableShape,
        authorizer: Option<Arc<dyn Authorizer>>,
    ) -> CairnTable {
        let schema = shape.arrow_schema();
        CairnTable {
            collection,
            shape: Arc::new(shape),
            schema,
            authorizer,
            pushdown: true,
        }
    }

    /// The same table answering every filter `Unsupported`: DataFusion filters every row
    /// itself (tests check that answers are the same both ways).
    pub fn without_pushdown(mut self) -> CairnTable {
        self.pushdown = false;
        self
    }

    fn may_write(&self) -> DfResult<()> {
        authorize(self.authorizer.as_ref(), &self.collection, true)
            .map_err(SqlError::into_datafusion)
    }

    /// The collection the table is.
    pub fn collection(&self) -> &str {
        &self.collection
    }

    /// A scan of every column (for `UPDATE`/`DELETE`, which re-check their filters in SQL
    /// on each row Cairn returns).
    fn full_scan(&self, txn: Arc<SharedTxn>, filters: &[Expr]) -> DfResult<Arc<CairnScanExec>> {
        let projection: Vec<usize> = (0..self.shape.columns.len()).collect();
        let spec = self.spec(&txn, projection, filters, None)?;
        Ok(Arc::new(CairnScanExec::new(spec, self.schema.clone(), txn)))
    }

    fn spec(
        &self,
        txn: &SharedTxn,
        projection: Vec<usize>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<ScanSpec> {
        let mut filter = pushdown::to_filter(&self.shape, filters);
        if let Some(lookup) = pushdown::id_cast_lookup(filters) {
            // `_id = 42`: a point lookup where it means the same (`pushdown`'s notes).
            let only_integer_ids = txn
                .with(|t| crate::scan::holds_only_integer_ids(t, &self.collection))
                .map_err(SqlError::into_datafusion)?;
            if only_integer_ids {
                filter = cairn::query::Filter::and([filter, lookup]);
            }
        }
        let access = txn
            .with(|t| {
                let methods = access_methods(t, &self.collection, &filter)?;
                let input = PlanInput {
                    filter: &filter,
                    sort: &[],
                    needed: limit,
                };
                let candidates = plan(t, &self.collection, &methods, &input)?;
                Ok(candidates
                    .first()
                    .map_or_else(|| "full scan".to_string(), |c| c.access.describe()))
            })
            .map_err(SqlError::into_datafusion)?;
        Ok(ScanSpec {
            collection: self.collection.clone(),
            shape: self.shape.clone(),
            projection,
            filter,
            pushed: filters.iter().map(ToString::to_string).collect(),
            limit,
            access,
            ranked: None,
            order: Vec::new(),
            as_of: None,
            runtime_filters: self.pushdown,
        })
    }
}

#[async_trait]
impl TableProvider for CairnTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match self.pushdown {
                true => pushdown::support(&self.shape, f),
                false => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let txn = TxnSlot::of(state)?;
        let (projection, schema) = crate::scan::projected(&self.schema, projection)?;
        let spec = self.spec(&txn, projection, filters, limit)?;
        Ok(Arc::new(CairnScanExec::new(spec, schema, txn)))
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if insert_op != InsertOp::Append {
            return Err(DataFusionError::NotImplemented(format!(
                "{insert_op} into a Cairn table"
            )));
        }
        self.may_write()?;
        let sink = WriteSink::new(
            self.collection.clone(),
            self.shape.clone(),
            self.schema.clone(),
            TxnSlot::of(state)?,
            WriteKind::Insert,
        );
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }

    async fn delete_from(
        &self,
        state: &dyn Session,
        filters: Vec<Expr>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.may_write()?;
        let txn = TxnSlot::of(state)?;
        let predicate = self.predicate(state, &filters)?;
        let scan = self.full_scan(txn.clone(), &filters)?;
        let sink = WriteSink::new(
            self.collection.clone(),
            self.shape.clone(),
            self.schema.clone(),
            txn,
            WriteKind::Delete { predicate },
        );
        Ok(Arc::new(DataSinkExec::new(scan, Arc::new(sink), None)))
    }

    async fn update(
        &self,
        state: &dyn Session,
        assignments: Vec<(String, Expr)>,
        filters: Vec<Expr>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        self.may_write()?;
        let txn = TxnSlot::of(state)?;
        let predicate = self.predicate(state, &filters)?;
        let df_schema = DFSchema::try_from(self.schema.clone())?;
        let mut set = Vec::with_capacity(assignments.len());
        for (column, expr) in assignments {
            // Assignments may list unchanged columns as themselves.
            if matches!(&expr, Expr::Column(c) if c.name == column) {
                continue;
            }
            if column == ID_COLUMN {
                return Err(
                    SqlError::Unsupported("changing a document's `_id`".into()).into_datafusion()
                );
            }
            let index = self.schema.index_of(&column)?;
            set.push((index, state.create_physical_expr(expr, &df_schema)?));
        }
        let scan = self.full_scan(txn.clone(), &filters)?;
        let sink = WriteSink::new(
            self.collection.clone(),
            self.shape.clone(),
            self.schema.clone(),
            txn,
            WriteKind::Update { predicate, set },
        );
        Ok(Arc::new(DataSinkExec::new(scan, Arc::new(sink), None)))
    }
}

impl CairnTable {
    /// The conjunction of `filters` as a physical expression over the table's rows (`None`:
    /// every row).
    fn predicate(
        &self,
        state: &dyn Session,
        filters: &[Expr],
    ) -> DfResult<Option<Arc<dyn datafusion::physical_expr::PhysicalExpr>>> {
        let Some(conjunction) = filters.iter().cloned().reduce(Expr::and) else {
            return Ok(None);
        };
        let df_schema = DFSchema::try_from(self.schema.clone())?;
        Ok(Some(state.create_physical_expr(conjunction, &df_schema)?))
    }
}
