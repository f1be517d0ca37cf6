//! What the benchmark asks of each system under test, and the timing helpers both
//! implementations share. Every method builds its inputs (documents, ids, connections) before it
//! starts the clock, so only the system's own work is timed.

use std::ops::Range;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::anyhow;

use super::workload::Workload;

/// One system under test, driven phase by phase by the benchmark.
pub trait Subject {
    /// The system's name for the table and progress lines.
    fn name(&self) -> &'static str;

    /// Inserts the documents with indices `chunk` in one durable transaction; returns the time
    /// of that transaction.
    fn insert_batch(
        &mut self,
        workload: &Workload,
        chunk: Range<usize>,
    ) -> anyhow::Result<Duration>;

    /// Inserts each document of `indices` in its own durable transaction, one after another
    /// from this thread; returns the total time.
    fn insert_each(&mut self, workload: &Workload, indices: &[usize]) -> anyhow::Result<Duration>;

    /// Like [`Subject::insert_each`] with one thread per lane, all starting together; returns
    /// the time until the last thread finished.
    fn insert_each_concurrently(
        &mut self,
        workload: &Workload,
        lanes: &[Vec<usize>],
    ) -> anyhow::Result<Duration>;

    /// Reads each document of `picks` by id and materialises it; fails if one is missing.
    fn get_each(&mut self, workload: &Workload, picks: &[usize]) -> anyhow::Result<Duration>;

    /// Reads and materialises every document; returns how many there were and the time.
    fn scan(&mut self) -> anyhow::Result<(u64, Duration)>;

    /// Bytes of all files holding the database, once it is quiescent.
    fn disk_bytes(&mut self) -> anyhow::Result<u64>;

    /// Extra lines about this system for the report (settings, internal counters).
    fn notes(&mut self) -> anyhow::Result<Vec<String>>;
}

/// Runs `body` and returns its result with the time it took.
pub fn timed<T>(body: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Duration)> {
    let started = Instant::now();
    let value = body()?;
    Ok((value, started.elapsed()))
}

/// Runs one thread per lane. Each thread first runs `prepare` on its lane (untimed: opening a
/// connection, building documents); then all threads start `work` together at a barrier.
/// Returns the wall time from the barrier to the last thread finishing.
pub fn run_lanes<L, S>(
    lanes: &[L],
    prepare: impl Fn(&L) -> anyhow::Result<S> + Sync,
    work: impl Fn(S) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Duration>
where
    L: Sync,
{
    let barrier = Barrier::new(lanes.len() + 1);
    let (barrier, prepare, work) = (&barrier, &prepare, &work);
    std::thread::scope(|scope| {
        let handles: Vec<_> = lanes
            .iter()
            .map(|lane| {
                scope.spawn(move || {
                    let prepared = prepare(lane);
                    // Every thread reaches the barrier, even after a failed preparation, so
                    // the others are never left waiting.
                    barrier.wait();
                    work(prepared?)
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        for handle in handles {
            handle
                .join()
                .map_err(|_| anyhow!("a benchmark thread panicked"))??;
        }
        Ok(started.elapsed())
    })
}

/// Splits `count` consecutive indices starting at `first` over `lanes` threads, round-robin,
/// so that all threads insert near the end of the id order at the same time, as concurrent
/// clients generating time-ordered ids do.
pub fn round_robin(first: usize, count: usize, lanes: usize) -> Vec<Vec<usize>> {
    let lanes = lanes.max(1);
    let mut split = vec![Vec::with_capacity(count / lanes + 1); lanes];
    for offset in 0..count {
        split[offset % lanes].push(first + offset);
    }
    split
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_covers_every_index_once() {
        let lanes = round_robin(10, 50, 16);
        assert_eq!(lanes.len(), 16);
        let mut all: Vec<usize> = lanes.concat();
        all.sort_unstable();
        assert_eq!(all, (10..60).collect::<Vec<_>>());
    }

    #[test]
    fn a_failed_preparation_is_reported_without_hanging() {
        let lanes = [1, 2, 3];
        let outcome = run_lanes(
            &lanes,
            |lane| {
                if *lane == 2 {
                    Err(anyhow!("no"))
                } else {
                    Ok(*lane)
                }
            },
            |_| Ok(()),
        );
        assert!(outcome.is_err());
    }
}
