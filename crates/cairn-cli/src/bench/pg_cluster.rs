//! A throwaway PostgreSQL 15 cluster for benchmarks that compare with PostgreSQL: created with
//! `initdb` in a folder of the benchmark, started with `pg_ctl`, listening on a Unix socket in
//! that folder only (or, for benchmarks that compare wire protocols, also on a free loopback TCP
//! port), stopped when dropped. PostgreSQL refuses to run as root, so
//! under root the programs run as the `postgres` user (`runuser`).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use postgres::{Client, NoTls};

/// Where Debian installs PostgreSQL 15's server programs.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Why PostgreSQL 15 cannot run here, if it cannot.
pub fn unavailable() -> Option<String> {
    if !Path::new(PG_BIN).join("initdb").exists() {
        return Some(format!(
            "PostgreSQL 15 is not installed ({PG_BIN}/initdb not found)"
        ));
    }
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A running private cluster.
pub struct PgCluster {
    data: PathBuf,
    socket: PathBuf,
    /// The loopback TCP port, when the cluster listens on one.
    port: Option<u16>,
    as_postgres_user: bool,
}

impl PgCluster {
    /// Creates a cluster in `dir/data` (default settings but for `shared_buffers` and the
    /// socket) and starts it.
    pub fn create(dir: &Path) -> anyhow::Result<PgCluster> {
        PgCluster::create_with(dir, None)
    }

    /// [`PgCluster::create`], also listening on a free loopback TCP port: clients then connect
    /// over TCP, as they do to Cairn's SQL port.
    pub fn create_on_tcp(dir: &Path) -> anyhow::Result<PgCluster> {
        // Bound and released: PostgreSQL binds it right after.
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        PgCluster::create_with(dir, Some(port))
    }

    fn create_with(dir: &Path, port: Option<u16>) -> anyhow::Result<PgCluster> {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let as_postgres_user = is_root();
        let cluster = PgCluster {
            data: dir.join("data"),
            socket: dir.clone(),
            port,
            as_postgres_user,
        };
        if as_postgres_user {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()?;
            if !status.success() {
                bail!("chown of {} to postgres failed", dir.display());
            }
        }
        cluster.pg(
            "initdb",
            &["-A", "trust", "-U", "postgres", "-E", "UTF8", "-D"],
            Some(&cluster.data),
        )?;
        cluster.start()?;
        Ok(cluster)
    }

    /// A new connection as the superuser to database `postgres`.
    pub fn connect(&self) -> anyhow::Result<Client> {
        let conninfo = match self.port {
            Some(port) => format!("host=127.0.0.1 port={port} user=postgres dbname=postgres"),
            None => format!(
                "host={} user=postgres dbname=postgres",
                self.socket.display()
            ),
        };
        Client::connect(&conninfo, NoTls).context("connecting to PostgreSQL")
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

    /// Starts the server (waiting until it accepts connections).
    pub fn start(&self) -> anyhow::Result<()> {
        let listen = match self.port {
            Some(port) => format!("-c listen_addresses=127.0.0.1 -p {port}"),
            None => "-c listen_addresses=''".to_string(),
        };
        let options = format!(
            "{listen} -k {} -c shared_buffers=1GB -c fsync=on -c synchronous_commit=on",
            self.socket.display()
        );
        let log = self.socket.join("postgres.log");
        let log = log.to_string_lossy().to_string();
        self.pg(
            "pg_ctl",
            &["-w", "-l", &log, "-o", &options, "start", "-D"],
            Some(&self.data),
        )
    }

    /// Stops the server (fast shutdown, waiting until it is down).
    pub fn stop(&self) -> anyhow::Result<()> {
        self.pg(
            "pg_ctl",
            &["-w", "-m", "fast", "stop", "-D"],
            Some(&self.data),
        )
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Best effort: a leftover server would hold the benchmark folder.
        let _ = self.stop();
    }
}
