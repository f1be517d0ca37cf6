//! `INSERT`, `UPDATE` and `DELETE`: the rows DataFusion computes, written through the
//! statement's Cairn transaction (so a schema, unique or invariant violation fails the
//! statement with nothing of it stored, and inside `BEGIN … COMMIT` the writes commit with
//! the block).
//!
//! `UPDATE`/`DELETE` read their candidate rows with a Cairn scan narrowed by the filters Cairn
//! understands, then evaluate the full `WHERE` clause in SQL on each row — the same answer as
//! SQL semantics whatever the pushdown. The work runs when the plan is executed, never when
//! it is planned, so `EXPLAIN UPDATE …` changes nothing.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use cairn::{DocId, Object, Value};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::datasource::sink::DataSink;
use datafusion::error::Result as DfResult;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType};
use futures::StreamExt;

use crate::convert::array_value;
use crate::error::{Result, SqlError};
use crate::txn::SharedTxn;
use crate::types::{TableShape, ID_COLUMN};

/// What a sink does with its rows.
#[derive(Debug)]
pub enum WriteKind {
    /// Insert every row as a new document.
    Insert,
    /// Delete the documents of the rows the predicate holds for (`None`: all).
    Delete {
        /// The `WHERE` clause.
        predicate: Option<Arc<dyn PhysicalExpr>>,
    },
    /// Set columns (by index) of the rows the predicate holds for.
    Update {
        /// The `WHERE` clause.
        predicate: Option<Arc<dyn PhysicalExpr>>,
        /// New values: column index and expression over the old row.
        set: Vec<(usize, Arc<dyn PhysicalExpr>)>,
    },
}

/// Writes rows into one collection.
#[derive(Debug)]
pub struct WriteSink {
    collection: String,
    shape: Arc<TableShape>,
    schema: SchemaRef,
    txn: Arc<SharedTxn>,
    kind: WriteKind,
}

/// One document operation computed from a row.
enum Op {
    Insert(Value),
    Delete(DocId),
    /// Set (`Some`) or remove (`None`) top-level fields.
    Update(DocId, Vec<(String, Option<Value>)>),
}

impl WriteSink {
    /// A sink writing `kind` into `collection` inside `txn`.
    pub fn new(
        collection: String,
        shape: Arc<TableShape>,
        schema: SchemaRef,
        txn: Arc<SharedTxn>,
        kind: WriteKind,
    ) -> WriteSink {
        WriteSink {
            collection,
            shape,
            schema,
            txn,
            kind,
        }
    }

    /// The document operations for one batch.
    fn ops(&self, batch: &RecordBatch) -> Result<Vec<Op>> {
        let selected = match &self.kind {
            WriteKind::Insert => None,
            WriteKind::Delete { predicate } | WriteKind::Update { predicate, .. } => {
                Some(selection(predicate.as_ref(), batch)?)
            }
        };
        let mut ops = Vec::new();
        for row in 0..batch.num_rows() {
            if selected.as_ref().is_some_and(|s| !s[row]) {
                continue;
            }
            ops.push(match &self.kind {
                WriteKind::Insert => Op::Insert(self.document(batch, row)?),
                WriteKind::Delete { .. } => Op::Delete(row_id(batch, row)?),
                WriteKind::Update { set, .. } => {
                    let mut fields = Vec::with_capacity(set.len());
                    for (index, expr) in set {
                        let column = &self.shape.columns[*index];
                        let values = expr
                            .evaluate(batch)
                            .and_then(|v| v.into_array(batch.num_rows()))
                            .map_err(SqlError::Plan)?;
                        let value = array_value(&column.ty, &column.name, values.as_ref(), row)?;
                        fields.push((column.name.clone(), value));
                    }
                    Op::Update(row_id(batch, row)?, fields)
                }
            });
        }
        Ok(ops)
    }

    /// The document of an inserted row (NULL columns are left out; a NULL `_id` gets a new
    /// time-ordered id).
    fn document(&self, batch: &RecordBatch, row: usize) -> Result<Value> {
        let mut object = Object::with_capacity(batch.num_columns());
        for (i, column) in self.shape.columns.iter().enumerate() {
            let Some(array) = batch.columns().get(i) else {
                continue;
            };
            if let Some(value) = array_value(&column.ty, &column.name, array.as_ref(), row)? {
                object.insert(column.name.clone(), value);
            }
        }
        Ok(Value::Object(object))
    }
}

/// Rows the predicate holds for (NULL counts as false, as in SQL).
fn selection(predicate: Option<&Arc<dyn PhysicalExpr>>, batch: &RecordBatch) -> Result<Vec<bool>> {
    let Some(predicate) = predicate else {
        return Ok(vec![true; batch.num_rows()]);
    };
    let mask = predicate
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(SqlError::Plan)?;
    let mask = mask
        .as_boolean_opt()
        .ok_or_else(|| SqlError::Unsupported("a WHERE clause that is not a boolean".into()))?;
    Ok((0..mask.len())
        .map(|i| mask.is_valid(i) && mask.value(i))
        .collect())
}

/// The id of a scanned row (its `_id` text, the first column).
fn row_id(batch: &RecordBatch, row: usize) -> Result<DocId> {
    let ids = batch
        .column_by_name(ID_COLUMN)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| SqlError::Unsupported("a row without `_id`".into()))?;
    Ok(DocId::parse_cli(ids.value(row)))
}

/// Applies `ops` in `txn`; returns how many rows they changed.
fn apply(txn: &SharedTxn, collection: &str, ops: Vec<Op>) -> Result<u64> {
    txn.with(|t| {
        let mut changed = 0u64;
        for op in ops {
            match op {
                Op::Insert(doc) => {
                    t.insert(collection, doc)?;
                    changed += 1;
                }
                Op::Delete(id) => changed += u64::from(t.delete(collection, &id)?),
                Op::Update(id, fields) => {
                    let Some(Value::Object(mut doc)) = t.get(collection, &id)? else {
                        continue;
                    };
                    for (name, value) in fields {
                        match value {
                            Some(v) => {
                                doc.insert(name, v);
                            }
                            None => {
                                doc.remove(&name);
                            }
                        }
                    }
                    t.replace(collection, &id, Value::Object(doc))?;
                    changed += 1;
                }
            }
        }
        Ok(changed)
    })
}

impl DisplayAs for WriteSink {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let what = match self.kind {
            WriteKind::Insert => "insert",
            WriteKind::Delete { .. } => "delete",
            WriteKind::Update { .. } => "update",
        };
        write!(f, "CairnWrite: {what} collection={}", self.collection)
    }
}

#[async_trait]
impl DataSink for WriteSink {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    async fn write_all(
        &self,
        mut data: SendableRecordBatchStream,
        _context: &Arc<TaskContext>,
    ) -> DfResult<u64> {
        let mut total = 0u64;
        while let Some(batch) = data.next().await {
            let ops = self.ops(&batch?).map_err(SqlError::into_datafusion)?;
            let txn = self.txn.clone();
            let collection = self.collection.clone();
            total += tokio::task::spawn_blocking(move || apply(&txn, &collection, ops))
                .await
                .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?
                .map_err(SqlError::into_datafusion)?;
        }
        Ok(total)
    }
}
