//! The time budget and memory limit every graph query runs under.

use std::time::{Duration, Instant};

use crate::error::{GraphError, Result};
use crate::limits::{
    BUDGET_CHECK_INTERVAL, DEFAULT_MEMORY_LIMIT_BYTES, DEFAULT_TIME_BUDGET, NODE_OVERHEAD_BYTES,
};

/// How long a query may run and how much it may keep. The defaults are
/// [`DEFAULT_TIME_BUDGET`] and [`DEFAULT_MEMORY_LIMIT_BYTES`]; a caller may lower (or raise)
/// them per query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Wall-clock time from the query's start.
    pub time: Duration,
    /// Bytes of what the query keeps (visited vertices, frontier, paths, results), estimated.
    pub memory_bytes: usize,
}

impl Default for Budget {
    fn default() -> Budget {
        Budget {
            time: DEFAULT_TIME_BUDGET,
            memory_bytes: DEFAULT_MEMORY_LIMIT_BYTES,
        }
    }
}

/// A running query's use of its [`Budget`], and what it did (for `explain`).
#[derive(Debug)]
pub(crate) struct Meter {
    budget: Budget,
    started: Instant,
    steps: u64,
    used_bytes: usize,
    pub(crate) counts: Counts,
}

/// What a graph query read: the counters `explain` shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Vertices whose adjacency was read (one prefix scan per edge collection and direction).
    pub vertices_expanded: u64,
    /// Adjacency entries read.
    pub adjacency_entries: u64,
    /// Edges whose filter or weight was answered from properties stored in the adjacency.
    pub stored_property_reads: u64,
    /// Edge documents read (an edge filter or weight not answered from stored properties).
    pub edge_documents_read: u64,
    /// Vertex documents read (the vertex filter).
    pub vertex_documents_read: u64,
    /// Bytes charged against the memory limit at the end (an estimate).
    pub memory_bytes: u64,
}

impl Meter {
    pub(crate) fn new(budget: Budget) -> Meter {
        Meter {
            budget,
            started: Instant::now(),
            steps: 0,
            used_bytes: 0,
            counts: Counts::default(),
        }
    }

    /// One expansion (a vertex's adjacency read): looks at the clock every
    /// [`BUDGET_CHECK_INTERVAL`] steps, and on the first.
    pub(crate) fn step(&mut self) -> Result<()> {
        if self.steps.is_multiple_of(BUDGET_CHECK_INTERVAL)
            && self.started.elapsed() >= self.budget.time
        {
            return Err(GraphError::TimeBudgetExceeded {
                budget_ms: u64::try_from(self.budget.time.as_millis()).unwrap_or(u64::MAX),
            });
        }
        self.steps += 1;
        Ok(())
    }

    /// The counters, with the memory charged so far.
    pub(crate) fn finish(&self) -> Counts {
        Counts {
            memory_bytes: self.used_bytes as u64,
            ..self.counts
        }
    }

    /// When the query started.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Charges a remembered item of `key_bytes` bytes (plus its fixed overhead).
    pub(crate) fn charge(&mut self, key_bytes: usize) -> Result<()> {
        self.used_bytes = self
            .used_bytes
            .saturating_add(key_bytes + NODE_OVERHEAD_BYTES);
        if self.used_bytes > self.budget.memory_bytes {
            return Err(GraphError::MemoryLimitExceeded {
                limit_bytes: self.budget.memory_bytes,
            });
        }
        Ok(())
    }
}
