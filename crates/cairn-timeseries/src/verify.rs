//! `verify`: decodes every chunk of a time-series collection and checks what the layout
//! promises, for `cairn check`.
//!
//! Checked per chunk: its checksum and every column decode; the header's count and time
//! bounds against the points; strictly increasing times; at most [`MAX_POINTS_PER_CHUNK`]
//! points; the key's time equals the first point's; the chunk stays in one span; chunks of a
//! series do not overlap; re-encoding the points gives the stored bytes (so header bounds and
//! codec choices are what the encoder writes). Per series: both directions of the id map,
//! and the latest-point record equals the last stored point.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_engine::Transaction;

use crate::chunk;
use crate::collection::{options, EXTENSION_NAME};
use crate::error::Result;
use crate::layout::{parse_chunk_key, span_of, CHUNKS_TABLE};
use crate::limits::{MAX_POINTS_PER_CHUNK, MAX_REPORTED_PROBLEMS};
use crate::sample::Point;
use crate::write::{read_last, series_ids};

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Series checked.
    pub series: u64,
    /// Chunks decoded.
    pub chunks: u64,
    /// Points decoded.
    pub points: u64,
    /// Problems found (at most [`MAX_REPORTED_PROBLEMS`] described).
    pub problems: Vec<String>,
    /// Problems found in all.
    pub problem_count: u64,
}

impl VerifyReport {
    /// Whether nothing was wrong.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }

    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < MAX_REPORTED_PROBLEMS {
            self.problems.push(text);
        }
    }
}

/// Checks every chunk and record of time-series collection `collection`.
pub fn verify(txn: &mut Transaction, collection: &str) -> Result<VerifyReport> {
    let span = options(txn, collection)?.chunk_span;
    let mut report = VerifyReport::default();
    let ids = series_ids(txn, collection)?;
    report.series = ids.len() as u64;
    let mut chunks = Vec::new();
    txn.extension_range(
        collection,
        EXTENSION_NAME,
        CHUNKS_TABLE,
        Bound::Unbounded,
        Bound::Unbounded,
        |key, value| {
            chunks.push((key.to_vec(), value.to_vec()));
            Ok::<_, cairn_engine::EngineError>(true)
        },
    )?;
    // Last point and max time of each series, from its chunks.
    let mut newest: BTreeMap<u32, Point> = BTreeMap::new();
    for (key, bytes) in chunks {
        report.chunks += 1;
        let (id, key_time) = match parse_chunk_key(&key) {
            Ok(parts) => parts,
            Err(e) => {
                report.problem(format!("chunk key {key:02x?}: {e}"));
                continue;
            }
        };
        let at = format!("chunk of series {id} at {key_time}");
        if ids.binary_search(&id).is_err() {
            report.problem(format!("{at}: unknown series"));
        }
        let (header, points) = match chunk::decode(&bytes) {
            Ok(decoded) => decoded,
            Err(e) => {
                report.problem(format!("{at}: {e}"));
                continue;
            }
        };
        report.points += points.len() as u64;
        for problem in check_chunk(&header, &points, key_time, span, &bytes) {
            report.problem(format!("{at}: {problem}"));
        }
        if let Some(prev) = newest.get(&id) {
            if prev.time >= header.min_time {
                report.problem(format!(
                    "{at}: overlaps the previous chunk (ends {})",
                    prev.time
                ));
            }
        }
        if let Some(last) = points.into_iter().last() {
            newest.insert(id, last);
        }
    }
    for id in ids {
        let record = read_last(txn, collection, id)?;
        if record.as_ref() != newest.get(&id) {
            report.problem(format!(
                "series {id}: latest-point record {:?} differs from the last stored point {:?}",
                record.map(|p| p.time),
                newest.get(&id).map(|p| p.time)
            ));
        }
    }
    Ok(report)
}

fn check_chunk(
    header: &chunk::ChunkHeader,
    points: &[Point],
    key_time: i64,
    span: i64,
    bytes: &[u8],
) -> Vec<String> {
    let mut problems = Vec::new();
    if header.count != points.len() || header.count > MAX_POINTS_PER_CHUNK {
        problems.push(format!(
            "count {} for {} points",
            header.count,
            points.len()
        ));
    }
    if !points.windows(2).all(|w| w[0].time < w[1].time) {
        problems.push("times are not strictly increasing".to_string());
    }
    let (first, last) = match (points.first(), points.last()) {
        (Some(f), Some(l)) => (f.time, l.time),
        _ => return problems,
    };
    if header.min_time != first || header.max_time != last {
        problems.push(format!(
            "header bounds [{}, {}] but points span [{first}, {last}]",
            header.min_time, header.max_time
        ));
    }
    if key_time != first {
        problems.push(format!("key time differs from the first point ({first})"));
    }
    if span_of(first, span) != span_of(last, span) {
        problems.push("chunk crosses a span boundary".to_string());
    }
    if problems.is_empty() && chunk::encode(points) != bytes {
        problems.push("re-encoding the points gives different bytes".to_string());
    }
    problems
}
