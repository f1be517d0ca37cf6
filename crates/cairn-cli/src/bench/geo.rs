//! `cairn bench geo`: Cairn's spatial index and exact geometric queries side by side with an
//! in-memory `rstar` R*-tree (the raw-structure ceiling) and PostGIS, in one run, on the same
//! shapes.
//!
//! # Workload
//!
//! Data: 50,000 regular icosahedra (circumradius 2, so 20 triangles each: 1,000,000
//! triangles), centers uniform in the cube [0, 1000]³ (seeded, so every run and system sees the
//! same shapes). `--scale` multiplies the shape and query counts (0.1: 5,000 shapes, 100
//! queries per row) for quick runs.
//!
//! Systems:
//! - **Cairn**, persistent mode on the local disk: documents `{"_id": i, "shape": <mesh>}`
//!   loaded 500 per transaction, then a spatial index on `shape` built online (one entry per
//!   triangle); queries through `cairn::find` with `$withinDistance`, `$near` (k = 10) and
//!   `$intersects`, projected to `_id`.
//! - **rstar**: an R*-tree bulk-loaded in memory with one entry per triangle; candidates from
//!   its envelope search (nearest-neighbour iterator for k-NN) tested with the same exact
//!   primitive distances. No persistence: its "open" is a rebuild, reported as build time.
//! - **PostGIS** (PostgreSQL 15 + PostGIS 3 from Debian, if installed): a private cluster in the
//!   benchmark folder (`shared_buffers` 1 GB, fsync on), `shapes(id bigint primary key, geom
//!   geometry(TINZ))` loaded 1,000 rows per transaction, a GiST `gist_geometry_ops_nd` index;
//!   radius rows use `ST_3DDWithin`, k-NN `ST_3DDWithin` with a doubling radius ordered by
//!   `ST_3DDistance` (exact, like Cairn's), boxes `&&&` plus `ST_3DIntersects` with the box's
//!   surface or containment of the shape's bounding box (a box is a solid). Skipped with a
//!   message when not installed (`apt-get install postgresql-15-postgis-3`).
//!
//! Rows: 1,000 queries each (seeded, the same for every system), one thread, one at a time:
//! 1. **radius 10**: shapes within exact distance 10 of a random point;
//! 2. **radius 30**: the same with 30;
//! 3. **10-NN**: the 10 nearest shapes by exact distance (ties by id);
//! 4. **box**: shapes intersecting a random axis-aligned 20³ box.
//!
//! Every answer of every system is compared with a brute-force exact computation over all
//! shapes; any difference is reported and the command fails after printing the table.
//! Reported per row: mean and p99 latency per system and the ratios Cairn/rstar (latency,
//! target ≤ 3×) and PostGIS/Cairn (throughput, target ≥ 20×). Also: index build time, index
//! size, the time to open the database (PostGIS: restart the server) and answer the first
//! radius-10 query (Cairn's process-wide caches and resident images are emptied first, as in
//! a new process), how long after that open the index is resident again while the rows'
//! queries run one after another (Cairn's time to in-memory speed), and the memory Cairn's
//! caches and resident image hold after the rows.
//!
//! Cairn's queries run on read-only snapshots. Cairn is timed twice: a **first pass** right
//! after the build, which reads the index's pages (through the page and bucket caches) until
//! the index content, having served 32 searches, is loaded into its resident image in the
//! background; then, once it is resident, a **resident pass** over the same queries (the
//! in-memory figures comparable with rstar's; the ratios use them). `--repeat` repeats each
//! pass's rows.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench geo` (`--scale 0.1` for a quick
//! run).

mod cairn_side;
mod postgis_side;
mod rstar_side;
mod workload;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure};

use self::cairn_side::CairnSide;
use self::postgis_side::PostgisSide;
use self::rstar_side::RstarSide;
use self::workload::{BruteForce, GeoQuery};
use crate::bench::core::bench_folder;
use crate::bench::limits::{MAX_GEO_REPEAT, MAX_GEO_RESIDENT_WAIT, MAX_GEO_SCALE};

/// Shapes at scale 1.
const SHAPES: usize = 50_000;
/// Queries per row at scale 1.
const QUERIES: usize = 1_000;
/// Fewest queries per row at any scale.
const MIN_QUERIES: usize = 20;
/// Seed of the timed queries.
const QUERY_SEED: u64 = 0x9E0_0001;
/// Row labels, in workload order.
const ROWS: [&str; 4] = ["radius 10", "radius 30", "10-NN", "box 20³"];

/// Arguments of `cairn bench geo`.
#[derive(Debug, Clone, clap::Args)]
pub struct GeoArgs {
    /// Multiplies the shape and query counts (1.0: 50,000 icosahedra, 1,000 queries per row).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Skip PostGIS even when it is installed.
    #[arg(long)]
    pub no_postgis: bool,
    /// Runs every row's queries this many times per system (latencies are taken over all
    /// runs; answers are checked every time): steadier figures on a noisy machine, and
    /// enough query time to profile.
    #[arg(long, default_value_t = 1)]
    pub repeat: usize,
    /// Run only these rows (0 radius 10, 1 radius 30, 2 10-NN, 3 box), say to profile one;
    /// the others show as skipped.
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(0..4))]
    pub rows: Vec<u8>,
    /// Where to create the databases (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Latencies of one system on one row.
#[derive(Default)]
struct Latencies(Vec<Duration>);

impl Latencies {
    fn mean_us(&self) -> f64 {
        let total: Duration = self.0.iter().sum();
        total.as_secs_f64() * 1e6 / self.0.len().max(1) as f64
    }
    fn p99_us(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        let index =
            ((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len().max(1)) - 1;
        sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1e6)
    }
}

/// The queries of a row with their index, `repeat` times over.
fn repeated(row: &[GeoQuery], repeat: usize) -> impl Iterator<Item = (usize, &GeoQuery)> {
    (0..repeat).flat_map(move |_| row.iter().enumerate())
}

/// Times every query of every row (`repeat` times over) through `run(row, index, query)`.
fn time_rows(
    rows: &[Vec<GeoQuery>],
    repeat: usize,
    mut run: impl FnMut(usize, usize, &GeoQuery) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Latencies>> {
    let mut all = Vec::with_capacity(rows.len());
    for (r, row) in rows.iter().enumerate() {
        let mut lat = Latencies::default();
        for (i, q) in repeated(row, repeat) {
            let t = Instant::now();
            run(r, i, q)?;
            lat.0.push(t.elapsed());
        }
        all.push(lat);
    }
    Ok(all)
}

/// Waits until the first pass's background load has made the index resident; describes the
/// wait (or that it did not happen) for the table.
/// After a cold open at `opened`, runs the rows' queries in turn until the index is resident
/// (at most [`MAX_GEO_RESIDENT_WAIT`]); says how long after the open that was, and after how
/// many queries.
fn until_resident(
    opened: Instant,
    rows: &[Vec<GeoQuery>; 4],
    query: &mut dyn FnMut(&GeoQuery) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    // The open answered one query already.
    for (asked, q) in (1..).zip(rows.iter().flatten().cycle()) {
        if cairn::geo::index::resident_bytes() > 0 {
            return Ok(format!(
                "resident {:.0} ms after the open, {asked} queries in",
                opened.elapsed().as_secs_f64() * 1e3
            ));
        }
        if opened.elapsed() > MAX_GEO_RESIDENT_WAIT {
            break;
        }
        query(q)?;
    }
    Ok(format!(
        "not resident {} s after the open",
        MAX_GEO_RESIDENT_WAIT.as_secs()
    ))
}

fn wait_until_resident() -> String {
    let started = Instant::now();
    while cairn::geo::index::resident_bytes() == 0 {
        if started.elapsed() > MAX_GEO_RESIDENT_WAIT {
            return format!(
                "not resident {} s after the first pass ended (the resident figures are from the pages)",
                MAX_GEO_RESIDENT_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    format!(
        "resident {:.0} ms after the first pass ended",
        started.elapsed().as_secs_f64() * 1e3
    )
}

/// Runs the benchmark and prints its table; fails after printing if any answer differed from
/// the brute force.
pub fn run(args: &GeoArgs) -> anyhow::Result<()> {
    ensure!(
        args.scale > 0.0 && args.scale <= MAX_GEO_SCALE,
        "--scale must be above 0 and at most {MAX_GEO_SCALE}"
    );
    ensure!(
        (1..=MAX_GEO_REPEAT).contains(&args.repeat),
        "--repeat must be between 1 and {MAX_GEO_REPEAT}"
    );
    let repeat = args.repeat;
    let (_temp_dir, dir) = bench_folder(args.dir.as_deref())?;
    let shape_count = ((SHAPES as f64 * args.scale) as usize).max(1);
    let query_count = ((QUERIES as f64 * args.scale) as usize).clamp(MIN_QUERIES, QUERIES);
    eprintln!("generating {shape_count} icosahedra and {query_count} queries per row...");
    let shapes = workload::shapes(shape_count);
    let mut rows = workload::queries(query_count, QUERY_SEED);
    if !args.rows.is_empty() {
        for (r, row) in rows.iter_mut().enumerate() {
            if !args.rows.contains(&(r as u8)) {
                row.clear();
            }
        }
    }
    let brute = BruteForce::new(&shapes);
    let expected: Vec<Vec<Vec<u64>>> = rows
        .iter()
        .map(|row| row.iter().map(|q| brute.answer(q)).collect())
        .collect();

    let mut mismatches: Vec<String> = Vec::new();
    let mut check = |system: &str, row: usize, i: usize, got: &[u64]| {
        if got != expected[row][i].as_slice() && mismatches.len() < 20 {
            mismatches.push(format!(
                "{system}, {} query {i}: got {got:?}, brute force {:?}",
                ROWS[row], expected[row][i]
            ));
        }
    };

    eprintln!("cairn: loading...");
    let mut cairn = CairnSide::create(&dir.join("cairn"))?;
    let load_started = Instant::now();
    cairn.load(&shapes)?;
    let cairn_load = load_started.elapsed();
    let started = Instant::now();
    cairn.build_index()?;
    let cairn_build = started.elapsed();
    let cairn_bytes = cairn.index_bytes()?;
    eprintln!("cairn: querying (first pass)...");
    let mut cairn_query = |r: usize, i: usize, q: &GeoQuery| -> anyhow::Result<()> {
        let got = cairn.query(q)?;
        check("cairn", r, i, &got);
        Ok(())
    };
    let cairn_first = time_rows(&rows, repeat, &mut cairn_query)?;
    let cache_bytes = cairn::geo::index::cache_bytes();
    let page_cache_bytes = cairn::geo::index::page_cache().bytes();
    eprintln!("cairn: waiting for the index to become resident...");
    let resident_wait = wait_until_resident();
    eprintln!("cairn: querying (resident)...");
    let cairn_lat = time_rows(&rows, repeat, &mut cairn_query)?;
    let resident_bytes = cairn::geo::index::resident_bytes();
    let first = GeoQuery::Radius([500.0, 500.0, 500.0], 10.0);
    // A cold open: a new process would start with empty caches and nothing resident.
    cairn::geo::index::clear_cache();
    let opened = Instant::now();
    let cairn_open = cairn.reopen_and_query(&first)?;
    let warm_up = until_resident(opened, &rows, &mut |q| cairn.query(q).map(drop))?;

    eprintln!("rstar: bulk loading...");
    let started = Instant::now();
    let rstar = RstarSide::build(&shapes);
    let rstar_build = started.elapsed();
    let rstar_lat = time_rows(&rows, repeat, |r, i, q| {
        let got = rstar.query(q);
        check("rstar", r, i, &got);
        Ok(())
    })?;

    let postgis_skip = if args.no_postgis {
        Some("--no-postgis given".to_string())
    } else {
        postgis_side::unavailable()
    };
    let mut postgis = None;
    if postgis_skip.is_none() {
        eprintln!("postgis: starting a private cluster and loading...");
        let mut side = PostgisSide::create(&dir.join("postgis"))?;
        side.load(&shapes)?;
        let started = Instant::now();
        side.build_index()?;
        let build = started.elapsed();
        let bytes = side.index_bytes()?;
        let lats = time_rows(&rows, repeat, |r, i, q| {
            let got = side.query(q)?;
            check("postgis", r, i, &got);
            Ok(())
        })?;
        let open = side.restart_and_query(&first)?;
        postgis = Some((build, bytes, lats, open));
    }

    println!(
        "cairn bench geo: {shape_count} icosahedra ({} triangles) in a 1000³ cube, {query_count} \
         queries per row (run {repeat}×); cairn load {:.1} s",
        shape_count * 20,
        cairn_load.as_secs_f64()
    );
    println!();
    println!(
        "| row | cairn first pass mean / p99 µs | cairn resident mean / p99 µs | rstar mean / p99 µs | postgis mean / p99 µs | cairn÷rstar (resident, mean) | postgis÷cairn (resident / first pass, mean) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in 0..ROWS.len() {
        if rows[r].is_empty() {
            println!("| {} | skipped (--rows) | | | | | |", ROWS[r]);
            continue;
        }
        let (f, c, s) = (&cairn_first[r], &cairn_lat[r], &rstar_lat[r]);
        let (pg, pg_ratio) = match &postgis {
            Some((_, _, lats, _)) => (
                format!("{:.0} / {:.0}", lats[r].mean_us(), lats[r].p99_us()),
                format!(
                    "{:.1}× / {:.1}×",
                    lats[r].mean_us() / c.mean_us(),
                    lats[r].mean_us() / f.mean_us()
                ),
            ),
            None => ("skipped".to_string(), "-".to_string()),
        };
        println!(
            "| {} | {:.0} / {:.0} | {:.1} / {:.1} | {:.1} / {:.1} | {pg} | {:.1}× | {pg_ratio} |",
            ROWS[r],
            f.mean_us(),
            f.p99_us(),
            c.mean_us(),
            c.p99_us(),
            s.mean_us(),
            s.p99_us(),
            c.mean_us() / s.mean_us(),
        );
    }
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let (pg_build, pg_size, pg_open) = match &postgis {
        Some((build, bytes, _, open)) => (
            format!("{:.2} s", build.as_secs_f64()),
            format!("{:.1} MiB", mib(*bytes)),
            format!("{:.1} ms (server restart)", open.as_secs_f64() * 1e3),
        ),
        None => ("skipped".into(), "skipped".into(), "skipped".into()),
    };
    println!(
        "| index build | {:.2} s | | {:.2} s | {pg_build} | | |",
        cairn_build.as_secs_f64(),
        rstar_build.as_secs_f64()
    );
    println!(
        "| index size | {:.1} MiB | | {:.1} MiB (entries only, in memory) | {pg_size} | | |",
        mib(cairn_bytes),
        mib(rstar.entry_bytes())
    );
    println!(
        "| open + first query | {:.1} ms | {warm_up} | (rebuild: see build) | {pg_open} | | |",
        cairn_open.as_secs_f64() * 1e3
    );
    println!(
        "| memory after the queries | {:.1} MiB bucket cache + {:.1} MiB page cache (limits {:.0} + {:.0} MiB) | {:.1} MiB resident image (limit {:.0} MiB) | {:.1} MiB | (server) | | |",
        mib(cache_bytes as u64),
        mib(page_cache_bytes as u64),
        mib(cairn::geo::index::MAX_CACHE_BYTES as u64),
        mib(cairn::geo::index::MAX_PAGE_CACHE_BYTES as u64),
        mib(resident_bytes as u64),
        mib(cairn::geo::index::MAX_RESIDENT_BYTES as u64),
        mib(rstar.entry_bytes())
    );
    println!();
    println!("Cairn's resident pass: the index content was {resident_wait}.");
    if let Some(reason) = postgis_skip {
        println!();
        println!("PostGIS skipped: {reason}");
    }
    let answers = ROWS.len() * query_count * repeat;
    if !mismatches.is_empty() {
        for m in &mismatches {
            eprintln!("error: {m}");
        }
        bail!(
            "answers differed from the brute force (first {} shown)",
            mismatches.len()
        );
    }
    println!();
    println!("every answer ({answers} per system) equals the brute-force exact computation");
    Ok(())
}
