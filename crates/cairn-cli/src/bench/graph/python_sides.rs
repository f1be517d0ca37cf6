//! The systems `cairn bench graph` runs by `python3` (see the workload in `graph.rs`): Kuzu
//! (PyPI `kuzu`) and Cozo (PyPI `pycozo` with `cozo-embedded`). Each script gets a folder with
//! `v.csv`, `e.csv`, `starts.txt` and `pairs.txt` and prints one JSON line of figures.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use anyhow::Context;

use super::{stats, Figures, Workload};

/// The Kuzu side: node table `V`, rel table `E(weight)` loaded with `COPY`.
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

/// Runs system `name` (`Kuzu` or `Cozo`) by `python3` in `root` on `work`'s graph.
pub(super) fn run(name: &str, root: &Path, work: &Workload) -> anyhow::Result<Figures> {
    let script = match name {
        "Kuzu" => KUZU_SCRIPT,
        _ => COZO_SCRIPT,
    };
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
        .arg(script)
        .arg(root)
        .arg(PATH_TIME_CAP_S.to_string())
        .output()
        .context("running python3")?;
    if !output.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let out: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    if let Some(err) = out["path_error"].as_str() {
        eprintln!("{name} weighted shortest path failed: {err}");
    }
    if let Some(done) = out["path_pairs"].as_u64() {
        eprintln!(
            "{name} weighted shortest path: {done} of {} pairs within its time cap",
            work.pairs.len()
        );
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

/// The Cozo side (PyPI `pycozo` + `cozo-embedded`, RocksDB storage), run by `python3`:
/// relation `e{src, dst => weight}` bulk-imported; k-hop as Datalog rules over
/// `*e{src: x, dst: y}` (set semantics: distinct), weighted shortest path with the fixed rule
/// `ShortestPathDijkstra` over the stored relation (it loads the edges for every call, so the
/// row stops after [`PATH_TIME_CAP_S`] seconds and reports the mean of the pairs done).
const COZO_SCRIPT: &str = r#"
import json, os, sys, time
from pycozo.client import Client
root = sys.argv[1]
cap = float(sys.argv[2])
out = {}
db_path = os.path.join(root, "db")
started = time.perf_counter()
c = Client("rocksdb", db_path, dataframe=False)
c.run(":create e {src: Int, dst: Int => weight: Float}")
rows = []
for line in open(os.path.join(root, "e.csv")):
    a, b, w = line.split(",")
    rows.append([int(a), int(b), float(w)])
    if len(rows) == 100000:
        c.import_relations({"e": {"headers": ["src", "dst", "weight"], "rows": rows}})
        rows = []
if rows:
    c.import_relations({"e": {"headers": ["src", "dst", "weight"], "rows": rows}})
out["load_s"] = time.perf_counter() - started
starts = [int(x) for x in open(os.path.join(root, "starts.txt")).read().split()]
pairs = [tuple(map(int, l.split())) for l in open(os.path.join(root, "pairs.txt"))]
def khop(k):
    rules = ["r1[y] := *e{src: $s, dst: y}"]
    for i in range(2, k + 1):
        rules.append("r%d[y] := r%d[x], *e{src: x, dst: y}" % (i, i - 1))
    for i in range(1, k + 1):
        rules.append("all[y] := r%d[y]" % i)
    rules.append("?[count(y)] := all[y], y != $s")
    return "\n".join(rules)
for k in (1, 2, 3):
    times, counts = [], []
    q = khop(k)
    for s in starts:
        t = time.perf_counter()
        r = c.run(q, {"s": s})["rows"]
        counts.append(r[0][0] if r else 0)
        times.append((time.perf_counter() - t) * 1e3)
    out["hop%d" % k] = times
    out["count%d" % k] = counts
try:
    q = "start[x] <- [[$a]]\nend[x] <- [[$b]]\n?[s, g, cost, path] <~ ShortestPathDijkstra(*e[], start[], end[])"
    t = time.perf_counter()
    done = 0
    for a, b in pairs:
        c.run(q, {"a": a, "b": b})
        done += 1
        if time.perf_counter() - t > cap:
            break
    out["path_ms"] = (time.perf_counter() - t) * 1e3 / done
    out["path_pairs"] = done
except Exception as e:
    out["path_error"] = str(e)
c.close()
size = 0
for d, _, files in os.walk(db_path):
    size += sum(os.path.getsize(os.path.join(d, f)) for f in files)
out["bytes"] = size
t = time.perf_counter()
c = Client("rocksdb", db_path, dataframe=False)
c.run(khop(1), {"s": starts[0]})
out["open_first_ms"] = (time.perf_counter() - t) * 1e3
print(json.dumps(out))
"#;

/// Longest the Cozo shortest-path row runs before reporting the pairs done so far.
const PATH_TIME_CAP_S: f64 = 60.0;
