//! `cairn bench graph`: Cairn's edge collections and adjacency index side by side with SQLite
//! (recursive CTEs over an indexed edge table) and Kuzu (PyPI `kuzu`, run by `python3`), in one
//! run, on the same graph.
//!
//! # Workload
//!
//! Graph (seeded): 100,000 vertices and 2,400,000 directed edges (`--scale` multiplies both).
//! Power-law generator: each edge's source is uniform and its target is `floor(V · u³)` for a
//! uniform `u` in [0, 1), so in-degrees follow a power law (vertex 0 receives about 5 % of all
//! edges) while out-degrees stay near 24; edge property `weight` = 1 + (0..100)/10.
//!
//! Systems:
//! - **Cairn**, persistent mode: vertices `{"_id": i}` in `v`, edges
//!   `{"_from": "v/i", "_to": "v/j", "weight": w}` in edge collection `e` (`on_vertex_delete:
//!   none`, `weight` stored in the adjacency index unless `--stored-weight false`), 10,000
//!   edges per transaction; queries `graph::khop_count` and `graph::shortest_path` (Dijkstra
//!   on `weight`: from the adjacency when stored, else from each edge document), each on a
//!   read snapshot.
//! - **SQLite** (bundled, WAL): `e(src, dst, weight)` with an index on `(src, dst, weight)`;
//!   k-hop as `WITH RECURSIVE` over `(vertex, depth)` pairs, `count(DISTINCT)`; no weighted
//!   shortest path (a recursive CTE enumerates paths; shown as —).
//! - **Kuzu** (PyPI `kuzu`, skipped with a note if it does not import): node table `V`, rel
//!   table `E(weight)`, loaded with `COPY` from CSV; k-hop as `MATCH (a)-[:E*1..k]->(b) RETURN
//!   count(DISTINCT b)`, weighted shortest path with `WSHORTEST(weight)`.
//! - **Cozo** (PyPI `pycozo` + `cozo-embedded` 0.7, RocksDB storage, skipped with a note if it
//!   does not import): relation `e{src, dst => weight}` imported in batches of 100,000; k-hop
//!   as Datalog rules (set semantics, so distinct), weighted shortest path with the fixed rule
//!   `ShortestPathDijkstra` over the stored relation, capped at 60 s (the pairs done are
//!   reported). See `graph/python_sides.rs`.
//!
//! Rows: bulk load time; 1-, 2- and 3-hop distinct-neighbourhood counts (start excluded) from
//! 1,000 random start vertices (mean and p99); weighted shortest path between 200 random pairs
//! (mean); bytes on disk; open + first 1-hop query. Every system's k-hop counts are compared
//! with Cairn's; a difference is reported.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench graph` (`--scale 0.1` for a quick
//! run; `--stored-weight false` for Dijkstra reading edge documents; `--only-cairn`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use cairn::graph::{self, Direction, EdgeOptions, OnVertexDelete, VertexRef, Walk};
use cairn::{Config, DocId, StorageMode, Value};
use rusqlite::params;

use super::timeseries::{dir_bytes, workload::Rng};

mod python_sides;

/// Start vertices per k-hop row.
const STARTS: usize = 1_000;
/// Pairs for the shortest-path row.
const PAIRS: usize = 200;
/// Edges per Cairn / SQLite transaction.
const EDGES_PER_TXN: usize = 10_000;

/// `cairn bench graph`.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// Multiplies the vertex and edge counts (1.0: 100,000 vertices, 2,400,000 edges).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f64,
    /// Where to create the stores (kept afterwards); default: a temporary folder, removed.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Store the edge property `weight` in Cairn's adjacency index (`false`: Dijkstra reads
    /// each edge document for its weight, as before stored properties existed).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub stored_weight: bool,
    /// Measure Cairn only (no SQLite, Kuzu or Cozo): for comparing Cairn's own variants.
    #[arg(long)]
    pub only_cairn: bool,
}

/// The graph and the queries.
pub(super) struct Workload {
    vertices: u64,
    edges: Vec<(u64, u64, f64)>,
    starts: Vec<u64>,
    pairs: Vec<(u64, u64)>,
}

impl Workload {
    fn generate(scale: f64) -> Workload {
        let vertices = ((100_000.0 * scale) as u64).max(2);
        let count = vertices * 24;
        let mut rng = Rng::new(18, 18);
        let edges = (0..count)
            .map(|_| {
                let from = rng.below(vertices);
                let u = rng.below(1 << 30) as f64 / (1u64 << 30) as f64;
                let to = ((vertices as f64) * u * u * u) as u64;
                (from, to, 1.0 + rng.below(100) as f64 / 10.0)
            })
            .collect();
        let starts = (0..STARTS).map(|_| rng.below(vertices)).collect();
        let pairs = (0..PAIRS)
            .map(|_| (rng.below(vertices), rng.below(vertices)))
            .collect();
        Workload {
            vertices,
            edges,
            starts,
            pairs,
        }
    }
}

/// One system's figures.
#[derive(Debug, Default)]
pub(super) struct Figures {
    load_s: Option<f64>,
    /// (mean, p99) milliseconds per k = 1, 2, 3.
    hops: [Option<(f64, f64)>; 3],
    /// k-hop counts per k, per start (for the comparison).
    counts: [Vec<u64>; 3],
    path_ms: Option<f64>,
    bytes: Option<u64>,
    open_first_ms: Option<f64>,
}

pub(super) fn stats(mut samples: Vec<f64>) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    let mean = samples.iter().sum::<f64>() / samples.len().max(1) as f64;
    let p99 = samples
        .get((samples.len() * 99 / 100).min(samples.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    (mean, p99)
}

/// Runs the benchmark and prints the table.
pub fn run(args: &GraphArgs) -> anyhow::Result<()> {
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
        "graph: {} vertices, {} edges",
        work.vertices,
        work.edges.len()
    );
    let cairn = cairn_side(&root.join("cairn"), &work, args.stored_weight)?;
    if args.only_cairn {
        print!("{}", render(args, &work, &[("Cairn", &cairn)]));
        return Ok(());
    }
    let sqlite = sqlite_side(&root.join("sqlite.db"), &work)?;
    let [kuzu, cozo] = ["Kuzu", "Cozo"].map(|name| {
        let dir = root.join(name.to_lowercase());
        python_sides::run(name, &dir, &work).unwrap_or_else(|err| {
            eprintln!("{name} skipped: {err:#}");
            Figures::default()
        })
    });
    let systems = [
        ("Cairn", &cairn),
        ("SQLite", &sqlite),
        ("Kuzu", &kuzu),
        ("Cozo", &cozo),
    ];
    print!("{}", render(args, &work, &systems));
    Ok(())
}

fn vertex(i: u64) -> VertexRef {
    VertexRef::new("v", DocId::Int(i as i64))
}

fn cairn_side(dir: &Path, work: &Workload, stored_weight: bool) -> anyhow::Result<Figures> {
    let mut figures = Figures::default();
    let db = cairn::open(Config::new(dir, StorageMode::Persistent))?;
    let started = Instant::now();
    db.create_collection("v")?;
    for first in (0..work.vertices).step_by(EDGES_PER_TXN) {
        let mut txn = db.begin()?;
        for i in first..(first + EDGES_PER_TXN as u64).min(work.vertices) {
            let mut doc = cairn::Object::new();
            doc.insert("_id", Value::Int(i as i64));
            txn.insert("v", Value::Object(doc))?;
        }
        txn.commit()?;
    }
    let options = EdgeOptions {
        on_vertex_delete: OnVertexDelete::None,
        vertex_collections: vec![],
        properties: if stored_weight {
            vec!["weight".into()]
        } else {
            vec![]
        },
    };
    graph::create_edge_collection(&db, "e", &options)?;
    for chunk in work.edges.chunks(EDGES_PER_TXN) {
        let mut txn = db.begin()?;
        for &(from, to, w) in chunk {
            let mut doc = cairn::Object::new();
            doc.insert("_from", Value::String(format!("v/{from}")));
            doc.insert("_to", Value::String(format!("v/{to}")));
            doc.insert("weight", Value::Float(w));
            txn.insert("e", Value::Object(doc))?;
        }
        txn.commit()?;
    }
    figures.load_s = Some(started.elapsed().as_secs_f64());
    let edges = vec!["e".to_string()];
    for k in 1..=3u32 {
        let mut samples = Vec::with_capacity(work.starts.len());
        for &s in &work.starts {
            let started = Instant::now();
            let walk = Walk::new(&edges, Direction::Out);
            let n = graph::khop_count(&mut db.read()?, &vertex(s), &walk, k)?;
            samples.push(started.elapsed().as_secs_f64() * 1e3);
            figures.counts[k as usize - 1].push(n);
        }
        figures.hops[k as usize - 1] = Some(stats(samples));
    }
    let started = Instant::now();
    for &(a, b) in &work.pairs {
        let walk = Walk::new(&edges, Direction::Out);
        graph::shortest_path(
            &mut db.read()?,
            &vertex(a),
            &vertex(b),
            &walk,
            Some("weight"),
        )?;
    }
    figures.path_ms = Some(started.elapsed().as_secs_f64() * 1e3 / work.pairs.len() as f64);
    drop(db);
    figures.bytes = Some(dir_bytes(dir));
    let started = Instant::now();
    let db = cairn::open(Config::new(dir, StorageMode::Persistent))?;
    let walk = Walk::new(&edges, Direction::Out);
    graph::khop_count(&mut db.read()?, &vertex(work.starts[0]), &walk, 1)?;
    figures.open_first_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    Ok(figures)
}

const SQLITE_KHOP: &str = "WITH RECURSIVE r(n, d) AS (SELECT ?1, 0 UNION \
     SELECT e.dst, r.d + 1 FROM r JOIN e ON e.src = r.n WHERE r.d < ?2) \
     SELECT count(DISTINCT n) FROM r WHERE n <> ?1";

fn sqlite_side(path: &Path, work: &Workload) -> anyhow::Result<Figures> {
    let mut figures = Figures::default();
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE e (id INTEGER PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, weight REAL);",
    )?;
    let started = Instant::now();
    for chunk in work.edges.chunks(EDGES_PER_TXN) {
        let txn = conn.transaction()?;
        {
            let mut insert =
                txn.prepare_cached("INSERT INTO e (src, dst, weight) VALUES (?1, ?2, ?3)")?;
            for &(from, to, w) in chunk {
                insert.execute(params![from as i64, to as i64, w])?;
            }
        }
        txn.commit()?;
    }
    conn.execute_batch(
        "CREATE INDEX e_out ON e (src, dst, weight); PRAGMA wal_checkpoint(TRUNCATE);",
    )?;
    figures.load_s = Some(started.elapsed().as_secs_f64());
    {
        let mut khop = conn.prepare(SQLITE_KHOP)?;
        for k in 1..=3i64 {
            let mut samples = Vec::new();
            for &s in &work.starts {
                let started = Instant::now();
                let n: i64 = khop.query_row(params![s as i64, k], |row| row.get(0))?;
                samples.push(started.elapsed().as_secs_f64() * 1e3);
                figures.counts[k as usize - 1].push(n as u64);
            }
            figures.hops[k as usize - 1] = Some(stats(samples));
        }
    }
    drop(conn);
    figures.bytes = Some(std::fs::metadata(path).map_or(0, |m| m.len()));
    let started = Instant::now();
    let conn = rusqlite::Connection::open(path)?;
    let _: i64 = conn.query_row(SQLITE_KHOP, params![work.starts[0] as i64, 1i64], |row| {
        row.get(0)
    })?;
    figures.open_first_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    Ok(figures)
}

fn cell(value: Option<f64>, decimals: usize) -> String {
    value.map_or("—".to_string(), |v| format!("{v:.decimals$}"))
}

fn render(args: &GraphArgs, work: &Workload, systems: &[(&str, &Figures)]) -> String {
    let mut out = format!(
        "cairn bench graph (scale {}, weight {}): {} vertices, {} edges, {STARTS} starts, {PAIRS} pairs\n\n",
        args.scale,
        if args.stored_weight {
            "stored in the adjacency"
        } else {
            "read from edge documents"
        },
        work.vertices,
        work.edges.len()
    );
    let mut rows: Vec<(String, Vec<Option<f64>>, usize)> = vec![(
        "bulk load, s".into(),
        systems.iter().map(|(_, f)| f.load_s).collect(),
        2,
    )];
    for k in 0..3 {
        rows.push((
            format!("{}-hop count mean, ms", k + 1),
            systems
                .iter()
                .map(|(_, f)| f.hops[k].map(|h| h.0))
                .collect(),
            3,
        ));
        rows.push((
            format!("{}-hop count p99, ms", k + 1),
            systems
                .iter()
                .map(|(_, f)| f.hops[k].map(|h| h.1))
                .collect(),
            3,
        ));
    }
    rows.push((
        "weighted shortest path mean, ms".into(),
        systems.iter().map(|(_, f)| f.path_ms).collect(),
        3,
    ));
    rows.push((
        "bytes on disk, MB".into(),
        systems
            .iter()
            .map(|(_, f)| f.bytes.map(|b| b as f64 / 1e6))
            .collect(),
        1,
    ));
    rows.push((
        "open + first 1-hop query, ms".into(),
        systems.iter().map(|(_, f)| f.open_first_ms).collect(),
        1,
    ));
    out.push_str(&format!("{:<34}", "row"));
    for (name, _) in systems {
        out.push_str(&format!("{name:>12}"));
    }
    for (name, _) in &systems[1..] {
        out.push_str(&format!("{:>14}", format!("{name}/Cairn")));
    }
    out.push('\n');
    for (label, values, decimals) in rows {
        out.push_str(&format!("{label:<34}"));
        for value in &values {
            out.push_str(&format!("{:>12}", cell(*value, decimals)));
        }
        for value in &values[1..] {
            let ratio = match (value, values[0]) {
                (Some(theirs), Some(ours)) if ours > 0.0 => Some(theirs / ours),
                _ => None,
            };
            out.push_str(&format!("{:>14}", cell(ratio, 2)));
        }
        out.push('\n');
    }
    out.push_str(
        "\nratios: the other system's figure over Cairn's (above 1: Cairn faster/smaller).\n",
    );
    for (name, figures) in &systems[1..] {
        for k in 0..3 {
            let theirs = &figures.counts[k];
            let ours = &systems[0].1.counts[k];
            if !theirs.is_empty() && theirs != ours {
                let first = ours.iter().zip(theirs).position(|(a, b)| a != b);
                out.push_str(&format!(
                    "MISMATCH {name}: {}-hop counts differ from Cairn's (first at start #{first:?})\n",
                    k + 1
                ));
            }
        }
    }
    out
}
