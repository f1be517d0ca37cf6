//! DuckDB in the SQL benchmark (PyPI `duckdb`, native columns, in a `python3` process): the
//! same rows loaded from CSV into a file database, the same queries as prepared statements.
//! Each query goes over a pipe (one line of parameters in, one JSON line of rows out), which
//! adds tens of microseconds per query: negligible for the analytic rows, the dominant cost of
//! the point rows (which issue 23 compares with PostgreSQL, not DuckDB). Skipped with a message
//! when `duckdb` does not import.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use anyhow::{bail, Context};

use super::{rounded, Answer, Data, Probe, SqlSystem, PRICE_RANGE};

const SCRIPT: &str = r#"
import json, sys
import duckdb
root = sys.argv[1]
con = duckdb.connect(root + "/duck.db")
def load(table, columns, csv):
    cols = ", ".join(f"'{n}': '{t}'" for n, t in columns)
    path = (root + "/" + csv).replace("'", "''")
    con.execute(f"CREATE TABLE {table} AS SELECT * FROM read_csv('{path}', header=false, delim=',', columns={{{cols}}})")
load("docs", [("_id", "BIGINT"), ("account", "BIGINT"), ("price", "DOUBLE"), ("category", "VARCHAR"), ("score", "DOUBLE")], "docs.csv")
load("accounts", [("_id", "BIGINT"), ("account", "BIGINT"), ("region", "VARCHAR")], "accounts.csv")
for ddl in ["CREATE UNIQUE INDEX docs_id ON docs (_id)", "CREATE INDEX docs_account ON docs (account)",
            "CREATE INDEX accounts_account ON accounts (account)", "CHECKPOINT"]:
    con.execute(ddl)
Q = [
    "SELECT _id, account, price, category, score FROM docs WHERE _id = $1",
    "SELECT _id, price FROM docs WHERE account = $1",
    "SELECT category, count(*), avg(price) FROM docs WHERE price >= $1 AND price < $2 GROUP BY category",
    "SELECT a.region, count(*), sum(d.price) FROM docs d JOIN accounts a ON d.account = a.account WHERE d.price >= $1 AND d.price < $2 GROUP BY a.region",
    "SELECT score FROM docs ORDER BY score LIMIT 10",
]
print("ready", flush=True)
for line in sys.stdin:
    parts = line.split()
    kind = int(parts[0])
    args = [int(parts[1])] if kind in (0, 1) else [float(p) for p in parts[1:]]
    rows = con.execute(Q[kind], args).fetchall()
    print(json.dumps(rows), flush=True)
"#;

pub struct DuckdbSide {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl DuckdbSide {
    pub fn create(dir: &Path, data: &Data) -> anyhow::Result<DuckdbSide> {
        std::fs::create_dir_all(dir)?;
        let mut docs = std::io::BufWriter::new(std::fs::File::create(dir.join("docs.csv"))?);
        for d in &data.docs {
            writeln!(
                docs,
                "{},{},{},{},{}",
                d.id, d.account, d.price, d.category, d.score
            )?;
        }
        docs.flush()?;
        let mut accounts =
            std::io::BufWriter::new(std::fs::File::create(dir.join("accounts.csv"))?);
        for (account, region) in &data.accounts {
            writeln!(accounts, "{account},{account},{region}")?;
        }
        accounts.flush()?;
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running python3")?;
        let input = child.stdin.take().context("python3 stdin")?;
        let mut output = BufReader::new(child.stdout.take().context("python3 stdout")?);
        let mut line = String::new();
        output.read_line(&mut line)?;
        if line.trim() != "ready" {
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                use std::io::Read;
                let _ = stderr.read_to_string(&mut err);
            }
            let _ = child.kill();
            let _ = child.wait();
            bail!("{}", err.lines().last().unwrap_or("python3 exited"));
        }
        Ok(DuckdbSide {
            child,
            input,
            output,
        })
    }

    fn rows(&mut self, request: String) -> anyhow::Result<Vec<serde_json::Value>> {
        writeln!(self.input, "{request}")?;
        self.input.flush()?;
        let mut line = String::new();
        self.output.read_line(&mut line)?;
        let rows: Vec<serde_json::Value> =
            serde_json::from_str(&line).with_context(|| format!("DuckDB answered {line:?}"))?;
        Ok(rows)
    }
}

fn text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn float(v: &serde_json::Value) -> String {
    rounded(v.as_f64().unwrap_or(f64::NAN))
}

impl SqlSystem for DuckdbSide {
    fn name(&self) -> &'static str {
        "DuckDB"
    }

    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer> {
        let (request, kind) = match probe {
            Probe::Point(id) => (format!("0 {id}"), 0),
            Probe::Equality(account) => (format!("1 {account}"), 1),
            Probe::RangeGroup(low) => (format!("2 {low} {}", low + PRICE_RANGE), 2),
            Probe::Join(low) => (format!("3 {low} {}", low + PRICE_RANGE), 3),
            Probe::TopK => ("4".to_string(), 4),
        };
        let rows = self.rows(request)?;
        let mut answer: Vec<String> = rows
            .iter()
            .map(|r| match kind {
                0 => format!(
                    "{}|{}|{}|{}|{}",
                    text(&r[0]),
                    text(&r[1]),
                    float(&r[2]),
                    text(&r[3]),
                    float(&r[4])
                ),
                1 => format!("{}|{}", text(&r[0]), float(&r[1])),
                2 | 3 => format!("{}|{}|{}", text(&r[0]), text(&r[1]), float(&r[2])),
                _ => float(&r[0]),
            })
            .collect();
        if kind != 4 && kind != 0 {
            answer.sort();
        }
        Ok(answer)
    }
}

impl Drop for DuckdbSide {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
