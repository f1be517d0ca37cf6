//! Time travel in SQL: the table function
//!
//! ```sql
//! SELECT name, balance FROM as_of('accounts', '2026-12-01T10:00:00Z') WHERE balance > 0;
//! SELECT count(*) FROM as_of('accounts', 1042);   -- right after commit 1042
//! ```
//!
//! returns a table's rows as they were at a point: a commit sequence number (an integer, or
//! digits as text) or an RFC 3339 time (the state a read at that time saw). It is Cairn's
//! `find` with `as_of` (`cairn::find_as_of`): the state is rebuilt from the change log, so a
//! point older than the log's retention is an error naming the oldest one kept. The point is
//! resolved to one commit when the statement is planned, so every use of the function in a
//! statement — and a join of a table with its own past — reads consistent states.
//!
//! Columns are the table's columns today (a field a past document lacks reads NULL). Nothing
//! is pushed down: indexes describe the present, so SQL filters the rebuilt rows; the read is
//! bounded by the query layer's result limit. Why a table function rather than SQL:2011's
//! `FROM t FOR SYSTEM_TIME AS OF …`: the PostgreSQL dialect of the SQL parser does not accept
//! that clause, and clients speaking PostgreSQL's protocol do not send it.

use std::sync::Arc;

use async_trait::async_trait;
use cairn::{AsOf, Database};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::shape_of;
use crate::error::SqlError;
use crate::scan::{AsOfRead, CairnScanExec, ScanSpec};
use crate::txn::{authorize, Authorizer, TxnSlot};
use crate::types::TableShape;

/// The function's name.
pub const AS_OF: &str = "as_of";

/// `as_of(table, point)` on one database, for one session's user.
pub struct AsOfFunction {
    db: Database,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl std::fmt::Debug for AsOfFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsOfFunction")
    }
}

impl AsOfFunction {
    /// The function for a session on `db` whose user may read what `authorizer` allows.
    pub fn new(db: Database, authorizer: Option<Arc<dyn Authorizer>>) -> AsOfFunction {
        AsOfFunction { db, authorizer }
    }
}

impl TableFunctionImpl for AsOfFunction {
    fn call(&self, args: &[Expr]) -> DfResult<Arc<dyn TableProvider>> {
        let [table, point] = args else {
            return Err(usage(
                "takes a table name and a point (a commit sequence or a time)",
            ));
        };
        let table = match table {
            Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
                s.clone()
            }
            _ => return Err(usage("argument 1 must be the table name as text")),
        };
        let point = match point {
            Expr::Literal(ScalarValue::Int64(Some(seq)), _) if *seq >= 0 => AsOf::Seq(*seq as u64),
            Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _) => {
                AsOf::parse(s).map_err(|err| SqlError::Query(err).into_datafusion())?
            }
            _ => {
                return Err(usage(
                    "argument 2 must be a commit sequence number or an RFC 3339 time as text",
                ))
            }
        };
        authorize(self.authorizer.as_ref(), &table, false).map_err(SqlError::into_datafusion)?;
        let seq = cairn::resolve_as_of(&self.db, point)
            .map_err(|err| SqlError::Query(err).into_datafusion())?;
        let shape = shape_of(&self.db, &table).map_err(SqlError::into_datafusion)?;
        Ok(Arc::new(AsOfTable {
            schema: shape.arrow_schema(),
            shape: Arc::new(shape),
            collection: table,
            read: AsOfRead {
                db: self.db.clone(),
                seq,
            },
        }))
    }
}

fn usage(reason: &str) -> datafusion::error::DataFusionError {
    SqlError::InvalidArgument {
        function: AS_OF.to_string(),
        reason: reason.to_string(),
    }
    .into_datafusion()
}

/// The rows of one table at one commit.
#[derive(Debug)]
struct AsOfTable {
    collection: String,
    shape: Arc<TableShape>,
    schema: SchemaRef,
    read: AsOfRead,
}

#[async_trait]
impl TableProvider for AsOfTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    /// Nothing is pushed: the past has no indexes, so SQL filters the rebuilt rows.
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![
            TableProviderFilterPushDown::Unsupported;
            filters.len()
        ])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let txn = TxnSlot::of(state)?;
        let (projection, schema) = crate::scan::projected(&self.schema, projection)?;
        let spec = ScanSpec {
            collection: self.collection.clone(),
            shape: self.shape.clone(),
            projection,
            filter: cairn::query::Filter::All,
            pushed: Vec::new(),
            limit,
            access: format!(
                "as of commit {} (rebuilt from the change log)",
                self.read.seq
            ),
            ranked: None,
            order: Vec::new(),
            as_of: Some(self.read.clone()),
            runtime_filters: false,
        };
        Ok(Arc::new(CairnScanExec::new(spec, schema, txn)))
    }
}
