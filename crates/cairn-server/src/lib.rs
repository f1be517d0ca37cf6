//! Cairn's HTTP/JSON server: `cairn serve`.
//!
//! - [`config`]: what the server can be told (TOML file and flags), [`limits`]: every limit
//!   and default with its reason.
//! - [`serve`]: start ([`start`]), accept plain or TLS connections, shut down gracefully.
//! - [`routes`]: the JSON API under `/v1`, change streams (SSE), probes and `/metrics`, with
//!   the OpenAPI document generated from the same declarations ([`openapi`]).
//! - [`auth`]: users, roles, per-collection grants, passwords (Argon2id) and bearer tokens,
//!   stored in reserved collections of the database itself.
//! - [`api_error`]: the one error format every route answers with.
//! - [`console`]: the web console at `/console`, files compiled into the binary.
//!
//! The server depends on the `cairn` facade only: it never sees storage or engine internals.
//! Every database call runs off the async runtime: writes on Tokio's blocking pool
//! ([`state::AppState::run`]), short reads on a few reader threads ([`state::AppState::read`]).

pub mod api_error;
pub mod auth;
pub mod body;
pub mod collection_name;
pub mod config;
pub mod console;
pub mod consumers;
pub mod error;
pub mod event_log;
pub mod extract;
pub mod idempotency;
pub mod index_builds;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod parse_errors;
pub mod read_pool;
pub mod replication;
pub mod response;
pub mod routes;
pub mod serve;
pub mod state;
pub mod tls;
pub mod transact;

pub use config::ServerConfig;
pub use error::ServerError;
pub use serve::{shutdown_signal, start, RunningServer, StartupInfo};

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
