//! The crate's error type: what can stop the server from starting or from shutting down
//! cleanly. Errors answered to HTTP clients are [`crate::api_error::ApiError`] values instead.

use std::path::PathBuf;

/// Everything that can fail while configuring, starting or stopping the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or names an unknown setting.
    #[error("invalid configuration file {path}: {message}")]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The parser's explanation, with the line.
        message: String,
    },
    /// A setting has a value the server cannot use.
    #[error("invalid setting `{setting}`: {reason}")]
    InvalidSetting {
        /// The setting's name as written in the configuration file.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: std::net::SocketAddr,
        /// Why (in use, permission denied, ...).
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error("TLS: {0}")]
    Tls(String),
    /// The database could not be opened, bootstrapped or flushed.
    #[error("database: {0}")]
    Database(#[from] cairn::EngineError),
    /// The users and tokens stored in the database are unusable.
    #[error("auth store: {0}")]
    AuthStore(String),
    /// A background task of the server failed to run to completion.
    #[error("server task failed: {0}")]
    Task(String),
    /// The replication layer (`[cluster]`) could not start.
    #[error("cluster: {0}")]
    Cluster(String),
    /// The source layer (`/v1/sources`) could not start (its definitions unreadable).
    #[error("sources: {0}")]
    Sources(String),
}
