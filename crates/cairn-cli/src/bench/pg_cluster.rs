//! A private PostgreSQL 15 cluster for the benchmarks that compare with PostgreSQL (geo, text):
//! created with `initdb` in the benchmark folder, listening on a Unix socket there only, stopped
//! when dropped. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};
use postgres::{Client, NoTls};

/// Where Debian installs PostgreSQL 15's server programs.
pub(crate) const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A running private cluster.
pub(crate) struct PgCluster {
    data: PathBuf,
    socket: PathBuf,
    as_postgres_user: bool,
}

/// Why PostgreSQL cannot run here, if it cannot.
pub(crate) fn unavailable() -> Option<String> {
    if Path::new(PG_BIN).join("initdb").exists() {
        None
    } else {
        Some(format!(
            "PostgreSQL 15 is not installed ({PG_BIN}/initdb not found)"
        ))
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PgCluster {
    /// Creates and starts a cluster under `dir`.
    pub(crate) fn create(dir: &Path) -> anyhow::Result<PgCluster> {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;
        let as_postgres_user = is_root();
        let cluster = PgCluster {
            data: dir.join("data"),
            socket: dir.clone(),
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

    /// Starts the server (durable commits, 1 GB of shared buffers).
    pub(crate) fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-c listen_addresses='' -k {} -c shared_buffers=1GB -c fsync=on -c synchronous_commit=on",
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

    /// Stops the server (fast shutdown).
    pub(crate) fn stop(&self) -> anyhow::Result<()> {
        self.pg(
            "pg_ctl",
            &["-w", "-m", "fast", "stop", "-D"],
            Some(&self.data),
        )
    }

    /// A new connection as `postgres` to the `postgres` database.
    pub(crate) fn connect(&self) -> anyhow::Result<Client> {
        let conninfo = format!(
            "host={} user=postgres dbname=postgres",
            self.socket.display()
        );
        Client::connect(&conninfo, NoTls).context("connecting to PostgreSQL")
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // Best effort: a leftover server would hold the benchmark folder.
        let _ = self.stop();
    }
}
