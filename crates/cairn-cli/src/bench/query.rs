//! `cairn bench query`: Cairn's secondary indexes, query planner and aggregation side by side
//! with SQLite, in one run, on the same documents with equivalent indexes.
//!
//! # Workload
//!
//! Data: `--docs` documents (default 1,000,000) of about 300 bytes of JSON each (the average is
//! printed): `bench core`'s documents (same generator and UUIDv7 ids) plus the fields the
//! queries use, shaped like
//!
//! ```json
//! {"_id": "<UUIDv7>", "name": "Grace Hopper", "email": "grace.hopper4821@mail.example.com",
//!  "age": 36, "account": 4711, "price": 2391.07, "category": "garden", "score": 73.52,
//!  "tags": ["red", "green"], "active": true, "address": {"city": "Oslo", "zip": "04821"}}
//! ```
//!
//! `account` is an int with `docs / 100` distinct values (so ~100 documents each), `price` is
//! uniform over 0–10,000 in cents, `score` uniform over 0–1,000, `category` one of 20 strings.
//! Both systems load the documents 10,000 per transaction, then build B-tree indexes on
//! `account`, `price` and `score` over the populated collection (Cairn `create_index`, online;
//! SQLite `CREATE INDEX ... ON docs (json_extract(doc, '$.field'))`, then `ANALYZE`).
//!
//! Systems, both on the local disk under `--dir`, configured as in `bench core`: Cairn in
//! `persistent` mode; SQLite (rusqlite, bundled) in WAL mode with `synchronous=FULL`, a 1 GiB
//! cache and JSON text in `docs(id BLOB PRIMARY KEY, doc TEXT) WITHOUT ROWID`.
//!
//! Rows, each run on Cairn and then on SQLite before the next begins, from one thread:
//! 1. **Equality** on `account` with random values → queries/s (each returns ~100 documents).
//! 2. **Range** `price ∈ [x, x + 100)` with random `x`, ~1% of the documents → queries/s.
//! 3. **Sorted top-100**: the 100 documents with the lowest `score` → queries/s.
//! 4. **`$group`** by `category` over the whole collection, count and average `price`
//!    (Cairn: the aggregation pipeline; SQLite: `GROUP BY`) → queries/s.
//! 5. **Index backfill**: total time to build the three indexes → seconds; the ratio is SQLite's
//!    time over Cairn's, so above 1× Cairn is faster, as in the other rows.
//!
//! Query rows 1–4 run a warm-up (up to 1 s, with parameters from a different seed), then
//! `--seconds` timed (at least [`MIN_TIMED_OPS`] queries), cycling through the same seeded
//! parameters on both systems. Every returned document is materialised (Cairn decodes a
//! `Value`; SQLite's text is parsed by serde_json). Before timing, a sample of queries runs on
//! both systems and their result counts (and groups) are compared; a difference is reported and
//! the command exits with an error after printing the table.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench query`.

mod cairn_side;
mod report;
mod sqlite_side;
mod subject;
mod workload;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

use self::cairn_side::CairnSide;
use self::report::{Outcome, QueryRow, Timed};
use self::sqlite_side::SqliteSide;
use self::subject::{Probe, QuerySubject, INDEXED_FIELDS};
use self::workload::{account_probes, range_probes, QueryDocs, TIMED_SEED, WARMUP_SEED};
use crate::bench::core::bench_folder;
use crate::bench::limits::{MAX_QUERY_DOCS, MAX_QUERY_SECONDS, MAX_QUERY_WARMUP};

/// Default number of documents.
const DEFAULT_DOCS: usize = 1_000_000;

/// Default timed seconds per query row and system.
const DEFAULT_SECONDS: f64 = 5.0;

/// Documents per load transaction.
pub(crate) const LOAD_BATCH_DOCS: usize = 10_000;

/// Fewest queries in a timed pass, however slow they are.
pub(crate) const MIN_TIMED_OPS: u64 = 3;

/// Parameters generated per parameterised row; the timed pass cycles through them.
const PROBES_PER_ROW: usize = 100_000;

/// Parameterised queries per row whose answers are compared between the systems.
const VERIFY_PER_ROW: usize = 25;

/// Cairn's folder under `--dir`.
const CAIRN_DIR: &str = "cairn";

/// SQLite's database file under `--dir`.
const SQLITE_FILE: &str = "sqlite.db";

/// Arguments of `cairn bench query`.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// Documents to load.
    #[arg(long, default_value_t = DEFAULT_DOCS)]
    pub docs: usize,
    /// Timed seconds per query row and system (after a warm-up of up to 1 s).
    #[arg(long, default_value_t = DEFAULT_SECONDS)]
    pub seconds: f64,
    /// Where to create both databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Runs the benchmark and prints the configuration and the results table; fails after
/// printing if the systems disagreed on a sample query.
pub fn run(args: &QueryArgs) -> anyhow::Result<()> {
    validate(args)?;
    // Held until the end so the folder outlives the databases inside it.
    let (_temp_dir, dir) = bench_folder(args.dir.as_deref())?;
    let outcome = measure(args, &dir)?;
    print!("{}", report::render(args, &outcome));
    if !outcome.mismatches.is_empty() {
        for mismatch in &outcome.mismatches {
            eprintln!("error: result mismatch: {mismatch}");
        }
        bail!(
            "Cairn and SQLite disagreed on {} of {} sample queries",
            outcome.mismatches.len(),
            outcome.verified
        );
    }
    Ok(())
}

/// Checks the arguments against the benchmark's limits.
fn validate(args: &QueryArgs) -> anyhow::Result<()> {
    ensure!(
        (1..=MAX_QUERY_DOCS).contains(&args.docs),
        "--docs must be between 1 and {MAX_QUERY_DOCS}"
    );
    ensure!(
        args.seconds > 0.0 && args.seconds <= MAX_QUERY_SECONDS,
        "--seconds must be above 0 and at most {MAX_QUERY_SECONDS}"
    );
    Ok(())
}

/// The warm-up before each timed pass.
pub(crate) fn warmup(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds / 5.0).min(MAX_QUERY_WARMUP)
}

/// One query row before it runs.
struct RowSpec {
    label: String,
    unit: &'static str,
    timed: Vec<Probe>,
    warmup: Vec<Probe>,
}

/// Creates both databases under `dir`, loads and indexes them, verifies a sample of queries
/// and times every row.
fn measure(args: &QueryArgs, dir: &Path) -> anyhow::Result<Outcome> {
    eprintln!("generating {} ids...", args.docs);
    let docs = QueryDocs::new(args.docs);
    let mut cairn = CairnSide::create(&dir.join(CAIRN_DIR))?;
    let mut sqlite = SqliteSide::create(&dir.join(SQLITE_FILE))?;
    let mut subjects: [&mut dyn QuerySubject; 2] = [&mut cairn, &mut sqlite];

    let load = each(&mut subjects, "load", |s| load(s, &docs, args.docs))?;
    let mut backfill = Vec::new();
    for field in INDEXED_FIELDS {
        let label = format!("index on {field}");
        let times = each(&mut subjects, &label, |s| s.create_index(field))?;
        backfill.push((field.to_string(), times));
    }
    for subject in subjects.iter_mut() {
        subject
            .prepare_queries()
            .with_context(|| format!("{} preparing queries", subject.name()))?;
    }
    let specs = row_specs(&docs);
    let (verified, mismatches) = verify(&mut subjects, &specs)?;
    let mut rows = Vec::with_capacity(specs.len());
    for spec in &specs {
        rows.push(time_row(&mut subjects, spec, args.seconds)?);
    }
    Ok(Outcome {
        average_doc_bytes: docs.average_json_bytes(),
        accounts: docs.accounts(),
        load,
        backfill,
        rows,
        verified,
        mismatches,
    })
}

/// The four query rows with their timed and warm-up parameters.
fn row_specs(docs: &QueryDocs) -> Vec<RowSpec> {
    let equal = |seed| {
        account_probes(seed, PROBES_PER_ROW, docs.accounts())
            .into_iter()
            .map(Probe::Equal)
            .collect()
    };
    let range = |seed| {
        range_probes(seed, PROBES_PER_ROW)
            .into_iter()
            .map(|(low, high)| Probe::Range(low, high))
            .collect()
    };
    vec![
        RowSpec {
            label: "equality on indexed int `account` (~100 docs each)".to_string(),
            unit: "queries/s",
            timed: equal(TIMED_SEED),
            warmup: equal(WARMUP_SEED),
        },
        RowSpec {
            label: "range on indexed `price`, ~1% of docs each".to_string(),
            unit: "queries/s",
            timed: range(TIMED_SEED),
            warmup: range(WARMUP_SEED),
        },
        RowSpec {
            label: "top 100 by indexed `score`, ascending".to_string(),
            unit: "queries/s",
            timed: vec![Probe::Top],
            warmup: vec![Probe::Top],
        },
        RowSpec {
            label: "$group by `category` (20 values): count, avg `price`, whole collection"
                .to_string(),
            unit: "queries/s",
            timed: vec![Probe::Group],
            warmup: vec![Probe::Group],
        },
    ]
}

/// Loads documents `0..count` in transactions of [`LOAD_BATCH_DOCS`]; returns the summed time
/// of the transactions.
fn load(
    subject: &mut dyn QuerySubject,
    docs: &QueryDocs,
    count: usize,
) -> anyhow::Result<Duration> {
    let mut total = Duration::ZERO;
    for start in (0..count).step_by(LOAD_BATCH_DOCS) {
        total += subject.insert_batch(docs, start..(start + LOAD_BATCH_DOCS).min(count))?;
    }
    Ok(total)
}

/// Runs `body` on each subject in turn, printing progress to standard error; returns each
/// subject's time (Cairn, then SQLite).
fn each(
    subjects: &mut [&mut dyn QuerySubject; 2],
    label: &str,
    mut body: impl FnMut(&mut dyn QuerySubject) -> anyhow::Result<Duration>,
) -> anyhow::Result<[Duration; 2]> {
    let mut times = [Duration::ZERO; 2];
    for (subject, slot) in subjects.iter_mut().zip(&mut times) {
        *slot =
            body(&mut **subject).with_context(|| format!("{} during {label}", subject.name()))?;
        eprintln!(
            "{label}: {} took {:.2} s",
            subject.name(),
            slot.as_secs_f64()
        );
    }
    Ok(times)
}

/// Runs the first parameters of every row on both systems and compares the answers; returns
/// how many queries were compared and a description of each disagreement.
fn verify(
    subjects: &mut [&mut dyn QuerySubject; 2],
    specs: &[RowSpec],
) -> anyhow::Result<(usize, Vec<String>)> {
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for spec in specs {
        for probe in spec.timed.iter().take(VERIFY_PER_ROW) {
            let [cairn, sqlite] = &mut *subjects;
            let ours = cairn.execute(probe).context("Cairn while verifying")?;
            let theirs = sqlite.execute(probe).context("SQLite while verifying")?;
            compared += 1;
            if !ours.agrees_with(&theirs) {
                mismatches.push(format!(
                    "{probe:?}: Cairn returned {}, SQLite {}",
                    ours.describe(),
                    theirs.describe()
                ));
            }
        }
    }
    eprintln!(
        "verified {compared} sample queries: {} mismatches",
        mismatches.len()
    );
    Ok((compared, mismatches))
}

/// Warms up and times one row on each system; also records each system's plan for it.
fn time_row(
    subjects: &mut [&mut dyn QuerySubject; 2],
    spec: &RowSpec,
    seconds: f64,
) -> anyhow::Result<QueryRow> {
    let mut timed = [Timed::default(); 2];
    let mut plans = [String::new(), String::new()];
    for (index, subject) in subjects.iter_mut().enumerate() {
        let name = subject.name();
        plans[index] = subject
            .plan(&spec.timed[0])
            .with_context(|| format!("{name} explaining {}", spec.label))?;
        drive(&mut **subject, &spec.warmup, warmup(seconds), 1)
            .with_context(|| format!("{name} warming up {}", spec.label))?;
        let budget = Duration::from_secs_f64(seconds);
        timed[index] = drive(&mut **subject, &spec.timed, budget, MIN_TIMED_OPS)
            .with_context(|| format!("{name} timing {}", spec.label))?;
        eprintln!(
            "{}: {name} ran {} queries in {:.2} s",
            spec.label,
            timed[index].ops,
            timed[index].elapsed.as_secs_f64()
        );
    }
    Ok(QueryRow {
        label: spec.label.clone(),
        unit: spec.unit,
        timed,
        plans,
    })
}

/// Runs `probes` in a cycle until at least `min_ops` have run and `budget` has passed.
fn drive(
    subject: &mut dyn QuerySubject,
    probes: &[Probe],
    budget: Duration,
    min_ops: u64,
) -> anyhow::Result<Timed> {
    ensure!(!probes.is_empty(), "a row without queries");
    let started = Instant::now();
    let mut ops = 0;
    for probe in probes.iter().cycle() {
        black_box(subject.execute(probe)?);
        ops += 1;
        if ops >= min_ops && started.elapsed() >= budget {
            break;
        }
    }
    Ok(Timed {
        ops,
        elapsed: started.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_agrees_and_reports_five_rows() {
        let dir = tempfile::tempdir().unwrap();
        let args = QueryArgs {
            docs: 2_000,
            seconds: 0.02,
            dir: Some(dir.path().to_path_buf()),
        };
        let outcome = measure(&args, dir.path()).unwrap();
        assert!(
            outcome.mismatches.is_empty(),
            "mismatches: {:?}",
            outcome.mismatches
        );
        assert_eq!(outcome.verified, 2 * VERIFY_PER_ROW + 2);
        let table = report::render(&args, &outcome);
        let rows = table
            .lines()
            .filter(|line| line.starts_with("| ") && !line.starts_with("| query |"))
            .count();
        assert_eq!(rows, 5, "{table}");
    }

    #[test]
    fn arguments_out_of_range_are_refused() {
        let args = |docs, seconds| QueryArgs {
            docs,
            seconds,
            dir: None,
        };
        assert!(validate(&args(0, 1.0)).is_err());
        assert!(validate(&args(10, 0.0)).is_err());
        assert!(validate(&args(10, 1.0)).is_ok());
    }
}
