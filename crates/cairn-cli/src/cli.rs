//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Cairn: a multi-model database.
#[derive(Debug, Parser)]
#[command(name = "cairn", version, about)]
pub struct Cli {
    /// Database folder [default: ./cairn-data, or `data_dir` from `serve --config`].
    #[arg(long, global = true, env = "CAIRN_DATA")]
    pub data: Option<PathBuf>,
    /// Storage mode: persistent, memory-first, hybrid or memory-only. Defaults to the mode the
    /// database was last opened with, or persistent for a new one.
    #[arg(long, global = true, env = "CAIRN_MODE")]
    pub mode: Option<String>,
    /// memory-first: milliseconds between background flushes (the loss window) [default: 1000].
    #[arg(long, global = true)]
    pub flush_interval_ms: Option<u64>,
    /// hybrid: page-cache budget in MiB [default: 256].
    #[arg(long, global = true)]
    pub memory_budget_mb: Option<usize>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The database folder: `--data`, else `./cairn-data`. (Flags are optional so that
    /// `cairn serve` can tell an explicit flag from its configuration file's setting.)
    pub fn data_dir(&self) -> PathBuf {
        self.data
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }
}

/// The database folder when `--data` is not given.
pub const DEFAULT_DATA_DIR: &str = "./cairn-data";

/// Default memory-first flush interval in milliseconds.
pub const DEFAULT_FLUSH_INTERVAL_MS: u64 = 1000;

/// Default hybrid page-cache budget in MiB.
pub const DEFAULT_MEMORY_BUDGET_MB: usize = 256;

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, drop, list or rename collections.
    Collection {
        /// The collection operation.
        #[command(subcommand)]
        action: CollectionAction,
    },
    /// Insert one document (JSON argument) or JSON lines from standard input; prints each id
    /// once its document is committed.
    Insert {
        /// Target collection.
        collection: String,
        /// The document; omit to read JSON lines from standard input.
        json: Option<String>,
        /// Documents per transaction when reading standard input.
        #[arg(long, default_value_t = 1)]
        batch: usize,
    },
    /// Print a document.
    Get {
        /// Collection.
        collection: String,
        /// Document id (UUID, integer, or string; quote a numeric string as "\"123\"").
        id: String,
    },
    /// Apply update operators ($set, $unset, $inc, $push, $pull) to a document.
    Update {
        /// Collection.
        collection: String,
        /// Document id.
        id: String,
        /// The patch, e.g. '{"$set": {"a.b": 1}}'.
        patch: String,
    },
    /// Delete a document.
    Delete {
        /// Collection.
        collection: String,
        /// Document id.
        id: String,
    },
    /// Import a JSON-lines file.
    Import {
        /// Target collection (created if missing).
        collection: String,
        /// The JSONL file.
        file: PathBuf,
        /// Documents per transaction.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Export a collection as JSON lines (to a file, or standard output).
    Export {
        /// Collection.
        collection: String,
        /// Output file; standard output when omitted.
        file: Option<PathBuf>,
    },
    /// Per-collection documents and bytes, and the storage mode.
    Stats,
    /// Print change-log entries after a sequence number, as JSON lines.
    Changes {
        /// Print changes committed after this sequence number.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Maximum number of changes.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Which collections hold a document with this id (the routing index).
    Locate {
        /// Document id.
        id: String,
    },
    /// Verify storage checksums and structure.
    Check,
    /// An interactive shell: type any command above without `cairn` and the global flags.
    Shell,
    /// Run the HTTP/JSON server (every setting: cairn.example.toml at the repository root).
    Serve(crate::commands::serve::ServeArgs),
    /// Benchmarks, side by side with a reference system.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        which: BenchCommand,
    },
}

/// Collection operations.
#[derive(Debug, Subcommand)]
pub enum CollectionAction {
    /// Create a collection.
    Create {
        /// Its name.
        name: String,
    },
    /// Drop a collection and all its documents.
    Drop {
        /// Its name.
        name: String,
    },
    /// List collections.
    List,
    /// Rename a collection.
    Rename {
        /// Current name.
        from: String,
        /// New name.
        to: String,
    },
}

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Core document operations against SQLite (see the workload in `bench/core.rs`).
    Core(crate::bench::core::CoreArgs),
    /// The HTTP server against a minimal axum handler, the HTTP stack's ceiling (see
    /// `bench/http.rs`).
    Http(crate::bench::http::HttpArgs),
}
