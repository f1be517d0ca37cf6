//! PostgreSQL 15 in the SQL benchmark: a private cluster started under the benchmark folder
//! (`initdb`, `pg_ctl`; as the `postgres` user when run as root, since PostgreSQL refuses
//! root), listening on a free loopback TCP port like Cairn's SQL port, native columns with the
//! same indexes, `ANALYZE`d, the same queries through the same client.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use postgres::{Client, NoTls, Statement};

use super::cairn_side::{grouped, sorted, QUERIES};
use super::{rounded, Answer, Data, Probe, SqlSystem, PRICE_RANGE};

/// Where Debian installs PostgreSQL 15's server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Why PostgreSQL cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    (!Path::new(PG_BIN).join("initdb").exists())
        .then(|| format!("PostgreSQL 15 is not installed ({PG_BIN}/initdb not found)"))
}

pub struct PostgresSide {
    client: Option<Client>,
    statements: Vec<Statement>,
    data: PathBuf,
    as_postgres_user: bool,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A free loopback port (bound and released: PostgreSQL binds it right after).
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl PostgresSide {
    pub fn create(dir: &Path, data: &Data) -> anyhow::Result<PostgresSide> {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let as_postgres_user = is_root();
        if as_postgres_user {
            let status = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("chown of {} to postgres failed", dir.display());
            }
        }
        let mut side = PostgresSide {
            client: None,
            statements: Vec::new(),
            data: dir.join("data"),
            as_postgres_user,
        };
        let data_dir = side.data.clone();
        side.pg(
            "initdb",
            &["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"],
            Some(&data_dir),
        )?;
        let port = free_port()?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c shared_buffers=1GB -c fsync=on \
             -c synchronous_commit=on",
            dir.display()
        );
        let log = dir.join("postgres.log").to_string_lossy().to_string();
        side.pg(
            "pg_ctl",
            &["-w", "-l", &log, "-o", &options, "start", "-D"],
            Some(&data_dir),
        )?;
        let mut client = postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user("postgres")
            .dbname("postgres")
            .connect(NoTls)
            .context("connecting to PostgreSQL")?;
        load(&mut client, data)?;
        side.statements = QUERIES
            .iter()
            .map(|q| client.prepare(q))
            .collect::<Result<Vec<_>, _>>()?;
        side.client = Some(client);
        Ok(side)
    }

    fn pg(&self, program: &str, args: &[&str], path: Option<&Path>) -> anyhow::Result<()> {
        let binary = Path::new(PG_BIN).join(program);
        let mut command = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        command.args(args);
        if let Some(path) = path {
            command.arg(path);
        }
        let output = command
            .output()
            .with_context(|| format!("running {program}"))?;
        if !output.status.success() {
            bail!(
                "{program} failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

fn load(client: &mut Client, data: &Data) -> anyhow::Result<()> {
    client.batch_execute(
        "CREATE TABLE docs (_id BIGINT PRIMARY KEY, account BIGINT NOT NULL, \
         price DOUBLE PRECISION NOT NULL, category TEXT NOT NULL, score DOUBLE PRECISION NOT NULL); \
         CREATE TABLE accounts (_id BIGINT PRIMARY KEY, account BIGINT NOT NULL, region TEXT NOT NULL)",
    )?;
    let mut writer = client.copy_in("COPY docs FROM STDIN")?;
    for d in &data.docs {
        writeln!(
            writer,
            "{}\t{}\t{}\t{}\t{}",
            d.id, d.account, d.price, d.category, d.score
        )?;
    }
    writer.finish()?;
    let mut writer = client.copy_in("COPY accounts FROM STDIN")?;
    for (account, region) in &data.accounts {
        writeln!(writer, "{account}\t{account}\t{region}")?;
    }
    writer.finish()?;
    client.batch_execute(
        "CREATE INDEX docs_account ON docs (account); CREATE INDEX docs_price ON docs (price); \
         CREATE INDEX docs_score ON docs (score); CREATE INDEX accounts_account ON accounts (account); \
         ANALYZE",
    )?;
    Ok(())
}

impl SqlSystem for PostgresSide {
    fn name(&self) -> &'static str {
        "PostgreSQL"
    }

    fn run(&mut self, probe: Probe) -> anyhow::Result<Answer> {
        let client = self.client.as_mut().context("not connected")?;
        let s = &self.statements;
        Ok(match probe {
            Probe::Point(id) => client
                .query(&s[0], &[&id])?
                .iter()
                .map(|r| {
                    format!(
                        "{}|{}|{}|{}|{}",
                        r.get::<_, i64>(0),
                        r.get::<_, i64>(1),
                        rounded(r.get(2)),
                        r.get::<_, String>(3),
                        rounded(r.get(4))
                    )
                })
                .collect(),
            Probe::Equality(account) => sorted(
                client
                    .query(&s[1], &[&account])?
                    .iter()
                    .map(|r| format!("{}|{}", r.get::<_, i64>(0), rounded(r.get(1)))),
            ),
            Probe::RangeGroup(low) => grouped(&client.query(&s[2], &[&low, &(low + PRICE_RANGE)])?),
            Probe::Join(low) => grouped(&client.query(&s[3], &[&low, &(low + PRICE_RANGE)])?),
            Probe::TopK => client
                .query(&s[4], &[])?
                .iter()
                .map(|r| rounded(r.get(0)))
                .collect(),
        })
    }
}

impl Drop for PostgresSide {
    fn drop(&mut self) {
        self.client = None;
        // Best effort: a leftover server would hold the benchmark folder.
        let data = self.data.clone();
        let _ = self.pg("pg_ctl", &["-w", "-m", "fast", "stop", "-D"], Some(&data));
    }
}
