//! `cairn bench vector`: Cairn's vector index through its query path side by side with
//! hnswlib, FAISS (`IndexHNSWFlat`) and usearch (PyPI packages, driven by `vector/side.py`) on
//! the same vectors, in one run.
//!
//! # Workload
//!
//! Data: `--n` vectors (default 100,000) of `--dims` dimensions (default 128) from a seeded
//! mixture of 16 Gaussians: centres uniform in [-1, 1]^dims, each vector a centre (chosen by
//! the generator) plus independent N(0, 1) noise per component (splitmix64 + Box–Muller, seed
//! 1; the queries — `--queries`, default 1,000 — come from the same mixture, seed 2). L2
//! distance, k = 10, one thread, one query at a time. The second reference size is
//! `--dims 768 --n 50000`.
//!
//! Systems, at matched M = 16 and ef_construction = 128 (Cairn's defaults):
//! - **Cairn**, persistent mode on the local disk: documents `{"_id": i, "emb": <vector>,
//!   "m10": i % 10, "m100": i % 100}` loaded 1,000 per transaction, then the vector index built
//!   online (its build time is the "build" figure). Queries through `cairn::find` with
//!   `{"emb": {"$nearVector": {"vector": [...], "k": 10, "ef": EF}}}` projected to `_id`, on
//!   read-only snapshots with the index content resident (`make_resident`, timed as "load");
//!   one row at ef 64 reads the tables instead (a transaction that records reads).
//! - **hnswlib** (`space="l2"`, `set_num_threads(1)`), **FAISS** `IndexHNSWFlat` (one OpenMP
//!   thread) and **usearch** (`metric="l2sq"`, `threads=1`), each skipped with a message when
//!   its package does not import.
//!
//! Rows: per `--efs` value (default 16, 32, 64, 128, 256) the recall@10 against exact
//! brute force (computed here) and the mean and p99 latency; filtered search at 10% and 1%
//! selectivity (`{"m10": 0}`, `{"m100": 0}` for Cairn, which has B-tree indexes on `m10` and
//! `m100` so its planner may rank the filtered set exactly — the chosen path is printed;
//! hnswlib's filter callback on the same labels) at ef 64 with recall and the fewest results
//! returned; build time; memory (growth of the process's resident set across build and, for
//! Cairn, loading the resident image); bytes on disk (Cairn's database folder; each
//! reference's saved index); open + first query (Cairn: reopen the database and answer one
//! query from the tables; the references: load the saved index and answer one query).
//! Ratios: Cairn's q/s over hnswlib's at each ef, and build time over hnswlib's.
//!
//! Poincaré (Cairn only; no reference system has the metric): the first `--poincare-n`
//! vectors (default 10,000) and the queries, each scaled by one factor so that the largest
//! norm is 0.9, in a second collection with a `poincare` index; recall@10 at ef 64 against
//! brute force under the Poincaré distance.
//!
//! Also for Cairn: the build path (`--chunked-build` takes the chunk-transaction path instead
//! of the in-memory build), the memory the build alone grew by, the index's records in bytes
//! per vector, and the database folder right before and after the build (largest parts named).
//!
//! Reproduce with `cargo run --release -p cairn-cli -- bench vector` (`--n 20000` for a
//! quicker run).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn::query::{Filter, Query};
use cairn::vector::{
    create_vector_index, create_vector_index_chunked, list_vector_indexes, make_resident, Metric,
    VectorSpec,
};
use cairn::{Config, Database, Object, StorageMode, Value, Vector};

use super::core::bench_folder;

/// `cairn bench vector`'s options.
#[derive(Debug, Clone, clap::Args)]
pub struct VectorArgs {
    /// Vectors in the index.
    #[arg(long, default_value_t = 100_000)]
    pub n: usize,
    /// Dimensions.
    #[arg(long, default_value_t = 128)]
    pub dims: usize,
    /// Queries per row.
    #[arg(long, default_value_t = 1_000)]
    pub queries: usize,
    /// The ef values swept.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128,256")]
    pub efs: Vec<usize>,
    /// The Python interpreter that runs the reference systems.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Skip the reference systems.
    #[arg(long)]
    pub no_reference: bool,
    /// Vectors in the Poincaré recall row (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    pub poincare_n: usize,
    /// Build Cairn's index by inserting documents in chunk transactions (the path
    /// collections too large for memory take) instead of in memory, to compare the two.
    #[arg(long)]
    pub chunked_build: bool,
    /// Where to create the database (kept afterwards); default: a temporary folder under the
    /// current one, removed afterwards.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const K: usize = 10;
const M: usize = 16;
const EF_CONSTRUCTION: usize = 128;
/// Filtered rows: keep labels divisible by these (10% and 1%).
const FILTER_MODS: [usize; 2] = [10, 100];

/// splitmix64, as the vector tests' data sets.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * self.unit()).cos()
    }
}

/// `n` vectors from the mixture (the centres from seed 1, the draws from `seed`).
fn mixture(seed: u64, n: usize, dims: usize) -> Vec<Vec<f32>> {
    let mut centres_rng = Rng(1);
    let centres: Vec<Vec<f64>> = (0..16)
        .map(|_| (0..dims).map(|_| centres_rng.unit() * 2.0 - 1.0).collect())
        .collect();
    let mut rng = Rng(seed.wrapping_mul(0x5851_F42D_4C95_7F2D));
    (0..n)
        .map(|_| {
            let centre = &centres[(rng.next_u64() % 16) as usize];
            centre.iter().map(|c| (c + rng.normal()) as f32).collect()
        })
        .collect()
}

/// The exact `K` nearest labels (ties by label) among those `keep` accepts.
fn truth(base: &[Vec<f32>], q: &[f32], keep: &dyn Fn(usize) -> bool) -> Vec<u64> {
    let mut all: Vec<(f32, usize)> = base
        .iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .map(|(i, v)| (Metric::L2.distance(q, v), i))
        .collect();
    let k = K.min(all.len());
    if k > 0 {
        all.select_nth_unstable_by(k - 1, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    }
    all.truncate(k);
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().map(|(_, i)| i as u64).collect()
}

/// One measured row of one system.
#[derive(Clone)]
struct Row {
    ids: Vec<Vec<u64>>,
    latencies: Vec<Duration>,
}

impl Row {
    fn qps(&self) -> f64 {
        self.latencies.len() as f64 / self.latencies.iter().sum::<Duration>().as_secs_f64()
    }
    fn p99_us(&self) -> f64 {
        let mut l = self.latencies.clone();
        l.sort();
        l.get((l.len() * 99 / 100).min(l.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1e6)
    }
    fn recall(&self, truth: &[Vec<u64>]) -> f64 {
        let found: usize = self
            .ids
            .iter()
            .zip(truth)
            .map(|(got, want)| got.iter().filter(|g| want.contains(g)).count())
            .sum();
        found as f64 / truth.iter().map(Vec::len).sum::<usize>().max(1) as f64
    }
    fn fewest(&self) -> usize {
        self.ids.iter().map(Vec::len).min().unwrap_or(0)
    }
}

/// One system's build time and rows (by name: `ef64`, `filter10`, `tables64`...).
struct System {
    build_s: f64,
    rows: HashMap<String, Row>,
    /// Growth of the resident set across the build (and Cairn's image load), bytes.
    memory: f64,
    /// Bytes on disk.
    disk: f64,
    /// Open + first query, ms.
    open_ms: f64,
}

/// The resident set of this process, bytes (0 where `/proc` is missing).
fn resident_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |pages| pages * 4096.0)
}

/// The peak resident set of this process so far (`VmHWM`), bytes (0 where `/proc` is
/// missing).
fn peak_resident_bytes() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kib| kib * 1024.0)
}

/// Runs the benchmark and prints its table.
pub fn run(args: &VectorArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.n >= 100 && args.dims >= 1 && args.queries >= 1,
        "too small"
    );
    let (_temp, dir) = bench_folder(args.dir.as_deref())?;
    eprintln!("generating {} × {} vectors…", args.n, args.dims);
    let base = mixture(2, args.n, args.dims);
    let queries = mixture(3, args.queries, args.dims);
    eprintln!("exact answers…");
    let exact: Vec<Vec<u64>> = queries.iter().map(|q| truth(&base, q, &|_| true)).collect();
    let exact_filtered: Vec<Vec<Vec<u64>>> = FILTER_MODS
        .iter()
        .map(|&m| {
            queries
                .iter()
                .map(|q| truth(&base, q, &|i| i % m == 0))
                .collect()
        })
        .collect();
    let CairnSide {
        system: cairn,
        load_ms,
        plans,
        build_memory,
        index_bytes,
        folder_before_build,
        folder_after_build,
    } = cairn_side(&dir, args, &base, &queries)?;
    let poincare = poincare_recall(&dir, args, &base, &queries)?;
    let others = if args.no_reference {
        Vec::new()
    } else {
        reference_side(&dir, args, &base, &queries)?
    };
    print_table(args, &cairn, &others, &exact, &exact_filtered);
    println!();
    print_resources(&cairn, &others);
    println!();
    println!("| Cairn | value |\n|---|---|");
    println!(
        "| build path | {} |",
        if args.chunked_build {
            "chunk transactions of inserts"
        } else {
            "in memory, written once"
        }
    );
    println!(
        "| memory (peak RSS during the build over RSS before it) | {:.1} MiB |",
        build_memory / 1048576.0
    );
    println!(
        "| index records (vectors + neighbour lists) | {:.1} MiB, {:.0} B per vector |",
        index_bytes as f64 / 1048576.0,
        index_bytes as f64 / args.n as f64
    );
    println!(
        "| database folder before the build (documents, B-trees) | {:.1} MiB |",
        folder_before_build as f64 / 1048576.0
    );
    let folder: u64 = folder_after_build.iter().map(|(_, b)| b).sum();
    let parts: Vec<String> = folder_after_build
        .iter()
        .take(4)
        .map(|(name, b)| format!("{name} {:.1}", *b as f64 / 1048576.0))
        .collect();
    println!(
        "| database folder after the build | {:.1} MiB, {:.0} B per vector ({}) |",
        folder as f64 / 1048576.0,
        folder as f64 / args.n as f64,
        parts.join(", ")
    );
    println!("| make_resident (load the image) | {load_ms:.0} ms |");
    for (label, plan) in plans {
        println!("| plan, {label} | {plan} |");
    }
    if let Some((n, recall)) = poincare {
        println!("| Poincaré recall@10 at ef 64 ({n} vectors, brute force under Poincaré) | {recall:.3} |");
    }
    Ok(())
}

/// Memory, bytes on disk and open + first query of every system.
fn print_resources(cairn: &System, others: &[(String, Option<System>, String)]) {
    let mut systems = vec![("Cairn", cairn)];
    systems.extend(
        others
            .iter()
            .filter_map(|(n, s, _)| s.as_ref().map(|s| (n.as_str(), s))),
    );
    let names: Vec<&str> = systems.iter().map(|(n, _)| *n).collect();
    println!("| | {} |", names.join(" | "));
    println!("|---|{}", "---|".repeat(names.len()));
    let line = |label: &str, value: &dyn Fn(&System) -> String| {
        let cells: Vec<String> = systems.iter().map(|(_, s)| value(s)).collect();
        println!("| {label} | {} |", cells.join(" | "));
    };
    line("memory (RSS growth, MiB)", &|s| {
        format!("{:.1}", s.memory / 1048576.0)
    });
    line("bytes on disk (MiB)", &|s| {
        format!("{:.1}", s.disk / 1048576.0)
    });
    line("open + first query (ms)", &|s| format!("{:.1}", s.open_ms));
}

/// The Poincaré row: `(vectors, recall@10)`, or `None` when skipped.
fn poincare_recall(
    dir: &Path,
    args: &VectorArgs,
    base: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> anyhow::Result<Option<(usize, f64)>> {
    let n = args.poincare_n.min(base.len());
    if n == 0 {
        return Ok(None);
    }
    eprintln!("cairn: Poincaré recall over {n} vectors…");
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let largest = base[..n]
        .iter()
        .chain(queries)
        .map(|v| norm(v))
        .fold(f64::MIN_POSITIVE, f64::max);
    let scale = |v: &Vec<f32>| -> Vec<f32> {
        v.iter()
            .map(|x| (f64::from(*x) * 0.9 / largest) as f32)
            .collect()
    };
    let ball: Vec<Vec<f32>> = base[..n].iter().map(scale).collect();
    let ball_queries: Vec<Vec<f32>> = queries.iter().map(scale).collect();
    let db = cairn::open(Config::new(dir.join("poincare"), StorageMode::Persistent))?;
    db.create_collection("v")?;
    for (c, chunk) in ball.chunks(1_000).enumerate() {
        let mut txn = db.begin()?;
        for (j, v) in chunk.iter().enumerate() {
            let mut o = Object::new();
            o.insert("_id", Value::Int((c * 1_000 + j) as i64));
            o.insert("emb", Value::Vector(Vector::from(v.as_slice())));
            txn.insert("v", Value::Object(o))?;
        }
        txn.commit()?;
    }
    let spec = VectorSpec::new("by_emb", "emb", args.dims, Metric::Poincare)?;
    create_vector_index(&db, "v", &spec, &mut |_| {})?;
    let (mut found, mut wanted) = (0usize, 0usize);
    for q in &ball_queries {
        let mut truth: Vec<(f32, usize)> = ball
            .iter()
            .enumerate()
            .map(|(i, v)| (Metric::Poincare.distance(q, v), i))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        truth.truncate(K);
        let got = labels(&cairn::find(&db, "v", &cairn_query(q, 64, "")?)?.documents);
        found += got
            .iter()
            .filter(|g| truth.iter().any(|t| t.1 as u64 == **g))
            .count();
        wanted += truth.len();
    }
    Ok(Some((n, found as f64 / wanted.max(1) as f64)))
}

fn cairn_query(vector: &[f32], ef: usize, filter: &str) -> anyhow::Result<Query> {
    let parts: Vec<String> = vector.iter().map(|x| format!("{x}")).collect();
    let json = format!(
        r#"{{"emb": {{"$nearVector": {{"vector": [{}], "k": {K}, "ef": {ef}}}}}{filter}}}"#,
        parts.join(",")
    );
    let mut query = Query::new(Filter::parse(&Value::from_json_expression(&json)?)?);
    query.projection = Some(cairn::query::Projection::parse(&Value::from_json_str(
        r#"{"_id": 1}"#,
    )?)?);
    Ok(query)
}

fn labels(found: &[Value]) -> Vec<u64> {
    found
        .iter()
        .filter_map(|d| d.as_object()?.get("_id")?.as_i64())
        .map(|i| i as u64)
        .collect()
}

/// What Cairn's side measured beyond the common figures.
struct CairnSide {
    system: System,
    /// `make_resident`, ms.
    load_ms: f64,
    /// Per filtered row, the plan `explain` shows.
    plans: Vec<(String, String)>,
    /// Peak resident set during the build over the resident set before it, bytes.
    build_memory: f64,
    /// The index's records (vectors and neighbour lists) as the engine counts them, bytes.
    index_bytes: u64,
    /// The database folder's size right before the build (documents and B-trees), bytes.
    folder_before_build: u64,
    /// The database folder's entries and their sizes right after the build.
    folder_after_build: Vec<(String, u64)>,
}

/// Cairn: load, build, query.
fn cairn_side(
    dir: &Path,
    args: &VectorArgs,
    base: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> anyhow::Result<CairnSide> {
    let path = dir.join("cairn");
    let db = cairn::open(Config::new(&path, StorageMode::Persistent))?;
    db.create_collection("v")?;
    eprintln!("cairn: loading documents…");
    for (c, chunk) in base.chunks(1_000).enumerate() {
        let mut txn = db.begin()?;
        for (j, v) in chunk.iter().enumerate() {
            let i = (c * 1_000 + j) as i64;
            let mut o = Object::new();
            o.insert("_id", Value::Int(i));
            o.insert("emb", Value::Vector(Vector::from(v.as_slice())));
            o.insert("m10", Value::Int(i % 10));
            o.insert("m100", Value::Int(i % 100));
            txn.insert("v", Value::Object(o))?;
        }
        txn.commit()?;
    }
    for m in FILTER_MODS {
        let field = format!("m{m}");
        let spec = cairn::IndexSpec::new(&field, &[&field], cairn::IndexKind::BTree, false)?;
        cairn::create_index(&db, "v", &spec, &mut |_| {})?;
    }
    eprintln!("cairn: building the index…");
    let spec = VectorSpec::new("by_emb", "emb", args.dims, Metric::L2)?;
    let folder_before_build: u64 = folder_parts(&path).iter().map(|(_, b)| b).sum();
    let rss_before = resident_bytes();
    let started = Instant::now();
    if args.chunked_build {
        create_vector_index_chunked(&db, "v", &spec, &mut |_| {})?;
    } else {
        create_vector_index(&db, "v", &spec, &mut |_| {})?;
    }
    let build_s = started.elapsed().as_secs_f64();
    let build_memory = peak_resident_bytes() - rss_before;
    let index_bytes = list_vector_indexes(&db, "v")?
        .first()
        .map_or(0, |info| info.bytes);
    let folder_after_build = folder_parts(&path);
    let mut rows = HashMap::new();
    let measure = |db: &Database, ef: usize, filter: &str, txn: Option<&mut cairn::Transaction>| {
        let mut row = Row {
            ids: Vec::new(),
            latencies: Vec::new(),
        };
        let mut txn = txn;
        for q in queries {
            let query = cairn_query(q, ef, filter)?;
            let started = Instant::now();
            let found = match txn.as_deref_mut() {
                Some(t) => cairn::query::find_in(t, "v", &query)?,
                None => cairn::find(db, "v", &query)?,
            };
            row.latencies.push(started.elapsed());
            row.ids.push(labels(&found.documents));
        }
        anyhow::Ok(row)
    };
    eprintln!("cairn: queries on the tables…");
    let mut tables_txn = db.begin()?;
    rows.insert(
        "tables64".to_string(),
        measure(&db, 64, "", Some(&mut tables_txn))?,
    );
    drop(tables_txn);
    let started = Instant::now();
    anyhow::ensure!(make_resident(&db, "v", "by_emb")?, "the index did not load");
    let load_ms = started.elapsed().as_secs_f64() * 1e3;
    let memory = resident_bytes() - rss_before;
    eprintln!("cairn: queries on the resident image…");
    for &ef in &args.efs {
        rows.insert(format!("ef{ef}"), measure(&db, ef, "", None)?);
    }
    let mut plans = Vec::new();
    for m in FILTER_MODS {
        let filter = format!(r#", "m{m}": 0"#);
        rows.insert(format!("filter{m}"), measure(&db, 64, &filter, None)?);
        let explained = cairn::explain(&db, "v", &cairn_query(&queries[0], 64, &filter)?)?;
        plans.push((
            format!("{}% pass the filter", 100 / m),
            explained.chosen.description,
        ));
    }
    drop(db);
    let disk = folder_bytes(&path) as f64;
    // A new process would have no resident image; this reopen reads the tables (the image of
    // the same content is still in this process, so the first query asks a transaction that
    // records reads).
    let started = Instant::now();
    let db = cairn::open(Config::new(&path, StorageMode::Persistent))?;
    let mut txn = db.begin()?;
    cairn::query::find_in(&mut txn, "v", &cairn_query(&queries[0], 64, "")?)?;
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let system = System {
        build_s,
        rows,
        memory,
        disk,
        open_ms,
    };
    Ok(CairnSide {
        system,
        load_ms,
        plans,
        build_memory,
        index_bytes,
        folder_before_build,
        folder_after_build,
    })
}

/// The size of each entry of a folder (sub-folders summed), largest first.
fn folder_parts(path: &Path) -> Vec<(String, u64)> {
    let mut parts: Vec<(String, u64)> = std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| {
                    let size = match e.metadata() {
                        Ok(m) if m.is_dir() => folder_bytes(&e.path()),
                        Ok(m) => m.len(),
                        Err(_) => 0,
                    };
                    (e.file_name().to_string_lossy().into_owned(), size)
                })
                .collect()
        })
        .unwrap_or_default();
    parts.sort_by_key(|part| std::cmp::Reverse(part.1));
    parts
}

fn folder_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => folder_bytes(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    })
}

/// The reference systems through `vector/side.py`.
fn reference_side(
    dir: &Path,
    args: &VectorArgs,
    base: &[Vec<f32>],
    queries: &[Vec<f32>],
) -> anyhow::Result<Vec<(String, Option<System>, String)>> {
    let write = |name: &str, rows: &[Vec<f32>]| -> anyhow::Result<()> {
        let bytes: Vec<u8> = rows
            .iter()
            .flatten()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        std::fs::write(dir.join(name), bytes).with_context(|| format!("writing {name}"))
    };
    write("base.f32", base)?;
    write("queries.f32", queries)?;
    let script = dir.join("side.py");
    std::fs::write(&script, include_str!("vector/side.py"))?;
    let efs: Vec<String> = args.efs.iter().map(usize::to_string).collect();
    let mods: Vec<String> = FILTER_MODS.iter().map(usize::to_string).collect();
    eprintln!("reference systems (python)…");
    let output = std::process::Command::new(&args.python)
        .arg(&script)
        .arg(dir)
        .args([
            args.n.to_string(),
            args.dims.to_string(),
            args.queries.to_string(),
            K.to_string(),
            M.to_string(),
            EF_CONSTRUCTION.to_string(),
            efs.join(","),
            mods.join(","),
        ])
        .output()
        .with_context(|| format!("running {}", args.python))?;
    anyhow::ensure!(
        output.status.success(),
        "the reference script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let mut out = Vec::new();
    for name in ["hnswlib", "faiss", "usearch"] {
        let entry = &json[name];
        if let Some(err) = entry["error"].as_str() {
            out.push((name.to_string(), None, err.to_string()));
            continue;
        }
        let mut rows = HashMap::new();
        if let Some(object) = entry["rows"].as_object() {
            for (row, value) in object {
                if value.get("error").is_some() {
                    continue;
                }
                let ids = value["ids"]
                    .as_array()
                    .map(|qs| {
                        qs.iter()
                            .map(|q| {
                                q.as_array()
                                    .map(|l| l.iter().filter_map(|x| x.as_u64()).collect())
                                    .unwrap_or_default()
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let latencies = value["latencies_s"]
                    .as_array()
                    .map(|l| {
                        l.iter()
                            .filter_map(|x| x.as_f64())
                            .map(Duration::from_secs_f64)
                            .collect()
                    })
                    .unwrap_or_default();
                rows.insert(row.clone(), Row { ids, latencies });
            }
        }
        let figure = |key: &str| entry[key].as_f64().unwrap_or(f64::NAN);
        let system = System {
            build_s: figure("build_s"),
            rows,
            memory: figure("memory_bytes"),
            disk: figure("disk_bytes"),
            open_ms: figure("open_ms"),
        };
        out.push((name.to_string(), Some(system), String::new()));
    }
    Ok(out)
}

fn print_table(
    args: &VectorArgs,
    cairn: &System,
    others: &[(String, Option<System>, String)],
    exact: &[Vec<u64>],
    exact_filtered: &[Vec<Vec<u64>>],
) {
    println!(
        "`cairn bench vector`: {} × {} (L2), {} queries, k = {K}, M = {M}, ef_construction = \
         {EF_CONSTRUCTION}, one thread\n",
        args.n, args.dims, args.queries
    );
    let hnsw = others
        .iter()
        .find(|(n, _, _)| n == "hnswlib")
        .and_then(|(_, s, _)| s.as_ref());
    let mut header = "| row | Cairn q/s | p99 µs | recall@10 |".to_string();
    let mut rule = "|---|---|---|---|".to_string();
    for (name, _, _) in others {
        header.push_str(&format!(" {name} q/s | p99 µs | recall@10 |"));
        rule.push_str("---|---|---|");
    }
    header.push_str(" Cairn / hnswlib q/s |");
    rule.push_str("---|");
    println!("{header}\n{rule}");
    let mut names: Vec<(String, String, Vec<Vec<u64>>)> = args
        .efs
        .iter()
        .map(|ef| (format!("ef{ef}"), format!("ef {ef}"), exact.to_vec()))
        .collect();
    names.insert(
        0,
        (
            "tables64".into(),
            "ef 64, Cairn on the tables".into(),
            exact.to_vec(),
        ),
    );
    for (i, m) in FILTER_MODS.iter().enumerate() {
        names.push((
            format!("filter{m}"),
            format!("ef 64, {}% pass the filter", 100 / m),
            exact_filtered[i].clone(),
        ));
    }
    for (key, label, truth) in names {
        let cell = |row: Option<&Row>| match row {
            Some(r) => format!(
                " {:.0} | {:.0} | {:.3}{} |",
                r.qps(),
                r.p99_us(),
                r.recall(&truth),
                if key.starts_with("filter") {
                    format!(" (min {} results)", r.fewest())
                } else {
                    String::new()
                }
            ),
            None => " – | – | – |".to_string(),
        };
        let mine = cairn.rows.get(&key);
        let mut line = format!("| {label} |{}", cell(mine));
        for (_, system, _) in others {
            let row = system.as_ref().and_then(|s| s.rows.get(&key));
            line.push_str(&cell(row));
        }
        let theirs = hnsw.and_then(|h| h.rows.get(&key)).or_else(|| {
            key.strip_prefix("tables")
                .and_then(|ef| hnsw.and_then(|h| h.rows.get(&format!("ef{ef}"))))
        });
        let ratio = match (mine, theirs) {
            (Some(a), Some(b)) => format!(" {:.2}× |", a.qps() / b.qps()),
            _ => " – |".to_string(),
        };
        line.push_str(&ratio);
        println!("{line}");
    }
    let mut build = format!("| build (s) | {:.1} | | |", cairn.build_s);
    for (_, system, _) in others {
        match system {
            Some(s) => build.push_str(&format!(" {:.1} | | |", s.build_s)),
            None => build.push_str(" – | | |"),
        }
    }
    if let Some(h) = hnsw {
        build.push_str(&format!(
            " build {:.1}× hnswlib's |",
            cairn.build_s / h.build_s
        ));
    }
    println!("{build}");
    for (name, system, err) in others {
        if system.is_none() {
            println!("\n{name} skipped: {err}");
        }
    }
}
