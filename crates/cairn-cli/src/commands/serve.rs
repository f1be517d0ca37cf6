//! `cairn serve`: builds the server configuration (file, then flags, then the environment's
//! root password), starts the server, tells the operator where it listens and how to log in,
//! and runs until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use cairn_server::auth::store::RootBootstrap;
use cairn_server::{ReplicationStarter, TlsConfig};
use cairn_server::{ServerConfig, StartupInfo};

use crate::cli::Cli;

/// Environment variable holding the password of the `root` user created on first start.
pub const ROOT_PASSWORD_ENV: &str = "CAIRN_ROOT_PASSWORD";

/// Arguments of `cairn serve`. Flags override the configuration file.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TOML configuration file (see cairn.example.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:7878]; port 0 picks a free port.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Also serve `GET /metrics` without credentials on this loopback address (for
    /// Prometheus); on the main address `/metrics` needs an admin.
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// Also serve SQL over the PostgreSQL wire protocol on this address (psql, drivers);
    /// same users and grants as HTTP, SCRAM-SHA-256 logins. Needs authentication on.
    #[arg(long)]
    pub pg_listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM); serves HTTPS together with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Turn authentication off: every client gets full access. Local experiments only.
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Largest request body in bytes.
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Largest document in bytes (as encoded).
    #[arg(long)]
    pub max_document_bytes: Option<usize>,
    /// Requests processed at once; more get 503.
    #[arg(long)]
    pub max_concurrent_requests: Option<usize>,
    /// Milliseconds a request may take; longer ones get 408.
    #[arg(long)]
    pub request_timeout_ms: Option<u64>,
    /// Open change streams at once.
    #[arg(long)]
    pub max_change_streams: Option<usize>,
    /// Milliseconds a graceful shutdown waits for requests in flight.
    #[arg(long)]
    pub shutdown_deadline_ms: Option<u64>,
    /// Change-log entries to keep (change streams resume within them).
    #[arg(long)]
    pub changelog_retention: Option<u64>,
    /// MiB of write-ahead log between checkpoints (`[storage] wal_checkpoint_mb`; default 64):
    /// also the free space a restart after a full disk needs to replay it.
    #[arg(long)]
    pub wal_checkpoint_mb: Option<u64>,
    /// Folder online backups (`POST /v1/admin/backup`, `cairn backup --server`) are written
    /// under; without it (or `[backup] root`) the server takes no backups.
    #[arg(long)]
    pub backup_root: Option<PathBuf>,
    /// Create a missing collection on the first write that stores a document in it
    /// (`auto_create_collections` in the file), as MongoDB does. Off by default.
    #[arg(long)]
    pub auto_create_collections: bool,
    /// Log filter, e.g. `info` or `cairn_server=debug,info`.
    #[arg(long, env = "CAIRN_LOG", default_value = "info")]
    pub log: String,
}

/// Runs the server until a shutdown signal.
pub fn run(cli: &Cli, args: &ServeArgs) -> anyhow::Result<()> {
    let config = build_config(cli, args)?;
    cairn_server::init_logging(&args.log);
    if config.cluster.is_some() {
        // A snapshot staged before a restart (or a crash) replaces the database before
        // anything opens it.
        cairn_cluster::finish_pending_install(&config.data_dir)
            .context("finishing the install of a snapshot from the leader")?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let pg_listen = config.pg_listen;
    if pg_listen.is_some() && !config.auth.enabled {
        anyhow::bail!(
            "--pg-listen needs authentication: SQL logins are checked against the users' \
             passwords (drop --insecure-no-auth)"
        );
    }
    let pg_timeout = std::time::Duration::from_millis(config.limits.request_timeout_ms);
    let pg_tls = config.tls.clone();
    runtime.block_on(async {
        let server = cairn_server::start(config).await?;
        let (stop_pg, pg_stopped) = tokio::sync::watch::channel(false);
        let pg = match pg_listen {
            Some(address) => Some(start_pg(&server, address, pg_timeout, pg_tls.as_ref()).await?),
            None => None,
        };
        // The banner, SQL line included, is printed in one go (tests read it).
        announce(server.info());
        if let Some(pg) = pg {
            let address = pg.local_addr()?;
            println!(
                "sql:          psql -h {} -p {} -U USER cairn   (PostgreSQL wire protocol)",
                address.ip(),
                address.port()
            );
            let mut stopped = pg_stopped;
            tokio::spawn(pg.run(async move {
                let _ = stopped.wait_for(|&stop| stop).await;
            }));
        }
        // Tells other `cairn` commands which server holds the folder (removed on a clean stop).
        let _note = server
            .info()
            .mode
            .has_files()
            .then(|| crate::holder::announce(&server.info().data_dir, &server.info().url()));
        server
            .run_until(async move {
                cairn_server::shutdown_signal().await;
                let _ = stop_pg.send(true);
            })
            .await?;
        anyhow::Ok(())
    })?;
    println!("cairn serve: stopped cleanly");
    Ok(())
}

/// Binds the SQL (PostgreSQL wire protocol) server beside the HTTP one, on its database and
/// users.
async fn start_pg(
    server: &cairn_server::RunningServer,
    address: SocketAddr,
    statement_timeout: std::time::Duration,
    tls: Option<&cairn_server::TlsConfig>,
) -> anyhow::Result<cairn_sql::pg::PgServer> {
    let db = server.database().clone();
    let users = std::sync::Arc::new(super::serve_pg::ServerUsers::new(db.clone()));
    // With `[tls]`, the SQL port uses the same certificate and takes TLS connections only.
    let tls = match tls {
        Some(tls) => Some(cairn_sql::pg::tls::PgTls::required(
            cairn_server::tls::server_config(tls)?,
        )),
        None => None,
    };
    let config = cairn_sql::pg::PgConfig {
        statement_timeout,
        tls,
        ..cairn_sql::pg::PgConfig::default()
    };
    cairn_sql::pg::PgServer::bind(address, db, users, config)
        .await
        .with_context(|| format!("listening for SQL on {address}"))
}

/// The configuration file's settings with the flags applied over them.
fn build_config(cli: &Cli, args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let mut config = match &args.config {
        Some(path) => ServerConfig::from_file(path)?,
        None => ServerConfig::default(),
    };
    if let Some(data) = &cli.data {
        config.data_dir = data.clone();
    }
    let storage = &mut config.storage;
    override_with(&mut storage.mode, cli.mode.map(|m| m.name().to_string()));
    override_with(&mut storage.flush_interval_ms, cli.flush_interval_ms);
    override_with(&mut storage.memory_budget_mb, cli.memory_budget_mb);
    override_with(&mut storage.changelog_retention, args.changelog_retention);
    override_with(&mut storage.wal_checkpoint_mb, args.wal_checkpoint_mb);
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    if let Some(address) = args.metrics_listen {
        config.metrics_listen = Some(address);
    }
    if let Some(address) = args.pg_listen {
        config.pg_listen = Some(address);
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if args.insecure_no_auth {
        config.auth.enabled = false;
    }
    config.sources = Some(super::source::server_starter());
    if args.auto_create_collections {
        config.auto_create_collections = true;
    }
    override_with(&mut config.backup.root, args.backup_root.clone());
    let limits = &mut config.limits;
    set(&mut limits.max_body_bytes, args.max_body_bytes);
    set(&mut limits.max_document_bytes, args.max_document_bytes);
    set(
        &mut limits.max_concurrent_requests,
        args.max_concurrent_requests,
    );
    set(&mut limits.request_timeout_ms, args.request_timeout_ms);
    set(&mut limits.max_change_streams, args.max_change_streams);
    set(&mut limits.shutdown_deadline_ms, args.shutdown_deadline_ms);
    // The same key, compression and profile handling as every other command.
    let database = crate::open::config(cli)?;
    config.database = cairn_server::DatabaseOptions {
        encryption: database.encryption,
        compression: Some(database.compression),
    };
    wire_cluster(&mut config)?;
    config.root_password = std::env::var(ROOT_PASSWORD_ENV)
        .ok()
        .filter(|password| !password.is_empty());
    Ok(config)
}

/// Environment variable overriding `[cluster] secret` (keeps it out of the file).
pub const CLUSTER_SECRET_ENV: &str = "CAIRN_CLUSTER_SECRET";

/// With a `[cluster]` section, hands the server the replication layer to start over its
/// database (the server itself never depends on `cairn-cluster`).
fn wire_cluster(config: &mut ServerConfig) -> anyhow::Result<()> {
    if config.cluster.is_some() && config.database.encryption.is_some() {
        // The Raft log holds every replicated document in the clear.
        anyhow::bail!(
            "an encrypted database cannot be part of a cluster yet (the Raft log is not encrypted)"
        );
    }
    let Some(cluster) = config.cluster.as_mut() else {
        return Ok(());
    };
    if let Some(secret) = std::env::var(CLUSTER_SECRET_ENV)
        .ok()
        .filter(|s| !s.is_empty())
    {
        cluster.secret = secret;
    }
    let cluster = cluster.clone();
    let link_tls = link_tls(&cluster, config.tls.as_ref())?;
    let data_dir = config.data_dir.clone();
    let default_api_url = format!("http://{}", config.listen);
    config.replication = Some(ReplicationStarter(std::sync::Arc::new(move |db| {
        let cluster = cluster.clone();
        let data_dir = data_dir.clone();
        let default_api_url = default_api_url.clone();
        let link_tls = link_tls.clone();
        Box::pin(async move {
            let node =
                cairn_cluster::start(db, &data_dir, &cluster, default_api_url, link_tls.as_ref())
                    .await
                    .map_err(|err| err.to_string())?;
            Ok(node as std::sync::Arc<dyn cairn_server::replication::Replication>)
        })
    })));
    Ok(())
}

/// The cluster link's TLS identity: `[cluster] tls_cert`/`tls_key`, else the server's `[tls]`
/// pair; on when one is found unless `[cluster] tls = false`; `tls = true` without one is an
/// error, as is half a pair.
fn link_tls(
    cluster: &cairn_server::ClusterConfig,
    server: Option<&TlsConfig>,
) -> anyhow::Result<Option<cairn_cluster::LinkTls>> {
    let pair = match (&cluster.tls_cert, &cluster.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => server.map(|tls| (tls.cert.clone(), tls.key.clone())),
        _ => anyhow::bail!("[cluster] tls_cert and tls_key go together: set both or neither"),
    };
    match (cluster.tls, pair) {
        (Some(false), _) | (None, None) => Ok(None),
        (Some(true), None) => anyhow::bail!(
            "[cluster] tls = true needs a node certificate: set tls_cert and tls_key (or [tls])"
        ),
        (_, Some((cert, key))) => Ok(Some(cairn_cluster::LinkTls {
            ca: cluster.tls_ca.clone().unwrap_or_else(|| cert.clone()),
            cert,
            key,
        })),
    }
}

fn override_with<T>(slot: &mut Option<T>, flag: Option<T>) {
    if flag.is_some() {
        *slot = flag;
    }
}

fn set<T>(slot: &mut T, flag: Option<T>) {
    if let Some(value) = flag {
        *slot = value;
    }
}

/// Tells the operator where the server listens and how to log in.
fn announce(info: &StartupInfo) {
    let url = info.url();
    let data = if info.mode.has_files() {
        format!("data in {}", info.data_dir.display())
    } else {
        "no files: nothing survives a restart".to_string()
    };
    println!(
        "cairn serve: listening on {url} ({} mode, {data})",
        info.mode.name()
    );
    match &info.root {
        None => eprintln!(
            "WARNING: authentication is OFF (--insecure-no-auth): anyone who can reach {url} \
             can read, change and delete everything"
        ),
        Some(RootBootstrap::CreatedWithGeneratedPassword(password)) => {
            println!("created user `root`; its password (shown only this once): {password}");
            println!("log in:       curl -u root:{password} {url}/v1/collections");
        }
        Some(RootBootstrap::Created) => {
            println!("created user `root` with the password from {ROOT_PASSWORD_ENV}");
            println!("log in:       curl -u root:\"${ROOT_PASSWORD_ENV}\" {url}/v1/collections");
        }
        Some(RootBootstrap::Existing) => {
            if std::env::var_os(ROOT_PASSWORD_ENV).is_some_and(|v| !v.is_empty()) {
                // Only a first start creates `root`; saying nothing would leave the operator
                // believing the variable set the password.
                eprintln!(
                    "WARNING: {ROOT_PASSWORD_ENV} is ignored: this data folder already has users. \
                     To set root's password, stop the server and run `cairn user passwd root`."
                );
            }
            println!("log in:       curl -u USER:PASSWORD {url}/v1/collections");
        }
    }
    println!("tokens:       POST {url}/v1/auth/tokens, then Authorization: Bearer <token>");
    println!("API document: {url}/openapi.json    metrics (admins): {url}/metrics");
    if let Some(address) = info.metrics_addr {
        println!("metrics:      http://{address}/metrics (no credentials, for Prometheus)");
    }
    println!("stop:         Ctrl-C or SIGTERM (finishes requests in flight, then flushes)");
}
