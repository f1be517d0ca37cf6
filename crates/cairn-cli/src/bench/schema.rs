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
//! collection of one `persistent` database under `--dir` (every commit fsynced), once per
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
//! After one warm-up load, subjects alternate within a round and swap order between rounds;
//! the table shows each subject's median round and the
//! ratio to the schemaless figure (overhead target: ≤ 20%) and to the schema-only figure.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use cairn::{Config, Database, StorageMode, Value};

/// Default rounds: the median of three absorbs one disturbed round.
const DEFAULT_ROUNDS: usize = 3;

/// Documents per transaction; even, so no `flow` pair straddles two transactions.
const BATCH_DOCUMENTS: usize = 1_000;
const _: () = assert!(BATCH_DOCUMENTS.is_multiple_of(2));

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
        1_700_000_000_000_000u64 + i as u64,
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

fn insert_all(db: &Database, collection: &str, docs: &[Value]) -> anyhow::Result<f64> {
    let started = Instant::now();
    for chunk in docs.chunks(BATCH_DOCUMENTS) {
        let mut txn = db.begin()?;
        for doc in chunk {
            txn.insert(collection, doc.clone())?;
        }
        txn.commit()?;
    }
    Ok(docs.len() as f64 / started.elapsed().as_secs_f64())
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
    let docs = (0..args.docs)
        .map(|i| document(i, args.docs))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); SUBJECTS.len()];
    // A warm-up load first: the file grows to its working size once, so neither subject pays
    // for growth the other then reuses. The order of subjects alternates between rounds, so
    // whatever the first or second run of a round gains (freed pages, a trained dictionary)
    // falls to each subject equally often.
    prepare(&db, "bench_warmup", 0)?;
    insert_all(&db, "bench_warmup", &docs)?;
    db.drop_collection("bench_warmup")?;
    for round in 0..args.rounds.max(1) {
        for step in 0..SUBJECTS.len() {
            let subject = if round % 2 == 0 {
                step
            } else {
                SUBJECTS.len() - 1 - step
            };
            let collection = format!("bench_{round}_{subject}");
            prepare(&db, &collection, subject)?;
            rates[subject].push(insert_all(&db, &collection, &docs)?);
            db.drop_collection(&collection)?;
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "bench schema: {} documents, {BATCH_DOCUMENTS} per transaction, persistent, median of {} rounds, {cores} cores",
        args.docs,
        args.rounds.max(1)
    );
    println!(
        "{:<46} {:>14} {:>10} {:>10}",
        "subject", "inserts/s", "vs none", "vs schema"
    );
    let median = |rates: &mut Vec<f64>| {
        rates.sort_by(f64::total_cmp);
        rates[rates.len() / 2]
    };
    let medians: Vec<f64> = rates.iter_mut().map(median).collect();
    let (base, schema) = (medians[0], medians[1]);
    for (name, rate) in SUBJECTS.iter().zip(&medians) {
        println!(
            "{name:<46} {rate:>14.0} {:>9.2}x {:>9.2}x",
            rate / base,
            rate / schema
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
