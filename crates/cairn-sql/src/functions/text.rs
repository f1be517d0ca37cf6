//! Full-text search in SQL: the table function
//!
//! ```sql
//! SELECT _id, title, _score FROM text_search('articles', 'hydrogen -oxygen', 10);
//! ```
//!
//! returns the rows of a table (every column) whose documents match a full-text query, with
//! their BM25 score in a `_score` column (`double`), at most `k` of them (default
//! `cairn_text::limits::DEFAULT_TEXT_K`), best first. It is Cairn's `$text` (the query string
//! language is `cairn_text::query`'s: terms, `AND`/`OR`/`NOT`, `+`/`-`, phrases, prefixes,
//! fuzzy terms, `field:`) answered by the table's text index; a table without one is an error.
//!
//! The function's rows are defined first and SQL works on them: a `WHERE` on its result
//! filters those `k` rows (it is not pushed below the ranking, which would choose other rows);
//! to rank among a subset, join or filter the table itself.

use std::sync::Arc;

use async_trait::async_trait;
use cairn::query::parse_filter;
use cairn::text::limits::{DEFAULT_TEXT_K, MAX_TOP_K};
use cairn::{Database, Object, Value};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableFunctionImpl};
use datafusion::common::ScalarValue;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::Result as DfResult;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::catalog::shape_of;
use crate::error::SqlError;
use crate::scan::{CairnScanExec, ScanSpec};
use crate::txn::{authorize, Authorizer, TxnSlot};
use crate::types::{Column, ColumnType, TableShape};

/// The function's name.
pub const TEXT_SEARCH: &str = "text_search";
/// The score column it adds.
pub const SCORE_COLUMN: &str = "_score";

/// `text_search(table, query[, k])` on one database, for one session's user.
pub struct TextSearch {
    db: Database,
    authorizer: Option<Arc<dyn Authorizer>>,
}

impl std::fmt::Debug for TextSearch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TextSearch")
    }
}

impl TextSearch {
    /// The function for a session on `db` whose user may read what `authorizer` allows.
    pub fn new(db: Database, authorizer: Option<Arc<dyn Authorizer>>) -> TextSearch {
        TextSearch { db, authorizer }
    }
}

impl TableFunctionImpl for TextSearch {
    fn call(&self, args: &[Expr]) -> DfResult<Arc<dyn TableProvider>> {
        let text = |i: usize, what: &str| match args.get(i) {
            Some(Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _)) => {
                Ok(s.clone())
            }
            _ => Err(usage(format!(
                "argument {} must be the {what} as text",
                i + 1
            ))),
        };
        let table = text(0, "table name")?;
        let query = text(1, "query")?;
        let k = match args.get(2) {
            None => DEFAULT_TEXT_K,
            Some(Expr::Literal(ScalarValue::Int64(Some(k)), _))
                if *k >= 1 && (*k as u64) <= MAX_TOP_K as u64 =>
            {
                *k as usize
            }
            Some(_) => return Err(usage(format!("k must be an integer from 1 to {MAX_TOP_K}"))),
        };
        if args.len() > 3 {
            return Err(usage("takes a table, a query and an optional k".into()));
        }
        authorize(self.authorizer.as_ref(), &table, false).map_err(SqlError::into_datafusion)?;
        let mut shape = shape_of(&self.db, &table).map_err(SqlError::into_datafusion)?;
        if shape.column(SCORE_COLUMN).is_some() {
            return Err(usage(format!(
                "table `{table}` has a column `{SCORE_COLUMN}`, the column the score is returned in"
            )));
        }
        shape.columns.push(Column {
            name: SCORE_COLUMN.to_string(),
            ty: ColumnType::Float,
            required: true,
        });
        let mut operand = Object::new();
        operand.insert("query", Value::String(query));
        operand.insert("k", Value::Int(k as i64));
        operand.insert("scoreField", Value::String(SCORE_COLUMN.to_string()));
        let mut condition = Object::new();
        condition.insert("$text", Value::Object(operand));
        let filter = parse_filter(&Value::Object(condition))
            .map_err(|err| SqlError::Query(err).into_datafusion())?;
        Ok(Arc::new(TextTable {
            schema: shape.arrow_schema(),
            shape: Arc::new(shape),
            collection: table,
            filter,
            k,
        }))
    }
}

fn usage(reason: String) -> datafusion::error::DataFusionError {
    SqlError::InvalidArgument {
        function: TEXT_SEARCH.to_string(),
        reason,
    }
    .into_datafusion()
}

/// The rows of one `text_search` call.
#[derive(Debug)]
struct TextTable {
    collection: String,
    shape: Arc<TableShape>,
    schema: SchemaRef,
    filter: cairn::query::Filter,
    k: usize,
}

#[async_trait]
impl TableProvider for TextTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    /// Nothing is pushed: the function's rows are the `k` best of the whole table.
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
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let txn = TxnSlot::of(state)?;
        let (projection, schema) = crate::scan::projected(&self.schema, projection)?;
        let access = txn
            .with(|t| {
                let methods =
                    cairn::query::access::access_methods(t, &self.collection, &self.filter)?;
                Ok(methods
                    .first()
                    .map(|m| format!("$text k={} through index `{}`", self.k, m.name())))
            })
            .map_err(SqlError::into_datafusion)?
            .unwrap_or_else(|| format!("$text k={} (no text index)", self.k));
        let spec = ScanSpec {
            collection: self.collection.clone(),
            shape: self.shape.clone(),
            projection,
            filter: self.filter.clone(),
            pushed: Vec::new(),
            limit: None,
            access,
            ranked: Some(self.k),
            order: Vec::new(),
            as_of: None,
            runtime_filters: false,
        };
        Ok(Arc::new(CairnScanExec::new(spec, schema, txn)))
    }
}
