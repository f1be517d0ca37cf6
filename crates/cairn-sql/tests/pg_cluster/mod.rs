//! A throwaway PostgreSQL 15 cluster for the source tests: `initdb` in a temporary folder
//! (as the `postgres` user when the tests run as root: PostgreSQL refuses root), password
//! authentication (SCRAM) on 127.0.0.1 and a free port, stopped and deleted on drop.
//!
//! When PostgreSQL is not installed the tests skip with a printed reason, unless `CI` is set:
//! then they fail (CI installs it, so a missing server is a broken CI, not a skip).

use std::path::PathBuf;
use std::process::Command;

/// Where Debian installs PostgreSQL 15's server programs (`CAIRN_PG_BIN` overrides).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The superuser's password: the tests check it never shows up anywhere.
pub const PASSWORD: &str = "Sup3r-s3cret-pw";

/// A running cluster.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    /// Its port on 127.0.0.1.
    pub port: u16,
    running: bool,
}

fn bin() -> PathBuf {
    std::env::var_os("CAIRN_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(PG_BIN))
}

/// Starts a cluster, or says why not (`None` after printing the reason; a panic under CI).
pub fn start() -> Option<PgCluster> {
    let bin = bin();
    if !bin.join("initdb").exists() {
        let reason = format!(
            "PostgreSQL 15 is not installed ({}/initdb not found; apt-get install postgresql-15)",
            bin.display()
        );
        if std::env::var_os("CI").is_some() {
            panic!("{reason} — CI must install it (.ci/run)");
        }
        eprintln!("skipping: {reason}");
        return None;
    }
    Some(PgCluster::create(bin).expect("start a PostgreSQL cluster"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

impl PgCluster {
    fn create(bin: PathBuf) -> Result<PgCluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("cairn-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown")
                .arg("postgres:postgres")
                .arg(dir.path()))?;
        }
        let cluster = PgCluster {
            dir,
            bin,
            as_postgres,
            port: free_port(),
            running: false,
        };
        let pwfile = cluster.dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).map_err(|e| e.to_string())?;
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(&pwfile))?;
        }
        let data = cluster.data();
        run(cluster
            .pg("initdb")
            .args([
                "-A",
                "scram-sha-256",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .arg("-D")
            .arg(&data))?;
        let mut cluster = cluster;
        cluster.start()?;
        Ok(cluster)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg(&self, program: &str) -> Command {
        let binary = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(binary);
            c
        } else {
            Command::new(binary)
        }
    }

    /// Starts the (stopped) server.
    pub fn start(&mut self) -> Result<(), String> {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("postgres.log");
        run(self
            .pg("pg_ctl")
            .args(["-w", "-l"])
            .arg(&log)
            .args(["-o", &options, "start", "-D"])
            .arg(self.data()))?;
        self.running = true;
        Ok(())
    }

    /// Stops the server at once (a source going down).
    pub fn stop(&mut self) {
        let _ = run(self
            .pg("pg_ctl")
            .args(["-w", "-m", "immediate", "stop", "-D"])
            .arg(self.data()));
        self.running = false;
    }

    /// The URL of the `postgres` database, password included.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// A client for loading data.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url(), tokio_postgres::NoTls)
            .await
            .expect("connect to the test cluster");
        tokio::spawn(connection);
        client
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            self.stop();
        }
    }
}

fn run(command: &mut Command) -> Result<(), String> {
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(())
}
