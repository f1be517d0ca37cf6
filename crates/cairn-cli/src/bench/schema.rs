//! `cairn bench schema`: what enforcing a schema costs on inserts.
//!
//! # Workload
//!
//! `--docs` documents (default 100,000) of about 250 bytes, shaped like
//!
//! ```json
//! {"name": "user 42", "email": "u42@mail.example.com", "age": 36, "city": "city 7",
//!  "score": 73.5, "tags": ["t1", "t3"], "active": true, "energy_in": 10.5,
//!  "energy_out": 7.25, "created": {"$date": ...}, "flow": -12.5}
//! ```
//!
//! pseudo-random but fixed (a seeded SplitMix64 per document index), built before the clock
//! starts. Each round inserts them, 1,000 per transaction on one thread, into a fresh
//! collection of one `persistent` database under `--dir` (every commit fsynced; the global
//! `--mode`/`--data`/`--compression` options do not apply: the database is always this
//! fresh one, with the default compression, zstd with trained dictionaries), once per
//! subject:
//! - **no schema**: a schemaless collection;
//! - **schema**: the 10 fields typed, with 10 constraints (`name` length, `email` pattern, `age`
//!   min and max, `city` enum of 50, `score` min and max, `tags` length, `energy_in` and
//!   `energy_out` min) and 2 validation rules (`energy_out <= energy_in`,
//!   `len(tags) > 0 && age >= 0`); every document is also stamped with its schema version;
//! - **schema + conserved sum**: the same schema plus the commit-time invariant
//!   `conserve sum(flow)` (`cairn::invariant::add_invariant`).
//!
//! Why a *conserved* sum holds under pure inserts: inserting documents changes a collection's
//! total of any field they carry, so the invariant is on `flow`, which the documents carry in
//! pairs that cancel — document `2k` has `+x`, document `2k + 1` has `-x` (an unpaired last
//! document has `0`), and a transaction's batch starts at an even index — so every
//! transaction's inserted `flow` sums to exactly zero (sums are exact) and every commit passes
//! the check, which is what is timed. `flow` is not declared in the schema (undeclared fields
//! are allowed), and every subject inserts the same documents, `flow` included.
//!
//! # Fairness
//!
//! - **Dictionaries.** Each subject's collection is first seeded, untimed, with about an
//!   eighth as many documents again (`--docs / 8`, at least 1,000, whole transactions) in one
//!   transaction, and its compression dictionary trained right then
//!   (`Database::train_dictionaries`). Every timed document is then compressed with a
//!   dictionary trained on that subject's own documents, and the collection stays below the
//!   retraining threshold (10x the seed) while the clock runs. Left to the background trainer,
//!   which looks once a second, a subject would compress a random share of its documents
//!   without a dictionary (slower) depending on when the tick fell, a bias as large as the
//!   effect measured.
//! - **Load from other processes.** Within a round the subjects take turns after every
//!   transaction (1,000 documents, ~10 ms), each timed on its own clock, so a burst of load on a
//!   shared machine hits all of them; the order alternates between rounds.
//! - **Warm-up.** One untimed round of the same shape runs first, so the file has grown to
//!   its working size and every code path is warm.
//!
//! The table shows each subject's median rate over the rounds and, as ratios, the median of
//! the per-round ratios to the schemaless and the schema-only subject (overhead target:
//! ≤ 20%), then the per-round ratios to the schemaless subject, to show the spread.
//! `--only 0,2` runs a subset (to profile one subject).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use cairn::{Config, Database, StorageMode, Value};

/// Default rounds: the median of three absorbs one disturbed round.
const DEFAULT_ROUNDS: usize = 3;

/// Documents per transaction; even, so no `flow` pair straddles two transactions.
const BATCH_DOCUMENTS: usize = 1_000;
const _: () = assert!(BATCH_DOCUMENTS.is_multiple_of(2));

/// Transactions one subject runs before the next takes its turn: 1 (1,000 documents, about
/// 10 ms). The finer the turns, the more evenly a burst of load from other processes hits every
/// subject; measured with a build running alongside, turns of 10 transactions gave per-round
/// ratios scattered over ±0.1.
const SLICE_BATCHES: usize = 1;

/// The invariant of the third subject (see the module documentation for why it holds).
const BENCH_INVARIANT: &str = "conserve sum(flow)";

/// Arguments of `cairn bench schema`.
#[derive(Debug, Clone, clap::Args)]
pub struct SchemaArgs {
    /// Documents inserted per subject and round.
    #[arg(long, default_value_t = 100_000)]
    pub docs: usize,
    /// Rounds (each runs every subject once).
    #[arg(long, default_value_t = DEFAULT_ROUNDS)]
    pub rounds: usize,
    /// Folder for the database (default: a temporary folder under the current one).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run only these subjects (0 = no schema, 1 = schema, 2 = schema + conserved sum), say
    /// to profile one; ratios are printed only when subjects 0 and 1 ran.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(0..3))]
    pub only: Vec<u8>,
}

/// The benchmark's schema: 10 typed fields, 10 constraints, 2 rules.
pub const BENCH_SCHEMA: &str = r#"{
  "fields": {
    "name": {"type": "string", "length": {"min": 1, "max": 64}},
    "email": {"type": "string", "pattern": "@"},
    "age": {"type": "int", "min": 0, "max": 150},
    "city": {"type": "string", "enum": [CITIES]},
    "score": {"type": "float", "min": 0, "max": 100},
    "tags": {"type": "array<string>", "length": {"max": 8}},
    "active": "bool",
    "energy_in": {"type": "float", "min": 0},
    "energy_out": {"type": "float", "min": 0},
    "created": "datetime"
  },
  "rules": {
    "energy_conserved": "energy_out <= energy_in",
    "tagged_adult": "len(tags) > 0 && age >= 0"
  }
}"#;

/// The subjects, in the order each round runs them.
const SUBJECTS: &[&str] = &[
    "no schema",
    "schema (10 fields, 10 constraints, 2 rules)",
    "schema + conserve sum(flow)",
];

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Document `i` of `total`.
fn document(i: usize, total: usize) -> anyhow::Result<Value> {
    let r = splitmix(i as u64);
    let tags: Vec<String> = (0..1 + r % 3)
        .map(|t| format!("\"t{}\"", (r >> (8 * t)) % 12))
        .collect();
    let energy_in = (r % 1000) as f64 / 10.0 + 1.0;
    // The pair (2k, 2k + 1) shares one magnitude, taken from the even document's seed.
    let magnitude = (splitmix((i - i % 2) as u64) % 10_000) as f64 / 8.0;
    let flow = match (i % 2, i + 1 < total) {
        (0, true) => magnitude,
        (0, false) => 0.0,
        _ => -magnitude,
    };
    let json = format!(
        r#"{{"name": "user {i}", "email": "u{i}@mail.example.com", "age": {}, "city": "city {}",
            "score": {}, "tags": [{}], "active": {}, "energy_in": {energy_in}, "energy_out": {},
            "created": {{"$date": {}}}, "flow": {flow}}}"#,
        r % 100,
        (r >> 8) % 50,
        ((r >> 16) % 1000) as f64 / 10.0,
        tags.join(", "),
        r.is_multiple_of(2),
        energy_in / 2.0,
        // Integer `$date` is milliseconds since the epoch.
        1_700_000_000_000u64 + i as u64,
    );
    Ok(Value::from_json_str(&json)?)
}

fn prepare(db: &Database, collection: &str, subject: usize) -> anyhow::Result<()> {
    db.create_collection(collection)?;
    if subject >= 1 {
        let cities: Vec<String> = (0..50).map(|c| format!("\"city {c}\"")).collect();
        let schema = Value::from_json_str(&BENCH_SCHEMA.replace("CITIES", &cities.join(", ")))?;
        cairn::schema::set_schema(db, collection, &schema, "bench")?;
    }
    if subject >= 2 {
        cairn::invariant::add_invariant(db, collection, None, BENCH_INVARIANT)?;
    }
    Ok(())
}

/// Fills a subject's fresh collection with its seed in one transaction and trains its
/// compression dictionary now, so every timed document is compressed with a dictionary
/// trained on that subject's own documents (stamped or not), and none is retrained while the
/// clock runs (see [`seed_documents`]). Without this the background trainer, which looks once
/// a second, gives whichever subject it happens to reach first (or last) more documents
/// compressed without a dictionary, a bias of the size of the effect measured.
fn seed(db: &Database, collection: &str, seed: &[Value]) -> anyhow::Result<()> {
    let mut txn = db.begin()?;
    for doc in seed {
        txn.insert(collection, doc.clone())?;
    }
    txn.commit()?;
    db.train_dictionaries()?;
    Ok(())
}

/// Documents seeded before timing for `docs` timed ones: enough for a dictionary
/// (`TRAIN_MIN_DOCS`), more than `docs / (RETRAIN_GROWTH - 1)` so that seed plus timed
/// documents stay below the retraining threshold (`RETRAIN_GROWTH` times the seed), and a whole number of batches so
/// `flow` pairs stay within a transaction.
fn seed_documents(docs: usize) -> usize {
    let growth = cairn::RETRAIN_GROWTH.max(3) as usize;
    let wanted = (docs / (growth - 2) + 1).max(cairn::TRAIN_MIN_DOCS as usize);
    wanted.div_ceil(BATCH_DOCUMENTS) * BATCH_DOCUMENTS
}

/// One round: every subject gets a fresh, seeded collection, then the timed documents are
/// inserted in slices of [`SLICE_BATCHES`] transactions, the subjects taking turns slice by
/// slice (in `order`), so a burst of load from other processes hits all of them alike.
/// Returns each subject's inserts per second (`None` for subjects not run).
fn round(
    db: &Database,
    round: usize,
    order: &[usize],
    (seed_docs, docs): (&[Value], &[Value]),
) -> anyhow::Result<Vec<Option<f64>>> {
    let collections: Vec<String> = (0..SUBJECTS.len())
        .map(|subject| format!("bench_{round}_{subject}"))
        .collect();
    for &subject in order {
        prepare(db, &collections[subject], subject)?;
        seed(db, &collections[subject], seed_docs)?;
    }
    let mut elapsed = vec![std::time::Duration::ZERO; SUBJECTS.len()];
    for slice in docs.chunks(BATCH_DOCUMENTS * SLICE_BATCHES) {
        for &subject in order {
            let started = Instant::now();
            for chunk in slice.chunks(BATCH_DOCUMENTS) {
                let mut txn = db.begin()?;
                for doc in chunk {
                    txn.insert(&collections[subject], doc.clone())?;
                }
                txn.commit()?;
            }
            elapsed[subject] += started.elapsed();
        }
    }
    for &subject in order {
        db.drop_collection(&collections[subject])?;
    }
    Ok((0..SUBJECTS.len())
        .map(|subject| {
            order
                .contains(&subject)
                .then(|| docs.len() as f64 / elapsed[subject].as_secs_f64())
        })
        .collect())
}

/// The median (upper median for an even count); NaN when there is nothing to take it of.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Runs the benchmark and prints the table.
pub fn run(args: &SchemaArgs) -> anyhow::Result<()> {
    let holder = match &args.dir {
        Some(_) => None,
        None => Some(tempfile::tempdir_in(".").context("creating a temporary folder")?),
    };
    let dir = match (&args.dir, &holder) {
        (Some(dir), _) => dir.clone(),
        (None, Some(temp)) => temp.path().to_path_buf(),
        (None, None) => anyhow::bail!("no folder for the database"),
    };
    let db = cairn::open(Config::new(dir.join("db"), StorageMode::Persistent))?;
    let seed_count = seed_documents(args.docs);
    let docs = (0..seed_count + args.docs)
        .map(|i| document(i, seed_count + args.docs))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (seed_docs, docs) = docs.split_at(seed_count);
    let subjects: Vec<usize> = (0..SUBJECTS.len())
        .filter(|s| args.only.is_empty() || args.only.contains(&(*s as u8)))
        .collect();
    // An untimed warm-up round first: the file grows to its working size once and every
    // code path is warm. Subjects then alternate order between rounds (and take turns within
    // one), so whatever running first or second gains falls to each equally often.
    round(&db, 0, &subjects, (seed_docs, docs))?;
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); SUBJECTS.len()];
    for n in 1..=args.rounds.max(1) {
        let mut order = subjects.clone();
        if n % 2 == 0 {
            order.reverse();
        }
        for (subject, rate) in round(&db, n, &order, (seed_docs, docs))?
            .into_iter()
            .enumerate()
        {
            rates[subject].extend(rate);
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bench schema: {} documents ({seed_count} seeded first), {BATCH_DOCUMENTS} per transaction, persistent, median of {} rounds, {cores} cores",
        args.docs,
        args.rounds.max(1)
    );
    println!(
        "{:<46} {:>10} {:>8} {:>10}  vs none, each round",
        "subject", "inserts/s", "vs none", "vs schema"
    );
    for (subject, name) in SUBJECTS.iter().enumerate() {
        let per_round = |base: usize| -> Vec<f64> {
            rates[subject]
                .iter()
                .zip(&rates[base])
                .map(|(rate, base)| rate / base)
                .collect()
        };
        let rounds: Vec<String> = per_round(0).iter().map(|r| format!("{r:.2}")).collect();
        println!(
            "{name:<46} {:>10.0} {:>7.2}x {:>9.2}x  {}",
            median(rates[subject].clone()),
            median(per_round(0)),
            median(per_round(1)),
            rounds.join(" ")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The third subject's commits only pass if every transaction's `flow` sums to zero.
    #[test]
    fn every_batch_of_flows_sums_to_exactly_zero() -> anyhow::Result<()> {
        let total = 2 * BATCH_DOCUMENTS + 3;
        let docs = (0..total)
            .map(|i| document(i, total))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut nonzero = 0;
        for chunk in docs.chunks(BATCH_DOCUMENTS) {
            let flows: Vec<f64> = chunk
                .iter()
                .filter_map(|d| d.as_object()?.get("flow")?.as_f64())
                .collect();
            assert_eq!(flows.len(), chunk.len(), "every document carries a flow");
            nonzero += flows.iter().filter(|f| **f != 0.0).count();
            // Pairs cancel exactly, so an exact sum and this naive one agree on zero.
            assert_eq!(flows.iter().sum::<f64>(), 0.0);
        }
        assert!(nonzero > total / 2, "the flows are not trivially zero");
        Ok(())
    }
}
