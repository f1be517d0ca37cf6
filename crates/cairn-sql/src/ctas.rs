//! `CREATE TABLE name AS SELECT …`: a collection created and filled from a query's rows in
//! **one** Cairn transaction — the collection, its documents and the lineage record (the
//! tables the query read and the statement, `crate::lineage`) commit together or not at all.
//!
//! The new collection is schemaless; its rows are stored as documents with the types of the
//! query's columns (`ColumnType::from_arrow`), NULLs left out, a `_id` column (if the query
//! has one) as the document id. Like other DDL it commits on its own, so inside `BEGIN …
//! COMMIT` it is refused (`25001`). PostgreSQL's command tag: `SELECT n`.

use std::sync::Arc;

use cairn::{Object, Value};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Schema;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{CreateTable, Statement};
use futures::StreamExt;

use crate::convert::array_value;
use crate::error::{Result, SqlError};
use crate::session::{blocking, Output, SqlSession};
use crate::txn::{authorize, SharedTxn};
use crate::types::{Column, ColumnType, ID_COLUMN};

impl SqlSession {
    /// Runs `CREATE TABLE … AS SELECT` (`create.query` is set); `text` is the statement.
    pub(crate) async fn create_table_as(
        &mut self,
        create: &CreateTable,
        text: String,
    ) -> Result<Output> {
        if self.block.is_some() {
            return Err(SqlError::DdlInTransaction("CREATE TABLE"));
        }
        let name = crate::ddl::last_ident(&create.name.to_string());
        crate::ddl::refuse_system(&name)?;
        authorize(self.authorizer.as_ref(), &name, true)?;
        if !create.columns.is_empty() {
            return Err(SqlError::Unsupported(
                "CREATE TABLE … AS SELECT with a column list (name the columns in the SELECT)"
                    .into(),
            ));
        }
        let Some(query) = create.query.clone() else {
            return Err(SqlError::Unsupported(
                "CREATE TABLE AS without a query".into(),
            ));
        };
        self.sync_sources()?;
        let plan = self
            .ctx
            .state()
            .statement_to_plan(DfStatement::Statement(Box::new(Statement::Query(query))))
            .await
            .map_err(SqlError::from_datafusion)?;
        let columns = result_columns(plan.schema().as_arrow())?;
        let mut record = crate::lineage::record(
            &name,
            crate::lineage::CREATE_TABLE_AS,
            crate::lineage::inputs(&plan, self.sources.as_deref()),
            Some(text),
        );
        let db = self.db.clone();
        let owner = self.authorizer.as_ref().and_then(|a| a.user());
        let created = name.clone();
        let if_not_exists = create.if_not_exists;
        let txn = blocking(move || {
            cairn::lineage::ensure_collection(&db)?;
            cairn::catalog::ensure_owners(&db)?;
            let mut txn = db.begin()?;
            match txn.create_collection(&created) {
                Ok(meta) => {
                    cairn::catalog::record_owner(&mut txn, &meta, owner.as_deref())?;
                    Ok(Some(txn))
                }
                Err(cairn::EngineError::CollectionExists { .. }) if if_not_exists => Ok(None),
                Err(err) => Err(err.into()),
            }
        })
        .await?;
        let Some(txn) = txn else {
            return Ok(Output::Command("SELECT 0".into()));
        };
        let txn = SharedTxn::new(txn);
        self.slot.set(Some(txn.clone()));
        let planned = async {
            let frame = self.ctx.execute_logical_plan(plan).await?;
            frame.execute_stream().await
        }
        .await;
        self.slot.set(None);
        let stream = planned.map_err(SqlError::from_datafusion)?;
        let written = tokio::time::timeout(self.timeout, fill(stream, &columns, &name, &txn))
            .await
            .map_err(|_| SqlError::Timeout)??;
        record.documents = Some(written);
        let Some(txn) = txn.take() else {
            return Err(SqlError::Unsupported(
                "the statement's transaction has already ended".into(),
            ));
        };
        blocking(move || {
            let mut txn = txn;
            cairn::lineage::record_in(&mut txn, &record)?;
            txn.commit()?;
            Ok(())
        })
        .await?;
        Ok(Output::Command(format!("SELECT {written}")))
    }
}

/// Inserts every row of `stream` into `collection` inside `txn`; returns how many.
async fn fill(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    columns: &Arc<Vec<Column>>,
    collection: &str,
    txn: &Arc<SharedTxn>,
) -> Result<u64> {
    let mut written = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(SqlError::from_datafusion)?;
        let documents = documents(columns, &batch)?;
        written += documents.len() as u64;
        let txn = txn.clone();
        let collection = collection.to_string();
        blocking(move || {
            txn.with(|t| {
                for document in documents {
                    t.insert(&collection, document)?;
                }
                Ok(())
            })
        })
        .await?;
    }
    Ok(written)
}

/// The columns of a query's result as a new collection stores them.
fn result_columns(schema: &Schema) -> Result<Arc<Vec<Column>>> {
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let ty = if field.name() == ID_COLUMN {
            ColumnType::Id
        } else {
            ColumnType::from_arrow(field.data_type()).ok_or_else(|| {
                SqlError::Unsupported(format!(
                    "column `{}` of type {} in CREATE TABLE … AS SELECT",
                    field.name(),
                    field.data_type()
                ))
            })?
        };
        columns.push(Column {
            name: field.name().clone(),
            ty,
            required: false,
        });
    }
    Ok(Arc::new(columns))
}

/// The documents of a batch's rows (NULL columns left out).
fn documents(columns: &[Column], batch: &RecordBatch) -> Result<Vec<Value>> {
    (0..batch.num_rows())
        .map(|row| {
            let mut object = Object::with_capacity(columns.len());
            for (column, array) in columns.iter().zip(batch.columns()) {
                if let Some(value) = array_value(&column.ty, &column.name, array.as_ref(), row)? {
                    object.insert(column.name.clone(), value);
                }
            }
            Ok(Value::Object(object))
        })
        .collect()
}
