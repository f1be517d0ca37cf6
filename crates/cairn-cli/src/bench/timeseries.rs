//! `cairn bench timeseries`: Cairn's time-series collections side by side with SQLite, DuckDB
//! and VictoriaMetrics, in one run, on the same points.
//!
//! # Workload
//!
//! Data (seeded; `--scale` multiplies the series counts): 2,000 series × 720 points (10 s apart,
//! two hours, times in milliseconds) of a **gauge** — a random walk in steps of ±0.50 with two
//! decimal digits — and of a **counter** — an integer growing by 0..99 per point; plus 1,000
//! **trajectories** × 720 points × 51 dimensions (each component a two-decimal random walk).
//!
//! Systems:
//! - **Cairn**, persistent mode, one database per kind (so bytes are per kind): a time-series
//!   collection (meta field `s`, chunk span one day); ingest appends each series' 720 points,
//!   50 series per transaction.
//! - **SQLite** (bundled, WAL, synchronous=NORMAL): a `WITHOUT ROWID` table `(s, t, v)` keyed by
//!   `(s, t)`, 36,000 rows per transaction; trajectories as a 408-byte BLOB per point.
//! - **DuckDB** (PyPI `duckdb`, run by `python3`, skipped if it does not import): the same table
//!   loaded from CSV with `COPY` (so its ingest includes CSV parsing); no trajectories.
//! - **VictoriaMetrics** (Debian `victoria-metrics`, skipped if not installed): a private server
//!   on a free port, fed through `/api/v1/import` (200 series per request), bytes measured on
//!   its data folder after `/internal/force_flush`; no trajectories (51 metrics per entity).
//!
//! Rows (reads on the gauge): **range** — 1,000 one-hour reads of a random series (360 points),
//! mean latency; **downsample** — every series to 5-minute `avg` buckets, whole collection;
//! **latest** — the latest point of every series. Bytes per point are the store's files after
//! ingest divided by the points (Gorilla's 1.37 B/pt is the published floor). Every system's
//! range, downsample and latest answers are checked against the generated data (counts and
//! sums); a mismatch is reported.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench timeseries` (`--scale 0.1` for a
//! quick run).

mod external;
pub(crate) mod workload;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cairn::timeseries::{self, Aggregate, Downsample, Fill, Point, Sample, SeriesOptions};
use cairn::{Config, StorageMode, Value};

use workload::{Workload, HOUR_MS, INTERVAL_MS, POINTS};

/// `cairn bench timeseries`.
#[derive(Debug, Clone, clap::Args)]
pub struct TimeseriesArgs {
    /// Multiplies the series counts (1.0: 2,000 gauge and counter series, 1,000 trajectories).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Where to create the stores (kept afterwards); default: a temporary folder, removed.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// One system's figures; `None` where it was not measured.
#[derive(Debug, Default, Clone)]
pub struct Figures {
    /// Bytes per point: gauge, counter, trajectory.
    pub bytes_per_point: [Option<f64>; 3],
    /// Gauge + counter points ingested per second.
    pub ingest_points_per_s: Option<f64>,
    /// Trajectory points ingested per second.
    pub traj_points_per_s: Option<f64>,
    /// Mean one-hour range read, microseconds.
    pub range_us: Option<f64>,
    /// Whole-collection downsample, milliseconds.
    pub downsample_ms: Option<f64>,
    /// Latest point of every series, milliseconds.
    pub latest_ms: Option<f64>,
    /// Answers that differed from the generated data.
    pub problems: Vec<String>,
}

/// Runs the benchmark and prints the table.
pub fn run(args: &TimeseriesArgs) -> anyhow::Result<()> {
    let temp;
    let root = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            temp = tempfile::tempdir_in(".").context("temporary folder")?;
            temp.path().to_path_buf()
        }
    };
    let work = Workload::generate(args.scale);
    eprintln!(
        "workload: {} gauge + {} counter series x {POINTS} points, {} trajectories x {POINTS} x {} dims",
        work.series, work.series, work.trajectories, workload::DIMS
    );
    let mut systems = vec![("Cairn", cairn_side(&root.join("cairn"), &work)?)];
    systems.push(("SQLite", external::sqlite(&root.join("sqlite"), &work)?));
    systems.push(("DuckDB", external::duckdb(&root.join("duckdb"), &work)));
    systems.push((
        "VictoriaMetrics",
        external::victoria(&root.join("vm"), &work),
    ));
    print!("{}", render(args, &work, &systems));
    Ok(())
}

/// Total bytes of the files under `dir`.
pub(crate) fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.metadata() {
            Ok(meta) if meta.is_dir() => dir_bytes(&entry.path()),
            Ok(meta) => meta.len(),
            Err(_) => 0,
        })
        .sum()
}

fn open(dir: &Path) -> anyhow::Result<cairn::Database> {
    Ok(cairn::open(Config::new(dir, StorageMode::Persistent))?)
}

/// Appends `points` per series, `SERIES_PER_TXN` series per transaction; returns seconds.
fn ingest(
    dir: &Path,
    series: usize,
    mut points_of: impl FnMut(usize) -> Vec<Point>,
) -> anyhow::Result<f64> {
    const SERIES_PER_TXN: usize = 50;
    let db = open(dir)?;
    let mut txn = db.begin()?;
    timeseries::create(&mut txn, "m", &SeriesOptions::new("t", "s", 86_400_000))?;
    txn.commit()?;
    let started = Instant::now();
    for first in (0..series).step_by(SERIES_PER_TXN) {
        let mut txn = db.begin()?;
        for s in first..(first + SERIES_PER_TXN).min(series) {
            timeseries::append(&mut txn, "m", &Value::Int(s as i64), points_of(s))?;
        }
        txn.commit()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(db);
    Ok(seconds)
}

fn cairn_side(root: &Path, work: &Workload) -> anyhow::Result<Figures> {
    let mut figures = Figures::default();
    let gauge_s = ingest(&root.join("gauge"), work.series, |s| {
        work.gauge_points(s)
            .map(|(t, v)| Point::single(t, "v", Sample::Float(v)))
            .collect()
    })?;
    let counter_s = ingest(&root.join("counter"), work.series, |s| {
        work.counter_points(s)
            .map(|(t, v)| Point::single(t, "v", Sample::Int(v)))
            .collect()
    })?;
    let traj_s = ingest(&root.join("traj"), work.trajectories, |s| {
        work.trajectory_points(s)
            .map(|(t, v)| Point::single(t, "v", Sample::Vector(v)))
            .collect()
    })?;
    let points = (work.series * POINTS) as f64;
    figures.ingest_points_per_s = Some(2.0 * points / (gauge_s + counter_s));
    figures.traj_points_per_s = Some((work.trajectories * POINTS) as f64 / traj_s);
    figures.bytes_per_point = [
        Some(dir_bytes(&root.join("gauge")) as f64 / points),
        Some(dir_bytes(&root.join("counter")) as f64 / points),
        Some(dir_bytes(&root.join("traj")) as f64 / (work.trajectories * POINTS) as f64),
    ];
    let db = open(&root.join("gauge"))?;
    let started = Instant::now();
    for &(s, from) in &work.range_queries {
        let mut txn = db.read()?;
        let (got, _) =
            timeseries::read_range(&mut txn, "m", &Value::Int(s as i64), from, from + HOUR_MS)?;
        let sum: f64 = got
            .iter()
            .filter_map(|p| match p.fields.get("v") {
                Some(Sample::Float(v)) => Some(*v),
                _ => None,
            })
            .sum();
        work.check_range(&mut figures.problems, "Cairn", s, from, got.len(), sum);
    }
    figures.range_us =
        Some(started.elapsed().as_secs_f64() * 1e6 / work.range_queries.len() as f64);
    let request = Downsample {
        from: workload::BASE_MS,
        to: workload::BASE_MS + (POINTS as i64) * INTERVAL_MS,
        every: 300_000,
        field: "v".to_string(),
        aggregates: vec![Aggregate::Avg],
        fill: Fill::None,
    };
    let started = Instant::now();
    let all = timeseries::downsample_all(&mut db.read()?, "m", &request)?;
    figures.downsample_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    let buckets: usize = all.iter().map(|(_, b)| b.len()).sum();
    work.check_buckets(&mut figures.problems, "Cairn", buckets);
    let started = Instant::now();
    let latest = timeseries::latest(&mut db.read()?, "m")?;
    figures.latest_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    work.check_latest(&mut figures.problems, "Cairn", latest.len());
    Ok(figures)
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or("—".to_string(), |v| format!("{v:.decimals$}"))
}

/// The table: one row per figure, one column per system, then each system's ratio to Cairn.
fn render(args: &TimeseriesArgs, work: &Workload, systems: &[(&str, Figures)]) -> String {
    type Pick = fn(&Figures) -> Option<f64>;
    let rows: [(&str, Pick, usize, bool); 9] = [
        ("bytes/point gauge", |f| f.bytes_per_point[0], 2, true),
        ("bytes/point counter", |f| f.bytes_per_point[1], 2, true),
        (
            "bytes/point trajectory (51 dims)",
            |f| f.bytes_per_point[2],
            1,
            true,
        ),
        (
            "ingest gauge+counter, points/s",
            |f| f.ingest_points_per_s,
            0,
            false,
        ),
        (
            "ingest trajectories, points/s",
            |f| f.traj_points_per_s,
            0,
            false,
        ),
        ("range 1 h of one series, mean µs", |f| f.range_us, 1, true),
        (
            "downsample all series to 5 min avg, ms",
            |f| f.downsample_ms,
            1,
            true,
        ),
        ("latest of every series, ms", |f| f.latest_ms, 2, true),
        (
            "(Gorilla paper floor, bytes/point)",
            |_| Some(1.37),
            2,
            true,
        ),
    ];
    let mut out = format!(
        "cairn bench timeseries (scale {}): {} gauge + {} counter series × {POINTS} points, {} trajectories × {POINTS} × {} dims\n\n",
        args.scale, work.series, work.series, work.trajectories, workload::DIMS
    );
    out.push_str(&format!("{:<42}", "row"));
    for (name, _) in systems {
        out.push_str(&format!("{name:>16}"));
    }
    for (name, _) in &systems[1..] {
        out.push_str(&format!("{:>23}", format!("{name}/Cairn")));
    }
    out.push('\n');
    for (label, pick, decimals, _lower_better) in rows {
        out.push_str(&format!("{label:<42}"));
        for (_, figures) in systems {
            out.push_str(&format!("{:>16}", cell(pick(figures), decimals)));
        }
        let ours = pick(&systems[0].1);
        for (_, figures) in &systems[1..] {
            let ratio = match (pick(figures), ours) {
                (Some(theirs), Some(ours)) if ours > 0.0 => Some(theirs / ours),
                _ => None,
            };
            out.push_str(&format!("{:>23}", cell(ratio, 2)));
        }
        out.push('\n');
    }
    out.push_str(
        "\nratios are the other system's figure over Cairn's: above 1 means Cairn is smaller/faster \
         for bytes and latencies, slower for points/s.\n",
    );
    for (name, figures) in systems {
        for problem in &figures.problems {
            out.push_str(&format!("MISMATCH {name}: {problem}\n"));
        }
    }
    out
}
