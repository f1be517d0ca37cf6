//! `$near`: the `k` documents nearest to a shape, by exact distance.
//!
//! With a ready spatial index on the field, the search reads the box around the shape grown by
//! a radius `r` (the first `r` is where `k` documents are expected at the density of the index
//! around the shape, when a read-only snapshot can ask the bucket cache for it): every stored part within `r` is found and measured exactly, each document's
//! distance is the minimum over its found parts (exact up to `r`, an upper bound beyond), and
//! documents are taken nearest first — fetched and checked against the whole filter — until
//! `k` pass. If the k-th is within `r`, that is the answer (anything not found is farther than
//! `r`). Otherwise, if `k` documents passed at all, the k-th one's distance bounds the answer:
//! one more round at that radius is exact. If fewer passed, `r` grows ×4 (capped by
//! `maxDistance`). Without an index, a scan measures every
//! matching document. Ties are broken by `_id` key, so both ways give the same answer.
//!
//! When the index content is resident in memory (`cairn_geo::index::residency`), there are no
//! rounds of radii: the image walks its R-tree best-first and hands documents over nearest
//! first by exact distance, so the walk stops right after the `k`-th.

use std::collections::HashMap;

use cairn_doc::{FieldPath, Geometry, Value};
use cairn_geo::distance::primitive_to_geometry;
use cairn_geo::index::{spatial_indexes, Visit};
use cairn_index::path_values;

use crate::error::{QueryError, Result};
use crate::exec::Executor;
use crate::filter::geo::{nearest_distance, GeoOp};
use crate::filter::{ElemCondition, Filter, Op};
use crate::index_only;
use crate::plan::Access;

/// The first search radius when nothing better is known; each round multiplies it by
/// [`RADIUS_GROWTH`], so data at scale `s` needs about `log4(s)` rounds.
const INITIAL_RADIUS: f64 = 1.0;
/// Factor on the radius where `k` documents are expected at the estimated density, so that
/// usually one round holds `k` documents within its radius (an answer in one round; else the
/// k-th found bounds a second, exact one). A round reads a volume growing with the cube of
/// the factor: at 1.2 it expects `1.7·k` documents (under uniform density a shortfall below
/// `k` is a few percent), at 1.5 it read `3.4·k`, twice the work for rounds that almost
/// never were needed (`cairn bench geo`, 10-NN).
const DENSITY_RADIUS_MARGIN: f64 = 1.2;
/// Factor by which the radius grows between rounds.
const RADIUS_GROWTH: f64 = 4.0;
/// Past this radius the next round searches everything (the box would overflow anyway).
const RADIUS_UNBOUNDED: f64 = 1e300;

/// A `$near` condition found at the top level of a filter.
#[derive(Debug, Clone)]
pub struct NearSpec {
    /// The field.
    pub path: FieldPath,
    /// The query shape.
    pub shape: Geometry,
    /// How many documents.
    pub k: usize,
    /// Farther documents never match.
    pub max: Option<f64>,
    /// Where distances are written.
    pub distance_field: String,
}

/// The `$near` of a filter, if any. It must be a top-level condition (not under `$or`,
/// `$nor`, `$not` or `$elemMatch`), and there may be only one.
pub fn near_of(filter: &Filter) -> Result<Option<NearSpec>> {
    let mut found = None;
    let top: Vec<&Filter> = match filter {
        Filter::And(parts) => parts.iter().collect(),
        other => vec![other],
    };
    for part in &top {
        match part {
            Filter::Field(path, ops) => {
                for op in ops {
                    match op {
                        Op::Geo(geo) => {
                            if let GeoOp::Near {
                                shape,
                                k,
                                max,
                                distance_field,
                            } = &**geo
                            {
                                if found.is_some() {
                                    return Err(QueryError::invalid(
                                        path.to_string(),
                                        "only one `$near` per query",
                                    ));
                                }
                                found = Some(NearSpec {
                                    path: path.clone(),
                                    shape: shape.clone(),
                                    k: *k,
                                    max: *max,
                                    distance_field: distance_field.clone(),
                                });
                            }
                        }
                        other => check_no_near_op(other)?,
                    }
                }
            }
            Filter::And(_) => check_no_near(part)?,
            other => check_no_near(other)?,
        }
    }
    Ok(found)
}

fn nested_near() -> QueryError {
    QueryError::invalid(
        "$near",
        "`$near` must be a top-level condition (not inside $or, $nor, $not or $elemMatch)",
    )
}

fn check_no_near(filter: &Filter) -> Result<()> {
    match filter {
        Filter::All => Ok(()),
        Filter::And(parts) | Filter::Or(parts) | Filter::Nor(parts) => {
            parts.iter().try_for_each(check_no_near)
        }
        Filter::Field(_, ops) => ops.iter().try_for_each(|op| match op {
            Op::Geo(geo) if matches!(**geo, GeoOp::Near { .. }) => Err(nested_near()),
            other => check_no_near_op(other),
        }),
    }
}

fn check_no_near_op(op: &Op) -> Result<()> {
    match op {
        Op::Geo(geo) if matches!(**geo, GeoOp::Near { .. }) => Err(nested_near()),
        Op::Not(ops) => ops.iter().try_for_each(check_no_near_op),
        Op::ElemMatch(condition) => match condition.as_ref() {
            ElemCondition::Ops(ops) => ops.iter().try_for_each(check_no_near_op),
            ElemCondition::Filter(f) => check_no_near(f),
        },
        _ => Ok(()),
    }
}

/// One `$near` result: distance, document key, document.
pub type NearRow = (f64, Vec<u8>, Value);

/// Runs a `$near`: the `k` nearest documents matching `executor`'s filter, nearest first
/// (ties by key), and a description of how they were found.
pub fn run_near(executor: &mut Executor<'_>, near: &NearSpec) -> Result<(Vec<NearRow>, String)> {
    let handle = spatial_indexes(executor.txn, executor.collection)?
        .into_iter()
        .find(|h| h.ready && h.spec.field == near.path);
    match handle {
        Some(handle) => {
            let (rows, rounds, radius) = indexed(executor, near, &handle)?;
            Ok((
                rows,
                format!(
                    "spatial index `{}` on `{}` ($near k={}: {rounds} round(s), final radius \
                     {radius})",
                    handle.spec.name, handle.spec.field, near.k
                ),
            ))
        }
        None => Ok((
            scanned(executor, near)?,
            format!(
                "full scan ($near k={}, exact distance per document)",
                near.k
            ),
        )),
    }
}

fn scanned(executor: &mut Executor<'_>, near: &NearSpec) -> Result<Vec<NearRow>> {
    let mut rows: Vec<NearRow> = Vec::new();
    let mut tests = 0u64;
    executor.run(&Access::FullScan, None, &mut |key, doc| {
        let mut reached = Vec::new();
        path_values::collect(&near.path, &doc, &mut reached);
        tests += 1;
        if let Some(d) = nearest_distance(&reached, &near.shape) {
            if near.max.is_none_or(|m| d <= m) {
                rows.push((d, key.to_vec(), doc));
                if rows.len() >= near.k.saturating_mul(2).max(1024) {
                    keep_nearest(&mut rows, near.k);
                }
            }
        }
        Ok(true)
    })?;
    executor.stats.exact_tests += tests;
    keep_nearest(&mut rows, near.k);
    Ok(rows)
}

fn keep_nearest(rows: &mut Vec<NearRow>, k: usize) {
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    rows.truncate(k);
}

fn indexed(
    executor: &mut Executor<'_>,
    near: &NearSpec,
    handle: &cairn_geo::index::SpatialHandle,
) -> Result<(Vec<NearRow>, u32, f64)> {
    let shape_box = cairn_geo::bbox(&near.shape);
    let limit = near.max.unwrap_or(f64::INFINITY);
    if let Some(found) = resident(executor, near, handle)? {
        return Ok(found);
    }
    // The first radius: where k documents are expected at the density of the decoded buckets
    // around the shape (read-only snapshots), else `INITIAL_RADIUS`.
    let mut probe = cairn_geo::index::SearchStats::default();
    let density = handle.density_near(executor.txn, executor.collection, &shape_box, &mut probe)?;
    executor.stats.add_spatial(&probe);
    let mut radius = match density {
        Some(per_volume) => {
            let ball = 3.0 * near.k as f64 / (4.0 * std::f64::consts::PI * per_volume);
            (ball.cbrt() * DENSITY_RADIUS_MARGIN).max(f64::MIN_POSITIVE)
        }
        None => INITIAL_RADIUS,
    }
    .min(limit);
    // Documents already fetched: `None` when they failed the filter.
    let mut fetched: HashMap<Vec<u8>, Option<Value>> = HashMap::new();
    // Keeping only `_id` of a filter that is this `$near` alone: rows come from keys.
    let from_keys = executor.ids_only && index_only::is_only_near(executor.filter, &near.path);
    let mut rounds = 0;
    loop {
        rounds += 1;
        // Each document's smallest distance over the parts found. Every part within `radius`
        // is found, so distances up to `radius` are exact; larger ones are upper bounds.
        let mut nearest: HashMap<Vec<u8>, f64> = HashMap::new();
        let stats = &mut executor.stats;
        let search = handle.search_near(
            executor.txn,
            executor.collection,
            &shape_box,
            radius,
            &mut |key, part| {
                // `search_near` already dropped parts whose box lies beyond `radius` (the query
                // box's corners), so every part here gets its exact test.
                stats.exact_tests += 1;
                let d = primitive_to_geometry(part, &near.shape);
                match nearest.get_mut(key) {
                    Some(best) => *best = best.min(d),
                    None => {
                        nearest.insert(key.to_vec(), d);
                    }
                }
                // Each document's smallest distance needs all of its parts.
                Ok(Visit::Next)
            },
        )?;
        executor.stats.add_spatial(&search);
        let mut order: Vec<(f64, Vec<u8>)> = nearest.into_iter().map(|(k, d)| (d, k)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut rows = Vec::new();
        for (d, key) in order {
            if d > limit {
                break;
            }
            if let Some(doc) = take(executor, &key, from_keys, &mut fetched)? {
                rows.push((d, key, doc.clone()));
                if rows.len() == near.k {
                    break;
                }
            }
        }
        let kth = (rows.len() == near.k).then(|| rows[near.k - 1].0);
        if kth.is_some_and(|d| d <= radius) || radius >= limit || radius.is_infinite() {
            // Exact: every document not in `rows` is farther than `radius` or than the k-th.
            rows.retain(|row| row.0 <= radius);
            return Ok((rows, rounds, radius));
        }
        let within = rows.iter().filter(|row| row.0 <= radius).count();
        radius = match kth {
            // k matching documents are known to lie within `d`: one more round at `d` is exact.
            Some(d) => d,
            None if radius * RADIUS_GROWTH > RADIUS_UNBOUNDED => f64::INFINITY,
            // None yet: grow by the full factor. Some: grow by the cube root of the shortfall
            // (matches scale with volume), a little more to land past the k-th.
            None if within == 0 => radius * RADIUS_GROWTH,
            None => {
                let factor = (near.k as f64 / within as f64).cbrt() * 1.25;
                radius * factor.clamp(1.5, RADIUS_GROWTH)
            }
        }
        .min(limit);
    }
}

/// The document of `key` if it passes the filter (fetched once per `$near`, remembered in
/// `fetched`); from the key alone when `from_keys` (the filter is the `$near` alone and only
/// `_id` is kept).
fn take(
    executor: &mut Executor<'_>,
    key: &[u8],
    from_keys: bool,
    fetched: &mut HashMap<Vec<u8>, Option<Value>>,
) -> Result<Option<Value>> {
    if let Some(known) = fetched.get(key) {
        return Ok(known.clone());
    }
    let mut doc = None;
    if from_keys {
        executor.stats.matched += 1;
        doc = Some(index_only::id_document(key)?);
    } else {
        executor.fetch_one(key, &mut |_, found| {
            doc = Some(found);
            Ok(true)
        })?;
    }
    fetched.insert(key.to_vec(), doc.clone());
    Ok(doc)
}

/// `$near` from the index content's resident image (`None` when it is not resident): the
/// image hands documents nearest first by exact distance; the first `want` (and any tied
/// with the last) are fetched and filtered, and if fewer than `k` pass, the walk runs again
/// for four times as many. Returns the rows, the walks made and the distance reached.
fn resident(
    executor: &mut Executor<'_>,
    near: &NearSpec,
    handle: &cairn_geo::index::SpatialHandle,
) -> Result<Option<(Vec<NearRow>, u32, f64)>> {
    let shape_box = cairn_geo::bbox(&near.shape);
    let limit = near.max.unwrap_or(f64::INFINITY);
    let from_keys = executor.ids_only && index_only::is_only_near(executor.filter, &near.path);
    let mut fetched: HashMap<Vec<u8>, Option<Value>> = HashMap::new();
    let mut want = near.k;
    let mut walks = 0;
    loop {
        walks += 1;
        let mut order: Vec<(f64, Vec<u8>)> = Vec::with_capacity(want.min(1024));
        let mut complete = true;
        let mut tests = 0u64;
        let found = handle.resident_nearest(
            executor.txn,
            executor.collection,
            cairn_geo::index::NearestQuery {
                around: &shape_box,
                limit,
                want,
            },
            &mut |part| {
                tests += 1;
                primitive_to_geometry(part, &near.shape)
            },
            &mut |key, d| {
                if order.len() >= want && order.last().is_some_and(|last| d > last.0) {
                    complete = false;
                    return Ok(false);
                }
                order.push((d, key.to_vec()));
                Ok(true)
            },
        )?;
        let Some((search, pruned)) = found else {
            return Ok(None);
        };
        complete &= !pruned;
        executor.stats.add_spatial(&search);
        executor.stats.exact_tests += tests;
        let reached = order.last().map_or(0.0, |last| last.0);
        let mut rows = Vec::new();
        for (d, key) in order {
            if let Some(doc) = take(executor, &key, from_keys, &mut fetched)? {
                rows.push((d, key, doc));
            }
        }
        // Every document up to `reached` was handed over, ties included: if `k` passed (or
        // nothing is left), the nearest `k` of them are the answer.
        if rows.len() >= near.k || complete {
            keep_nearest(&mut rows, near.k);
            return Ok(Some((rows, walks, reached)));
        }
        want = want.saturating_mul(4);
    }
}

/// Writes each row's distance into its document (after projection).
pub fn with_distance(mut doc: Value, field: &str, d: f64) -> Value {
    if let Value::Object(object) = &mut doc {
        object.insert(field, Value::Float(d));
    }
    doc
}
