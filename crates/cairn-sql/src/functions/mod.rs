//! Cairn's models in SQL: pgvector's distance operators, PostGIS-style geometry functions and
//! full-text search, each pushed into the access method that serves it.
//!
//! * [`vector`]: `<->`, `<=>`, `<#>` and `l2_distance`, `cosine_distance`,
//!   `negative_inner_product` on `vector(N)` columns.
//! * [`geo`]: `st_geomfromtext`, `st_astext`, `st_3ddistance`, `st_3ddwithin`.
//! * [`text`]: the table function `text_search(table, query[, k])`: the collection's rows
//!   that match a full-text query, best BM25 score first, with the score.
//! * [`as_of`]: the table function `as_of(table, point)`: a table's rows as they were right
//!   after a commit or at a time, rebuilt from the change log.
//! * [`vector_literal`]: pgvector's text form `'[1, 2, 3]'` inserted into a vector column.
//! * [`index`]: `CREATE INDEX … USING hnsw | gist | gin` as Cairn's vector, spatial and
//!   text indexes.
//! * [`rank`]: `ORDER BY <distance> LIMIT k` as Cairn's `$nearVector` / `$near` (an HNSW or
//!   spatial index when one ranks, else an exact scan); [`pushdown`]: `st_3ddwithin` in
//!   `WHERE` as Cairn's `$withinDistance`.
//!
//! Every function computes its value in SQL from the row itself (the answer never depends on
//! an index); what is pushed into Cairn only chooses which rows are read.

pub mod as_of;
pub mod geo;
pub mod index;
pub mod pushdown;
pub mod rank;
pub mod text;
pub mod vector;
pub mod vector_literal;

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{DFSchema, ExprSchema, Result as DfResult};
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult, RawBinaryExpr};
use datafusion::logical_expr::{Expr, ExprSchemable, ScalarUDF};
use datafusion::prelude::SessionContext;
use datafusion::sql::sqlparser::ast::BinaryOperator;

/// Registers every model function on `ctx` (the operators are planned by [`ModelOperators`],
/// the rank pushdown is [`rank::RankPushdown`]; both go into the session state's builder).
pub fn register(ctx: &SessionContext) {
    for udf in vector::udfs().into_iter().chain(geo::udfs()) {
        ctx.register_udf(udf);
    }
}

/// Plans pgvector's operators: `a <-> b` as `l2_distance(a, b)`, `a <#> b` as
/// `negative_inner_product(a, b)`, and `a <=> b` as `cosine_distance(a, b)` when an operand is
/// a vector (a list); otherwise `<=>` keeps DataFusion's meaning (`IS NOT DISTINCT FROM`).
#[derive(Debug)]
pub struct ModelOperators {
    l2: Arc<ScalarUDF>,
    cosine: Arc<ScalarUDF>,
    negative_dot: Arc<ScalarUDF>,
}

impl Default for ModelOperators {
    fn default() -> ModelOperators {
        ModelOperators {
            l2: Arc::new(vector::l2_distance()),
            cosine: Arc::new(vector::cosine_distance()),
            negative_dot: Arc::new(vector::negative_inner_product()),
        }
    }
}

impl ExprPlanner for ModelOperators {
    fn plan_binary_op(
        &self,
        expr: RawBinaryExpr,
        schema: &DFSchema,
    ) -> DfResult<PlannerResult<RawBinaryExpr>> {
        let udf = match &expr.op {
            BinaryOperator::LtDashGt => &self.l2,
            BinaryOperator::Custom(op) if op == "<#>" => &self.negative_dot,
            BinaryOperator::Spaceship
                if is_list(&expr.left, schema) || is_list(&expr.right, schema) =>
            {
                &self.cosine
            }
            _ => return Ok(PlannerResult::Original(expr)),
        };
        Ok(PlannerResult::Planned(
            udf.call(vec![expr.left, expr.right]),
        ))
    }
}

fn is_list(expr: &Expr, schema: &dyn ExprSchema) -> bool {
    matches!(
        expr.get_type(schema),
        Ok(DataType::FixedSizeList(..) | DataType::List(_) | DataType::LargeList(_))
    )
}
