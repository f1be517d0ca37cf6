//! Reading points: range reads that skip chunks by their bounds, the latest point of every
//! series, and trajectories (vector values over a range, with linear interpolation).
//!
//! All reads run in the caller's transaction, so a read sees one snapshot (and, in a write
//! transaction, that transaction's own writes).

use std::ops::Bound;

use cairn_doc::Value;
use cairn_engine::Transaction;

use crate::chunk;
use crate::collection::{options, EXTENSION_NAME};
use crate::error::{Result, TsError};
use crate::layout::{decode_series_key, span_of, LAST_TABLE, SERIES_TABLE};
use crate::limits::MAX_POINTS_PER_READ;
use crate::sample::{Point, Sample};
use crate::write::{decode_id, series_chunks, series_id};

/// What a range read did, for `explain`-style reporting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Chunks in the spans the range overlaps whose header showed they hold no point of the
    /// range (not decoded). Chunks of other spans are not even visited.
    pub chunks_skipped: u64,
    /// Chunks decoded.
    pub chunks_decoded: u64,
}

/// The points of one series in `[from, to)`, in time order, and what the read did.
pub fn read_range(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    from: i64,
    to: i64,
) -> Result<(Vec<Point>, ReadStats)> {
    let span = options(txn, collection)?.chunk_span;
    let mut stats = ReadStats::default();
    let mut points = Vec::new();
    let Some(id) = series_id(txn, collection, series, false)? else {
        return Ok((points, stats));
    };
    if from >= to {
        return Ok((points, stats));
    }
    for (_, bytes) in series_chunks(txn, collection, id, span_of(from, span).0, i128::from(to))? {
        let header = chunk::header(&bytes)?;
        if header.max_time < from || header.min_time >= to {
            stats.chunks_skipped += 1;
            continue;
        }
        stats.chunks_decoded += 1;
        let (_, decoded) = chunk::decode(&bytes)?;
        points.extend(
            decoded
                .into_iter()
                .filter(|p| p.time >= from && p.time < to),
        );
        if points.len() > MAX_POINTS_PER_READ {
            return Err(TsError::LimitExceeded {
                what: "points in one range read",
                actual: points.len() as u64,
                limit: MAX_POINTS_PER_READ as u64,
            });
        }
    }
    Ok((points, stats))
}

/// The latest point of every series, with its series key, in series-id (creation) order.
/// Reads one small record per series, never a chunk.
pub fn latest(txn: &mut Transaction, collection: &str) -> Result<Vec<(Value, Point)>> {
    options(txn, collection)?;
    let mut records = Vec::new();
    txn.extension_range(
        collection,
        EXTENSION_NAME,
        LAST_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, value| {
            records.push((key.to_vec(), value.to_vec()));
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    let mut out = Vec::with_capacity(records.len());
    for (key, value) in records {
        let id = decode_id(&key)?;
        let mut by_id = b"i".to_vec();
        by_id.extend_from_slice(&key);
        let encoded = txn
            .extension_get(collection, EXTENSION_NAME, SERIES_TABLE, &by_id)?
            .ok_or_else(|| TsError::corrupt(format!("latest point of unknown series {id}")))?;
        let point = chunk::decode(&value)?
            .1
            .pop()
            .ok_or_else(|| TsError::corrupt("empty latest-point record"))?;
        out.push((decode_series_key(&encoded)?, point));
    }
    Ok(out)
}

/// The latest point of one series, if it has any.
pub fn latest_of(txn: &mut Transaction, collection: &str, series: &Value) -> Result<Option<Point>> {
    options(txn, collection)?;
    match series_id(txn, collection, series, false)? {
        Some(id) => crate::write::read_last(txn, collection, id),
        None => Ok(None),
    }
}

/// The vector values of `field` in `[from, to)`, in time order: a trajectory. Points where
/// the field is absent or not a vector are left out.
pub fn trajectory(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    field: &str,
    from: i64,
    to: i64,
) -> Result<Vec<(i64, Vec<f64>)>> {
    let (points, _) = read_range(txn, collection, series, from, to)?;
    Ok(points
        .into_iter()
        .filter_map(|mut p| match p.fields.remove(field) {
            Some(Sample::Vector(v)) => Some((p.time, v)),
            _ => None,
        })
        .collect())
}

/// The vector of `field` at time `at`: the stored value at exactly `at`, else the linear
/// interpolation between the nearest stored vectors before and after it (searched within
/// `window` either side); `None` when `at` is not between two such points.
pub fn interpolate(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    field: &str,
    at: i64,
    window: i64,
) -> Result<Option<Vec<f64>>> {
    let from = at.saturating_sub(window);
    let to = at.saturating_add(window).saturating_add(1);
    let path = trajectory(txn, collection, series, field, from, to)?;
    interpolate_path(&path, field, at)
}

/// The vector at time `at` of a trajectory already read (in time order): the stored vector at
/// exactly `at`, else the linear interpolation between its neighbours either side; `None`
/// when `at` is not between two points of `path`.
pub fn interpolate_path(
    path: &[(i64, Vec<f64>)],
    field: &str,
    at: i64,
) -> Result<Option<Vec<f64>>> {
    let after = path.partition_point(|(t, _)| *t < at);
    if let Some((t, v)) = path.get(after) {
        if *t == at {
            return Ok(Some(v.clone()));
        }
    }
    let (Some((t0, v0)), Some((t1, v1))) = (
        after.checked_sub(1).and_then(|i| path.get(i)),
        path.get(after),
    ) else {
        return Ok(None);
    };
    if v0.len() != v1.len() {
        return Err(TsError::DimensionMismatch {
            field: field.to_string(),
            left: v0.len(),
            right: v1.len(),
        });
    }
    let w = (at as f64 - *t0 as f64) / (*t1 as f64 - *t0 as f64);
    Ok(Some(
        v0.iter().zip(v1).map(|(a, b)| a + (b - a) * w).collect(),
    ))
}

/// What a [`scan_points`] did, for `explain`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Series whose points were read.
    pub series_read: u64,
    /// Series left out by the series test (none of their chunks visited).
    pub series_skipped: u64,
    /// Chunks whose header showed no point in the time range (not decoded).
    pub chunks_skipped: u64,
    /// Chunks decoded.
    pub chunks_decoded: u64,
}

/// What [`scan_points`] hands each point to: its key, its series key and the point; returns
/// whether to go on.
pub type PointVisitor<'v, E> = &'v mut dyn FnMut(&[u8], &Value, Point) -> Result<bool, E>;

/// Visits the points of every series whose key passes `keep_series`, with times in
/// `[from, to)` (`to` may be one past `i64::MAX`), series by series in id order and in time
/// order within a series, until `visit` returns false. Each point comes with a key unique in
/// the collection that sorts in visiting order (series id, then time: 12 bytes) and its
/// series key. Only the chunks of the spans the range overlaps are visited, and of those only
/// the ones whose header overlaps the range are decoded. This is what queries over a
/// time-series collection read (the `cairn` facade's source for the query planner).
pub fn scan_points<E: From<TsError>>(
    txn: &mut Transaction,
    collection: &str,
    (from, to): (i64, i128),
    keep_series: &mut dyn FnMut(&Value) -> bool,
    visit: PointVisitor<'_, E>,
) -> Result<ScanStats, E> {
    let span = options(txn, collection)?.chunk_span;
    let mut stats = ScanStats::default();
    if i128::from(from) >= to {
        return Ok(stats);
    }
    for id in crate::write::series_ids(txn, collection)? {
        let series = series_key_of(txn, collection, id)?;
        if !keep_series(&series) {
            stats.series_skipped += 1;
            continue;
        }
        stats.series_read += 1;
        for (_, bytes) in series_chunks(txn, collection, id, span_of(from, span).0, to)? {
            let header = chunk::header(&bytes)?;
            if header.max_time < from || i128::from(header.min_time) >= to {
                stats.chunks_skipped += 1;
                continue;
            }
            stats.chunks_decoded += 1;
            let (_, points) = chunk::decode(&bytes)?;
            for point in points {
                if point.time < from || i128::from(point.time) >= to {
                    continue;
                }
                let key = crate::layout::chunk_key(id, point.time);
                if !visit(&key, &series, point)? {
                    return Ok(stats);
                }
            }
        }
    }
    Ok(stats)
}

/// The series key of series `id`.
fn series_key_of(txn: &mut Transaction, collection: &str, id: u32) -> Result<Value> {
    let mut by_id = b"i".to_vec();
    by_id.extend_from_slice(&id.to_be_bytes());
    let encoded = txn
        .extension_get(collection, EXTENSION_NAME, SERIES_TABLE, &by_id)?
        .ok_or_else(|| TsError::corrupt(format!("series {id} has no key")))?;
    decode_series_key(&encoded)
}
