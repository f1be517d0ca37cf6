//! "Order by a model's distance, keep the first `k`" answered by Cairn's ranking operators.
//!
//! A physical optimizer rule, run before DataFusion's own: it finds a top-k sort
//! (`SortExec` with a fetch, i.e. `ORDER BY … LIMIT k`) whose one sort key, ascending, is
//!
//! * a vector distance (`emb <-> '[…]'`, `<=>`, `<#>`, or the functions behind them) of a
//!   column and a constant: Cairn's `$nearVector` with the operator's metric, or
//! * `st_3ddistance(geom, '<WKT>')`: Cairn's `$near`,
//!
//! * a declared, required scalar column (`ORDER BY score LIMIT k`, either direction): Cairn
//!   reads in that order (an ordered index read when an index serves it) and stops after `k`,
//!
//! over a Cairn scan reached through projections only, and gives that scan the ranking
//! condition with `k`: Cairn's planner then takes the `k` best through the index that ranks by
//! it (the HNSW graph, the spatial index) or, without one, ranks every match exactly. The sort
//! stays above and orders the `k` rows by the SQL expression itself, so the answer's values
//! and order are DataFusion's; the scan only chooses which rows.
//!
//! When is it the same answer as without the rule? The scan applies every pushed filter
//! exactly when nothing sits between the sort and the scan but projections (a `FilterExec`
//! there — an inexact or unsupported filter — stops the rewrite, since a ranking below a
//! filter would return fewer than `k` rows). Exact ranking (no index, or `$near`, whose index
//! is exact) then gives the same rows up to ties at the k-th distance (Cairn breaks them by
//! `_id`). An HNSW index is approximate, as pgvector's HNSW index is: its recall is the
//! index's (`ef`), documented in `cairn-vector`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cairn::query::access::access_methods;
use cairn::query::limits::MAX_NEAR_K;
use cairn::query::parse_filter;
use cairn::query::ranked_of;
use cairn::query::Filter;
use cairn::query::SortKey;
use cairn::query::{plan, PlanInput};
use cairn::FieldPath;
use cairn::{Object, Value};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result as DfResult;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr, ScalarFunctionExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::ExecutionPlan;

use super::geo::{literal_shape, ST_3DDISTANCE};
use super::vector::{literal_vector, metric_of, vector_value};
use crate::error::SqlError;
use crate::scan::CairnScanExec;

/// The field each ranked document's distance is written into by Cairn: never a column (the
/// rule does not fire on a table that has one of this name), so it never reaches a row.
pub const RANK_FIELD: &str = "_cairn_sql_rank";

/// The rule; see the module documentation.
#[derive(Debug)]
pub struct RankPushdown {
    /// The session's pushdown switch (`SqlSession::set_pushdown`): off, DataFusion sorts
    /// every row itself.
    enabled: Arc<AtomicBool>,
}

impl RankPushdown {
    /// The rule, active while `enabled` is set.
    pub fn new(enabled: Arc<AtomicBool>) -> RankPushdown {
        RankPushdown { enabled }
    }
}

impl PhysicalOptimizerRule for RankPushdown {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        if !self.enabled.load(Ordering::Relaxed) {
            return Ok(plan);
        }
        plan.transform_down(|node| match rewrite(&node)? {
            Some(rewritten) => Ok(Transformed::new(rewritten, true, TreeNodeRecursion::Jump)),
            None => Ok(Transformed::no(node)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "cairn_rank_pushdown"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The plan with the ranking pushed into its scan, if `node` is a top-k sort the rule serves.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(sort) = node.downcast_ref::<SortExec>() else {
        return Ok(None);
    };
    let keys: &[PhysicalSortExpr] = sort.expr();
    let (Some(k), [key]) = (sort.fetch(), keys) else {
        return Ok(None);
    };
    if k == 0 || k > MAX_NEAR_K {
        return Ok(None);
    }
    // Walk down through projections, rewriting the key onto each one's input.
    let mut expr = key.expr.clone();
    let mut chain: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
    let mut input = sort.input().clone();
    while let Some(projection) = input.downcast_ref::<ProjectionExec>() {
        let Some(inlined) = inline(&expr, projection) else {
            return Ok(None);
        };
        expr = inlined;
        let next = projection.input().clone();
        chain.push(std::mem::replace(&mut input, next));
    }
    let Some(scan) = input.downcast_ref::<CairnScanExec>() else {
        return Ok(None);
    };
    let ranked = if let Some(field) = sortable_column(&expr, scan) {
        sorted_scan(scan, &field, key.options.descending, k)?
    } else if key.options.descending {
        return Ok(None);
    } else if let Some((field, operator, operand)) = ranking_of(&expr, scan, k) {
        ranked_scan(scan, &field, operator, operand, k)?
    } else {
        return Ok(None);
    };
    let Some(ranked) = ranked else {
        return Ok(None);
    };
    // Rebuild bottom-up: each projection over the new scan, the sort over the last.
    let mut child: Arc<dyn ExecutionPlan> = Arc::new(ranked);
    for parent in chain.into_iter().rev() {
        child = replace_children_if_necessary(parent, vec![child])?;
    }
    Ok(Some(replace_children_if_necessary(
        node.clone(),
        vec![child],
    )?))
}

/// `expr` (over a projection's output) rewritten over the projection's input.
fn inline(
    expr: &Arc<dyn PhysicalExpr>,
    projection: &ProjectionExec,
) -> Option<Arc<dyn PhysicalExpr>> {
    let mut failed = false;
    let out = expr
        .clone()
        .transform_down(|e| {
            if let Some(column) = e.downcast_ref::<Column>() {
                return match projection.expr().get(column.index()) {
                    Some(p) => Ok(Transformed::new(
                        p.expr.clone(),
                        true,
                        TreeNodeRecursion::Jump,
                    )),
                    None => {
                        failed = true;
                        Ok(Transformed::no(e))
                    }
                };
            }
            Ok(Transformed::no(e))
        })
        .ok()?
        .data;
    (!failed).then_some(out)
}

/// The column `expr` is, when Cairn's order of its values is SQL's: a declared, required
/// (never NULL: SQL puts NULLs last, Cairn's order first) scalar column.
fn sortable_column(expr: &Arc<dyn PhysicalExpr>, scan: &CairnScanExec) -> Option<String> {
    let column = expr.downcast_ref::<Column>()?;
    let schema = scan.schema();
    let name = schema.fields().get(column.index())?.name();
    let spec = scan.spec();
    let found = spec.shape.column(name)?;
    (spec.shape.declared
        && found.required
        && found.ty.is_comparable_scalar()
        && spec.ranked.is_none())
    .then(|| found.name.clone())
}

/// `scan` reading in `field`'s order, the first `k` only, when Cairn's planner chooses an
/// ordered index read for it (`None` otherwise: DataFusion's top-k sorts the scan).
fn sorted_scan(
    scan: &CairnScanExec,
    field: &str,
    descending: bool,
    k: usize,
) -> DfResult<Option<CairnScanExec>> {
    let Ok(path) = FieldPath::parse(field) else {
        return Ok(None);
    };
    let mut spec = scan.spec().clone();
    spec.order = vec![SortKey { path, descending }];
    let access = scan
        .txn()
        .with(|t| {
            let methods = access_methods(t, &spec.collection, &spec.filter)?;
            let input = PlanInput {
                filter: &spec.filter,
                sort: &spec.order,
                needed: Some(k),
            };
            let candidates = plan(t, &spec.collection, &methods, &input)?;
            // Only an ordered read: a sort in Cairn would buffer what DataFusion's top-k
            // keeps in a heap of k rows.
            Ok(candidates
                .first()
                .filter(|c| c.ordered)
                .map(|c| c.access.describe()))
        })
        .map_err(SqlError::into_datafusion)?;
    let Some(access) = access else {
        return Ok(None);
    };
    let direction = if descending {
        "descending"
    } else {
        "ascending"
    };
    spec.access = format!("{access} in `{field}` order ({direction}), first {k}");
    spec.ranked = Some(k);
    Ok(Some(scan.with_spec(spec)))
}

/// The Cairn ranking condition `expr` asks for: the field, the operator and its operand.
fn ranking_of(
    expr: &Arc<dyn PhysicalExpr>,
    scan: &CairnScanExec,
    k: usize,
) -> Option<(String, &'static str, Value)> {
    let function = expr.downcast_ref::<ScalarFunctionExpr>()?;
    let [a, b] = function.args() else {
        return None;
    };
    let (column, literal) = match (a.downcast_ref::<Column>(), b.downcast_ref::<Literal>()) {
        (Some(column), Some(literal)) => (column, literal),
        _ => (b.downcast_ref::<Column>()?, a.downcast_ref::<Literal>()?),
    };
    let schema = scan.schema();
    let field = schema.fields().get(column.index())?.name().clone();
    if scan.spec().shape.column(RANK_FIELD).is_some() || scan.spec().ranked.is_some() {
        return None;
    }
    let mut operand = Object::new();
    operand.insert("k", Value::Int(i64::try_from(k).ok()?));
    operand.insert("distanceField", Value::String(RANK_FIELD.into()));
    let operator = if let Some(metric) = metric_of(function.name()) {
        let vector = literal_vector(literal.value())?;
        operand.insert("vector", vector_value(&vector));
        operand.insert("metric", Value::String(metric.into()));
        "$nearVector"
    } else if function.name() == ST_3DDISTANCE {
        operand.insert("shape", Value::String(literal_shape(literal.value())?));
        "$near"
    } else {
        return None;
    };
    Some((field, operator, Value::Object(operand)))
}

/// `scan` with the ranking condition added to its filter; `None` when Cairn refuses it (a
/// query vector of the wrong dimension...: the SQL expression then reports the error).
fn ranked_scan(
    scan: &CairnScanExec,
    field: &str,
    operator: &str,
    operand: Value,
    k: usize,
) -> DfResult<Option<CairnScanExec>> {
    let mut condition = Object::new();
    let mut ops = Object::new();
    ops.insert(operator, operand);
    condition.insert(field, Value::Object(ops));
    let Ok(ranking) = parse_filter(&Value::Object(condition)) else {
        return Ok(None);
    };
    let mut spec = scan.spec().clone();
    spec.filter = match spec.filter {
        Filter::And(mut parts) => {
            parts.push(ranking);
            Filter::And(parts)
        }
        Filter::All => ranking,
        other => Filter::and([other, ranking]),
    };
    let described = scan.txn().with(|t| {
        let Some(ranked) = ranked_of(&spec.filter)? else {
            return Ok(None);
        };
        let methods = access_methods(t, &spec.collection, &spec.filter)?;
        let by = methods
            .iter()
            .find(|m| m.ranks(&ranked.path, ranked.op.as_ref()))
            .map_or_else(
                || "an exact scan of every match".to_string(),
                |m| format!("index `{}`", m.name()),
            );
        Ok(Some(format!("{operator} on `{field}` k={k} through {by}")))
    });
    let access = match described {
        Ok(Some(access)) => access,
        Ok(None) => return Ok(None),
        // Cairn refuses the condition (a wrong dimension, no metric...): leave the sort to
        // DataFusion, whose expression reports it.
        Err(SqlError::Query(_)) => return Ok(None),
        Err(other) => return Err(other.into_datafusion()),
    };
    spec.access = match spec.pushed.is_empty() {
        true => access,
        false => format!("{access}; filter: {}", spec.access),
    };
    spec.ranked = Some(k);
    Ok(Some(scan.with_spec(spec)))
}
