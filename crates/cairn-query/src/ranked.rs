//! "Order by rank, then keep the first `k`": the one path of every ranking condition
//! (`$near`; k-nearest vectors and top-k text to come) through `find`, `count`, `distinct`,
//! `explain` and pipelines' `$match`.
//!
//! A ranking condition must be a top-level condition (not under `$or`, `$nor`, `$not` or
//! `$elemMatch`), at most one per query. It selects the `k` documents with the smallest rank
//! (ties by `_id` key) among those matching the rest of the filter. An access method that
//! ranks by it on its field ([`AccessMethod::ranks`]) produces them; otherwise a full scan
//! ranks every match by [`FieldOperator::rank`] (the smallest over the values the field
//! reaches). Both ways give the same answer.

use std::sync::Arc;

use cairn_doc::{FieldPath, Value};
use cairn_index::path_values;

use crate::access::{AccessMethod, Fetcher, FieldOperator, Ranked, RankedRow, Ranking};
use crate::error::{QueryError, Result};
use crate::exec::Executor;
use crate::filter::{ElemCondition, Filter, Op};
use crate::plan::Access;

/// The ranking condition of a filter.
#[derive(Debug, Clone)]
pub struct RankedCondition {
    /// The field.
    pub path: FieldPath,
    /// The operator.
    pub op: Arc<dyn FieldOperator>,
    /// What it asks for.
    pub ranking: Ranking,
}

/// The ranking condition of `filter`, if any; an error when one is nested or there are
/// several.
pub fn ranked_of(filter: &Filter) -> Result<Option<RankedCondition>> {
    let mut found: Option<RankedCondition> = None;
    let top: Vec<&Filter> = match filter {
        Filter::And(parts) => parts.iter().collect(),
        other => vec![other],
    };
    for part in top {
        let Filter::Field(path, ops) = part else {
            check_none(part)?;
            continue;
        };
        for op in ops {
            match op {
                Op::Registered(registered) => {
                    if let Some(ranking) = registered.ranking() {
                        if let Some(first) = &found {
                            return Err(QueryError::invalid(
                                path.to_string(),
                                format!(
                                    "only one ranking condition per query (`{}` and `{}`)",
                                    first.op.name(),
                                    registered.name()
                                ),
                            ));
                        }
                        found = Some(RankedCondition {
                            path: path.clone(),
                            op: registered.clone(),
                            ranking: ranking.clone(),
                        });
                    }
                }
                other => check_none_op(other)?,
            }
        }
    }
    Ok(found)
}

fn nested(op: &dyn FieldOperator) -> QueryError {
    QueryError::invalid(
        op.name(),
        format!(
            "`{}` must be a top-level condition (not inside $or, $nor, $not or $elemMatch)",
            op.name()
        ),
    )
}

fn check_none(filter: &Filter) -> Result<()> {
    match filter {
        Filter::All => Ok(()),
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().try_for_each(check_none)
        }
        Filter::Field(_, ops) => ops.iter().try_for_each(check_none_op),
    }
}

fn check_none_op(op: &Op) -> Result<()> {
    match op {
        Op::Registered(op) if op.ranking().is_some() => Err(nested(op.as_ref())),
        Op::Not(ops) => ops.iter().try_for_each(check_none_op),
        Op::ElemMatch(condition) => match condition.as_ref() {
            ElemCondition::Ops(ops) => ops.iter().try_for_each(check_none_op),
            ElemCondition::Filter(f) => check_none(f),
        },
        _ => Ok(()),
    }
}

/// Runs a ranking condition: the `k` best documents matching `executor`'s filter, best
/// first (ties by key), through the first of `methods` that ranks by it, else a scan.
pub fn run_ranked(
    executor: &mut Executor<'_>,
    methods: &[Arc<dyn AccessMethod>],
    condition: &RankedCondition,
) -> Result<Ranked> {
    let k = condition.ranking.k;
    let method = methods
        .iter()
        .find(|m| m.ranks(&condition.path, condition.op.as_ref()));
    match method {
        Some(method) => {
            // Keeping only `_id` of a filter that is this condition alone: rows come from keys.
            let only_ranking = is_only(executor.filter, condition);
            let from_keys = executor.ids_only && only_ranking;
            let mut fetch = Fetcher {
                executor,
                from_keys,
                only_ranking,
                fetched: std::collections::HashMap::new(),
                methods: methods.to_vec(),
            };
            method.rank(&mut fetch, &condition.path, condition.op.as_ref(), k)
        }
        None => Ok(Ranked {
            rows: scanned(executor, condition)?,
            description: format!(
                "full scan ({} k={k}, exact rank per document)",
                condition.op.name()
            ),
        }),
    }
}

/// Whether `filter` is the ranking condition and nothing else.
fn is_only(filter: &Filter, condition: &RankedCondition) -> bool {
    let filter = match filter {
        Filter::And(items) if items.len() == 1 => &items[0],
        other => other,
    };
    matches!(filter, Filter::Field(p, ops) if *p == condition.path
        && matches!(ops.as_slice(), [Op::Registered(op)] if Arc::ptr_eq(op, &condition.op)))
}

fn scanned(executor: &mut Executor<'_>, condition: &RankedCondition) -> Result<Vec<RankedRow>> {
    let k = condition.ranking.k;
    let mut rows: Vec<RankedRow> = Vec::new();
    let mut ranked = 0u64;
    executor.run(&Access::FullScan, None, &mut |key, doc| {
        let mut reached = Vec::new();
        path_values::collect(&condition.path, &doc, &mut reached);
        ranked += 1;
        if let Some(rank) = best_rank(condition.op.as_ref(), &reached) {
            rows.push(RankedRow {
                rank,
                key: key.to_vec(),
                doc,
            });
            if rows.len() >= k.saturating_mul(2).max(1024) {
                keep_best(&mut rows, k);
            }
        }
        Ok(true)
    })?;
    executor.stats.add("exact_tests", ranked);
    keep_best(&mut rows, k);
    Ok(rows)
}

/// The smallest rank among the reached values (and their array elements).
fn best_rank(op: &dyn FieldOperator, reached: &[&Value]) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut consider = |v: &Value| {
        if let Some(r) = op.rank(v) {
            best = Some(best.map_or(r, |b: f64| b.min(r)));
        }
    };
    for value in reached {
        consider(value);
        if let Value::Array(items) = value {
            items.iter().for_each(&mut consider);
        }
    }
    best
}

/// Sorts `rows` best first (ties by key) and keeps the first `k`.
pub fn keep_best(rows: &mut Vec<RankedRow>, k: usize) {
    rows.sort_by(|a, b| a.rank.total_cmp(&b.rank).then_with(|| a.key.cmp(&b.key)));
    rows.truncate(k);
}

/// Writes a row's rank into its document (after projection).
pub fn with_rank(mut doc: Value, field: &str, rank: f64) -> Value {
    if let Value::Object(object) = &mut doc {
        object.insert(field, Value::Float(rank));
    }
    doc
}
