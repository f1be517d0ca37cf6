//! `cairn bench core`: Cairn's core document operations side by side with SQLite, in one run,
//! on the same documents.
//!
//! # Workload
//!
//! Data: `--docs` documents (default 1,000,000) of about 200 bytes of JSON each (the average is
//! printed), shaped like
//!
//! ```json
//! {"_id": "<UUIDv7>", "name": "Grace Hopper", "email": "grace.hopper4821@mail.example.com",
//!  "age": 36, "city": "Oslo", "score": 73.52, "tags": ["red", "green"], "active": true}
//! ```
//!
//! Contents are pseudo-random but fixed (a seeded SplitMix64 per document index; `city` is one
//! of 50 values, `tags` 1–4 of 12 words). Ids are UUIDv7, generated once at start in increasing
//! order, and the same for both systems: Cairn gets `_id` as a UUID value in the document;
//! SQLite gets the UUID's 16 bytes as the primary key and the hyphenated text as `_id` inside
//! the JSON. Each phase builds its inputs before starting the clock.
//!
//! Systems, both on the local disk under `--dir`:
//! - **Cairn**: `persistent` mode: every commit is fsynced before it is acknowledged;
//!   concurrent commits share one fsync through group commit. Default page cache (1 GiB) and
//!   change-log retention (100,000 changes). One collection, with a routing entry per document
//!   (the default) unless `--no-routing` (one B-tree write less per insert).
//! - **SQLite** (rusqlite, bundled): `journal_mode=WAL`, `synchronous=FULL` (each commit fsyncs
//!   the WAL, so it is as durable as Cairn's), `cache_size` 1 GiB per connection, default page
//!   size, automatic checkpoints. Table
//!   `docs(id BLOB PRIMARY KEY, doc TEXT NOT NULL) WITHOUT ROWID`, documents as JSON text.
//!
//! Phases, each run on Cairn and then on SQLite before the next begins:
//! 1. **Batched insert** of all `--docs` documents, 1,000 per transaction, one thread (Cairn:
//!    `begin`, `insert` × 1,000, `commit`; SQLite: one prepared `INSERT` in a transaction) →
//!    documents/s.
//! 2. **Durable single inserts, 1 thread**: `--single-inserts` new documents (default 2,000),
//!    one transaction each (Cairn `Database::insert`; SQLite autocommit `INSERT`) → commits/s.
//! 3. **Durable single inserts, `--threads` threads** (default 16): another `--single-inserts`
//!    new documents dealt round-robin to the threads, which start together (Cairn: a clone of
//!    the one `Database` per thread; SQLite: a connection per thread, 60 s `busy_timeout`) →
//!    commits/s; also reported relative to phase 2.
//! 4. **Random point gets**, one thread: `--gets` ids (default 200,000) drawn uniformly (fixed
//!    seed) from the batch-loaded documents. Both sides materialise the document: Cairn's `get`
//!    decodes it into a `Value`; SQLite's prepared `SELECT doc FROM docs WHERE id = ?` returns
//!    the text, which is parsed with serde_json into a `serde_json::Value` → gets/s.
//! 5. **Full scan**, one thread, materialising every document the same way (Cairn `for_each`;
//!    SQLite `SELECT doc FROM docs`) → documents/s. Both must count `docs + 2 × single-inserts`.
//! 6. **Size on disk**: disk blocks allocated (what `du` reports; redb grows its file ahead of
//!    need as a sparse file, so its length overstates use). Cairn, every file in its folder;
//!    SQLite, the database plus `-wal` and `-shm` after `PRAGMA wal_checkpoint(TRUNCATE)`. Cairn also keeps a change log SQLite has
//!    no counterpart of; its share is printed below the table.
//!
//! Figures are wall-clock rates on whatever else the machine is doing; the core count is
//! printed with them. Reproduce with `cargo run --release -p cairn-cli -- bench core`.

pub(crate) mod cairn_subject;
pub(crate) mod report;
pub(crate) mod sqlite_subject;
pub(crate) mod subject;
pub(crate) mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{ensure, Context};

use self::cairn_subject::CairnSubject;
use self::report::{Figures, Outcome};
use self::sqlite_subject::SqliteSubject;
use self::subject::{round_robin, Subject};
use self::workload::{uniform_picks, Workload};
use crate::bench::limits::{MAX_CORE_DOCS, MAX_CORE_THREADS};

/// Default number of batch-loaded documents: one million, the scale README's published figures use.
const DEFAULT_DOCS: usize = 1_000_000;

/// Default durable single inserts per phase: each costs an fsync (milliseconds), so a fixed
/// count keeps the phase to seconds while averaging over enough commits to be stable.
const DEFAULT_SINGLE_INSERTS: usize = 2_000;

/// Default number of random point gets.
const DEFAULT_GETS: usize = 200_000;

/// Default number of concurrent durable writers.
const DEFAULT_THREADS: usize = 16;

/// Documents per transaction in the batched-insert phase.
const BATCH_DOCS: usize = 1_000;

/// Cairn's folder under `--dir`.
const CAIRN_DIR: &str = "cairn";

/// SQLite's database file under `--dir`.
const SQLITE_FILE: &str = "sqlite.db";

/// Bytes in a mebibyte, for printing sizes.
const MIB: f64 = 1024.0 * 1024.0;

/// Arguments of `cairn bench core`.
#[derive(Debug, Clone, clap::Args)]
pub struct CoreArgs {
    /// Documents to batch-load (1,000 per transaction).
    #[arg(long, default_value_t = DEFAULT_DOCS)]
    pub docs: usize,
    /// Durable single-document inserts measured per phase (1 thread, then all threads).
    #[arg(long, default_value_t = DEFAULT_SINGLE_INSERTS)]
    pub single_inserts: usize,
    /// Random point gets.
    #[arg(long, default_value_t = DEFAULT_GETS)]
    pub gets: usize,
    /// Where to create both databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Concurrent durable writers in phase 3.
    #[arg(long, default_value_t = DEFAULT_THREADS)]
    pub threads: usize,
    /// Create Cairn's collection without routing entries (`cairn collection create
    /// --no-routing`), to measure what they cost.
    #[arg(long)]
    pub no_routing: bool,
}

/// Runs the benchmark and prints the configuration and the results table.
pub fn run(args: &CoreArgs) -> anyhow::Result<()> {
    validate(args)?;
    // Held until the end so the folder outlives the databases inside it.
    let (_temp_dir, dir) = bench_folder(args.dir.as_deref())?;
    let outcome = measure(args, &dir)?;
    print!("{}", report::render(args, &outcome));
    Ok(())
}

/// The folder a benchmark creates its databases in: `dir` (created if missing), or else a new
/// temporary folder under the current one, returned too so the caller decides when it is
/// removed (when it is dropped).
pub(crate) fn bench_folder(
    dir: Option<&Path>,
) -> anyhow::Result<(Option<tempfile::TempDir>, PathBuf)> {
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok((None, dir.to_path_buf()))
        }
        None => {
            let temp_dir = tempfile::Builder::new()
                .prefix("cairn-bench-")
                .tempdir_in(".")
                .context("creating a temporary folder under the current one")?;
            let path = temp_dir.path().to_path_buf();
            Ok((Some(temp_dir), path))
        }
    }
}

/// Checks the arguments against the benchmark's limits.
fn validate(args: &CoreArgs) -> anyhow::Result<()> {
    ensure!(
        (1..=MAX_CORE_DOCS).contains(&args.docs),
        "--docs must be between 1 and {MAX_CORE_DOCS}"
    );
    ensure!(
        args.single_inserts >= 1,
        "--single-inserts must be at least 1"
    );
    ensure!(args.gets >= 1, "--gets must be at least 1");
    ensure!(
        (1..=MAX_CORE_THREADS).contains(&args.threads),
        "--threads must be between 1 and {MAX_CORE_THREADS}"
    );
    Ok(())
}

/// Creates both databases under `dir`, runs every phase on each and collects the figures.
fn measure(args: &CoreArgs, dir: &Path) -> anyhow::Result<Outcome> {
    let expected_docs = args.docs + 2 * args.single_inserts;
    eprintln!("generating {expected_docs} ids...");
    let workload = Workload::new(expected_docs);
    let mut cairn = CairnSubject::create(&dir.join(CAIRN_DIR), !args.no_routing)?;
    let mut sqlite = SqliteSubject::create(&dir.join(SQLITE_FILE))?;
    let mut subjects: [&mut dyn Subject; 2] = [&mut cairn, &mut sqlite];
    let mut figures = [Figures::default(), Figures::default()];

    let loaded = phase(&mut subjects, "batched insert", |s| {
        Ok((args.docs as u64, load(s, &workload, args.docs)?))
    })?;
    let single: Vec<usize> = (args.docs..args.docs + args.single_inserts).collect();
    let single_rates = phase(&mut subjects, "durable inserts, 1 thread", |s| {
        Ok((single.len() as u64, s.insert_each(&workload, &single)?))
    })?;
    let lanes = round_robin(
        args.docs + args.single_inserts,
        args.single_inserts,
        args.threads,
    );
    let concurrent = phase(&mut subjects, "durable inserts, concurrent", |s| {
        Ok((
            args.single_inserts as u64,
            s.insert_each_concurrently(&workload, &lanes)?,
        ))
    })?;
    let picks = uniform_picks(args.gets, args.docs);
    let gets = phase(&mut subjects, "point gets", |s| {
        Ok((picks.len() as u64, s.get_each(&workload, &picks)?))
    })?;
    let scans = phase(&mut subjects, "full scan", |s| s.scan())?;

    for (index, subject) in subjects.iter_mut().enumerate() {
        let (count, _) = scans[index];
        ensure!(
            count == expected_docs as u64,
            "{} holds {count} documents after the run; expected {expected_docs}",
            subject.name()
        );
        figures[index] = Figures {
            batched_docs_per_s: per_second(loaded[index]),
            single_commits_per_s: per_second(single_rates[index]),
            concurrent_commits_per_s: per_second(concurrent[index]),
            gets_per_s: per_second(gets[index]),
            scan_docs_per_s: per_second(scans[index]),
            scanned_docs: count,
            disk_bytes: subject.disk_bytes()?,
            notes: subject.notes()?,
        };
    }
    let [cairn_figures, sqlite_figures] = figures;
    Ok(Outcome {
        average_doc_bytes: workload.average_json_bytes(),
        cairn: cairn_figures,
        sqlite: sqlite_figures,
    })
}

/// Loads documents `0..docs` in transactions of [`BATCH_DOCS`]; returns the summed time of
/// the transactions.
fn load(subject: &mut dyn Subject, workload: &Workload, docs: usize) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for start in (0..docs).step_by(BATCH_DOCS) {
        total += subject.insert_batch(workload, start..(start + BATCH_DOCS).min(docs))?;
    }
    Ok(total)
}

/// Runs one phase on each subject in turn, printing progress to standard error; returns each
/// subject's operation count and time.
fn phase(
    subjects: &mut [&mut dyn Subject; 2],
    label: &str,
    mut body: impl FnMut(&mut dyn Subject) -> anyhow::Result<(u64, Duration)>,
) -> anyhow::Result<[(u64, Duration); 2]> {
    let mut measured = [(0, Duration::ZERO); 2];
    for (subject, slot) in subjects.iter_mut().zip(&mut measured) {
        let (count, elapsed) =
            body(&mut **subject).with_context(|| format!("{} during {label}", subject.name()))?;
        eprintln!(
            "{label}: {} did {count} in {:.2} s",
            subject.name(),
            elapsed.as_secs_f64()
        );
        *slot = (count, elapsed);
    }
    Ok(measured)
}

/// Operations per second.
fn per_second((count, elapsed): (u64, Duration)) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
}

/// Total bytes of disk blocks allocated to the files under `dir`, recursively. Allocated
/// blocks, not lengths: redb grows its file ahead of need as a sparse file, and `du`, not
/// `ls`, is what the disk pays.
fn directory_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let meta = entry.metadata()?;
        total += if meta.is_dir() {
            directory_bytes(&entry.path())?
        } else {
            cairn::allocated_bytes(&meta)
        };
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_completes_with_equal_document_counts() {
        let dir = tempfile::tempdir().unwrap();
        let args = CoreArgs {
            docs: 2_000,
            single_inserts: 50,
            gets: 1_000,
            dir: Some(dir.path().to_path_buf()),
            threads: 16,
            no_routing: false,
        };
        let outcome = measure(&args, dir.path()).unwrap();
        assert_eq!(outcome.cairn.scanned_docs, 2_100);
        assert_eq!(outcome.sqlite.scanned_docs, 2_100);
        assert!(outcome.cairn.disk_bytes > 0 && outcome.sqlite.disk_bytes > 0);
        let table = report::render(&args, &outcome);
        assert!(table.contains("| operation | Cairn | SQLite | Cairn/SQLite | target |"));
    }

    #[test]
    fn a_folder_that_already_holds_the_databases_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let args = CoreArgs {
            docs: 10,
            single_inserts: 1,
            gets: 1,
            dir: Some(dir.path().to_path_buf()),
            threads: 2,
            no_routing: true,
        };
        measure(&args, dir.path()).unwrap();
        assert!(measure(&args, dir.path()).is_err());
    }
}
