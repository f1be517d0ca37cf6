//! Writing points: appends (in order or late), deletes by time range, and retention.
//!
//! Every write goes through the caller's [`Transaction`] into the extension's tables, so it
//! commits or aborts with everything else the transaction does. Appends group points by
//! chunk span; within a span:
//! * **fast path** — every new point is after the span's last stored point: only the last
//!   chunk is decoded, filled up to [`MAX_POINTS_PER_CHUNK`], and new chunks follow;
//! * **merge** — a late or out-of-order point: the span's chunks are decoded, merged with the
//!   new points (a point at an existing time replaces it) and re-split.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::Value;
use cairn_engine::Transaction;

use crate::chunk;
use crate::collection::{options, EXTENSION_NAME};
use crate::error::{Result, TsError};
use crate::layout::{
    chunk_key, encode_series_key, last_key, series_end, span_of, time_range, CHUNKS_TABLE,
    LAST_TABLE, NEXT_ID_KEY, SERIES_TABLE,
};
use crate::limits::{MAX_POINTS_PER_APPEND, MAX_POINTS_PER_CHUNK, MAX_SERIES_PER_COLLECTION};
use crate::sample::{check_limit, Point};

/// Stored chunks of one key range: (key, bytes) in key order.
pub(crate) type StoredChunks = Vec<(Vec<u8>, Vec<u8>)>;

/// Appends `points` to the series named `series` (created on first use) in `txn`. Points may
/// come in any order; a point at a time the series already holds replaces it.
pub fn append(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    points: Vec<Point>,
) -> Result<()> {
    check_limit("points in one append", points.len(), MAX_POINTS_PER_APPEND)?;
    for point in &points {
        point.validate()?;
    }
    if points.is_empty() {
        return Ok(());
    }
    let span = options(txn, collection)?.chunk_span;
    let id = series_id(txn, collection, series, true)?
        .ok_or_else(|| TsError::corrupt("series id not created"))?;
    let sorted = sort_dedup(points);
    let mut start = 0;
    while start < sorted.len() {
        let (span_start, span_end) = span_of(sorted[start].time, span);
        let end = sorted[start..]
            .iter()
            .position(|p| i128::from(p.time) >= span_end)
            .map_or(sorted.len(), |n| start + n);
        write_span(
            txn,
            collection,
            id,
            (span_start, span_end),
            &sorted[start..end],
        )?;
        start = end;
    }
    if let Some(newest) = sorted.last() {
        let last = read_last(txn, collection, id)?;
        if last.as_ref().is_none_or(|p| newest.time >= p.time) {
            put_last(txn, collection, id, newest)?;
        }
    }
    Ok(())
}

/// Appends documents (`{time_field, meta_field, ...values}`), grouped by series.
pub fn insert_documents(txn: &mut Transaction, collection: &str, docs: &[Value]) -> Result<()> {
    let opts = options(txn, collection)?;
    let mut by_series: Vec<(Value, Vec<Point>)> = Vec::new();
    let mut index: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
    for doc in docs {
        let (meta, point) = Point::from_document(doc, &opts.time_field, &opts.meta_field)?;
        let key = encode_series_key(&meta)?;
        let slot = *index.entry(key).or_insert_with(|| {
            by_series.push((meta, Vec::new()));
            by_series.len() - 1
        });
        by_series[slot].1.push(point);
    }
    for (meta, points) in by_series {
        append(txn, collection, &meta, points)?;
    }
    Ok(())
}

/// Sorts by time; of points with equal times the last given wins.
fn sort_dedup(mut points: Vec<Point>) -> Vec<Point> {
    points.sort_by_key(|p| p.time);
    let mut out: Vec<Point> = Vec::with_capacity(points.len());
    for point in points {
        match out.last_mut() {
            Some(last) if last.time == point.time => *last = point,
            _ => out.push(point),
        }
    }
    out
}

/// Writes sorted points that all fall in one span.
fn write_span(
    txn: &mut Transaction,
    collection: &str,
    id: u32,
    span: (i64, i128),
    points: &[Point],
) -> Result<()> {
    let (lo, hi) = time_range(id, span.0, span.1);
    let stored = scan_chunks(txn, collection, &lo, &hi)?;
    let Some((last_key_bytes, last_bytes)) = stored.last() else {
        return put_split(txn, collection, id, points);
    };
    let last_header = chunk::header(last_bytes)?;
    if points[0].time > last_header.max_time {
        // Fast path: fill the open chunk, then start new ones.
        let (_, mut open) = chunk::decode(last_bytes)?;
        let room = MAX_POINTS_PER_CHUNK
            .saturating_sub(open.len())
            .min(points.len());
        if room > 0 {
            open.extend_from_slice(&points[..room]);
            txn.extension_put(
                collection,
                EXTENSION_NAME,
                CHUNKS_TABLE,
                last_key_bytes,
                &chunk::encode(&open),
            )?;
        }
        return put_split(txn, collection, id, &points[room..]);
    }
    let mut merged: BTreeMap<i64, Point> = BTreeMap::new();
    for (_, bytes) in &stored {
        for point in chunk::decode(bytes)?.1 {
            merged.insert(point.time, point);
        }
    }
    for point in points {
        merged.insert(point.time, point.clone());
    }
    let all: Vec<Point> = merged.into_values().collect();
    rewrite(txn, collection, id, &stored, &all)
}

/// Replaces the chunks `stored` by chunks of `points`.
fn rewrite(
    txn: &mut Transaction,
    collection: &str,
    id: u32,
    stored: &StoredChunks,
    points: &[Point],
) -> Result<()> {
    let new_keys: Vec<Vec<u8>> = points
        .chunks(MAX_POINTS_PER_CHUNK)
        .map(|c| chunk_key(id, c[0].time))
        .collect();
    for (key, _) in stored {
        if !new_keys.contains(key) {
            txn.extension_delete(collection, EXTENSION_NAME, CHUNKS_TABLE, key)?;
        }
    }
    put_split(txn, collection, id, points)
}

/// Stores sorted points as new chunks of at most [`MAX_POINTS_PER_CHUNK`].
fn put_split(txn: &mut Transaction, collection: &str, id: u32, points: &[Point]) -> Result<()> {
    for part in points.chunks(MAX_POINTS_PER_CHUNK) {
        let key = chunk_key(id, part[0].time);
        txn.extension_put(
            collection,
            EXTENSION_NAME,
            CHUNKS_TABLE,
            &key,
            &chunk::encode(part),
        )?;
    }
    Ok(())
}

/// The chunks with keys in `[lo, hi)`.
pub(crate) fn scan_chunks(
    txn: &mut Transaction,
    collection: &str,
    lo: &[u8],
    hi: &[u8],
) -> Result<StoredChunks> {
    let mut out = Vec::new();
    txn.extension_range(
        collection,
        EXTENSION_NAME,
        CHUNKS_TABLE,
        Bound::Included(lo),
        Bound::Excluded(hi),
        |key, value| {
            out.push((key.to_vec(), value.to_vec()));
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    Ok(out)
}

/// The id of a series, creating it when `create` (checking the series limit).
pub(crate) fn series_id(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    create: bool,
) -> Result<Option<u32>> {
    let encoded = encode_series_key(series)?;
    let mut key = b"k".to_vec();
    key.extend_from_slice(&encoded);
    if let Some(bytes) = txn.extension_get(collection, EXTENSION_NAME, SERIES_TABLE, &key)? {
        return Ok(Some(decode_id(&bytes)?));
    }
    if !create {
        return Ok(None);
    }
    let next = match txn.extension_get(collection, EXTENSION_NAME, SERIES_TABLE, NEXT_ID_KEY)? {
        Some(bytes) => decode_id(&bytes)?,
        None => 0,
    };
    if next >= MAX_SERIES_PER_COLLECTION {
        return Err(TsError::LimitExceeded {
            what: "series in one collection",
            actual: u64::from(next) + 1,
            limit: u64::from(MAX_SERIES_PER_COLLECTION),
        });
    }
    txn.extension_put(
        collection,
        EXTENSION_NAME,
        SERIES_TABLE,
        &key,
        &next.to_be_bytes(),
    )?;
    let mut by_id = b"i".to_vec();
    by_id.extend_from_slice(&next.to_be_bytes());
    txn.extension_put(collection, EXTENSION_NAME, SERIES_TABLE, &by_id, &encoded)?;
    txn.extension_put(
        collection,
        EXTENSION_NAME,
        SERIES_TABLE,
        NEXT_ID_KEY,
        &(next + 1).to_be_bytes(),
    )?;
    Ok(Some(next))
}

pub(crate) fn decode_id(bytes: &[u8]) -> Result<u32> {
    let array: [u8; 4] = bytes
        .try_into()
        .map_err(|_| TsError::corrupt("series id is not 4 bytes"))?;
    Ok(u32::from_be_bytes(array))
}

/// The latest point of series `id`, from its record.
pub(crate) fn read_last(txn: &mut Transaction, collection: &str, id: u32) -> Result<Option<Point>> {
    match txn.extension_get(collection, EXTENSION_NAME, LAST_TABLE, &last_key(id))? {
        Some(bytes) => Ok(chunk::decode(&bytes)?.1.pop()),
        None => Ok(None),
    }
}

fn put_last(txn: &mut Transaction, collection: &str, id: u32, point: &Point) -> Result<()> {
    let bytes = chunk::encode(std::slice::from_ref(point));
    txn.extension_put(
        collection,
        EXTENSION_NAME,
        LAST_TABLE,
        &last_key(id),
        &bytes,
    )?;
    Ok(())
}

/// Recomputes the latest-point record of series `id` from its last chunk (after a delete).
fn refresh_last(txn: &mut Transaction, collection: &str, id: u32) -> Result<()> {
    let (lo, hi) = (chunk_key(id, i64::MIN), series_end(id));
    let mut newest: Option<Vec<u8>> = None;
    txn.extension_range(
        collection,
        EXTENSION_NAME,
        CHUNKS_TABLE,
        Bound::Included(&lo[..]),
        Bound::Excluded(&hi[..]),
        |_, value| {
            newest = Some(value.to_vec());
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    match newest {
        Some(bytes) => match chunk::decode(&bytes)?.1.pop() {
            Some(point) => put_last(txn, collection, id, &point),
            None => Err(TsError::corrupt("empty chunk")),
        },
        None => Ok(txn.extension_delete(collection, EXTENSION_NAME, LAST_TABLE, &last_key(id))?),
    }
}

/// Deletes the points of `series` with times in `[from, to)`; returns how many there were.
pub fn delete_range(
    txn: &mut Transaction,
    collection: &str,
    series: &Value,
    from: i64,
    to: i64,
) -> Result<u64> {
    let span = options(txn, collection)?.chunk_span;
    let Some(id) = series_id(txn, collection, series, false)? else {
        return Ok(0);
    };
    if from >= to {
        return Ok(0);
    }
    let lo = chunk_key(id, span_of(from, span).0);
    let hi = chunk_key(id, to);
    let mut deleted = 0u64;
    for (key, bytes) in scan_chunks(txn, collection, &lo, &hi)? {
        let header = chunk::header(&bytes)?;
        if header.max_time < from {
            continue;
        }
        let (_, points) = chunk::decode(&bytes)?;
        let kept: Vec<Point> = points
            .into_iter()
            .filter(|p| p.time < from || p.time >= to)
            .collect();
        deleted += (header.count - kept.len()) as u64;
        if kept.len() == header.count {
            continue;
        }
        txn.extension_delete(collection, EXTENSION_NAME, CHUNKS_TABLE, &key)?;
        put_split(txn, collection, id, &kept)?;
    }
    if deleted > 0 && read_last(txn, collection, id)?.is_some_and(|p| p.time >= from && p.time < to)
    {
        refresh_last(txn, collection, id)?;
    }
    Ok(deleted)
}

/// Deletes the points named by `keys` — the keys [`crate::scan_points`] gave them (series id
/// and time) — and returns how many existed. Each series' chunks between its first and last
/// named time are decoded once and rewritten without the named points, as [`delete_range`]
/// does. This is how a query's "delete what matches" reaches points.
pub fn delete_points(txn: &mut Transaction, collection: &str, keys: &[Vec<u8>]) -> Result<u64> {
    let span = options(txn, collection)?.chunk_span;
    let mut by_series: BTreeMap<u32, std::collections::BTreeSet<i64>> = BTreeMap::new();
    for key in keys {
        let (id, time) =
            crate::layout::parse_chunk_key(key).map_err(|_| TsError::InvalidQuery {
                reason: "a point key is not 12 bytes of series id and time".to_string(),
            })?;
        by_series.entry(id).or_default().insert(time);
    }
    let mut deleted = 0u64;
    for (id, times) in by_series {
        let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
            continue;
        };
        let lo = chunk_key(id, span_of(first, span).0);
        let hi = time_range(id, first, i128::from(last) + 1).1;
        let mut removed_here = 0u64;
        for (key, bytes) in scan_chunks(txn, collection, &lo, &hi)? {
            let header = chunk::header(&bytes)?;
            if header.max_time < first {
                continue;
            }
            let (_, points) = chunk::decode(&bytes)?;
            let kept: Vec<Point> = points
                .into_iter()
                .filter(|p| !times.contains(&p.time))
                .collect();
            if kept.len() == header.count {
                continue;
            }
            removed_here += (header.count - kept.len()) as u64;
            txn.extension_delete(collection, EXTENSION_NAME, CHUNKS_TABLE, &key)?;
            put_split(txn, collection, id, &kept)?;
        }
        if removed_here > 0
            && read_last(txn, collection, id)?.is_some_and(|p| times.contains(&p.time))
        {
            refresh_last(txn, collection, id)?;
        }
        deleted += removed_here;
    }
    Ok(deleted)
}

/// Retention: drops every chunk whose newest point is older than `now - expire_after`, whole
/// (a chunk straddling the cutoff is kept, never rewritten). Returns the chunks dropped;
/// nothing when the collection has no `expire_after`.
pub fn expire(txn: &mut Transaction, collection: &str, now: i64) -> Result<u64> {
    let Some(expire_after) = options(txn, collection)?.expire_after else {
        return Ok(0);
    };
    let cutoff = now.saturating_sub(expire_after);
    let mut dropped = 0;
    for id in series_ids(txn, collection)? {
        let lo = chunk_key(id, i64::MIN);
        let hi = chunk_key(id, cutoff);
        let mut emptied = false;
        for (key, bytes) in scan_chunks(txn, collection, &lo, &hi)? {
            if chunk::header(&bytes)?.max_time >= cutoff {
                break;
            }
            txn.extension_delete(collection, EXTENSION_NAME, CHUNKS_TABLE, &key)?;
            dropped += 1;
            emptied = true;
        }
        if emptied && read_last(txn, collection, id)?.is_some_and(|p| p.time < cutoff) {
            txn.extension_delete(collection, EXTENSION_NAME, LAST_TABLE, &last_key(id))?;
        }
    }
    Ok(dropped)
}

/// Every series id of the collection, in id order.
pub(crate) fn series_ids(txn: &mut Transaction, collection: &str) -> Result<Vec<u32>> {
    let mut ids = Vec::new();
    let mut raw = Vec::new();
    txn.extension_range(
        collection,
        EXTENSION_NAME,
        SERIES_TABLE,
        Bound::Included(&b"i"[..]),
        Bound::Excluded(&b"j"[..]),
        |key, _| {
            raw.push(key[1..].to_vec());
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    for key in raw {
        ids.push(decode_id(&key)?);
    }
    Ok(ids)
}

/// Every chunk of series `id` whose key is in the time range (helper for readers).
pub(crate) fn series_chunks(
    txn: &mut Transaction,
    collection: &str,
    id: u32,
    from_key_time: i64,
    to: i128,
) -> Result<StoredChunks> {
    let (lo, hi) = time_range(id, from_key_time, to);
    scan_chunks(txn, collection, &lo, &hi)
}
