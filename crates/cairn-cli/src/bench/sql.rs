//! `cairn bench sql`: Cairn's SQL over the PostgreSQL wire protocol side by side with
//! PostgreSQL 15 (same protocol, same client), SQLite and DuckDB, in one run, on the same
//! rows.
//!
//! # Workload
//!
//! Data: `--docs` rows (default 100,000, about a minute in all; `--docs 1000000` is the
//! scale of `cairn bench query` that issue 23 names) of `bench query`'s query fields,
//!
//! ```text
//! docs(_id int, account int, price double, category text, score double)
//! accounts(_id int, account int, region text)      -- docs / 100 rows, one per account
//! ```
//!
//! `account` uniform over `docs / 100` values (~100 rows each), `price` uniform over
//! 0–10,000 in cents, `score` uniform over 0–1,000, `category` one of 20, `region` one of 8;
//! generated from a fixed seed, so every system holds the same rows.
//!
//! Systems, all on the local disk under `--dir`:
//! * **Cairn**: a `persistent` database, both tables declared (`CREATE TABLE`, so pushed
//!   filters are exact), B-tree indexes on `docs.account`, `docs.price`, `docs.score` and
//!   `accounts.account`, served by `cairn serve`'s wire server (`cairn_sql::pg`) on a loopback
//!   TCP port with SCRAM-SHA-256.
//! * **PostgreSQL 15**: a throwaway cluster (`initdb`, `pg_ctl`; as the `postgres` user when
//!   run as root) on a loopback TCP port, `fsync` and `synchronous_commit` on, 1 GiB shared
//!   buffers, native columns with the same indexes, `ANALYZE`d. Skipped with a message when
//!   PostgreSQL is not installed.
//! * **SQLite** (rusqlite, bundled, in process: no wire): `bench query`'s layout, JSON text
//!   in `docs(id INTEGER PRIMARY KEY, doc TEXT)` with expression indexes on
//!   `json_extract(doc, '$.field')`, WAL, `ANALYZE`d.
//!
//! * **DuckDB** (PyPI `duckdb`, native columns, in a `python3` process fed over a pipe:
//!   `sql/duckdb_side.rs`), loaded from CSV, ART indexes on `_id` and `account`. Skipped with
//!   a message when `duckdb` does not import.
//!
//! Both servers are driven by the same client (the `postgres` crate, one connection,
//! prepared statements: PostgreSQL's extended protocol, as psycopg 3 uses it), one query at a
//! time. Rows, each run on every system before the next row begins:
//! 1. **Point select** by primary key with a random id → queries/s and p99 latency.
//! 2. **Indexed equality** `account = $1` (~100 rows) → queries/s and p99.
//! 3. **Range + group by**: `price` in a random 1% range, `count(*)`, `avg(price)` by
//!    `category`.
//! 4. **Join**: docs in a random 1% `price` range joined to `accounts` on `account`, counted
//!    by `region`.
//! 5. **Top-k**: the 10 rows with the lowest `score`.
//!
//! Each row warms up (up to 0.5 s), then runs `--seconds` (at least [`MIN_TIMED_QUERIES`]
//! queries) cycling through the same seeded parameters on every system. Before timing, a
//! sample of queries runs on every system and their answers (rounded) are compared; a
//! difference is reported and the command fails after printing the table.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench sql`.

mod cairn_side;
mod duckdb_side;
mod postgres_side;
mod sqlite_side;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};

use self::cairn_side::CairnSide;
use self::duckdb_side::DuckdbSide;
use self::postgres_side::PostgresSide;
use self::sqlite_side::SqliteSide;
use super::core::bench_folder;
use super::limits::MAX_SQL_DOCS;

/// Default rows of `docs`.
const DEFAULT_DOCS: usize = 100_000;
/// Default timed seconds per row and system.
const DEFAULT_SECONDS: f64 = 2.0;
/// Fewest timed queries per row and system, however long they take.
const MIN_TIMED_QUERIES: usize = 5;
/// Longest warm-up per row and system.
const WARMUP: Duration = Duration::from_millis(500);
/// Seeded parameters per row (cycled through).
const PARAMETERS: usize = 1_000;
/// Sample queries per row compared across systems before timing.
const VERIFIED: usize = 5;
/// Distinct categories and regions.
pub(crate) const CATEGORIES: u64 = 20;
pub(crate) const REGIONS: u64 = 8;
/// Rows per load transaction (every system).
pub(crate) const LOAD_BATCH: usize = 10_000;

/// `cairn bench sql`.
#[derive(Debug, clap::Args)]
pub struct SqlArgs {
    /// Rows of `docs` (`accounts` has one per hundred).
    #[arg(long, default_value_t = DEFAULT_DOCS)]
    pub docs: usize,
    /// Timed seconds per row and system (after a warm-up of up to 0.5 s).
    #[arg(long, default_value_t = DEFAULT_SECONDS)]
    pub seconds: f64,
    /// Where to create the databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One generated `docs` row.
#[derive(Debug, Clone)]
pub(crate) struct Doc {
    pub id: i64,
    pub account: i64,
    pub price: f64,
    pub category: String,
    pub score: f64,
}

/// The rows every system loads: `docs` and `(account, region)` pairs.
pub(crate) struct Data {
    pub docs: Vec<Doc>,
    pub accounts: Vec<(i64, String)>,
}

/// A query of one row, with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Probe {
    Point(i64),
    Equality(i64),
    RangeGroup(f64),
    Join(f64),
    TopK,
}

/// Width of the `price` range of rows 3 and 4: 1% of 0–10,000.
pub(crate) const PRICE_RANGE: f64 = 100.0;

/// What a system answers: rows as text, floats rounded, in a canonical order.
pub(crate) type Answer = Vec<String>;

/// A system under test.
pub(crate) trait SqlSystem {
    fn name(&self) -> &'static str;
    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer>;
}

/// xorshift64*: the seeded generator of rows and parameters.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn generate(docs: usize) -> Data {
    let accounts = (docs / 100).max(1) as u64;
    let mut rng = Rng::new(23);
    let rows = (0..docs as i64)
        .map(|id| Doc {
            id,
            account: rng.below(accounts) as i64,
            price: rng.below(1_000_000) as f64 / 100.0,
            category: format!("cat{:02}", rng.below(CATEGORIES)),
            score: rng.below(1_000_000) as f64 / 1000.0,
        })
        .collect();
    let accounts = (0..accounts as i64)
        .map(|a| (a, format!("region{}", rng.below(REGIONS))))
        .collect();
    Data {
        docs: rows,
        accounts,
    }
}

/// The rows of the benchmark, in order.
const ROWS: [&str; 5] = [
    "point select by id",
    "indexed equality (~100 rows)",
    "range 1% + group by",
    "join, range 1% + group by",
    "top-10 by score",
];

fn probes(row: usize, docs: usize, seed: u64) -> Vec<Probe> {
    let mut rng = Rng::new(seed);
    let accounts = (docs / 100).max(1) as u64;
    (0..PARAMETERS)
        .map(|_| match row {
            0 => Probe::Point(rng.below(docs as u64) as i64),
            1 => Probe::Equality(rng.below(accounts) as i64),
            2 => Probe::RangeGroup(rng.below(990_000) as f64 / 100.0),
            3 => Probe::Join(rng.below(990_000) as f64 / 100.0),
            _ => Probe::TopK,
        })
        .collect()
}

/// One measured cell.
struct Timed {
    per_second: f64,
    p99: Duration,
}

fn time(system: &mut dyn SqlSystem, probes: &[Probe], seconds: f64) -> anyhow::Result<Timed> {
    let warm = Instant::now();
    for probe in probes.iter().rev() {
        if warm.elapsed() > WARMUP {
            break;
        }
        system.run(*probe)?;
    }
    let budget = Duration::from_secs_f64(seconds);
    let mut latencies = Vec::new();
    let started = Instant::now();
    for probe in probes.iter().cycle() {
        if latencies.len() >= MIN_TIMED_QUERIES && started.elapsed() >= budget {
            break;
        }
        let t = Instant::now();
        std::hint::black_box(system.run(*probe)?);
        latencies.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    Ok(Timed {
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p99,
    })
}

/// Runs the benchmark and prints the table; fails after printing if the systems disagreed.
pub fn run(args: &SqlArgs) -> anyhow::Result<()> {
    ensure!(
        (100..=MAX_SQL_DOCS).contains(&args.docs),
        "--docs must be from 100 to {MAX_SQL_DOCS}"
    );
    ensure!(
        args.seconds > 0.0 && args.seconds <= 600.0,
        "--seconds must be above 0 and at most 600"
    );
    let (_temp_dir, dir) = bench_folder(args.dir.as_deref())?;
    let data = generate(args.docs);
    println!(
        "cairn bench sql: {} docs, {} accounts, {} s per row and system",
        data.docs.len(),
        data.accounts.len(),
        args.seconds
    );
    let mut systems: Vec<Box<dyn SqlSystem>> = Vec::new();
    let load = |name: &str, started: Instant| {
        println!("loaded {name} in {:.1} s", started.elapsed().as_secs_f64());
    };
    let started = Instant::now();
    systems.push(Box::new(CairnSide::create(&dir.join("cairn"), &data)?));
    load("Cairn", started);
    match crate::bench::pg_cluster::unavailable() {
        Some(why) => println!("PostgreSQL skipped: {why}"),
        None => {
            let started = Instant::now();
            systems.push(Box::new(PostgresSide::create(
                &dir.join("postgres"),
                &data,
            )?));
            load("PostgreSQL", started);
        }
    }
    let started = Instant::now();
    systems.push(Box::new(SqliteSide::create(&dir.join("sqlite.db"), &data)?));
    load("SQLite", started);
    let started = Instant::now();
    match DuckdbSide::create(&dir.join("duckdb"), &data) {
        Ok(duckdb) => {
            systems.push(Box::new(duckdb));
            load("DuckDB", started);
        }
        Err(err) => println!("DuckDB skipped: {err:#}"),
    }
    drop(data);

    let mut mismatches = Vec::new();
    let mut table: Vec<Vec<Timed>> = Vec::new();
    for (row, title) in ROWS.iter().enumerate() {
        let sample = probes(row, args.docs, 1000 + row as u64);
        for probe in sample.iter().take(VERIFIED) {
            let reference = systems[0].run(*probe)?;
            for system in systems.iter_mut().skip(1) {
                let answer = system.run(*probe)?;
                if answer != reference {
                    mismatches.push(format!(
                        "{title} {probe:?}: Cairn {:?} vs {} {:?}",
                        reference.iter().take(3).collect::<Vec<_>>(),
                        system.name(),
                        answer.iter().take(3).collect::<Vec<_>>()
                    ));
                }
            }
        }
        let timed_probes = probes(row, args.docs, 2000 + row as u64);
        let mut cells = Vec::new();
        for system in &mut systems {
            cells.push(time(system.as_mut(), &timed_probes, args.seconds)?);
        }
        table.push(cells);
    }
    let names: Vec<&str> = systems.iter().map(|s| s.name()).collect();
    print!("{}", render(&names, &table));
    if !mismatches.is_empty() {
        for m in &mismatches {
            eprintln!("error: result mismatch: {m}");
        }
        bail!(
            "the systems disagreed on {} sample queries",
            mismatches.len()
        );
    }
    Ok(())
}

fn render(names: &[&str], table: &[Vec<Timed>]) -> String {
    let mut out = String::new();
    let mut header = format!("{:<30}", "row");
    for name in names {
        header.push_str(&format!(" {:>12} {:>9}", format!("{name} q/s"), "p99 ms"));
    }
    for name in names.iter().skip(1) {
        header.push_str(&format!(" {:>14}", format!("Cairn/{name}")));
    }
    out.push_str(&header);
    out.push('\n');
    for (title, cells) in ROWS.iter().zip(table) {
        let mut line = format!("{title:<30}");
        for cell in cells {
            line.push_str(&format!(
                " {:>12.0} {:>9.3}",
                cell.per_second,
                cell.p99.as_secs_f64() * 1e3
            ));
        }
        for cell in cells.iter().skip(1) {
            line.push_str(&format!(
                " {:>13.2}x",
                cells[0].per_second / cell.per_second
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("(ratios: Cairn's queries/s over the other's; above 1x Cairn is faster)\n");
    out
}

/// Rounds a float for comparing answers across systems (sums in different orders).
pub(crate) fn rounded(x: f64) -> String {
    format!("{:.2}", (x * 100.0).round() / 100.0)
}
