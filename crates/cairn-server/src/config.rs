//! The server's configuration: a TOML file (see `cairn.example.toml` at the repository root),
//! overridden by command-line flags, with the defaults of [`crate::limits`].
//!
//! Unknown settings are errors, so a typo never silently falls back to a default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cairn::StorageMode;
use serde::Deserialize;

use crate::error::ServerError;
use crate::limits;

/// Everything `cairn serve` can be told.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to listen on; port 0 picks a free one (reported at startup).
    pub listen: SocketAddr,
    /// A second listener serving only `GET /metrics`, without credentials, for Prometheus
    /// (on the main listener `/metrics` needs an admin). Loopback addresses only: the figures
    /// name every collection.
    pub metrics_listen: Option<SocketAddr>,
    /// Also serve SQL over the PostgreSQL wire protocol on this address (psql, drivers; the
    /// same users and grants, SCRAM-SHA-256 logins). The server itself is `cairn-sql`'s; the
    /// command line starts it beside this one.
    pub pg_listen: Option<SocketAddr>,
    /// The database folder (unused in memory-only mode).
    pub data_dir: PathBuf,
    /// Storage mode and its parameters.
    pub storage: StorageConfig,
    /// Serve HTTPS with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsConfig>,
    /// Authentication.
    pub auth: AuthConfig,
    /// Request limits.
    pub limits: LimitsConfig,
    /// Online backups through the server.
    pub backup: BackupConfig,
    /// Create a missing collection on the first write that stores a document in it (insert,
    /// put, batch, a transaction's insert or upsert), as MongoDB does. Off by default: a
    /// misspelt collection name then fails with 404 `collection_not_found` instead of
    /// silently starting a new collection.
    pub auto_create_collections: bool,
    /// `[cluster]`: replicate through a Raft group (README "Clusters"); absent: a single node.
    pub cluster: Option<ClusterConfig>,
    /// Starts the replication layer over the opened database; set by `cairn serve` when
    /// `cluster` is present (the server never depends on the cluster crate).
    #[serde(skip)]
    pub replication: Option<ReplicationStarter>,
    /// Starts the source layer (`/v1/sources`, health checks) over the opened database; set
    /// by `cairn serve` (the server never links the SQL layer).
    #[serde(skip)]
    pub sources: Option<SourcesStarter>,
    /// Password for the `root` user created on first start; read from the environment
    /// (`CAIRN_ROOT_PASSWORD`) by the command line, never from the file. A random one is
    /// generated (and reported once) when absent.
    #[serde(skip)]
    pub root_password: Option<String>,
    /// Encryption key and compression, given on the command line (`--key-file`,
    /// `CAIRN_PASSPHRASE`, `--compression`, `--profile`), never in the file.
    #[serde(skip)]
    pub database: DatabaseOptions,
}

/// Database options the command line passes through to the engine.
#[derive(Clone, Default)]
pub struct DatabaseOptions {
    /// The key of an encrypted database (required to open one; creates one when new).
    pub encryption: Option<cairn::KeySource>,
    /// Document compression; `None` keeps the engine's default.
    pub compression: Option<cairn::Compression>,
}

impl std::fmt::Debug for DatabaseOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("DatabaseOptions")
            .field("encrypted", &self.encryption.is_some())
            .field("compression", &self.compression)
            .finish()
    }
}

/// `[storage]`: the storage mode, as in the storage-mode table of the README.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `persistent`, `memory-first`, `hybrid` or `memory-only`. When absent: the mode the
    /// database was last opened with, or `persistent` for a new one.
    pub mode: Option<String>,
    /// memory-first: milliseconds between background flushes (the loss window).
    pub flush_interval_ms: Option<u64>,
    /// hybrid: page-cache budget in MiB.
    pub memory_budget_mb: Option<usize>,
    /// Change-log entries to keep (change streams can resume within them).
    pub changelog_retention: Option<u64>,
    /// MiB of write-ahead log between checkpoints (default 64). Recovery replays at most this
    /// much into the data file, so it is also the free space a restart after a full disk needs.
    pub wal_checkpoint_mb: Option<u64>,
}

/// `[backup]`: where `POST /v1/admin/backup` may write.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// The folder backups go under (each request names a relative folder inside it). Absent:
    /// the backup route answers 409 `backup_not_configured`, so no HTTP client can make the
    /// server write anywhere the operator did not choose.
    pub root: Option<PathBuf>,
}

/// `[cluster]`: this node's place in a Raft group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// This node's id: a positive integer, unique in the cluster, never reused.
    pub node_id: u64,
    /// Address the node-to-node listener binds (`host:port`), also what peers dial.
    pub listen: SocketAddr,
    /// This node's HTTP API base URL, for redirects and forwarding (default:
    /// `http://` + the main listen address).
    pub api_url: Option<String>,
    /// The shared secret every node presents to every other (at least
    /// [`limits::MIN_CLUSTER_SECRET_BYTES`] bytes); `CAIRN_CLUSTER_SECRET` overrides it.
    pub secret: String,
    /// Initialise a new cluster whose voters are this node and `peers` on first start (set on
    /// one node only; ignored once the node has state).
    #[serde(default)]
    pub bootstrap: bool,
    /// The other members known at start.
    #[serde(default)]
    pub peers: Vec<PeerConfig>,
    /// Build a snapshot (a full backup) after this many applied entries, so the log can be
    /// purged behind it (default `cairn_cluster::limits::SNAPSHOT_EVERY_ENTRIES`, 10,000).
    #[serde(default)]
    pub snapshot_every: Option<u64>,
    /// Entries kept in the log behind the latest snapshot (default
    /// `cairn_cluster::limits::LOG_KEPT_AFTER_SNAPSHOT`, 1,000; 0 purges up to the snapshot).
    #[serde(default)]
    pub log_kept_after_snapshot: Option<u64>,
    /// Node-to-node mutual TLS: `None` turns it on when a node certificate is configured
    /// (`tls_cert`/`tls_key`, else `[tls]`); `true` requires one; `false` keeps the link in
    /// plaintext. Every node of a cluster must agree.
    #[serde(default)]
    pub tls: Option<bool>,
    /// This node's certificate chain on the cluster link (default: `[tls] cert`).
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// Its private key (default: `[tls] key`).
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The certificates trusted for peers: the CA that signs every node's certificate
    /// (default: the node certificate file itself, for a certificate all nodes share or a
    /// chain file that includes its CA).
    #[serde(default)]
    pub tls_ca: Option<PathBuf>,
}

/// A peer in `[[cluster.peers]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerConfig {
    /// Its node id.
    pub node_id: u64,
    /// Its node-to-node address.
    pub cluster_addr: String,
    /// Its HTTP API base URL.
    pub api_url: String,
}

/// What starting a replication layer resolves to.
pub type StartedReplication = crate::replication::BoxFuture<
    'static,
    Result<std::sync::Arc<dyn crate::replication::Replication>, String>,
>;

/// Starts the replication layer over the opened database (see [`ServerConfig::replication`]).
#[derive(Clone)]
pub struct ReplicationStarter(
    pub std::sync::Arc<dyn Fn(cairn::Database) -> StartedReplication + Send + Sync>,
);

impl std::fmt::Debug for ReplicationStarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplicationStarter")
    }
}

/// Starts the source layer over the opened database; it ends its background work (health
/// checks) when the receiver turns `true` (shutdown). Called inside the server's runtime.
#[derive(Clone)]
#[allow(clippy::type_complexity)]
pub struct SourcesStarter(
    pub  std::sync::Arc<
        dyn Fn(
                cairn::Database,
                tokio::sync::watch::Receiver<bool>,
            ) -> Result<std::sync::Arc<dyn crate::routes::sources::Sources>, String>
            + Send
            + Sync,
    >,
);

impl std::fmt::Debug for SourcesStarter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourcesStarter")
    }
}

/// `[tls]`: PEM files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, leaf first.
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Require credentials on every `/v1` request. Turning it off (`--insecure-no-auth`)
    /// gives every client full access; for local experiments only.
    pub enabled: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig { enabled: true }
    }
}

/// `[limits]`; defaults and reasons in [`crate::limits`].
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Largest document in bytes, as encoded (413 beyond).
    pub max_document_bytes: usize,
    /// Largest response body in bytes (query pages stop early with a cursor; other answers
    /// get 413 beyond). At least twice `max_document_bytes`.
    pub max_response_bytes: usize,
    /// Operations in one transaction request (413 beyond).
    pub max_transaction_operations: usize,
    /// Seconds the answer of a write sent with an `Idempotency-Key` is kept for its retries.
    pub idempotency_retention_s: u64,
    /// Requests processed at once (503 beyond).
    pub max_concurrent_requests: usize,
    /// Milliseconds a request may take (408 beyond).
    pub request_timeout_ms: u64,
    /// Open change streams (503 beyond).
    pub max_change_streams: usize,
    /// Open connections (closed at once beyond).
    pub max_connections: usize,
    /// Milliseconds a graceful shutdown waits for requests in flight.
    pub shutdown_deadline_ms: u64,
    /// Queries taking at least this many milliseconds enter the slow-query log (and the
    /// server log, as warnings).
    pub slow_query_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: limits::DEFAULT_MAX_BODY_BYTES,
            max_document_bytes: limits::DEFAULT_MAX_DOCUMENT_BYTES,
            max_response_bytes: limits::DEFAULT_MAX_RESPONSE_BYTES,
            max_transaction_operations: limits::DEFAULT_MAX_TRANSACTION_OPERATIONS,
            idempotency_retention_s: limits::DEFAULT_IDEMPOTENCY_RETENTION.as_secs(),
            max_concurrent_requests: limits::DEFAULT_MAX_CONCURRENT_REQUESTS,
            request_timeout_ms: millis(limits::DEFAULT_REQUEST_TIMEOUT),
            max_change_streams: limits::DEFAULT_MAX_CHANGE_STREAMS,
            max_connections: limits::DEFAULT_MAX_CONNECTIONS,
            shutdown_deadline_ms: millis(limits::DEFAULT_SHUTDOWN_DEADLINE),
            slow_query_ms: millis(limits::DEFAULT_SLOW_QUERY),
        }
    }
}

impl LimitsConfig {
    /// The request timeout as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    /// The idempotency retention as a duration.
    pub fn idempotency_retention(&self) -> Duration {
        Duration::from_secs(self.idempotency_retention_s)
    }

    /// The slow-query threshold as a duration.
    pub fn slow_query(&self) -> Duration {
        Duration::from_millis(self.slow_query_ms)
    }

    /// The shutdown deadline as a duration.
    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_millis(self.shutdown_deadline_ms)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            metrics_listen: None,
            pg_listen: None,
            data_dir: PathBuf::from(limits::DEFAULT_DATA_DIR),
            storage: StorageConfig::default(),
            tls: None,
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            backup: BackupConfig::default(),
            auto_create_collections: false,
            cluster: None,
            replication: None,
            sources: None,
            root_password: None,
            database: DatabaseOptions::default(),
        }
    }
}

impl ServerConfig {
    /// Reads a configuration file; settings it omits keep their defaults.
    pub fn from_file(path: &Path) -> Result<ServerConfig, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|source| ServerError::ConfigRead {
            path: path.to_path_buf(),
            source,
        })?;
        ServerConfig::from_toml(&text).map_err(|message| ServerError::ConfigParse {
            path: path.to_path_buf(),
            message,
        })
    }

    /// Parses configuration text; the error is the parser's message.
    pub fn from_toml(text: &str) -> Result<ServerConfig, String> {
        toml::from_str(text).map_err(|err| err.to_string())
    }

    /// Checks every limit is usable (non-zero, documents no larger than the engine allows).
    pub fn validate(&self) -> Result<(), ServerError> {
        let invalid = |setting, reason: &str| {
            Err(ServerError::InvalidSetting {
                setting,
                reason: reason.to_string(),
            })
        };
        let limits = &self.limits;
        let engine_max = cairn::document_limits::MAX_DOCUMENT_BYTES;
        if limits.max_document_bytes == 0 || limits.max_document_bytes > engine_max {
            return invalid(
                "limits.max_document_bytes",
                &format!("must be between 1 and {engine_max}"),
            );
        }
        if limits.max_response_bytes / 2 < limits.max_document_bytes {
            return invalid(
                "limits.max_response_bytes",
                "must be at least twice limits.max_document_bytes, so any document can be read back",
            );
        }
        let positive = [
            (
                "limits.max_transaction_operations",
                limits.max_transaction_operations as u64,
            ),
            ("limits.max_body_bytes", limits.max_body_bytes as u64),
            (
                "limits.max_concurrent_requests",
                limits.max_concurrent_requests as u64,
            ),
            ("limits.request_timeout_ms", limits.request_timeout_ms),
            (
                "limits.max_change_streams",
                limits.max_change_streams as u64,
            ),
            ("limits.max_connections", limits.max_connections as u64),
        ];
        for (setting, value) in positive {
            if value == 0 {
                return invalid(setting, "must be at least 1");
            }
        }
        if let Some(address) = self.metrics_listen {
            if !address.ip().is_loopback() {
                return invalid(
                    "metrics_listen",
                    "must be a loopback address (127.0.0.1 or ::1): it answers without credentials",
                );
            }
        }
        if let Some(cluster) = &self.cluster {
            if cluster.node_id == 0 {
                return invalid("cluster.node_id", "must be at least 1");
            }
            if cluster.snapshot_every == Some(0) {
                return invalid("cluster.snapshot_every", "must be at least 1");
            }
            if cluster.secret.len() < limits::MIN_CLUSTER_SECRET_BYTES {
                return invalid(
                    "cluster.secret",
                    &format!(
                        "must be at least {} bytes",
                        limits::MIN_CLUSTER_SECRET_BYTES
                    ),
                );
            }
        }
        if self.storage.changelog_retention == Some(0) {
            return invalid("storage.changelog_retention", "must be at least 1");
        }
        if self.storage.wal_checkpoint_mb == Some(0) {
            return invalid("storage.wal_checkpoint_mb", "must be at least 1");
        }
        Ok(())
    }

    /// The storage mode to open with: the configured one, else the one the database was last
    /// opened with, else persistent.
    pub fn storage_mode(&self) -> Result<StorageMode, ServerError> {
        let name = match &self.storage.mode {
            Some(name) => name.clone(),
            None => cairn::stored_mode_name(&self.data_dir)?
                .unwrap_or_else(|| StorageMode::Persistent.name().to_string()),
        };
        let mode = match StorageMode::from_name(&name) {
            Some(StorageMode::MemoryFirst { flush_interval }) => StorageMode::MemoryFirst {
                flush_interval: self
                    .storage
                    .flush_interval_ms
                    .map_or(flush_interval, |ms| Duration::from_millis(ms.max(1))),
            },
            Some(StorageMode::Hybrid {
                memory_budget_bytes,
            }) => StorageMode::Hybrid {
                memory_budget_bytes: self
                    .storage
                    .memory_budget_mb
                    .map_or(memory_budget_bytes, |mb| mb.max(1) * 1024 * 1024),
            },
            Some(mode) => mode,
            None => {
                return Err(ServerError::InvalidSetting {
                    setting: "storage.mode",
                    reason: format!(
                        "unknown mode `{name}`; use persistent, memory-first, hybrid or memory-only"
                    ),
                })
            }
        };
        Ok(mode)
    }
}

fn default_listen() -> SocketAddr {
    // A constant literal; the fallback only exists so no code path can panic.
    limits::DEFAULT_LISTEN
        .parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 7878)))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_means_every_default() {
        let config = ServerConfig::from_toml("").unwrap();
        assert_eq!(config.listen.to_string(), limits::DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(limits::DEFAULT_DATA_DIR));
        assert!(config.auth.enabled);
        assert!(config.tls.is_none());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_settings_are_rejected_with_their_name() {
        let err = ServerConfig::from_toml("[limits]\nmax_body_byte = 10\n").unwrap_err();
        assert!(err.contains("max_body_byte"), "{err}");
    }

    #[test]
    fn the_shipped_example_parses_and_validates() {
        let text = include_str!("../../../cairn.example.toml");
        let config = ServerConfig::from_toml(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.storage_mode().unwrap(), StorageMode::Persistent);
    }

    #[test]
    fn storage_parameters_apply_to_their_mode() {
        let text = "[storage]\nmode = \"hybrid\"\nmemory_budget_mb = 64\n";
        let config = ServerConfig::from_toml(text).unwrap();
        assert_eq!(
            config.storage_mode().unwrap(),
            StorageMode::Hybrid {
                memory_budget_bytes: 64 * 1024 * 1024
            }
        );
        let bad = ServerConfig::from_toml("[storage]\nmode = \"fast\"\n").unwrap();
        assert!(bad.storage_mode().is_err());
    }

    #[test]
    fn a_response_limit_below_two_documents_is_refused() {
        let text = "[limits]\nmax_document_bytes = 1000\nmax_response_bytes = 1999\n";
        let err = ServerConfig::from_toml(text)
            .unwrap()
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("max_response_bytes"), "{err}");
        let text = "[limits]\nmax_document_bytes = 1000\nmax_response_bytes = 2000\n";
        ServerConfig::from_toml(text).unwrap().validate().unwrap();
    }

    #[test]
    fn the_metrics_listener_must_be_loopback() {
        let local = ServerConfig::from_toml("metrics_listen = \"127.0.0.1:9464\"\n").unwrap();
        assert!(local.validate().is_ok());
        let open = ServerConfig::from_toml("metrics_listen = \"0.0.0.0:9464\"\n").unwrap();
        assert!(open.validate().is_err());
    }

    #[test]
    fn zero_limits_are_refused() {
        let config = ServerConfig::from_toml("[limits]\nmax_concurrent_requests = 0\n").unwrap();
        assert!(config.validate().is_err());
    }
}
