//! Packed runs: neighbouring document records of a collection stored together in one value of
//! `c{id}.docs`, compressed as a whole (layout version 2, see `layout.rs`).
//!
//! ```text
//! key:   the first document key of the run (the empty key holds the document count, u64 LE)
//! value: a body as `Codecs::encode_body` writes it (raw, zstd, or zstd with the collection's
//!        dictionary) of the plain run:
//!        [0]   RUN_VERSION (0x01, below the compression tags, so a raw run reads as raw)
//!        varint count, then per record in key order:
//!        varint key length ‖ key ‖ varint record length ‖ record (`record.rs`, body plain)
//! ```
//!
//! Each record keeps its own checked envelope (sequence number, checksum seeded with its key),
//! so every read is still verified record by record, and a damaged run names the document
//! that was asked for. Everything above the storage seam stays per document: read and write
//! sets, conflicts, `merge_scan`'s pending writes, the change log and the WAL's redo all see
//! logical keys. Only two places know about runs: reads (`get_with`, `visit_range`,
//! [`PackedEntries`]) and the single writer, which applies a commit's document writes to the
//! runs they fall in ([`apply`]: read, modify, split or merge, write back).
//!
//! Cost model: a point get is one B-tree descent (the last run key at or below the document
//! key) plus one run decompression ([`MAX_RUN_BYTES`] plain) and a binary search; a scan
//! decompresses each run once; a single-document write rewrites one run.

use std::collections::BTreeMap;
use std::ops::Bound;

use cairn_doc::DocId;
use cairn_storage::{RangeIter, TableReader, TableWriter};

use crate::compression::Codecs;
use crate::error::{EngineError, Result};
use crate::limits::{MAX_RUN_BYTES, MAX_RUN_PLAIN_BYTES, MAX_RUN_RECORDS, MIN_RUN_BYTES};

/// First byte of a plain run.
const RUN_VERSION: u8 = 0x01;
/// The key holding a packed table's document count. Document keys are never empty, so it sorts
/// before every run.
pub(crate) const COUNT_KEY: &[u8] = b"";

/// One decoded run: the plain payload and where each key and record lies in it.
pub(crate) struct Run {
    plain: Vec<u8>,
    /// Per record: key start, key end, record start, record end.
    spans: Vec<[usize; 4]>,
}

impl Run {
    /// Decompresses and parses a stored run, checking its structure (not the records'
    /// checksums: each record is verified when it is decoded).
    pub(crate) fn decode(codecs: &Codecs, table: &str, stored: &[u8]) -> Result<Run> {
        let mut plain = Vec::new();
        codecs.plain_into(table, stored, MAX_RUN_PLAIN_BYTES, &mut plain)?;
        Run::parse(table, plain)
    }

    fn parse(table: &str, plain: Vec<u8>) -> Result<Run> {
        let bad = |detail: &str| EngineError::corrupt(table, format!("packed run: {detail}"));
        if plain.first() != Some(&RUN_VERSION) {
            return Err(bad("unknown run format"));
        }
        let mut pos = 1;
        let count = read_varint(&plain, &mut pos).ok_or_else(|| bad("truncated count"))?;
        if count == 0 || count > MAX_RUN_RECORDS as u64 {
            return Err(bad("record count out of range"));
        }
        let mut spans = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let key = take(&plain, &mut pos).ok_or_else(|| bad("truncated key"))?;
            let record = take(&plain, &mut pos).ok_or_else(|| bad("truncated record"))?;
            if key.0 == key.1 {
                return Err(bad("empty document key"));
            }
            spans.push([key.0, key.1, record.0, record.1]);
        }
        if pos != plain.len() {
            return Err(bad("bytes after the last record"));
        }
        let run = Run { plain, spans };
        if (1..run.len()).any(|i| run.key(i - 1) >= run.key(i)) {
            return Err(bad("keys out of order"));
        }
        Ok(run)
    }

    /// Number of records.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The `i`-th document key.
    pub(crate) fn key(&self, i: usize) -> &[u8] {
        let [start, end, _, _] = self.spans[i];
        &self.plain[start..end]
    }

    /// The `i`-th record.
    pub(crate) fn record(&self, i: usize) -> &[u8] {
        let [_, _, start, end] = self.spans[i];
        &self.plain[start..end]
    }

    /// The record stored under `key`.
    pub(crate) fn find(&self, key: &[u8]) -> Option<&[u8]> {
        let i = self
            .spans
            .binary_search_by(|&[start, end, _, _]| self.plain[start..end].cmp(key))
            .ok()?;
        Some(self.record(i))
    }

    /// Index of the first record at or after `start`.
    fn start_index(&self, start: Bound<&[u8]>) -> usize {
        match start {
            Bound::Unbounded => 0,
            Bound::Included(from) => self
                .spans
                .partition_point(|&[s, e, _, _]| &self.plain[s..e] < from),
            Bound::Excluded(from) => self
                .spans
                .partition_point(|&[s, e, _, _]| &self.plain[s..e] <= from),
        }
    }
}

/// Appends the plain form of a run holding `entries` (in key order) to `out`.
fn encode_plain(entries: &[(&Vec<u8>, &Vec<u8>)], out: &mut Vec<u8>) {
    out.push(RUN_VERSION);
    write_varint(out, entries.len() as u64);
    for (key, record) in entries {
        write_varint(out, key.len() as u64);
        out.extend_from_slice(key);
        write_varint(out, record.len() as u64);
        out.extend_from_slice(record);
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(bytes: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7F) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

/// A length-prefixed slice at `pos`: its bounds, advancing `pos` past it.
fn take(bytes: &[u8], pos: &mut usize) -> Option<(usize, usize)> {
    let len = usize::try_from(read_varint(bytes, pos)?).ok()?;
    let start = *pos;
    let end = start.checked_add(len).filter(|&end| end <= bytes.len())?;
    *pos = end;
    Some((start, end))
}

/// A run-level decoding error turned into one that names the document asked for.
fn naming(table: &str, key: &[u8], err: EngineError) -> EngineError {
    match err {
        EngineError::Corrupt { detail, .. } => EngineError::Corruption {
            collection: table.to_string(),
            id: DocId::decode_key(key)
                .map_or_else(|_| format!("key {key:02x?}"), |id| id.to_string()),
            detail,
        },
        other => other,
    }
}

/// Looks up the record stored under `key` in a packed table, passing it to `read`.
pub(crate) fn get_with<R>(
    reader: &TableReader,
    codecs: &Codecs,
    table: &str,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>> {
    let run = reader.floor_with(key, |run_key, stored| match run_key == COUNT_KEY {
        true => Ok(None),
        false => Run::decode(codecs, table, stored).map(Some),
    })?;
    let run = run
        .transpose()
        .map_err(|err| naming(table, key, err))?
        .flatten();
    Ok(run.and_then(|run| run.find(key).map(read)))
}

/// Looks up `key` in any table: through its runs when `table` is a packed documents table,
/// else as stored.
pub(crate) fn get_any<R>(
    reader: &TableReader,
    codecs: &Codecs,
    table: &str,
    key: &[u8],
    read: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>> {
    if codecs.packed() && crate::layout::is_docs_table(table) {
        get_with(reader, codecs, table, key, read)
    } else {
        Ok(reader.get_with(key, read)?)
    }
}

/// Documents in a documents table: its count entry when packed, else its entry count.
pub(crate) fn documents_in(reader: &TableReader, codecs: &Codecs) -> Result<u64> {
    if codecs.packed() {
        document_count(reader)
    } else {
        Ok(reader.len()?)
    }
}

/// Documents in a packed table (its count entry).
pub(crate) fn document_count(reader: &TableReader) -> Result<u64> {
    Ok(reader
        .get_with(COUNT_KEY, |bytes| {
            <[u8; 8]>::try_from(bytes).map_or(0, u64::from_le_bytes)
        })?
        .unwrap_or(0))
}

/// The stored runs that may hold keys of `range`: from the run holding the range's start.
fn runs<'a>(reader: &'a TableReader, range: (Bound<&[u8]>, Bound<&[u8]>)) -> Result<RangeIter<'a>> {
    let first = match range.0 {
        Bound::Unbounded => None,
        Bound::Included(key) | Bound::Excluded(key) => reader
            .floor_with(key, |run_key, _| run_key.to_vec())?
            .filter(|run_key| run_key.as_slice() != COUNT_KEY),
    };
    let start = match &first {
        Some(run_key) => Bound::Included(run_key.as_slice()),
        None => Bound::Excluded(COUNT_KEY),
    };
    // A run whose first key lies past the range's end holds nothing of it.
    Ok(reader.range(start, range.1)?)
}

/// Whether `key` lies past the range's end.
fn past_end(key: &[u8], end: Bound<&[u8]>) -> bool {
    match end {
        Bound::Unbounded => false,
        Bound::Included(last) => key > last,
        Bound::Excluded(last) => key >= last,
    }
}

/// Visits the records of `range` in key order until `visit` returns false: each run is
/// decompressed once and its records are passed without copying.
pub(crate) fn visit_range<E: From<EngineError>>(
    reader: &TableReader,
    codecs: &Codecs,
    table: &str,
    range: (Bound<&[u8]>, Bound<&[u8]>),
    mut visit: impl FnMut(&[u8], &[u8]) -> Result<bool, E>,
) -> Result<(), E> {
    for entry in runs(reader, range)? {
        let entry = entry.map_err(EngineError::from)?;
        let run = Run::decode(codecs, table, entry.value())
            .map_err(|err| naming(table, entry.key(), err))?;
        for i in run.start_index(range.0)..run.len() {
            if past_end(run.key(i), range.1) {
                return Ok(());
            }
            if !visit(run.key(i), run.record(i))? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The records of a range of a packed table as owned entries, for merging with a
/// transaction's pending writes.
pub(crate) struct PackedEntries<'a> {
    runs: RangeIter<'a>,
    codecs: &'a Codecs,
    table: &'a str,
    start: Bound<Vec<u8>>,
    end: Bound<Vec<u8>>,
    current: Option<(Run, usize)>,
    done: bool,
}

impl<'a> PackedEntries<'a> {
    /// The records of `range` in `reader`'s table.
    pub(crate) fn new(
        reader: &'a TableReader,
        codecs: &'a Codecs,
        table: &'a str,
        range: (Bound<&[u8]>, Bound<&[u8]>),
    ) -> Result<PackedEntries<'a>> {
        Ok(PackedEntries {
            runs: runs(reader, range)?,
            codecs,
            table,
            start: range.0.map(<[u8]>::to_vec),
            end: range.1.map(<[u8]>::to_vec),
            current: None,
            done: false,
        })
    }

    fn advance(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        loop {
            if let Some((run, i)) = &mut self.current {
                if *i < run.len() {
                    let key = run.key(*i);
                    if past_end(key, self.end.as_ref().map(Vec::as_slice)) {
                        self.done = true;
                        return Ok(None);
                    }
                    let entry = (key.to_vec(), run.record(*i).to_vec());
                    *i += 1;
                    return Ok(Some(entry));
                }
            }
            let Some(entry) = self.runs.next() else {
                self.done = true;
                return Ok(None);
            };
            let entry = entry?;
            let run = Run::decode(self.codecs, self.table, entry.value())
                .map_err(|err| naming(self.table, entry.key(), err))?;
            let first = run.start_index(self.start.as_ref().map(Vec::as_slice));
            self.current = Some((run, first));
        }
    }
}

impl Iterator for PackedEntries<'_> {
    type Item = Result<(Vec<u8>, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.advance() {
            Ok(entry) => entry.map(Ok),
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

/// Which collection a packed table belongs to, for its compression settings and dictionary.
#[derive(Clone, Copy)]
pub(crate) struct RunOwner<'a> {
    /// The collection's id.
    pub(crate) id: u32,
    /// The collection's name (settings are per name; empty: the database default).
    pub(crate) name: &'a str,
}

/// Applies one commit's writes to a packed table: each change (`Some(record)`: put, `None`:
/// delete), in key order, goes into the run that holds its key; every touched run is read
/// once, changed, merged with its right-hand neighbour when it became small, split evenly
/// when it grew past [`MAX_RUN_BYTES`] / [`MAX_RUN_RECORDS`], and written back; the document
/// count follows.
pub(crate) fn apply(
    writer: &mut TableWriter<'_>,
    codecs: &Codecs,
    table: &str,
    owner: RunOwner<'_>,
    changes: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
) -> Result<()> {
    let mut delta: i64 = 0;
    let mut changes = changes.into_iter().peekable();
    while let Some((first, _)) = changes.peek() {
        let base = writer
            .floor_with(first, |key, value| (key.to_vec(), value.to_vec()))?
            .filter(|(key, _)| key.as_slice() != COUNT_KEY);
        let anchor = base
            .as_ref()
            .map_or_else(|| first.clone(), |(key, _)| key.clone());
        let mut replaced = Vec::new();
        let mut entries = BTreeMap::new();
        if let Some((key, value)) = base {
            absorb(codecs, table, &key, &value, &mut entries)?;
            replaced.push(key);
        }
        let before = entries.len() as i64;
        let mut absorbed = 0i64;
        let mut next = writer.after(&anchor)?;
        loop {
            // Every change below the next run's first key belongs to this one.
            while let Some((key, _)) = changes.peek() {
                if next.as_ref().is_some_and(|(next_key, _)| key >= next_key) {
                    break;
                }
                let Some((key, change)) = changes.next() else {
                    break;
                };
                match change {
                    Some(record) => entries.insert(key, record),
                    None => entries.remove(&key),
                };
            }
            if run_bytes(&entries) >= MIN_RUN_BYTES {
                break;
            }
            let Some((next_key, value)) = next.take() else {
                break;
            };
            absorbed += absorb(codecs, table, &next_key, &value, &mut entries)? as i64;
            next = writer.after(&next_key)?;
            replaced.push(next_key);
        }
        delta += entries.len() as i64 - before - absorbed;
        write_runs(writer, codecs, table, owner, &entries, &replaced)?;
    }
    if delta != 0 {
        let count = writer
            .get_with(COUNT_KEY, |bytes| {
                <[u8; 8]>::try_from(bytes).map_or(0, u64::from_le_bytes)
            })?
            .unwrap_or(0);
        let count = count.saturating_add_signed(delta);
        writer.put(COUNT_KEY, &count.to_le_bytes())?;
    }
    Ok(())
}

/// Adds a stored run's records to `entries`; returns how many it held.
fn absorb(
    codecs: &Codecs,
    table: &str,
    key: &[u8],
    value: &[u8],
    entries: &mut BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<usize> {
    let run = Run::decode(codecs, table, value).map_err(|err| naming(table, key, err))?;
    for i in 0..run.len() {
        entries.insert(run.key(i).to_vec(), run.record(i).to_vec());
    }
    Ok(run.len())
}

fn run_bytes(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> usize {
    entries.iter().map(|(k, v)| k.len() + v.len()).sum()
}

/// Writes `entries` as evenly filled runs, removing the `replaced` run keys no new run reuses.
fn write_runs(
    writer: &mut TableWriter<'_>,
    codecs: &Codecs,
    table: &str,
    owner: RunOwner<'_>,
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    replaced: &[Vec<u8>],
) -> Result<()> {
    let chunks = split(entries);
    for key in replaced {
        if !chunks
            .iter()
            .any(|chunk| chunk.first().is_some_and(|(k, _)| *k == key))
        {
            writer.delete(key)?;
        }
    }
    let mut plain = Vec::new();
    let mut stored = Vec::new();
    for chunk in &chunks {
        let Some((first, _)) = chunk.first() else {
            continue;
        };
        plain.clear();
        stored.clear();
        encode_plain(chunk, &mut plain);
        codecs.encode_body(owner.id, owner.name, &plain, &mut stored)?;
        debug_assert!(Run::decode(codecs, table, &stored).is_ok());
        writer.put(first, &stored)?;
    }
    Ok(())
}

/// `entries` cut into runs of about equal size, each within the run limits (or one record).
fn split(entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Vec<Vec<(&Vec<u8>, &Vec<u8>)>> {
    let total = run_bytes(entries);
    let runs = total
        .div_ceil(MAX_RUN_BYTES)
        .max(entries.len().div_ceil(MAX_RUN_RECORDS))
        .max(1);
    let target_bytes = total.div_ceil(runs);
    let target_records = entries.len().div_ceil(runs);
    let mut chunks: Vec<Vec<(&Vec<u8>, &Vec<u8>)>> = Vec::with_capacity(runs);
    let mut current = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry.0.len() + entry.1.len();
        if !current.is_empty() && (bytes + size > target_bytes || current.len() >= target_records) {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(entry);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            let mut pos = 0;
            assert_eq!(read_varint(&out, &mut pos), Some(value));
            assert_eq!(pos, out.len());
        }
        assert_eq!(read_varint(&[0x80, 0x80], &mut 0), None);
    }

    fn sized(n: usize, size: usize) -> BTreeMap<Vec<u8>, Vec<u8>> {
        (0..n)
            .map(|i| ((i as u32).to_be_bytes().to_vec(), vec![7u8; size]))
            .collect()
    }

    #[test]
    fn splits_are_even_and_within_the_limits() {
        for (n, size) in [(1, 10), (3, 5_000), (200, 500), (1_000, 20), (2, 100_000)] {
            let entries = sized(n, size);
            let chunks = split(&entries);
            assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), n);
            for chunk in &chunks {
                let bytes: usize = chunk.iter().map(|(k, v)| k.len() + v.len()).sum();
                assert!(chunk.len() <= MAX_RUN_RECORDS);
                assert!(
                    bytes <= MAX_RUN_BYTES || chunk.len() == 1,
                    "{n} x {size}: {bytes}"
                );
            }
        }
    }

    #[test]
    fn damaged_runs_are_errors_not_panics() {
        let entries = sized(5, 40);
        let chunk: Vec<_> = entries.iter().collect();
        let mut plain = Vec::new();
        encode_plain(&chunk, &mut plain);
        assert!(Run::parse("t", plain.clone()).is_ok());
        for cut in 0..plain.len() {
            assert!(
                Run::parse("t", plain[..cut].to_vec()).is_err(),
                "cut at {cut}"
            );
        }
        for byte in 0..plain.len() {
            let mut damaged = plain.clone();
            damaged[byte] ^= 0xFF;
            // Either refused, or a structurally valid run (a changed record byte: the
            // record's own checksum catches it when it is decoded).
            if let Ok(run) = Run::parse("t", damaged) {
                assert_eq!(run.len(), 5);
            }
        }
    }
}
