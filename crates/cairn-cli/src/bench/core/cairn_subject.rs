//! Cairn as a benchmark subject: one `persistent` database (every commit fsynced before it is
//! acknowledged; concurrent commits share an fsync through group commit) with one collection.

use std::hint::black_box;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};
use cairn::{CollectionOptions, Config, Database, StorageMode, Value};

use super::subject::{run_lanes, timed, Subject};
use super::workload::Workload;
use super::{directory_bytes, MIB};

/// The collection holding the benchmark's documents.
const COLLECTION: &str = "docs";

/// Group-commit counters at one moment, to report how many commits shared an fsync.
#[derive(Clone, Copy, Default)]
struct CommitCounters {
    transactions: u64,
    groups: u64,
}

/// The Cairn side of the benchmark.
pub struct CairnSubject {
    db: Database,
    dir: PathBuf,
    /// Counter deltas over the concurrent-writer phase.
    concurrent_commits: Option<CommitCounters>,
}

impl CairnSubject {
    /// Creates a new `persistent` database in `dir` (which must not hold one) with the
    /// benchmark's collection, keeping routing entries when `routing`.
    pub fn create(dir: &Path, routing: bool) -> anyhow::Result<CairnSubject> {
        let db = cairn::open(Config::new(dir, StorageMode::Persistent))
            .with_context(|| format!("opening a Cairn database in {}", dir.display()))?;
        ensure!(
            db.list_collections()?.is_empty(),
            "{} already holds a Cairn database; pass an empty --dir",
            dir.display()
        );
        db.create_collection_with(COLLECTION, &CollectionOptions::with_routing(routing))?;
        Ok(CairnSubject {
            db,
            dir: dir.to_path_buf(),
            concurrent_commits: None,
        })
    }

    /// The commit counters now.
    fn counters(&self) -> anyhow::Result<CommitCounters> {
        let stats = self.db.stats()?;
        Ok(CommitCounters {
            transactions: stats.transactions_committed,
            groups: stats.group_commits,
        })
    }
}

impl Subject for CairnSubject {
    fn name(&self) -> &'static str {
        "Cairn"
    }

    fn insert_batch(
        &mut self,
        workload: &Workload,
        chunk: Range<usize>,
    ) -> anyhow::Result<Duration> {
        let docs: Vec<Value> = chunk.map(|index| workload.cairn_doc(index)).collect();
        insert_in_one_transaction(&self.db, COLLECTION, docs)
    }

    fn insert_each(&mut self, workload: &Workload, indices: &[usize]) -> anyhow::Result<Duration> {
        let docs: Vec<Value> = indices
            .iter()
            .map(|&index| workload.cairn_doc(index))
            .collect();
        let ((), elapsed) = timed(|| {
            for doc in docs {
                self.db.insert(COLLECTION, doc)?;
            }
            Ok(())
        })?;
        Ok(elapsed)
    }

    fn insert_each_concurrently(
        &mut self,
        workload: &Workload,
        lanes: &[Vec<usize>],
    ) -> anyhow::Result<Duration> {
        let before = self.counters()?;
        let db = &self.db;
        let elapsed = run_lanes(
            lanes,
            |lane| {
                let docs: Vec<Value> = lane
                    .iter()
                    .map(|&index| workload.cairn_doc(index))
                    .collect();
                Ok((db.clone(), docs))
            },
            |(db, docs)| {
                for doc in docs {
                    db.insert(COLLECTION, doc)?;
                }
                Ok(())
            },
        )?;
        let after = self.counters()?;
        self.concurrent_commits = Some(CommitCounters {
            transactions: after.transactions - before.transactions,
            groups: after.groups - before.groups,
        });
        Ok(elapsed)
    }

    fn get_each(&mut self, workload: &Workload, picks: &[usize]) -> anyhow::Result<Duration> {
        let ((), elapsed) = timed(|| {
            for &index in picks {
                let id = workload.id(index);
                let doc = self.db.get(COLLECTION, id)?;
                ensure!(doc.is_some(), "Cairn lost document {id}");
                black_box(doc);
            }
            Ok(())
        })?;
        Ok(elapsed)
    }

    fn scan(&mut self) -> anyhow::Result<(u64, Duration)> {
        timed(|| {
            let mut count = 0u64;
            self.db.for_each(COLLECTION, |id, doc| {
                black_box((id, doc));
                count += 1;
                true
            })?;
            Ok(count)
        })
    }

    fn disk_bytes(&mut self) -> anyhow::Result<u64> {
        self.db.flush()?;
        directory_bytes(&self.dir)
    }

    fn notes(&mut self) -> anyhow::Result<Vec<String>> {
        let stats = self.db.stats()?;
        let docs_bytes: u64 = stats.collections.iter().map(|c| c.bytes).sum();
        let mut notes = vec![format!(
            "Cairn pages in use: documents {:.1} MiB, change log {:.1} MiB ({} entries); data file {:.1} MiB long, {:.1} MiB allocated",
            docs_bytes as f64 / MIB,
            stats.changelog_bytes as f64 / MIB,
            stats.changelog_entries,
            stats.store.file_bytes as f64 / MIB,
            stats.store.disk_bytes as f64 / MIB,
        )];
        if let Some(commits) = self.concurrent_commits {
            notes.push(format!(
                "Cairn concurrent writers: {} transactions in {} group commits ({:.1} per fsync)",
                commits.transactions,
                commits.groups,
                commits.transactions as f64 / commits.groups.max(1) as f64,
            ));
        }
        Ok(notes)
    }
}

/// Inserts `docs` into `collection` in one transaction; returns the time it took.
///
/// `begin`/`commit` rather than `Database::transaction`: nothing else writes during a load,
/// so there is no conflict to retry, and the documents are moved in instead of cloned for a
/// possible re-run of the closure.
pub(crate) fn insert_in_one_transaction(
    db: &Database,
    collection: &str,
    docs: Vec<Value>,
) -> anyhow::Result<Duration> {
    let ((), elapsed) = timed(|| {
        let mut txn = db.begin()?;
        for doc in docs {
            txn.insert(collection, doc)?;
        }
        txn.commit()?;
        Ok(())
    })?;
    Ok(elapsed)
}
