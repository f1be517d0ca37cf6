//! Opening the database named by the global flags.

use std::time::Duration;

use anyhow::{bail, Context};
use cairn::{Config, Database, StorageMode};

use crate::cli::{Cli, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MEMORY_BUDGET_MB};

/// Resolves the storage mode from the flags: an explicit `--mode`, else the mode the database
/// was last opened with, else persistent.
pub fn storage_mode(cli: &Cli) -> anyhow::Result<StorageMode> {
    let name = match &cli.mode {
        Some(name) => name.clone(),
        None => cairn::stored_mode_name(cli.data_dir())
            .with_context(|| format!("opening the database at {}", cli.data_dir().display()))?
            .unwrap_or_else(|| "persistent".to_string()),
    };
    Ok(match name.as_str() {
        "persistent" => StorageMode::Persistent,
        "memory-first" => StorageMode::MemoryFirst {
            flush_interval: Duration::from_millis(
                cli.flush_interval_ms
                    .unwrap_or(DEFAULT_FLUSH_INTERVAL_MS)
                    .max(1),
            ),
        },
        "hybrid" => StorageMode::Hybrid {
            memory_budget_bytes: cli
                .memory_budget_mb
                .unwrap_or(DEFAULT_MEMORY_BUDGET_MB)
                .max(1)
                * 1024
                * 1024,
        },
        "memory-only" => StorageMode::MemoryOnly,
        other => bail!(
            "unknown storage mode `{other}`; use persistent, memory-first, hybrid or memory-only"
        ),
    })
}

/// Whether a command may create the database when the folder holds none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Commands that store data (create a collection, insert, import, the shell).
    Allowed,
    /// Commands that only read or change existing data: a mistyped `--data` path is an error,
    /// not a new empty database.
    Refused,
}

/// Opens the database for a command.
pub fn open(cli: &Cli, create: Create) -> anyhow::Result<Database> {
    let mode = storage_mode(cli)?;
    let data = cli.data_dir();
    let exists = data.join(cairn::DATA_FILE_NAME).exists();
    if create == Create::Refused && mode.has_files() && !exists {
        bail!(
            "no database at {} (create one with `cairn collection create` or `cairn import`)",
            data.display()
        );
    }
    Database::open(Config::new(&data, mode))
        .with_context(|| format!("opening the database at {}", data.display()))
}
