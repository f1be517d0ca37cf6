//! `$sort`: documents buffered and ordered by their sort-key bytes.
//!
//! Keys are built by [`crate::query::sort_key`] with the arrival number as the tie-breaker, so
//! the order is total and stable. Followed by `$limit` (optionally after a `$skip`), the stage
//! keeps only the best `skip + limit` documents in a bounded heap.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use cairn_doc::Value;

use super::memory::{value_bytes, Memory};
use crate::error::Result;
use crate::limits::MAX_SORT_BYTES;
use crate::query::{sort_key, SortKey};

/// One buffered document and its key.
#[derive(Debug)]
struct Row {
    key: Vec<u8>,
    doc: Value,
}

impl Row {
    fn bytes(&self) -> usize {
        self.key.len() + value_bytes(&self.doc)
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Row) -> bool {
        self.key == other.key
    }
}

impl Eq for Row {}

impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Row) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Row {
    fn cmp(&self, other: &Row) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// The documents of one running `$sort` stage.
#[derive(Debug)]
pub(super) struct SortBuffer {
    /// A max-heap: with `keep` set, its top is the row to evict first.
    rows: BinaryHeap<Row>,
    keep: Option<usize>,
    arrivals: u64,
    memory: Memory,
}

impl SortBuffer {
    /// An empty buffer keeping every document, or only the first `keep` in sort order.
    pub(super) fn new(keep: Option<usize>) -> SortBuffer {
        SortBuffer {
            rows: BinaryHeap::new(),
            keep,
            arrivals: 0,
            memory: Memory::new(
                "$sort memory",
                MAX_SORT_BYTES,
                "add a $limit after the $sort, $match fewer documents first, or $project them smaller",
            ),
        }
    }

    /// Buffers one document.
    pub(super) fn push(&mut self, sort: &[SortKey], doc: Value) -> Result<()> {
        let mut key = Vec::new();
        sort_key(sort, &doc, &self.arrivals.to_be_bytes(), &mut key);
        self.arrivals += 1;
        let row = Row { key, doc };
        if self.keep == Some(0) {
            return Ok(());
        }
        self.memory.grow(row.bytes())?;
        self.rows.push(row);
        if self.keep.is_some_and(|keep| self.rows.len() > keep) {
            if let Some(evicted) = self.rows.pop() {
                self.memory.shrink(evicted.bytes());
            }
        }
        Ok(())
    }

    /// The documents in sort order.
    pub(super) fn into_sorted(self) -> impl Iterator<Item = Value> {
        self.rows.into_sorted_vec().into_iter().map(|row| row.doc)
    }
}
