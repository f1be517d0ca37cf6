//! `cairn bench federation`: one SQL join of a Cairn collection with a PostgreSQL table
//! filtered to 0.1 %, run three ways on the same data in one run.
//!
//! # Workload
//!
//! - Cairn (persistent mode): `stations`, N documents `{"_id": i, "region": "r{i % 50}",
//!   "elevation": i % 1000}`.
//! - PostgreSQL 15 (a private cluster started by the benchmark on 127.0.0.1, `fsync=off`):
//!   `readings(id int8 primary key, station int8, value int8, payload text)`, N rows with
//!   `station = (i · 7919) mod N`, `value = i mod 1000`, a 40-byte payload, and an index on
//!   `value`. The filter `value = 7` keeps 0.1 %.
//! - Query: `SELECT s.region, count(*), sum(s.elevation) FROM pg.public.readings r JOIN
//!   stations s ON s._id = r.station WHERE r.value = 7 GROUP BY s.region`.
//!
//! Systems:
//! - **Cairn**: the query through `cairn sql`'s session, the table through a `postgres`
//!   source (the filter pushed, so PostgreSQL sends only the matching rows).
//! - **PostgreSQL alone**: the Cairn documents copied into a table `stations` (`COPY`, primary
//!   key), the same join in PostgreSQL.
//! - **DuckDB** (PyPI `duckdb`): its `postgres` scanner is an extension downloaded at run time,
//!   which fails offline; the benchmark tries it and prints why it could not, then runs the
//!   join on a local copy of both tables (exported to CSV and loaded; load time not counted,
//!   rows transferred = the whole table).
//!
//! Each timed query runs once to warm up and then `REPEAT` times; the median is reported with
//! the rows transferred from PostgreSQL, and every answer is compared with PostgreSQL's.
//! Default N = 100,000 (about a minute); `--docs 1000000` is the reference scale.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use cairn::{Config, StorageMode, Value};
use cairn_sql::source::{SourceDef, SourceKind};
use cairn_sql::SqlSession;

/// Timed runs of each query (after one warm-up run).
const REPEAT: usize = 5;
/// Documents per Cairn load transaction.
const LOAD_BATCH: usize = 10_000;
/// Where Debian installs PostgreSQL 15's server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The `value` the filter keeps (one in 1,000 rows).
const FILTER_VALUE: i64 = 7;

/// `cairn bench federation`.
#[derive(Debug, Clone, clap::Args)]
pub struct FederationArgs {
    /// Documents in the Cairn collection and rows in the PostgreSQL table.
    #[arg(long, default_value_t = 100_000)]
    pub docs: usize,
    /// Where to create the stores (kept afterwards); default: a temporary folder, removed.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The query, with `{stations}` and `{readings}` to fill per system.
fn query(stations: &str, readings: &str) -> String {
    format!(
        "SELECT s.region, count(*) AS n, sum(s.elevation) AS elevation FROM {readings} r \
         JOIN {stations} s ON s._id = r.station WHERE r.value = {FILTER_VALUE} \
         GROUP BY s.region ORDER BY s.region"
    )
}

/// One system's figures.
struct Figures {
    name: String,
    median: Option<Duration>,
    transferred: Option<u64>,
    answer: Vec<String>,
    note: String,
}

/// Runs the benchmark.
pub fn run(args: &FederationArgs) -> anyhow::Result<()> {
    if args.docs < 1_000 || args.docs > super::limits::MAX_FEDERATION_DOCS {
        bail!(
            "--docs must be between 1,000 and {}",
            super::limits::MAX_FEDERATION_DOCS
        );
    }
    if !Path::new(PG_BIN).join("initdb").exists() {
        bail!("PostgreSQL 15 is not installed ({PG_BIN}/initdb not found; apt-get install postgresql-15)");
    }
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("cairn-bench-federation-")
                .tempdir()?,
        ),
    };
    let dir = match (&args.dir, &temp) {
        (Some(dir), _) => dir.clone(),
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!("a temporary folder when no --dir"),
    };
    std::fs::create_dir_all(&dir)?;
    let n = args.docs;
    println!("cairn bench federation: {n} documents joined with {n} PostgreSQL rows filtered to 0.1 % ({} rows)", n / 1000);
    let pg = Cluster::start(&dir.join("pg"))?;
    let load = Instant::now();
    pg.sql(&format!(
        "CREATE TABLE readings (id int8 PRIMARY KEY, station int8, value int8, payload text);
         INSERT INTO readings SELECT i, (i * 7919) % {n}, i % 1000, md5(i::text) || '-padding'
           FROM generate_series(0::int8, {last}) AS i;
         CREATE INDEX readings_value ON readings (value);
         ANALYZE readings;",
        last = n - 1
    ))?;
    let db = cairn::open(Config::new(dir.join("cairn"), StorageMode::Persistent))?;
    load_cairn(&db, n)?;
    copy_into_postgres(&pg, n)?;
    println!("loaded in {:.1} s", load.elapsed().as_secs_f64());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let cairn_side = runtime.block_on(cairn_side(&db, &pg))?;
    let pg_side = pg_side(&pg)?;
    let duck = duckdb_side(&dir, &pg)?;
    report(&[cairn_side, pg_side, duck], n);
    drop(pg);
    Ok(())
}

fn load_cairn(db: &cairn::Database, n: usize) -> anyhow::Result<()> {
    if db.list_collections()?.iter().any(|c| c.name == "stations") {
        db.drop_collection("stations")?;
    }
    db.create_collection("stations")?;
    for start in (0..n).step_by(LOAD_BATCH) {
        let mut txn = db.begin()?;
        for i in start..(start + LOAD_BATCH).min(n) {
            let mut doc = cairn::Object::new();
            doc.insert("_id", Value::Int(i as i64));
            doc.insert("region", Value::String(format!("r{}", i % 50)));
            doc.insert("elevation", Value::Int((i % 1000) as i64));
            txn.insert("stations", Value::Object(doc))?;
        }
        txn.commit()?;
    }
    Ok(())
}

/// "PostgreSQL alone": the same documents in a PostgreSQL table.
fn copy_into_postgres(pg: &Cluster, n: usize) -> anyhow::Result<()> {
    pg.sql(&format!(
        "CREATE TABLE stations (_id int8 PRIMARY KEY, region text, elevation int8);
         INSERT INTO stations SELECT i, 'r' || (i % 50), i % 1000 FROM generate_series(0, {}) AS i;
         ANALYZE stations;",
        n - 1
    ))
}

async fn cairn_side(db: &cairn::Database, pg: &Cluster) -> anyhow::Result<Figures> {
    let url = pg.url();
    let def = SourceDef::new("pg", SourceKind::Postgres, &url)?;
    let _ = cairn_sql::source::remove(db, "pg");
    cairn_sql::source::add(db, &def)?;
    let mut session = SqlSession::new(db.clone());
    let registry = session.sources()?;
    let sql = query("stations", "pg.public.readings");
    let mut times = Vec::new();
    let mut answer = Vec::new();
    let mut transferred = 0;
    for round in 0..=REPEAT {
        let before = registry.rows_transferred("pg");
        let started = Instant::now();
        answer = rows(&mut session, &sql).await?;
        if round > 0 {
            times.push(started.elapsed());
        }
        transferred = registry.rows_transferred("pg") - before;
    }
    let plan = rows(&mut session, &format!("EXPLAIN {sql}")).await?;
    let statement = plan
        .iter()
        .find_map(|line| {
            line.split("sql=[")
                .nth(1)
                .map(|s| s.split(']').next().unwrap_or(s).to_string())
        })
        .unwrap_or_default();
    Ok(Figures {
        name: "Cairn + postgres source".into(),
        median: Some(median(times)),
        transferred: Some(transferred),
        answer,
        note: format!("sent: {statement}"),
    })
}

async fn rows(session: &mut SqlSession, sql: &str) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for (_, batches, _) in session
        .execute_all(sql)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        out.extend(cairn_sql::text::rows(&batches).map_err(|e| anyhow::anyhow!("{e}"))?);
    }
    Ok(out)
}

fn pg_side(pg: &Cluster) -> anyhow::Result<Figures> {
    let mut client = pg.client()?;
    let sql = query("stations", "readings");
    let mut times = Vec::new();
    let mut answer = Vec::new();
    for round in 0..=REPEAT {
        let started = Instant::now();
        let result = client.query(sql.as_str(), &[])?;
        if round > 0 {
            times.push(started.elapsed());
        }
        answer = result
            .iter()
            .map(|row| {
                format!(
                    "{} {} {}",
                    row.get::<_, String>(0),
                    row.get::<_, i64>(1),
                    row.get::<_, pg_numeric::Numeric>(2).0
                )
            })
            .collect();
    }
    Ok(Figures {
        name: "PostgreSQL alone".into(),
        median: Some(median(times)),
        transferred: None,
        answer,
        note: "both tables in PostgreSQL".into(),
    })
}

/// `sum(int8)` is `numeric` in PostgreSQL; read as text, without a decimal crate.
mod pg_numeric {
    use postgres::types::{FromSql, Type};

    /// A `numeric` as PostgreSQL prints it.
    pub struct Numeric(pub String);

    impl<'a> FromSql<'a> for Numeric {
        fn from_sql(
            _: &Type,
            raw: &'a [u8],
        ) -> Result<Numeric, Box<dyn std::error::Error + Sync + Send>> {
            Ok(Numeric(super::numeric_text(raw)?))
        }

        fn accepts(ty: &Type) -> bool {
            *ty == Type::NUMERIC
        }
    }
}

/// PostgreSQL's binary `numeric` (base-10000 digits) of an integer as text.
fn numeric_text(raw: &[u8]) -> Result<String, Box<dyn std::error::Error + Sync + Send>> {
    if raw.len() < 8 {
        return Err("short numeric".into());
    }
    let word = |i: usize| i16::from_be_bytes([raw[2 * i], raw[2 * i + 1]]);
    let ndigits = word(0) as usize;
    let weight = word(1) as i32;
    let sign = word(2) as u16;
    if raw.len() < 8 + 2 * ndigits {
        return Err("short numeric".into());
    }
    let mut value: i128 = 0;
    for position in 0..=weight.max(-1) {
        let digit = if (position as usize) < ndigits {
            word(4 + position as usize) as i128
        } else {
            0
        };
        value = value * 10_000 + digit;
    }
    if sign == 0x4000 {
        value = -value;
    }
    Ok(value.to_string())
}

/// DuckDB: the scanner if it loads, else the join on local copies.
fn duckdb_side(dir: &Path, pg: &Cluster) -> anyhow::Result<Figures> {
    let readings = dir.join("readings.csv");
    let stations = dir.join("stations.csv");
    pg.copy_out("readings", &readings)?;
    pg.copy_out("stations", &stations)?;
    let script = format!(
        r#"
import json, statistics, sys, time
try:
    import duckdb
except Exception as e:
    print(json.dumps({{"error": "duckdb does not import: %s" % e}})); sys.exit(0)
con = duckdb.connect()
scanner = None
try:
    con.execute("INSTALL postgres; LOAD postgres;")
    scanner = "loaded"
except Exception as e:
    scanner = str(e).splitlines()[0][:160]
con.execute("CREATE TABLE readings AS SELECT * FROM read_csv('{readings}', header=true)")
con.execute("CREATE TABLE stations AS SELECT * FROM read_csv('{stations}', header=true)")
sql = """{sql}"""
times = []
for i in range({repeat} + 1):
    t = time.perf_counter(); rows = con.execute(sql).fetchall(); e = time.perf_counter() - t
    if i > 0: times.append(e)
print(json.dumps({{"median": statistics.median(times), "rows": ["%s %s %s" % r for r in rows],
                   "scanner": scanner, "version": duckdb.__version__}}))
"#,
        readings = readings.display(),
        stations = stations.display(),
        sql = query("stations", "readings"),
        repeat = REPEAT,
    );
    let output = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .context("running python3")?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    let parsed: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|_| {
        serde_json::json!({"error": String::from_utf8_lossy(&output.stderr).trim().to_string()})
    });
    if let Some(error) = parsed["error"].as_str() {
        return Ok(Figures {
            name: "DuckDB".into(),
            median: None,
            transferred: None,
            answer: Vec::new(),
            note: format!("not run: {error}"),
        });
    }
    let rows_total = pg.count("readings")?;
    let scanner = parsed["scanner"].as_str().unwrap_or_default();
    Ok(Figures {
        name: format!(
            "DuckDB {} (local copy)",
            parsed["version"].as_str().unwrap_or_default()
        ),
        median: parsed["median"].as_f64().map(Duration::from_secs_f64),
        transferred: Some(rows_total),
        answer: parsed["rows"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default(),
        note: format!("postgres scanner: {scanner}; whole table copied, load not timed"),
    })
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn report(figures: &[Figures], n: usize) {
    let base = figures
        .iter()
        .find(|f| f.name == "PostgreSQL alone")
        .and_then(|f| f.median);
    let reference: Option<&Vec<String>> = figures
        .iter()
        .find(|f| f.name == "PostgreSQL alone")
        .map(|f| &f.answer);
    println!();
    println!(
        "| system | median time | rows transferred from PostgreSQL | time vs PostgreSQL alone | answer |"
    );
    println!("|---|---:|---:|---:|---|");
    for f in figures {
        let time = f.median.map_or("—".to_string(), |t| {
            format!("{:.2} ms", t.as_secs_f64() * 1e3)
        });
        let ratio = match (f.median, base) {
            (Some(t), Some(b)) if !b.is_zero() => {
                format!("{:.2}×", t.as_secs_f64() / b.as_secs_f64())
            }
            _ => "—".to_string(),
        };
        let transferred = f.transferred.map_or("—".to_string(), |r| r.to_string());
        let answer = match reference {
            _ if f.answer.is_empty() => "—".to_string(),
            Some(r) if *r == f.answer => "same".to_string(),
            _ => "DIFFERENT".to_string(),
        };
        println!(
            "| {} | {time} | {transferred} | {ratio} | {answer} |",
            f.name
        );
    }
    println!();
    println!("rows matched by the filter: {}", n / 1000);
    for f in figures {
        println!("{}: {}", f.name, f.note);
    }
}

/// A private PostgreSQL 15 cluster on 127.0.0.1 and a free port (trust authentication; as the
/// `postgres` user when run as root), stopped on drop.
struct Cluster {
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl Cluster {
    fn start(dir: &Path) -> anyhow::Result<Cluster> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)?;
        }
        std::fs::create_dir_all(dir)?;
        let as_postgres = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        if as_postgres {
            run_command(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:postgres")
                    .arg(dir),
            )?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let cluster = Cluster {
            data: dir.join("data"),
            port,
            as_postgres,
        };
        run_command(
            cluster
                .pg("initdb")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "-D",
                ])
                .arg(&cluster.data),
        )?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c shared_buffers=256MB",
            dir.display()
        );
        run_command(
            cluster
                .pg("pg_ctl")
                .args(["-w", "-l"])
                .arg(dir.join("postgres.log"))
                .args(["-o", &options, "start", "-D"])
                .arg(&cluster.data),
        )?;
        Ok(cluster)
    }

    fn pg(&self, program: &str) -> Command {
        let binary = Path::new(PG_BIN).join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(binary);
            c
        } else {
            Command::new(binary)
        }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn client(&self) -> anyhow::Result<postgres::Client> {
        postgres::Client::connect(&self.url(), postgres::NoTls).context("connecting to PostgreSQL")
    }

    fn sql(&self, sql: &str) -> anyhow::Result<()> {
        self.client()?
            .batch_execute(sql)
            .context("loading PostgreSQL")
    }

    fn count(&self, table: &str) -> anyhow::Result<u64> {
        let row = self
            .client()?
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn copy_out(&self, table: &str, path: &Path) -> anyhow::Result<()> {
        let mut client = self.client()?;
        let mut reader =
            client.copy_out(&format!("COPY {table} TO STDOUT WITH (FORMAT csv, HEADER)"))?;
        let mut file = std::fs::File::create(path)?;
        std::io::copy(&mut reader, &mut file)?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run_command(
            self.pg("pg_ctl")
                .args(["-w", "-m", "fast", "stop", "-D"])
                .arg(&self.data),
        );
    }
}

fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let output = command.output().with_context(|| format!("{command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
