//! A table of a SQL source (PostgreSQL, SQLite) as a DataFusion table.
//!
//! The provider renders what DataFusion hands its scan — the projected columns, the filters it
//! answered `Exact` for, a limit — back to one SQL statement in the source's dialect
//! (datafusion-sql's `Unparser`), sends it, and converts the rows it gets to Arrow. Only
//! filters whose meaning is the same at the source are pushed (a whitelist: comparisons,
//! `AND`/`OR`/`NOT`, `IS [NOT] NULL`, `IN`, `BETWEEN`, and `LIKE` where the source compares
//! case-sensitively, over columns read in their own type and plain literals); every other
//! filter DataFusion evaluates on the rows that come back. `EXPLAIN` shows the statement.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, RecordBatch,
    RecordBatchOptions, StringBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column as DfColumn, ScalarValue};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
    ReplaceChildrenOptions,
};
use datafusion::sql::unparser::dialect::{PostgreSqlDialect, SqliteDialect};
use datafusion::sql::unparser::Unparser;

use super::{SourceError, SourceHandle};
use crate::limits::SCAN_CHANNEL_BATCHES;

/// The SQL dialect a source speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// SQLite (whose `LIKE` ignores ASCII case: never pushed).
    Sqlite,
}

/// A column of a remote table.
#[derive(Debug, Clone)]
pub struct RemoteColumn {
    /// Its name at the source (and in SQL).
    pub name: String,
    /// Its Arrow type: `Int64`, `Float64`, `Boolean`, `Utf8` or `Binary`.
    pub data_type: DataType,
    /// Whether it is read in its own type (`false`: cast at the source, e.g. a PostgreSQL
    /// `numeric` read as `float8` or a `date` as text). Filters on cast columns are not
    /// pushed: the source would compare the original values, not the ones Cairn sees.
    pub native: bool,
    /// The SQL expression selecting it (the quoted name, or a cast of it).
    pub select: String,
}

/// One remote table.
#[derive(Debug)]
pub struct RemoteTable {
    handle: Arc<SourceHandle>,
    dialect: Dialect,
    /// `"schema"."table"` as the source names it.
    from: String,
    columns: Vec<RemoteColumn>,
    schema: SchemaRef,
    pushdown: bool,
}

/// `name` as a quoted SQL identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl RemoteTable {
    /// The table `schema.table` of the source `handle`, with `columns`; `pushdown == false`
    /// answers every filter `Unsupported` (tests compare answers both ways).
    pub fn new(
        handle: Arc<SourceHandle>,
        dialect: Dialect,
        schema_name: Option<&str>,
        table: &str,
        columns: Vec<RemoteColumn>,
        pushdown: bool,
    ) -> RemoteTable {
        let fields: Vec<Field> = columns
            .iter()
            .map(|c| Field::new(&c.name, c.data_type.clone(), true))
            .collect();
        let from = match schema_name {
            Some(schema) => format!("{}.{}", quote(schema), quote(table)),
            None => quote(table),
        };
        RemoteTable {
            handle,
            dialect,
            from,
            columns,
            schema: Arc::new(Schema::new(fields)),
            pushdown,
        }
    }

    /// Whether the source evaluates `filter` exactly as DataFusion would.
    fn pushable(&self, filter: &Expr) -> bool {
        let mut ok = true;
        let _ = filter.apply(|expr| {
            ok &= match expr {
                Expr::Column(c) => self
                    .columns
                    .iter()
                    .any(|col| col.name == c.name && col.native),
                Expr::Literal(value, _) => matches!(
                    value,
                    ScalarValue::Int8(Some(_))
                        | ScalarValue::Int16(Some(_))
                        | ScalarValue::Int32(Some(_))
                        | ScalarValue::Int64(Some(_))
                        | ScalarValue::UInt8(Some(_))
                        | ScalarValue::UInt16(Some(_))
                        | ScalarValue::UInt32(Some(_))
                        | ScalarValue::Float64(Some(_))
                        | ScalarValue::Boolean(Some(_))
                        | ScalarValue::Utf8(Some(_))
                ),
                Expr::BinaryExpr(BinaryExpr { op, .. }) => matches!(
                    op,
                    Operator::Eq
                        | Operator::NotEq
                        | Operator::Lt
                        | Operator::LtEq
                        | Operator::Gt
                        | Operator::GtEq
                        | Operator::And
                        | Operator::Or
                ),
                Expr::Not(_) | Expr::IsNull(_) | Expr::IsNotNull(_) => true,
                Expr::Between(_) | Expr::InList(_) => true,
                Expr::Like(like) => {
                    self.dialect == Dialect::Postgres
                        && !like.case_insensitive
                        && like.escape_char.is_none()
                }
                _ => false,
            };
            Ok(if ok {
                TreeNodeRecursion::Continue
            } else {
                TreeNodeRecursion::Stop
            })
        });
        ok && self.render(filter).is_ok()
    }

    /// `filter` as SQL of the source's dialect, its columns unqualified.
    fn render(&self, filter: &Expr) -> DfResult<String> {
        let bare = filter
            .clone()
            .transform(|expr| match expr {
                Expr::Column(c) => Ok(Transformed::yes(Expr::Column(DfColumn::new_unqualified(
                    c.name,
                )))),
                other => Ok(Transformed::no(other)),
            })?
            .data;
        let sql = match self.dialect {
            Dialect::Postgres => Unparser::new(&PostgreSqlDialect {}).expr_to_sql(&bare)?,
            Dialect::Sqlite => Unparser::new(&SqliteDialect {}).expr_to_sql(&bare)?,
        };
        Ok(sql.to_string())
    }

    /// The statement a scan sends.
    fn statement(
        &self,
        projection: &[usize],
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<String> {
        let select = if projection.is_empty() {
            "NULL".to_string()
        } else {
            projection
                .iter()
                .map(|&i| self.columns[i].select.clone())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut sql = format!("SELECT {select} FROM {}", self.from);
        let mut pushed = Vec::new();
        for filter in filters {
            pushed.push(format!("({})", self.render(filter)?));
        }
        if !pushed.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&pushed.join(" AND "));
        }
        if let Some(limit) = limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        Ok(sql)
    }
}

#[async_trait]
impl TableProvider for RemoteTable {
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
            .map(|f| {
                if self.pushdown && self.pushable(f) {
                    TableProviderFilterPushDown::Exact
                } else {
                    TableProviderFilterPushDown::Unsupported
                }
            })
            .collect())
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.columns.len()).collect(),
        };
        // DataFusion hands over only the filters answered `Exact`; a limit comes only when
        // nothing is left to filter above the scan.
        let sql = self.statement(&projection, filters, limit)?;
        let columns: Vec<RemoteColumn> = projection
            .iter()
            .map(|&i| self.columns[i].clone())
            .collect();
        let schema = Arc::new(self.schema.project(&projection)?);
        Ok(Arc::new(RemoteScanExec::new(
            self.handle.clone(),
            self.dialect,
            sql,
            columns,
            schema,
        )))
    }
}

/// A value read from a source, before it goes into an Arrow column.
#[derive(Debug, Clone)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// Builds record batches from rows of [`Cell`]s.
pub struct BatchBuilder {
    schema: SchemaRef,
    columns: Vec<RemoteColumn>,
    builders: Vec<ColumnBuilder>,
    rows: usize,
    source: String,
}

enum ColumnBuilder {
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Text(StringBuilder),
    Bytes(BinaryBuilder),
}

impl BatchBuilder {
    /// A builder of batches of `schema` (whose fields are `columns`), for `source`'s rows.
    pub fn new(schema: SchemaRef, columns: Vec<RemoteColumn>, source: &str) -> BatchBuilder {
        let builders = columns
            .iter()
            .map(|c| ColumnBuilder::of(&c.data_type))
            .collect();
        BatchBuilder {
            schema,
            columns,
            builders,
            rows: 0,
            source: source.to_string(),
        }
    }

    /// Rows appended since the last batch.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was appended since the last batch.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Appends one row (one cell per column).
    pub fn push(&mut self, cells: Vec<Cell>) -> Result<(), SourceError> {
        for ((builder, cell), column) in self.builders.iter_mut().zip(cells).zip(&self.columns) {
            builder.push(cell).map_err(|reason| SourceError::BadValue {
                name: self.source.clone(),
                column: column.name.clone(),
                reason,
            })?;
        }
        self.rows += 1;
        Ok(())
    }

    /// The rows appended so far as one batch; the builder starts over.
    pub fn finish(&mut self) -> DfResult<RecordBatch> {
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(ColumnBuilder::finish)
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows));
        self.rows = 0;
        Ok(RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &options,
        )?)
    }
}

impl ColumnBuilder {
    fn of(data_type: &DataType) -> ColumnBuilder {
        match data_type {
            DataType::Int64 => ColumnBuilder::Int(Int64Builder::new()),
            DataType::Float64 => ColumnBuilder::Float(Float64Builder::new()),
            DataType::Boolean => ColumnBuilder::Bool(BooleanBuilder::new()),
            DataType::Binary => ColumnBuilder::Bytes(BinaryBuilder::new()),
            _ => ColumnBuilder::Text(StringBuilder::new()),
        }
    }

    fn push(&mut self, cell: Cell) -> Result<(), String> {
        match (self, cell) {
            (ColumnBuilder::Int(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Float(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Bool(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Text(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Bytes(b), Cell::Null) => b.append_null(),
            (ColumnBuilder::Int(b), Cell::Int(v)) => b.append_value(v),
            (ColumnBuilder::Float(b), Cell::Float(v)) => b.append_value(v),
            (ColumnBuilder::Float(b), Cell::Int(v)) => b.append_value(v as f64),
            (ColumnBuilder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (ColumnBuilder::Bool(b), Cell::Int(v)) => b.append_value(v != 0),
            (ColumnBuilder::Text(b), Cell::Text(v)) => b.append_value(v),
            (ColumnBuilder::Text(b), Cell::Int(v)) => b.append_value(v.to_string()),
            (ColumnBuilder::Text(b), Cell::Float(v)) => b.append_value(v.to_string()),
            (ColumnBuilder::Bytes(b), Cell::Bytes(v)) => b.append_value(v),
            (ColumnBuilder::Bytes(b), Cell::Text(v)) => b.append_value(v.as_bytes()),
            (_, cell) => return Err(format!("unexpected value {cell:?} for the column's type")),
        }
        Ok(())
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Float(b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Bytes(b) => Arc::new(b.finish()),
        }
    }
}

/// The physical operator sending one statement to a source.
#[derive(Debug)]
pub struct RemoteScanExec {
    handle: Arc<SourceHandle>,
    dialect: Dialect,
    sql: String,
    columns: Vec<RemoteColumn>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl RemoteScanExec {
    fn new(
        handle: Arc<SourceHandle>,
        dialect: Dialect,
        sql: String,
        columns: Vec<RemoteColumn>,
        schema: SchemaRef,
    ) -> RemoteScanExec {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        RemoteScanExec {
            handle,
            dialect,
            sql,
            columns,
            schema,
            properties: Arc::new(properties),
        }
    }

    /// The statement sent to the source.
    pub fn sql(&self) -> &str {
        &self.sql
    }
}

impl DisplayAs for RemoteScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "RemoteScan: source={} ({}), sql=[{}]",
            self.handle.def.name,
            self.handle.def.kind.name(),
            self.sql
        )
    }
}

impl ExecutionPlan for RemoteScanExec {
    fn name(&self) -> &str {
        "RemoteScanExec"
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
        let handle = self.handle.clone();
        let sql = self.sql.clone();
        let batches =
            BatchBuilder::new(self.schema.clone(), self.columns.clone(), &handle.def.name);
        match self.dialect {
            Dialect::Postgres => {
                builder.spawn(async move {
                    super::postgres::fetch(&handle, &sql, batches, &tx)
                        .await
                        .map_err(into_datafusion)
                });
            }
            Dialect::Sqlite => {
                builder.spawn_blocking(move || {
                    super::sqlite::fetch(&handle, &sql, batches, &tx).map_err(into_datafusion)
                });
            }
        }
        Ok(builder.build())
    }
}

/// A source's error as DataFusion carries it (it comes out of the statement as itself).
pub fn into_datafusion(err: SourceError) -> DataFusionError {
    crate::SqlError::Source(err).into_datafusion()
}
