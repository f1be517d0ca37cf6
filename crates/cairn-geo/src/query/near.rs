//! `$near` over a spatial index: the `k` documents nearest to a shape, by exact distance
//! (the spatial index's [`cairn_query::access::AccessMethod::rank`]).
//!
//! With a ready spatial index on the field, the search reads the box around the shape grown by
//! a radius `r` (the first `r` is where `k` documents are expected at the density of the index
//! around the shape, when a read-only snapshot can ask the bucket cache for it): every stored part within `r` is found and measured exactly, each document's
//! distance is the minimum over its found parts (exact up to `r`, an upper bound beyond), and
//! documents are taken nearest first — fetched and checked against the whole filter — until
//! `k` pass. If the k-th is within `r`, that is the answer (anything not found is farther than
//! `r`). Otherwise, if `k` documents passed at all, the k-th one's distance bounds the answer:
//! one more round at that radius is exact. If fewer passed, `r` grows ×4 (capped by
//! `maxDistance`). Without an index, the query layer's scan measures every
//! matching document (`cairn-query/src/ranked.rs`). Ties are broken by `_id` key, so both ways give
//! the same answer.
//!
//! When the index content is resident in memory (`cairn_geo::index::residency`), there are no
//! rounds of radii: the image walks its R-tree best-first and hands documents over nearest
//! first by exact distance, so the walk stops right after the `k`-th.

use std::collections::HashMap;

use cairn_doc::Geometry;
use cairn_query::access::keep_best;
use cairn_query::access::{Fetcher, Ranked, RankedRow};
use cairn_query::Result;

use super::access::count_search;
use crate::distance::primitive_to_geometry;
use crate::index::{NearestQuery, SearchStats, SpatialHandle, Visit};
use crate::limits::MAX_NEAR_ROUNDS;

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

/// The `k` nearest documents to `shape` (within `max`) that pass the filter, nearest first
/// (ties by key), and how they were found.
pub(crate) fn nearest(
    fetch: &mut Fetcher<'_, '_>,
    handle: &SpatialHandle,
    shape: &Geometry,
    max: Option<f64>,
    k: usize,
) -> Result<Ranked> {
    let near = Near { shape, max, k };
    let (rows, rounds, radius) = indexed(fetch, &near, handle)?;
    Ok(Ranked {
        rows,
        description: format!(
            "spatial index `{}` on `{}` ($near k={k}: {rounds} round(s), final radius {radius})",
            handle.spec.name, handle.spec.field
        ),
    })
}

/// What a `$near` asks for.
struct Near<'a> {
    shape: &'a Geometry,
    max: Option<f64>,
    k: usize,
}

fn indexed(
    fetch: &mut Fetcher<'_, '_>,
    near: &Near<'_>,
    handle: &SpatialHandle,
) -> Result<(Vec<RankedRow>, u32, f64)> {
    let shape_box = crate::bbox(near.shape);
    let limit = near.max.unwrap_or(f64::INFINITY);
    if let Some(found) = resident(fetch, near, handle)? {
        return Ok(found);
    }
    // The first radius: where k documents are expected at the density of the decoded buckets
    // around the shape (read-only snapshots), else `INITIAL_RADIUS`.
    let mut probe = SearchStats::default();
    let mut cx = fetch.scan();
    let density = handle.density_near(cx.txn, cx.collection, &shape_box, &mut probe)?;
    count_search(&mut cx, &probe);
    let mut radius = match density {
        Some(per_volume) => {
            let ball = 3.0 * near.k as f64 / (4.0 * std::f64::consts::PI * per_volume);
            (ball.cbrt() * DENSITY_RADIUS_MARGIN).max(f64::MIN_POSITIVE)
        }
        None => INITIAL_RADIUS,
    }
    .min(limit);
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(
            rounds <= MAX_NEAR_ROUNDS + 1,
            "a $near search ran past its round bound"
        );
        // Each document's smallest distance over the parts found. Every part within `radius`
        // is found, so distances up to `radius` are exact; larger ones are upper bounds.
        let mut nearest: HashMap<Vec<u8>, f64> = HashMap::new();
        let mut tests = 0u64;
        let mut cx = fetch.scan();
        let search = handle.search_near(
            cx.txn,
            cx.collection,
            &shape_box,
            radius,
            &mut |key, part| {
                // `search_near` already dropped parts whose box lies beyond `radius` (the query
                // box's corners), so every part here gets its exact test.
                tests += 1;
                let d = primitive_to_geometry(part, near.shape);
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
        cx.count("exact_tests", tests);
        count_search(&mut cx, &search);
        let mut order: Vec<(f64, Vec<u8>)> = nearest.into_iter().map(|(k, d)| (d, k)).collect();
        order.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        let mut rows = Vec::new();
        for (d, key) in order {
            if d > limit {
                break;
            }
            if let Some(doc) = fetch.take(&key)? {
                rows.push(RankedRow { rank: d, key, doc });
                if rows.len() == near.k {
                    break;
                }
            }
        }
        let kth = (rows.len() == near.k).then(|| rows[near.k - 1].rank);
        if kth.is_some_and(|d| d <= radius) || radius >= limit || radius.is_infinite() {
            // Exact: every document not in `rows` is farther than `radius` or than the k-th.
            rows.retain(|row| row.rank <= radius);
            return Ok((rows, rounds, radius));
        }
        let within = rows.iter().filter(|row| row.rank <= radius).count();
        radius = match kth {
            // k matching documents are known to lie within `d`: one more round at `d` is exact.
            Some(d) => d,
            // The bound on rounds: past it the next round searches everything and is the last.
            None if radius * RADIUS_GROWTH > RADIUS_UNBOUNDED || rounds >= MAX_NEAR_ROUNDS => {
                f64::INFINITY
            }
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

/// `$near` from the index content's resident image (`None` when it is not resident): the
/// image hands documents nearest first by exact distance; the first `want` (and any tied
/// with the last) are fetched and filtered, and if fewer than `k` pass, the walk runs again
/// for four times as many. Returns the rows, the walks made and the distance reached.
fn resident(
    fetch: &mut Fetcher<'_, '_>,
    near: &Near<'_>,
    handle: &SpatialHandle,
) -> Result<Option<(Vec<RankedRow>, u32, f64)>> {
    let shape_box = crate::bbox(near.shape);
    let limit = near.max.unwrap_or(f64::INFINITY);
    let mut want = near.k;
    let mut walks = 0;
    loop {
        walks += 1;
        let mut order: Vec<(f64, Vec<u8>)> = Vec::with_capacity(want.min(1024));
        let mut complete = true;
        let mut tests = 0u64;
        let mut cx = fetch.scan();
        let found = handle.resident_nearest(
            cx.txn,
            cx.collection,
            NearestQuery {
                around: &shape_box,
                limit,
                want,
            },
            &mut |part| {
                tests += 1;
                primitive_to_geometry(part, near.shape)
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
        count_search(&mut cx, &search);
        cx.count("exact_tests", tests);
        let reached = order.last().map_or(0.0, |last| last.0);
        let mut rows = Vec::new();
        for (d, key) in order {
            if let Some(doc) = fetch.take(&key)? {
                rows.push(RankedRow { rank: d, key, doc });
            }
        }
        // Every document up to `reached` was handed over, ties included: if `k` passed (or
        // nothing is left), the nearest `k` of them are the answer.
        if rows.len() >= near.k || complete {
            keep_best(&mut rows, near.k);
            return Ok(Some((rows, walks, reached)));
        }
        want = want.saturating_mul(4);
    }
}
