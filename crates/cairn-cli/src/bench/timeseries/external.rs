//! The reference systems of `cairn bench timeseries`: SQLite in process, DuckDB through a
//! `python3` script, VictoriaMetrics as a private server. A system that is not installed is
//! skipped with a note in its figures.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::params;

use super::workload::{Workload, BASE_MS, HOUR_MS, INTERVAL_MS, POINTS};
use super::{dir_bytes, Figures};

/// Rows per SQLite transaction.
const SQLITE_BATCH_ROWS: usize = 36_000;

fn sqlite_open(path: &Path) -> anyhow::Result<rusqlite::Connection> {
    let conn = rusqlite::Connection::open(path)?;
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;
         CREATE TABLE m (s INTEGER NOT NULL, t INTEGER NOT NULL, v, PRIMARY KEY (s, t)) WITHOUT ROWID;",
    )?;
    Ok(conn)
}

/// Loads rows `(s, t, value)` in transactions of [`SQLITE_BATCH_ROWS`]; returns seconds.
fn sqlite_load(
    conn: &mut rusqlite::Connection,
    series: usize,
    mut rows_of: impl FnMut(usize, &mut dyn FnMut(i64, rusqlite::types::Value)),
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let per_txn = (SQLITE_BATCH_ROWS / POINTS).max(1);
    for first in (0..series).step_by(per_txn) {
        let txn = conn.transaction()?;
        {
            let mut insert = txn.prepare_cached("INSERT INTO m (s, t, v) VALUES (?1, ?2, ?3)")?;
            let mut failed = None;
            for s in first..(first + per_txn).min(series) {
                rows_of(s, &mut |t, v| {
                    if let Err(err) = insert.execute(params![s as i64, t, v]) {
                        failed.get_or_insert(err);
                    }
                });
            }
            if let Some(err) = failed {
                return Err(err.into());
            }
        }
        txn.commit()?;
    }
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(started.elapsed().as_secs_f64())
}

/// SQLite: load, sizes, and the three reads on the gauge.
pub fn sqlite(root: &Path, work: &Workload) -> anyhow::Result<Figures> {
    std::fs::create_dir_all(root)?;
    let mut figures = Figures::default();
    let mut gauge = sqlite_open(&root.join("gauge.db"))?;
    let gauge_s = sqlite_load(&mut gauge, work.series, |s, emit| {
        for (t, v) in work.gauge_points(s) {
            emit(t, rusqlite::types::Value::Real(v));
        }
    })?;
    let mut counter = sqlite_open(&root.join("counter.db"))?;
    let counter_s = sqlite_load(&mut counter, work.series, |s, emit| {
        for (t, v) in work.counter_points(s) {
            emit(t, rusqlite::types::Value::Integer(v));
        }
    })?;
    drop(counter);
    let mut traj = sqlite_open(&root.join("traj.db"))?;
    let traj_s = sqlite_load(&mut traj, work.trajectories, |s, emit| {
        for (t, v) in work.trajectory_points(s) {
            let blob = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            emit(t, rusqlite::types::Value::Blob(blob));
        }
    })?;
    drop(traj);
    let points = (work.series * POINTS) as f64;
    figures.ingest_points_per_s = Some(2.0 * points / (gauge_s + counter_s));
    figures.traj_points_per_s = Some((work.trajectories * POINTS) as f64 / traj_s);
    let size = |name: &str| std::fs::metadata(root.join(name)).map_or(0, |m| m.len()) as f64;
    figures.bytes_per_point = [
        Some(size("gauge.db") / points),
        Some(size("counter.db") / points),
        Some(size("traj.db") / (work.trajectories * POINTS) as f64),
    ];
    let started = Instant::now();
    {
        let mut range =
            gauge.prepare("SELECT v FROM m WHERE s = ?1 AND t >= ?2 AND t < ?3 ORDER BY t")?;
        for &(s, from) in &work.range_queries {
            let values: Vec<f64> = range
                .query_map(params![s as i64, from, from + HOUR_MS], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            let sum = values.iter().sum();
            work.check_range(&mut figures.problems, "SQLite", s, from, values.len(), sum);
        }
    }
    figures.range_us =
        Some(started.elapsed().as_secs_f64() * 1e6 / work.range_queries.len() as f64);
    let started = Instant::now();
    let buckets: usize = gauge
        .prepare("SELECT s, (t - ?1) / 300000, avg(v) FROM m GROUP BY 1, 2")?
        .query_map(params![BASE_MS], |row| row.get::<_, f64>(2))?
        .count();
    figures.downsample_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    work.check_buckets(&mut figures.problems, "SQLite", buckets);
    let started = Instant::now();
    // The last row of each series by the primary key: one descent per series.
    let latest = gauge
        .prepare(
            "SELECT s, (SELECT v FROM m AS x WHERE x.s = d.s ORDER BY t DESC LIMIT 1)
             FROM (SELECT DISTINCT s FROM m) AS d",
        )?
        .query_map([], |row| row.get::<_, f64>(1))?
        .count();
    figures.latest_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    work.check_latest(&mut figures.problems, "SQLite", latest);
    Ok(figures)
}

/// The DuckDB side, run by `python3`: loads the CSVs, prints one JSON line of figures.
const DUCKDB_SCRIPT: &str = r#"
import json, os, sys, time
import duckdb
root, base = sys.argv[1], int(sys.argv[2])
out = {}
def load(name):
    path = os.path.join(root, name + ".duckdb")
    con = duckdb.connect(path)
    con.execute("CREATE TABLE m (s INTEGER, t BIGINT, v %s)" % ("DOUBLE" if name == "gauge" else "BIGINT"))
    started = time.perf_counter()
    con.execute("COPY m FROM '%s' (HEADER false)" % os.path.join(root, name + ".csv"))
    con.execute("CHECKPOINT")
    out[name + "_s"] = time.perf_counter() - started
    return con, path
gauge, gauge_path = load("gauge")
counter, counter_path = load("counter")
counter.close()
out["gauge_bytes"] = os.path.getsize(gauge_path)
out["counter_bytes"] = os.path.getsize(counter_path)
queries = [tuple(map(int, line.split())) for line in open(os.path.join(root, "ranges.txt"))]
started = time.perf_counter()
answers = []
for s, start in queries:
    rows = gauge.execute("SELECT v FROM m WHERE s = ? AND t >= ? AND t < ? ORDER BY t", [s, start, start + 3600000]).fetchall()
    answers.append([len(rows), sum(r[0] for r in rows)])
out["range_s"] = time.perf_counter() - started
out["ranges"] = answers
started = time.perf_counter()
out["buckets"] = len(gauge.execute("SELECT s, (t - ?) // 300000 AS b, avg(v) FROM m GROUP BY s, b", [base]).fetchall())
out["downsample_s"] = time.perf_counter() - started
started = time.perf_counter()
out["latest"] = len(gauge.execute("SELECT s, arg_max(v, t), max(t) FROM m GROUP BY s").fetchall())
out["latest_s"] = time.perf_counter() - started
print(json.dumps(out))
"#;

/// DuckDB through `python3`; figures left empty (with a note) when it does not run.
pub fn duckdb(root: &Path, work: &Workload) -> Figures {
    let mut figures = Figures::default();
    if let Err(err) = duckdb_run(root, work, &mut figures) {
        eprintln!("DuckDB skipped: {err:#}");
    }
    figures
}

fn write_csv(path: &Path, rows: impl Iterator<Item = String>) -> anyhow::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    for row in rows {
        file.write_all(row.as_bytes())?;
    }
    file.flush()?;
    Ok(())
}

fn duckdb_run(root: &Path, work: &Workload, figures: &mut Figures) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    write_csv(
        &root.join("gauge.csv"),
        (0..work.series).flat_map(|s| {
            work.gauge_points(s)
                .map(move |(t, v)| format!("{s},{t},{v}\n"))
        }),
    )?;
    write_csv(
        &root.join("counter.csv"),
        (0..work.series).flat_map(|s| {
            work.counter_points(s)
                .map(move |(t, v)| format!("{s},{t},{v}\n"))
        }),
    )?;
    write_csv(
        &root.join("ranges.txt"),
        work.range_queries
            .iter()
            .map(|(s, from)| format!("{s} {from}\n")),
    )?;
    let output = Command::new("python3")
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .arg(root)
        .arg(BASE_MS.to_string())
        .output()
        .context("running python3")?;
    if !output.status.success() {
        anyhow::bail!("{}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let out: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let number = |key: &str| out[key].as_f64().with_context(|| format!("no `{key}`"));
    let points = (work.series * POINTS) as f64;
    figures.ingest_points_per_s = Some(2.0 * points / (number("gauge_s")? + number("counter_s")?));
    figures.bytes_per_point = [
        Some(number("gauge_bytes")? / points),
        Some(number("counter_bytes")? / points),
        None,
    ];
    figures.range_us = Some(number("range_s")? * 1e6 / work.range_queries.len() as f64);
    figures.downsample_ms = Some(number("downsample_s")? * 1e3);
    figures.latest_ms = Some(number("latest_s")? * 1e3);
    if let Some(answers) = out["ranges"].as_array() {
        for (&(s, from), answer) in work.range_queries.iter().zip(answers) {
            let count = answer[0].as_u64().unwrap_or(0) as usize;
            let sum = answer[1].as_f64().unwrap_or(f64::NAN);
            work.check_range(&mut figures.problems, "DuckDB", s, from, count, sum);
        }
    }
    work.check_buckets(&mut figures.problems, "DuckDB", number("buckets")? as usize);
    work.check_latest(&mut figures.problems, "DuckDB", number("latest")? as usize);
    Ok(())
}

/// VictoriaMetrics as a private server; figures left empty (with a note) when not installed.
pub fn victoria(root: &Path, work: &Workload) -> Figures {
    let mut figures = Figures::default();
    if let Err(err) = victoria_run(root, work, &mut figures) {
        eprintln!("VictoriaMetrics skipped: {err:#}");
    }
    figures
}

/// Kills the server when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Starts a private server on `data`; returns it and its base URL once healthy.
fn victoria_start(data: &Path, agent: &ureq::Agent) -> anyhow::Result<(Server, String)> {
    let port = free_port()?;
    let child = Command::new("victoria-metrics")
        .arg(format!("-storageDataPath={}", data.display()))
        .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.disableCache")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting victoria-metrics (apt-get install victoria-metrics)")?;
    let server = Server(child);
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while agent.get(format!("{base}/health")).call().is_err() {
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "not up after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok((server, base))
}

/// Stops the server gracefully (SIGINT: it writes everything it holds), so the data folder
/// is complete.
fn victoria_stop(mut server: Server) -> anyhow::Result<()> {
    let pid = i32::try_from(server.0.id())?;
    // SAFETY: sending a signal to our own child process, which has not been reaped.
    unsafe {
        libc::kill(pid, libc::SIGINT);
    }
    server.0.wait()?;
    Ok(())
}

/// One series of `name` in the import format (JSON lines).
fn series_line(name: &str, s: usize, values: Vec<String>) -> String {
    let times: Vec<String> = (0..POINTS)
        .map(|i| (BASE_MS + i as i64 * INTERVAL_MS).to_string())
        .collect();
    format!(
        "{{\"metric\":{{\"__name__\":\"{name}\",\"s\":\"{s}\"}},\"values\":[{}],\"timestamps\":[{}]}}\n",
        values.join(","),
        times.join(",")
    )
}

/// Imports every series (200 per request) and flushes; returns seconds.
fn victoria_import(
    agent: &ureq::Agent,
    base: &str,
    series: usize,
    lines: &mut dyn FnMut(usize) -> String,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    for first in (0..series).step_by(200) {
        let body: String = (first..(first + 200).min(series))
            .map(&mut *lines)
            .collect();
        agent.post(format!("{base}/api/v1/import")).send(body)?;
    }
    agent.get(format!("{base}/internal/force_flush")).call()?;
    Ok(started.elapsed().as_secs_f64())
}

fn get_text(agent: &ureq::Agent, url: String) -> anyhow::Result<String> {
    Ok(agent.get(url).call()?.body_mut().read_to_string()?)
}

fn victoria_run(root: &Path, work: &Workload, figures: &mut Figures) -> anyhow::Result<()> {
    std::fs::create_dir_all(root)?;
    let agent = ureq::Agent::new_with_defaults();
    let points = (work.series * POINTS) as f64;
    // The counter in its own server and folder, so its bytes are its own.
    let counter_data = root.join("counter");
    let (server, base) = victoria_start(&counter_data, &agent)?;
    let counter_s = victoria_import(&agent, &base, work.series, &mut |s| {
        series_line(
            "counter",
            s,
            work.counter_points(s).map(|(_, v)| v.to_string()).collect(),
        )
    })?;
    victoria_stop(server)?;
    let gauge_data = root.join("gauge");
    let (server, base) = victoria_start(&gauge_data, &agent)?;
    let gauge_s = victoria_import(&agent, &base, work.series, &mut |s| {
        series_line(
            "gauge",
            s,
            work.gauge_points(s).map(|(_, v)| v.to_string()).collect(),
        )
    })?;
    figures.ingest_points_per_s = Some(2.0 * points / (gauge_s + counter_s));
    victoria_reads(&agent, &base, work, figures)?;
    victoria_stop(server)?;
    figures.bytes_per_point = [
        Some(dir_bytes(&gauge_data) as f64 / points),
        Some(dir_bytes(&counter_data) as f64 / points),
        None,
    ];
    Ok(())
}

fn victoria_reads(
    agent: &ureq::Agent,
    base: &str,
    work: &Workload,
    figures: &mut Figures,
) -> anyhow::Result<()> {
    let started = Instant::now();
    for &(s, from) in &work.range_queries {
        // `end` is inclusive in VictoriaMetrics: stop one millisecond before the hour.
        let text = get_text(
            agent,
            format!(
                "{base}/api/v1/export?match%5B%5D=gauge%7Bs%3D%22{s}%22%7D&start={}&end={}",
                from as f64 / 1e3,
                (from + HOUR_MS - 1) as f64 / 1e3
            ),
        )?;
        let (count, sum) = match text.lines().next() {
            Some(line) => {
                let parsed: serde_json::Value = serde_json::from_str(line)?;
                let values = parsed["values"].as_array().cloned().unwrap_or_default();
                (values.len(), values.iter().filter_map(|v| v.as_f64()).sum())
            }
            None => (0, 0.0),
        };
        work.check_range(
            &mut figures.problems,
            "VictoriaMetrics",
            s,
            from,
            count,
            sum,
        );
    }
    figures.range_us =
        Some(started.elapsed().as_secs_f64() * 1e6 / work.range_queries.len() as f64);
    let end = BASE_MS + POINTS as i64 * INTERVAL_MS;
    let started = Instant::now();
    let text = get_text(
        agent,
        format!(
            "{base}/api/v1/query_range?query=avg_over_time%28gauge%5B5m%5D%29&start={}&end={}&step=5m",
            (BASE_MS + 300_000) as f64 / 1e3,
            end as f64 / 1e3
        ),
    )?;
    figures.downsample_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    let parsed: serde_json::Value = serde_json::from_str(&text)?;
    let buckets: usize = parsed["data"]["result"].as_array().map_or(0, |r| {
        r.iter()
            .map(|s| s["values"].as_array().map_or(0, Vec::len))
            .sum()
    });
    work.check_buckets(&mut figures.problems, "VictoriaMetrics", buckets);
    let started = Instant::now();
    let text = get_text(
        agent,
        format!(
            "{base}/api/v1/query?query=last_over_time%28gauge%5B1d%5D%29&time={}",
            end as f64 / 1e3
        ),
    )?;
    figures.latest_ms = Some(started.elapsed().as_secs_f64() * 1e3);
    let parsed: serde_json::Value = serde_json::from_str(&text)?;
    let latest = parsed["data"]["result"].as_array().map_or(0, Vec::len);
    work.check_latest(&mut figures.problems, "VictoriaMetrics", latest);
    Ok(())
}
