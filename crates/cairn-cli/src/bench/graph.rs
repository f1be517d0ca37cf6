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
//!
//! Rows: bulk load time; 1-, 2- and 3-hop distinct-neighbourhood counts (start excluded) from
//! 1,000 random start vertices (mean and p99); weighted shortest path between 200 random pairs
//! (mean); bytes on disk; open + first 1-hop query. Every system's k-hop counts are compared
//! with Cairn's; a difference is reported.
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench graph` (`--scale 0.1` for a quick
//! run).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use cairn::graph::{self, Direction, EdgeOptions, OnVertexDelete, VertexRef, Walk};
use cairn::{Config, DocId, StorageMode, Value};
use rusqlite::params;

use super::timeseries::{dir_bytes, workload::Rng};

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
}

/// The graph and the queries.
struct Workload {
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
struct Figures {
    load_s: Option<f64>,
    /// (mean, p99) milliseconds per k = 1, 2, 3.
    hops: [Option<(f64, f64)>; 3],
    /// k-hop counts per k, per start (for the comparison).
    counts: [Vec<u64>; 3],
    path_ms: Option<f64>,
    bytes: Option<u64>,
    open_first_ms: Option<f64>,
}

fn stats(mut samples: Vec<f64>) -> (f64, f64) {
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
    let sqlite = sqlite_side(&root.join("sqlite.db"), &work)?;
    let kuzu = kuzu_side(&root.join("kuzu"), &work).unwrap_or_else(|err| {
        eprintln!("Kuzu skipped: {err:#}");
        Figures::default()
    });
    print!(
        "{}",
        render(
            args,
            &work,
            &[("Cairn", &cairn), ("SQLite", &sqlite), ("Kuzu", &kuzu)]
        )
    );
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

/// The Kuzu side, run by `python3`: prints one JSON line of figures.
const KUZU_SCRIPT: &str = r#"
import json, os, sys, time
import kuzu
root = sys.argv[1]
out = {}
db_path = os.path.join(root, "db")
started = time.perf_counter()
db = kuzu.Database(db_path)
con = kuzu.Connection(db)
con.execute("CREATE NODE TABLE V(id INT64, PRIMARY KEY (id))")
con.execute("CREATE REL TABLE E(FROM V TO V, weight DOUBLE)")
con.execute("COPY V FROM '%s' (header=false)" % os.path.join(root, "v.csv"))
con.execute("COPY E FROM '%s' (header=false)" % os.path.join(root, "e.csv"))
out["load_s"] = time.perf_counter() - started
starts = [int(x) for x in open(os.path.join(root, "starts.txt")).read().split()]
pairs = [tuple(map(int, l.split())) for l in open(os.path.join(root, "pairs.txt"))]
for k in (1, 2, 3):
    times, counts = [], []
    for s in starts:
        t = time.perf_counter()
        r = con.execute("MATCH (a:V {id: $s})-[:E*1..%d]->(b:V) WHERE b.id <> $s RETURN count(DISTINCT b.id)" % k, {"s": s})
        counts.append(r.get_next()[0])
        times.append((time.perf_counter() - t) * 1e3)
    out["hop%d" % k] = times
    out["count%d" % k] = counts
try:
    t = time.perf_counter()
    for a, b in pairs:
        r = con.execute("MATCH p = (a:V {id: $a})-[e:E* WSHORTEST(weight)]->(b:V {id: $b}) RETURN cost(e)", {"a": a, "b": b})
        while r.has_next():
            r.get_next()
    out["path_ms"] = (time.perf_counter() - t) * 1e3 / len(pairs)
except Exception as e:
    out["path_error"] = str(e)
del con, db
size = 0
for d, _, files in os.walk(root):
    if d.startswith(db_path):
        size += sum(os.path.getsize(os.path.join(d, f)) for f in files)
if os.path.isfile(db_path):
    size += os.path.getsize(db_path)
out["bytes"] = size
t = time.perf_counter()
db = kuzu.Database(db_path)
con = kuzu.Connection(db)
con.execute("MATCH (a:V {id: $s})-[:E*1..1]->(b:V) RETURN count(DISTINCT b.id)", {"s": starts[0]}).get_next()
out["open_first_ms"] = (time.perf_counter() - t) * 1e3
print(json.dumps(out))
"#;

fn kuzu_side(root: &Path, work: &Workload) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(root)?;
    let write = |name: &str, text: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>| {
        let mut file = std::io::BufWriter::new(std::fs::File::create(root.join(name))?);
        text(&mut file)?;
        file.flush()
    };
    write("v.csv", &mut |f| {
        (0..work.vertices).try_for_each(|i| writeln!(f, "{i}"))
    })?;
    write("e.csv", &mut |f| {
        work.edges
            .iter()
            .try_for_each(|(a, b, w)| writeln!(f, "{a},{b},{w}"))
    })?;
    write("starts.txt", &mut |f| {
        work.starts.iter().try_for_each(|s| writeln!(f, "{s}"))
    })?;
    write("pairs.txt", &mut |f| {
        work.pairs
            .iter()
            .try_for_each(|(a, b)| writeln!(f, "{a} {b}"))
    })?;
    let output = Command::new("python3")
        .arg("-c")
        .arg(KUZU_SCRIPT)
        .arg(root)
        .output()
        .context("running python3")?;
    if !output.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let out: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if let Some(err) = out["path_error"].as_str() {
        eprintln!("Kuzu weighted shortest path failed: {err}");
    }
    let mut figures = Figures {
        load_s: out["load_s"].as_f64(),
        path_ms: out["path_ms"].as_f64(),
        bytes: out["bytes"].as_u64(),
        open_first_ms: out["open_first_ms"].as_f64(),
        ..Figures::default()
    };
    for k in 0..3 {
        let samples = out[format!("hop{}", k + 1)]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect::<Vec<_>>());
        figures.hops[k] = samples.map(stats);
        figures.counts[k] = out[format!("count{}", k + 1)]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
            .unwrap_or_default();
    }
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
