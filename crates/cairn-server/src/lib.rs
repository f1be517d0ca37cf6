//! Cairn's HTTP/JSON server: `cairn serve`.
//!
//! - `config.rs`: what the server can be told (TOML file and flags; [`ServerConfig`]),
//!   [`limits`]: every limit and default with its reason.
//! - `serve.rs`: start ([`start`]), accept plain or TLS connections, shut down gracefully.
//! - [`routes`]: the JSON API under `/v1`, change streams (SSE), probes and `/metrics`, with
//!   the OpenAPI document generated from the same declarations (`openapi.rs`).
//! - [`auth`]: users, roles, per-collection grants, passwords (Argon2id) and bearer tokens,
//!   stored in reserved collections of the database itself.
//! - `api_error.rs`: the one error format every route answers with ([`ApiError`]).
//! - `console.rs`: the web console at `/console`, files compiled into the binary.
//! - [`replication`]: the seam a replication layer (`cairn-cluster`) plugs into.
//!
//! The server depends on the `cairn` facade only: it never sees storage or engine internals.
//! Every database call runs off the async runtime: writes on Tokio's blocking pool
//! (`AppState::run` in `state.rs`), short reads on a few reader threads (`AppState::read`).
//!
//! # Surface
//!
//! The items re-exported below, plus five public namespaces: [`routes`] (each route group's
//! request types and helpers, shared with the Python client so both of its backends parse and
//! refuse alike), [`auth`] (the user store, roles and password hashing, shared with the CLI and
//! the SQL wire server), [`replication`] (the seam `cairn-cluster` implements), [`tls`] (its
//! `server_config` and `load_certs` read well only qualified) and [`limits`] (the named bounds,
//! so callers can quote them). Every other module is private.

mod api_error;
pub mod auth;
mod body;
mod collection_name;
mod config;
mod console;
mod consumers;
mod error;
mod event_log;
mod extract;
mod idempotency;
mod index_builds;
pub mod limits;
mod metrics;
mod middleware;
mod openapi;
mod parse_errors;
mod read_pool;
pub mod replication;
mod response;
pub mod routes;
mod serve;
mod state;
pub mod tls;
mod transact;

pub use api_error::ApiError;
pub use body::{check_document, parse_json};
pub use collection_name::check as check_collection_name;
pub use config::{
    AuthConfig, BackupConfig, ClusterConfig, DatabaseOptions, LimitsConfig, PeerConfig,
    ReplicationStarter, ServerConfig, SourcesStarter, StartedReplication, StorageConfig, TlsConfig,
};
pub use error::ServerError;
pub use serve::{shutdown_signal, start, RunningServer, StartupInfo};
pub use transact::run as run_transaction;

/// Installs a `tracing` subscriber writing structured log lines to standard error, filtered
/// by `filter` (for example `info` or `cairn_server=debug,info`); invalid filters fall back to
/// `info`. Call once, from the binary.
pub fn init_logging(filter: &str) {
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    let targets = filter
        .parse::<Targets>()
        .unwrap_or_else(|_| Targets::new().with_default(tracing::Level::INFO));
    let _ = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                // Colour codes only for a person at a terminal, not in log files.
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(targets)
        .try_init();
}
