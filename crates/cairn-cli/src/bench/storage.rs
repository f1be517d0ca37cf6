//! `cairn bench storage`: what compression and encryption cost and save, side by side with
//! SQLite's file size for the same documents, in one run.
//!
//! # Workload
//!
//! Data: `--docs` documents (default 1,000,000) of about 550 bytes of JSON each (the average
//! is printed): clinical observations with nested objects and arrays, repetitive field names
//! and values (20 wards, 12 measurement codes, 8 statuses), pseudo-random but fixed (a seeded
//! SplitMix64 per document index), integer `_id`s in increasing order:
//!
//! ```json
//! {"_id": 17, "resourceType": "Observation", "status": "final",
//!  "patient": {"id": "P-0004711", "name": "Ada Lovelace", "gender": "female", "born": "1961-03-07"},
//!  "encounter": {"ward": "cardiology", "floor": 3, "bed": "B-12", "admitted": "2024-05-01T10:17:00Z"},
//!  "measurements": [{"code": "heart_rate", "unit": "bpm", "value": 72.4}, ...],
//!  "tags": ["routine", "inpatient"], "note": "Patient stable; continue current plan."}
//! ```
//!
//! Subjects, each in its own folder under `--dir`, loaded with the same documents in
//! transactions of 1,000, one thread, durable commits (Cairn `persistent`; SQLite WAL with
//! `synchronous=FULL`):
//! - Cairn **none**: compression off.
//! - Cairn **zstd**: zstd level 3, no dictionary.
//! - Cairn **zstd+dict**: zstd level 3 with a per-collection dictionary, trained after the
//!   first 1,000 documents (and retrained in the background at 10× growth).
//! - Cairn **zstd+dict+enc**: as zstd+dict, on an encrypted database (AES-256-GCM per 4 KiB
//!   block); its throughput against zstd+dict is the cost of encryption.
//! - Cairn **zstd packed** / **zstd+dict packed**: as zstd / zstd+dict, with records stored in
//!   packed runs (`Config::packed_runs`, layout 2): neighbouring records compressed together.
//! - **SQLite**: `docs(id INTEGER PRIMARY KEY, doc TEXT)` with the JSON text.
//!
//! Figures: bytes on disk after closing (allocated blocks of every file, as `du` counts; SQLite
//! after a WAL checkpoint), insert throughput, and `--gets` random point gets (fixed seed) that
//! materialise each document (Cairn `get` → `Value`; SQLite text → `serde_json::Value`) with a
//! warm cache, best of three passes. Cairn's size includes its change log (the last 100,000 changes, each holding
//! the whole document), which SQLite has no counterpart of.
//!
//! `--rounds N` repeats the Cairn subjects N times (alternating their order) and reports
//! medians: on a shared machine one load's throughput swings by more than the cost of
//! encryption, so compare encryption with several rounds.
//!
//! `--workload geometry` (or `all`, the default) adds the geometry row: bytes on disk after
//! loading `--docs` records of the geometry team's workload into Cairn, SQLite and PostgreSQL
//! 15 (see [`geometry`]).
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench storage`.

mod geometry;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cairn::{Compression, Config, Database, DocId, KeySource, StorageMode, Value};

/// Default documents: one million, the scale README's published figures use.
const DEFAULT_DOCS: usize = 1_000_000;
/// Default random point gets per subject.
const DEFAULT_GETS: usize = 100_000;
/// Passes over the random gets; the best one is reported (see `cairn_subject`).
const GET_PASSES: usize = 3;
/// Documents per transaction while loading.
const BATCH_DOCS: usize = 1_000;
/// Documents after which the dictionary subjects train their first dictionary.
const TRAIN_AFTER_DOCS: usize = 1_000;
/// Bytes in a mebibyte, for printing sizes.
const MIB: f64 = 1024.0 * 1024.0;

/// Arguments of `cairn bench storage`.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// Documents to load into each subject.
    #[arg(long, default_value_t = DEFAULT_DOCS)]
    pub docs: usize,
    /// Random point gets per subject.
    #[arg(long, default_value_t = DEFAULT_GETS)]
    pub gets: usize,
    /// Rounds over the Cairn subjects; each figure is the median over rounds.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Where to create the databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Which data sets to load: the clinical documents (compression, encryption and gets),
    /// the geometry records (bytes against SQLite and PostgreSQL), or both.
    #[arg(long, value_enum, default_value_t = StorageWorkload::All)]
    pub workload: StorageWorkload,
}

/// The data sets of `cairn bench storage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageWorkload {
    /// Both tables.
    All,
    /// Clinical observations: compression variants, encryption, gets, against SQLite.
    Clinical,
    /// Geometry records: bytes on disk against SQLite and PostgreSQL 15.
    Geometry,
}

/// One subject's results.
struct Measured {
    name: &'static str,
    disk_bytes: u64,
    inserts_per_s: f64,
    gets_per_s: f64,
}

/// Runs the benchmark and prints its table.
pub fn run(args: &StorageArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.docs >= 1, "--docs must be at least 1");
    let temp_dir;
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None => {
            temp_dir = tempfile::Builder::new()
                .prefix("cairn-bench-storage-")
                .tempdir_in(".")
                .context("creating a temporary folder under the current one")?;
            temp_dir.path().to_path_buf()
        }
    };
    if args.workload != StorageWorkload::Clinical {
        print!("{}", geometry::run(args.docs, &dir)?);
    }
    if args.workload == StorageWorkload::Geometry {
        return Ok(());
    }
    let docs: Vec<String> = (0..args.docs).map(json_doc).collect();
    let average = docs.iter().map(String::len).sum::<usize>() / docs.len();
    let picks = picks(args.gets, args.docs);
    println!(
        "bench storage: {} documents (average {average} bytes of JSON), {} gets, {} cores",
        args.docs,
        args.gets,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let variants: [(&str, Compression, bool, bool); 6] = [
        ("cairn none", Compression::OFF, false, false),
        ("cairn zstd", Compression::zstd(3), false, false),
        (
            "cairn zstd+dict",
            Compression::zstd_with_dictionaries(3),
            false,
            false,
        ),
        (
            "cairn zstd+dict+enc",
            Compression::zstd_with_dictionaries(3),
            true,
            false,
        ),
        ("cairn zstd packed", Compression::zstd(3), false, true),
        (
            "cairn zstd+dict packed",
            Compression::zstd_with_dictionaries(3),
            false,
            true,
        ),
    ];
    // Each round loads every Cairn subject afresh, in alternating order so drift on a shared
    // machine falls on all of them alike; a subject's figures are its medians over rounds.
    let mut rounds: Vec<Vec<Measured>> = (0..variants.len()).map(|_| Vec::new()).collect();
    for round in 0..args.rounds.max(1) {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..variants.len()).collect()
        } else {
            (0..variants.len()).rev().collect()
        };
        for index in order {
            let (name, compression, encrypted, packed) = variants[index];
            let folder = dir.join(format!("{}-{round}", name.replace([' ', '+'], "-")));
            rounds[index].push(cairn_subject(
                name,
                &folder,
                Layout {
                    compression,
                    encrypted,
                    packed,
                },
                &docs,
                &picks,
            )?);
            // Only the sizes are needed afterwards; free the disk for the next round.
            let _ = std::fs::remove_dir_all(&folder);
            eprintln!("  done: {name} (round {})", round + 1);
        }
    }
    let mut results: Vec<Measured> = rounds.into_iter().filter_map(median).collect();
    results.push(sqlite_subject(&dir.join("sqlite.db"), &docs, &picks)?);
    print!("{}", render(&results));
    Ok(())
}

/// The subject's median insert and get rates over its rounds (sizes from the first round;
/// they do not vary).
fn median(mut runs: Vec<Measured>) -> Option<Measured> {
    let middle = runs.len() / 2;
    let mut inserts: Vec<f64> = runs.iter().map(|m| m.inserts_per_s).collect();
    let mut gets: Vec<f64> = runs.iter().map(|m| m.gets_per_s).collect();
    inserts.sort_by(f64::total_cmp);
    gets.sort_by(f64::total_cmp);
    let mut first = runs.drain(..).next()?;
    first.inserts_per_s = inserts[middle];
    first.gets_per_s = gets[middle];
    Some(first)
}

/// How a Cairn subject stores its documents.
#[derive(Clone, Copy)]
struct Layout {
    compression: Compression,
    encrypted: bool,
    /// Packed runs of records (layout 2) instead of one record per key.
    packed: bool,
}

fn cairn_subject(
    name: &'static str,
    dir: &Path,
    layout: Layout,
    docs: &[String],
    picks: &[usize],
) -> anyhow::Result<Measured> {
    let Layout {
        compression,
        encrypted,
        packed,
    } = layout;
    let mut config = Config::new(dir, StorageMode::Persistent);
    config.compression = compression;
    config.packed_runs = packed;
    // A fixed raw key: the key derivation runs once per open and is not what is measured.
    config.encryption = encrypted.then(|| KeySource::raw([0x5a; cairn::KEY_BYTES]));
    let values: Vec<Value> = docs
        .iter()
        .map(|text| Value::from_json_str(text))
        .collect::<Result<_, _>>()?;
    let db = Database::open(config.clone())?;
    db.create_collection("obs")?;
    let start = Instant::now();
    for (n, chunk) in values.chunks(BATCH_DOCS).enumerate() {
        let mut txn = db.begin()?;
        for doc in chunk {
            txn.insert("obs", doc.clone())?;
        }
        txn.commit()?;
        if (n + 1) * BATCH_DOCS == TRAIN_AFTER_DOCS && compression.dictionaries {
            db.train_dictionaries()?;
        }
    }
    let inserts_per_s = docs.len() as f64 / start.elapsed().as_secs_f64();
    // Gets run in short passes and the best pass counts: on a shared machine a pass of a
    // fraction of a second is easily slowed by another process, and the best pass is the
    // closest to what the code itself costs.
    let mut gets_per_s: f64 = 0.0;
    for _ in 0..GET_PASSES {
        let start = Instant::now();
        for &index in picks {
            let found = db.get("obs", &DocId::Int(index as i64))?;
            anyhow::ensure!(found.is_some(), "document {index} missing");
        }
        gets_per_s = gets_per_s.max(picks.len() as f64 / start.elapsed().as_secs_f64().max(1e-9));
    }
    // Where the bytes go: the documents table (records, or runs), the change log, and the
    // rest of the file (routing index, catalog, free pages).
    let stats = db.stats()?;
    let documents: u64 = stats.collections.iter().map(|c| c.bytes).sum();
    eprintln!(
        "  {name}: documents table {:.1} MiB, change log {:.1} MiB ({} entries)",
        documents as f64 / MIB,
        stats.changelog_bytes as f64 / MIB,
        stats.changelog_entries,
    );
    drop(db);
    Ok(Measured {
        name,
        disk_bytes: folder_bytes(dir)?,
        inserts_per_s,
        gets_per_s,
    })
}

fn sqlite_subject(path: &Path, docs: &[String], picks: &[usize]) -> anyhow::Result<Measured> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.execute(
        "CREATE TABLE docs(id INTEGER PRIMARY KEY, doc TEXT NOT NULL)",
        [],
    )?;
    let start = Instant::now();
    for (n, chunk) in docs.chunks(BATCH_DOCS).enumerate() {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached("INSERT INTO docs(id, doc) VALUES (?1, ?2)")?;
            for (i, doc) in chunk.iter().enumerate() {
                insert.execute(rusqlite::params![(n * BATCH_DOCS + i) as i64, doc])?;
            }
        }
        txn.commit()?;
    }
    let inserts_per_s = docs.len() as f64 / start.elapsed().as_secs_f64();
    let mut gets_per_s: f64 = 0.0;
    for _ in 0..GET_PASSES {
        let start = Instant::now();
        let mut get = conn.prepare_cached("SELECT doc FROM docs WHERE id = ?1")?;
        for &index in picks {
            let text: String = get.query_row([index as i64], |row| row.get(0))?;
            let _: serde_json::Value = serde_json::from_str(&text)?;
        }
        gets_per_s = gets_per_s.max(picks.len() as f64 / start.elapsed().as_secs_f64().max(1e-9));
    }
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    drop(conn);
    let mut disk_bytes = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        if let Ok(meta) = std::fs::metadata(&file) {
            disk_bytes += cairn::allocated_bytes(&meta);
        }
    }
    Ok(Measured {
        name: "sqlite",
        disk_bytes,
        inserts_per_s,
        gets_per_s,
    })
}

fn render(results: &[Measured]) -> String {
    let sqlite = results.iter().find(|m| m.name == "sqlite");
    let dict = results.iter().find(|m| m.name == "cairn zstd+dict");
    let mut out = format!(
        "\n{:<22} {:>12} {:>10} {:>14} {:>12} {:>14}\n",
        "subject", "disk MiB", "vs sqlite", "inserts/s", "gets/s", "vs zstd+dict"
    );
    for m in results {
        let size_ratio = sqlite.map_or(0.0, |s| m.disk_bytes as f64 / s.disk_bytes.max(1) as f64);
        let speed = dict.map_or(String::new(), |d| {
            format!(
                "{:.2}× / {:.2}×",
                m.inserts_per_s / d.inserts_per_s,
                m.gets_per_s / d.gets_per_s
            )
        });
        out.push_str(&format!(
            "{:<22} {:>12.1} {:>9.2}× {:>14.0} {:>12.0} {:>14}\n",
            m.name,
            m.disk_bytes as f64 / MIB,
            size_ratio,
            m.inserts_per_s,
            m.gets_per_s,
            speed
        ));
    }
    if let (Some(s), Some(d)) = (sqlite, dict) {
        let ratio = d.disk_bytes as f64 / s.disk_bytes.max(1) as f64;
        out.push_str(&format!(
            "\ngoal: zstd+dict ≤ 0.50× SQLite's size: {:.2}× ({})\n",
            ratio,
            if ratio <= 0.5 { "met" } else { "not met" }
        ));
    }
    if let Some(enc) = results.iter().find(|m| m.name == "cairn zstd+dict+enc") {
        if let Some(d) = dict {
            let cost = 1.0 - enc.inserts_per_s / d.inserts_per_s;
            let get_cost = 1.0 - enc.gets_per_s / d.gets_per_s;
            out.push_str(&format!(
                "goal: encryption costs ≤ 15% throughput: inserts {:.1}%, gets {:.1}% ({})\n",
                cost * 100.0,
                get_cost * 100.0,
                if cost <= 0.15 && get_cost <= 0.15 {
                    "met"
                } else {
                    "not met"
                }
            ));
        }
    }
    out
}

/// Bytes of disk blocks allocated to every file in a folder.
fn folder_bytes(dir: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        total += cairn::allocated_bytes(&entry?.metadata()?);
    }
    Ok(total)
}

/// SplitMix64: a tiny, good-enough, seedable generator so documents are the same every run.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

const WARDS: [&str; 20] = [
    "cardiology",
    "oncology",
    "neurology",
    "pediatrics",
    "orthopedics",
    "radiology",
    "icu",
    "emergency",
    "maternity",
    "geriatrics",
    "nephrology",
    "urology",
    "dermatology",
    "psychiatry",
    "pulmonology",
    "gastroenterology",
    "endocrinology",
    "hematology",
    "rheumatology",
    "surgery",
];
const CODES: [(&str, &str); 12] = [
    ("heart_rate", "bpm"),
    ("systolic_bp", "mmHg"),
    ("diastolic_bp", "mmHg"),
    ("temperature", "Cel"),
    ("respiratory_rate", "/min"),
    ("spo2", "%"),
    ("glucose", "mg/dL"),
    ("weight", "kg"),
    ("height", "cm"),
    ("pain_score", "1"),
    ("potassium", "mmol/L"),
    ("sodium", "mmol/L"),
];
const STATUSES: [&str; 8] = [
    "final",
    "preliminary",
    "amended",
    "corrected",
    "registered",
    "cancelled",
    "final",
    "final",
];
const FIRST: [&str; 12] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim",
    "Margaret", "John",
];
const LAST: [&str; 12] = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Allen",
    "Thompson",
    "Perlman",
    "Berners-Lee",
    "Hamilton",
    "McCarthy",
];
const NOTES: [&str; 6] = [
    "Patient stable; continue current plan.",
    "Mild improvement since last observation.",
    "Review medication at next round.",
    "Family informed of progress.",
    "Awaiting laboratory results.",
    "No change; monitor overnight.",
];
const TAGS: [&str; 6] = [
    "routine",
    "inpatient",
    "follow-up",
    "urgent",
    "night-shift",
    "telemetry",
];

/// Document `index` as JSON text.
fn json_doc(index: usize) -> String {
    let mut rng = SplitMix64(index as u64);
    let patient = rng.next() % 50_000;
    let gender = if rng.next().is_multiple_of(2) {
        "female"
    } else {
        "male"
    };
    let measurements: Vec<String> = (0..1 + rng.next() % 4)
        .map(|_| {
            let (code, unit) = CODES[(rng.next() % CODES.len() as u64) as usize];
            let value = (rng.next() % 2000) as f64 / 10.0;
            format!(r#"{{"code": "{code}", "unit": "{unit}", "value": {value:.1}}}"#)
        })
        .collect();
    let tags: Vec<String> = (0..1 + rng.next() % 2)
        .map(|_| format!("\"{}\"", rng.pick(&TAGS)))
        .collect();
    format!(
        r#"{{"_id": {index}, "resourceType": "Observation", "status": "{}", "patient": {{"id": "P-{patient:07}", "name": "{} {}", "gender": "{gender}", "born": "19{:02}-{:02}-{:02}"}}, "encounter": {{"ward": "{}", "floor": {}, "bed": "B-{:02}", "admitted": "2024-{:02}-{:02}T{:02}:{:02}:00Z"}}, "measurements": [{}], "tags": [{}], "note": "{}"}}"#,
        rng.pick(&STATUSES),
        rng.pick(&FIRST),
        rng.pick(&LAST),
        30 + rng.next() % 70,
        1 + rng.next() % 12,
        1 + rng.next() % 28,
        rng.pick(&WARDS),
        rng.next() % 9,
        rng.next() % 40,
        1 + rng.next() % 12,
        1 + rng.next() % 28,
        rng.next() % 24,
        rng.next() % 60,
        measurements.join(", "),
        tags.join(", "),
        rng.pick(&NOTES),
    )
}

/// `count` document indexes below `population`, uniformly, with a fixed seed.
fn picks(count: usize, population: usize) -> Vec<usize> {
    let mut rng = SplitMix64(0xC0FFEE);
    (0..count)
        .map(|_| (rng.next() % population as u64) as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_valid_deterministic_json() {
        assert_eq!(json_doc(7), json_doc(7));
        for i in 0..50 {
            let parsed: Result<serde_json::Value, _> = serde_json::from_str(&json_doc(i));
            assert!(parsed.is_ok(), "{}", json_doc(i));
        }
    }
}
