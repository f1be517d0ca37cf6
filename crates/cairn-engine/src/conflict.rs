//! Conflict detection for optimistic transactions.
//!
//! The writer remembers, for every key written by a recent commit, the sequence number of the
//! latest commit that wrote it. A transaction that read a key (or a range containing a key)
//! later written by a commit newer than its snapshot has read stale data and must not commit.
//! Checking reads — not just writes — is what makes the isolation serializable rather than
//! snapshot isolation: write skew is caught too.
//!
//! The window forgets commits no live transaction's snapshot predates. Past
//! [`MAX_CONFLICT_WINDOW_KEYS`] it forgets the oldest regardless, and transactions whose
//! snapshot is older than what was forgotten fail with `TransactionTooOld` instead of
//! committing unchecked.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::limits::MAX_CONFLICT_WINDOW_KEYS;
use crate::writeset::{ReadSet, WriteSet};

/// A key of a table.
type TableKey = (Arc<str>, Vec<u8>);

/// Recently written keys and the sequence number that last wrote each.
#[derive(Default)]
pub(crate) struct ConflictWindow {
    latest: HashMap<Arc<str>, BTreeMap<Vec<u8>, u64>>,
    /// Commits in the window, oldest first, with the keys each wrote.
    commits: VecDeque<(u64, Vec<TableKey>)>,
    key_count: usize,
    /// Highest sequence number forgotten while a transaction might still have needed it.
    floor: u64,
}

impl ConflictWindow {
    /// Checks a transaction with snapshot `snapshot_seq` against every remembered commit.
    pub(crate) fn validate(&self, snapshot_seq: u64, reads: &ReadSet) -> Result<()> {
        if snapshot_seq < self.floor {
            return Err(EngineError::TransactionTooOld {
                snapshot_seq,
                oldest_tracked_seq: self.floor,
            });
        }
        for (table, key) in &reads.points {
            let seq = self.latest.get(table).and_then(|keys| keys.get(key));
            if seq.is_some_and(|&seq| seq > snapshot_seq) {
                return Err(conflict(table));
            }
        }
        for range in &reads.ranges {
            let (table, start, end) = (&range.table, &range.start, &range.end);
            let Some(keys) = self.latest.get(table) else {
                continue;
            };
            let bounds = (
                start.as_ref().map(Vec::as_slice),
                end.as_ref().map(Vec::as_slice),
            );
            if keys
                .range::<[u8], _>(bounds)
                .any(|(_, &seq)| seq > snapshot_seq)
            {
                return Err(conflict(table));
            }
        }
        Ok(())
    }

    /// Remembers the keys written by commit `seq`. A storage commit that failed (a full
    /// disk) leaves its entries here and its sequence number is used again by the next group,
    /// so numbers never decrease but may repeat; the stale entries only cause spurious
    /// conflicts, never missed ones.
    pub(crate) fn record(&mut self, seq: u64, writes: &WriteSet) {
        debug_assert!(self.commits.back().is_none_or(|(last, _)| *last <= seq));
        let mut keys = Vec::with_capacity(writes.key_count());
        for (table, entries) in &writes.tables {
            let latest = self.latest.entry(table.clone()).or_default();
            for key in entries.keys() {
                latest.insert(key.clone(), seq);
                keys.push((table.clone(), key.clone()));
            }
        }
        self.key_count += keys.len();
        self.commits.push_back((seq, keys));
    }

    /// Forgets commits at or below `needed_after`, which no live transaction can conflict with;
    /// then, while over the size bound, forgets the oldest anyway and raises the floor.
    pub(crate) fn prune(&mut self, needed_after: u64) {
        while let Some((seq, _)) = self.commits.front() {
            let forced = self.key_count > MAX_CONFLICT_WINDOW_KEYS;
            if *seq > needed_after && !forced {
                break;
            }
            if *seq > needed_after {
                self.floor = self.floor.max(*seq);
            }
            if let Some((seq, keys)) = self.commits.pop_front() {
                self.forget(seq, keys);
            }
        }
    }

    fn forget(&mut self, seq: u64, keys: Vec<TableKey>) {
        self.key_count -= keys.len();
        for (table, key) in keys {
            if let Some(latest) = self.latest.get_mut(&table) {
                if latest.get(&key) == Some(&seq) {
                    latest.remove(&key);
                }
                if latest.is_empty() {
                    self.latest.remove(&table);
                }
            }
        }
    }

    /// Number of commits remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.commits.len()
    }
}

fn conflict(table: &str) -> EngineError {
    EngineError::Conflict {
        table: table.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Bound;

    use super::*;
    use crate::writeset::Pending;

    fn writes(table: &Arc<str>, key: &[u8]) -> WriteSet {
        let mut set = WriteSet::default();
        set.set(table, key.to_vec(), Pending::Delete);
        set
    }

    #[test]
    fn a_read_overwritten_after_the_snapshot_conflicts() {
        let t: Arc<str> = Arc::from("t");
        let mut window = ConflictWindow::default();
        window.record(5, &writes(&t, b"k"));
        let mut reads = ReadSet::default();
        reads.point(&t, b"k");
        assert!(window.validate(4, &reads).is_err());
        assert!(window.validate(5, &reads).is_ok());
        let mut other = ReadSet::default();
        other.point(&t, b"j");
        assert!(window.validate(4, &other).is_ok());
    }

    #[test]
    fn a_range_containing_a_new_key_conflicts() {
        let t: Arc<str> = Arc::from("t");
        let mut window = ConflictWindow::default();
        window.record(3, &writes(&t, b"m"));
        let mut reads = ReadSet::default();
        reads.range(&t, Bound::Included(b"a"), Bound::Excluded(b"n"));
        assert!(window.validate(2, &reads).is_err());
        let mut outside = ReadSet::default();
        outside.range(&t, Bound::Included(b"n"), Bound::Unbounded);
        assert!(window.validate(2, &outside).is_ok());
    }

    #[test]
    fn pruning_forgets_only_what_no_snapshot_needs() {
        let t: Arc<str> = Arc::from("t");
        let mut window = ConflictWindow::default();
        window.record(1, &writes(&t, b"a"));
        window.record(2, &writes(&t, b"b"));
        window.prune(1);
        assert_eq!(window.len(), 1);
        let mut reads = ReadSet::default();
        reads.point(&t, b"b");
        assert!(window.validate(1, &reads).is_err());
    }
}
