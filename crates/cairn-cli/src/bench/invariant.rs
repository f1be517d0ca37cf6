//! `cairn bench invariant`: what commit-time invariants cost, side by side with the same
//! workload and no invariant, in one run.
//!
//! # Workload
//!
//! Per subject, a fresh database (`--mode`, default `memory-only` so the figure is the
//! invariants' CPU cost, not fsync; pass `--mode persistent` for durable commits) with one
//! collection `cells`:
//! 1. a reserve document `{"_id": 0, "account": "reserve", "energy": 10 × docs, "amount": 0}`
//!    is inserted, then the subject's invariants are added;
//! 2. **insert**: `--docs` documents (default 20,000) `{"_id": i, "account": "acct{i % 100}",
//!    "energy": 10, "amount": 10}`, `--batch` (default 100) per transaction, one thread; each
//!    transaction also takes the batch's energy from the reserve, so every subject runs the
//!    same writes and the conserved sum holds;
//! 3. **transfer**: `--transfers` transactions (default 20,000) from `--threads` threads
//!    (default 4), each reading two random documents and moving 1 energy and 1 amount from the
//!    first to the second (pseudo-random, fixed seed per thread), retried on conflict; a
//!    transfer an invariant refuses counts as done (it did the same work) and is reported.
//!
//! Subjects: **none**; **conserve** (`conserve sum(energy)`); **bound** (`energy >= 0`);
//! **group** (`sum(amount) by account >= 0`); **all three**. Ratios are against **none**.
//! The subjects run `--rounds` times (default 3) in turn, each time on a fresh database, and
//! the best round of each is reported, so warm-up and machine noise do not favour one.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench invariant`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use cairn::{Config, Database, DocId, EngineError, Patch, StorageMode, Value};

/// Documents inserted per subject by default.
const DEFAULT_DOCS: usize = 20_000;
/// Transfers per subject by default.
const DEFAULT_TRANSFERS: usize = 20_000;
/// Distinct accounts the documents are spread over.
const ACCOUNTS: usize = 100;
/// Energy each inserted document starts with (taken from the reserve).
const ENERGY_PER_DOC: usize = 10;

/// Arguments of `cairn bench invariant`.
#[derive(Debug, Clone, clap::Args)]
pub struct InvariantArgs {
    /// Documents inserted per subject.
    #[arg(long, default_value_t = DEFAULT_DOCS)]
    pub docs: usize,
    /// Documents per insert transaction.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Transfer transactions per subject.
    #[arg(long, default_value_t = DEFAULT_TRANSFERS)]
    pub transfers: usize,
    /// Threads running transfers.
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Storage mode: `memory-only` or `persistent` (in a temporary folder).
    #[arg(long, default_value = "memory-only")]
    pub mode: String,
    /// Rounds over all subjects; the best of each subject is reported.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// One subject: a name and its invariant rules.
struct Subject {
    name: &'static str,
    rules: &'static [&'static str],
}

const SUBJECTS: [Subject; 5] = [
    Subject {
        name: "none",
        rules: &[],
    },
    Subject {
        name: "conserve",
        rules: &["conserve sum(energy)"],
    },
    Subject {
        name: "bound",
        rules: &["energy >= 0"],
    },
    Subject {
        name: "group",
        rules: &["sum(amount) by account >= 0"],
    },
    Subject {
        name: "all three",
        rules: &[
            "conserve sum(energy)",
            "energy >= 0",
            "sum(amount) by account >= 0",
        ],
    },
];

/// What one subject achieved.
struct Measured {
    inserts_per_s: f64,
    transfers_per_s: f64,
    refused: u64,
    conflicts: u64,
}

impl Measured {
    /// The better throughput of two rounds (counts from the round with the better transfers).
    fn best_of(self, other: Measured) -> Measured {
        let inserts_per_s = self.inserts_per_s.max(other.inserts_per_s);
        let mut best = if other.transfers_per_s > self.transfers_per_s {
            other
        } else {
            self
        };
        best.inserts_per_s = inserts_per_s;
        best
    }
}

/// Runs the benchmark and prints its table.
pub fn run(args: &InvariantArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.docs >= 2 && args.batch >= 1 && args.threads >= 1,
        "--docs must be at least 2, --batch and --threads at least 1"
    );
    let persistent = match args.mode.as_str() {
        "memory-only" => false,
        "persistent" => true,
        other => anyhow::bail!("--mode must be `memory-only` or `persistent`, not `{other}`"),
    };
    println!(
        "bench invariant: {} inserts ({} per transaction), {} transfers on {} threads, {} mode, {} cores",
        args.docs,
        args.batch,
        args.transfers,
        args.threads,
        args.mode,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut results: Vec<Option<Measured>> = SUBJECTS.iter().map(|_| None).collect();
    for round in 0..args.rounds.max(1) {
        for (subject, best) in SUBJECTS.iter().zip(results.iter_mut()) {
            let dir = tempfile::Builder::new()
                .prefix("cairn-bench-invariant-")
                .tempdir_in(".")
                .context("creating a temporary folder under the current one")?;
            let mode = if persistent {
                StorageMode::Persistent
            } else {
                StorageMode::MemoryOnly
            };
            let db = cairn::open(Config::new(dir.path(), mode))?;
            let measured = measure(&db, subject, args)?;
            *best = Some(match best.take() {
                Some(previous) => previous.best_of(measured),
                None => measured,
            });
            eprintln!("  round {}: {} done", round + 1, subject.name);
        }
    }
    let results: Vec<Measured> = results.into_iter().flatten().collect();
    print!("{}", render(&results, args));
    Ok(())
}

fn measure(db: &Database, subject: &Subject, args: &InvariantArgs) -> anyhow::Result<Measured> {
    db.create_collection("cells")?;
    let reserve = format!(
        r#"{{"_id": 0, "account": "reserve", "energy": {}, "amount": 0}}"#,
        args.docs * ENERGY_PER_DOC
    );
    db.insert("cells", Value::from_json_str(&reserve)?)?;
    for rule in subject.rules {
        cairn::invariant::add_invariant(db, "cells", None, rule)?;
    }
    let started = Instant::now();
    for start in (1..=args.docs).step_by(args.batch) {
        let end = (start + args.batch).min(args.docs + 1);
        let docs: Vec<Value> = (start..end)
            .map(|i| {
                Value::from_json_str(&format!(
                    r#"{{"_id": {i}, "account": "acct{}", "energy": {ENERGY_PER_DOC}, "amount": 10}}"#,
                    i % ACCOUNTS
                ))
            })
            .collect::<Result<_, _>>()?;
        let take = Patch::from_json_str(&format!(
            r#"{{"$inc": {{"energy": {}}}}}"#,
            -((docs.len() * ENERGY_PER_DOC) as i64)
        ))?;
        db.transaction(|txn| {
            for doc in &docs {
                txn.insert("cells", doc.clone())?;
            }
            txn.update("cells", &DocId::Int(0), &take)?;
            Ok(())
        })?;
    }
    let inserts_per_s = args.docs as f64 / started.elapsed().as_secs_f64();
    let conflicts_before = db.stats()?.conflicts;
    let started = Instant::now();
    let refused = run_transfers(db, args)?;
    let transfers_per_s = args.transfers as f64 / started.elapsed().as_secs_f64();
    Ok(Measured {
        inserts_per_s,
        transfers_per_s,
        refused,
        conflicts: db.stats()?.conflicts - conflicts_before,
    })
}

/// Runs the transfer phase on `--threads` threads; returns how many transfers an invariant
/// refused.
fn run_transfers(db: &Database, args: &InvariantArgs) -> anyhow::Result<u64> {
    let refused = AtomicU64::new(0);
    let next = Arc::new(AtomicU64::new(0));
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let mut workers = Vec::new();
        for thread in 0..args.threads {
            let (db, next, refused) = (db.clone(), next.clone(), &refused);
            workers.push(scope.spawn(move || -> anyhow::Result<()> {
                let mut rng = SplitMix(thread as u64 + 1);
                while next.fetch_add(1, Ordering::Relaxed) < args.transfers as u64 {
                    let from = DocId::Int(rng.below(args.docs as u64 + 1) as i64);
                    let to = DocId::Int(rng.below(args.docs as u64 + 1) as i64);
                    match transfer(&db, &from, &to) {
                        Ok(()) => {}
                        Err(EngineError::InvariantViolation { .. }) => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(other) => return Err(other.into()),
                    }
                }
                Ok(())
            }));
        }
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a transfer thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(refused.load(Ordering::Relaxed))
}

/// Moves 1 energy and 1 amount from `from` to `to` in one transaction.
fn transfer(db: &Database, from: &DocId, to: &DocId) -> Result<(), EngineError> {
    let minus = Patch::from_json_str(r#"{"$inc": {"energy": -1, "amount": -1}}"#)?;
    let plus = Patch::from_json_str(r#"{"$inc": {"energy": 1, "amount": 1}}"#)?;
    db.transaction(|txn| {
        txn.update("cells", from, &minus)?;
        txn.update("cells", to, &plus)?;
        Ok(())
    })
}

/// A small deterministic generator (SplitMix64), so runs are reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

fn render(results: &[Measured], args: &InvariantArgs) -> String {
    let Some(base) = results.first() else {
        return String::new();
    };
    let mut out = String::new();
    out.push_str(&format!(
        "\n| subject | inserts/s | vs none | transfers/s ({} threads) | vs none | refused | conflicts |\n",
        args.threads
    ));
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    for (subject, m) in SUBJECTS.iter().zip(results) {
        out.push_str(&format!(
            "| {} | {:.0} | {:.2}× | {:.0} | {:.2}× | {} | {} |\n",
            subject.name,
            m.inserts_per_s,
            m.inserts_per_s / base.inserts_per_s,
            m.transfers_per_s,
            m.transfers_per_s / base.transfers_per_s,
            m.refused,
            m.conflicts
        ));
    }
    out.push_str(
        "\nrules: conserve = `conserve sum(energy)`, bound = `energy >= 0`, group = \
         `sum(amount) by account >= 0` (100 accounts); the design target is overhead ≤ 20% \
         (ratio ≥ 0.80).\n",
    );
    out
}
