//! Opening the database named by the global flags: storage mode, profile, compression, key.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use cairn::{Compression, Config, Database, KeySource, StorageMode, KEY_BYTES};

use crate::cli::{
    Cli, CompressionArg, Profile, DEFAULT_FLUSH_INTERVAL_MS, DEFAULT_MEMORY_BUDGET_MB,
};

/// Environment variable holding the passphrase of an encrypted database.
pub const PASSPHRASE_ENV: &str = "CAIRN_PASSPHRASE";
/// Environment variable holding the new passphrase for `cairn rekey`.
pub const NEW_PASSPHRASE_ENV: &str = "CAIRN_NEW_PASSPHRASE";
/// zstd level of the `space` profile: 9, where dictionary compression of small documents has
/// reached nearly all of its gain while writes stay tens of MB/s per core.
pub(crate) const SPACE_PROFILE_ZSTD_LEVEL: i32 = 9;

/// Resolves the storage mode from the flags: an explicit `--mode`, else the profile's, else the
/// mode the database was last opened with, else persistent.
pub fn storage_mode(cli: &Cli) -> anyhow::Result<StorageMode> {
    let profile_mode = match cli.profile {
        Some(Profile::Speed) => Some("memory-first"),
        Some(Profile::Security) => Some("persistent"),
        _ => None,
    };
    let name = match (&cli.mode, profile_mode) {
        (Some(mode), _) => mode.name().to_string(),
        (None, Some(name)) => name.to_string(),
        (None, None) => cairn::stored_mode_name_with_key(cli.data_dir(), key_source(cli)?.as_ref())
            .map_err(|err| open_error(&cli.data_dir(), err))?
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

/// The key from `--key-file`, else from `CAIRN_PASSPHRASE`, else none.
pub fn key_source(cli: &Cli) -> anyhow::Result<Option<KeySource>> {
    key_from(cli.key_file.as_deref(), PASSPHRASE_ENV)
}

/// A key from a key file, else from the passphrase in the environment variable `env`.
pub fn key_from(file: Option<&Path>, env: &str) -> anyhow::Result<Option<KeySource>> {
    if let Some(path) = file {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the key file {}", path.display()))?;
        return Ok(Some(KeySource::raw(parse_key(&bytes).with_context(
            || {
                format!(
                    "key file {} must hold {KEY_BYTES} raw bytes or {} hex digits",
                    path.display(),
                    KEY_BYTES * 2
                )
            },
        )?)));
    }
    Ok(std::env::var(env)
        .ok()
        .filter(|text| !text.is_empty())
        .map(KeySource::passphrase))
}

fn parse_key(bytes: &[u8]) -> Option<[u8; KEY_BYTES]> {
    if let Ok(raw) = <[u8; KEY_BYTES]>::try_from(bytes) {
        return Some(raw);
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    if text.len() != KEY_BYTES * 2 {
        return None;
    }
    let mut key = [0u8; KEY_BYTES];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(key)
}

/// Compression from `--compression`, else the profile's, else the default.
fn compression(cli: &Cli) -> anyhow::Result<Compression> {
    match cli.compression {
        Some(CompressionArg::Off) => return Ok(Compression::OFF),
        Some(CompressionArg::Zstd(level)) => return Ok(Compression::zstd_with_dictionaries(level)),
        None => {}
    }
    Ok(match cli.profile {
        Some(Profile::Speed) => Compression::OFF,
        Some(Profile::Space) => Compression::zstd_with_dictionaries(SPACE_PROFILE_ZSTD_LEVEL),
        _ => Compression::default(),
    })
}

/// The engine configuration the flags describe.
pub fn config(cli: &Cli) -> anyhow::Result<Config> {
    let key = key_source(cli)?;
    if cli.profile == Some(Profile::Security) && key.is_none() {
        bail!(
            "the security profile encrypts the database: set {PASSPHRASE_ENV} or give --key-file"
        );
    }
    let mut config = Config::new(cli.data_dir(), storage_mode(cli)?);
    config.encryption = key;
    config.compression = compression(cli)?;
    Ok(config)
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
    let config = config(cli)?;
    let exists = cli.data_dir().join(cairn::DATA_FILE_NAME).exists();
    if create == Create::Refused && config.mode.has_files() && !exists {
        bail!(
            "no database at {} (create one with `cairn collection create` or `cairn import`)",
            cli.data_dir().display()
        );
    }
    cairn::open(config).map_err(|err| open_error(&cli.data_dir(), err))
}

/// Why a database could not be opened; a folder locked by another process names the server
/// holding it, if any, and what to do (see [`crate::holder`]).
pub fn open_error(data_dir: &Path, err: cairn::EngineError) -> anyhow::Error {
    match err {
        cairn::EngineError::Storage(cairn::StorageError::AlreadyOpen { .. }) => {
            anyhow::anyhow!("{}", crate::holder::locked_message(data_dir))
        }
        err => anyhow::Error::new(err)
            .context(format!("opening the database at {}", data_dir.display())),
    }
}
