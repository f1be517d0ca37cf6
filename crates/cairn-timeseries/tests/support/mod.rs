//! Shared set-up of the integration tests: databases with the time-series kind registered.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cairn_engine::{Config, Database, StorageMode};
use cairn_timeseries::TimeSeriesExtensionKind;

/// Opens a database with the time-series extension kind registered.
pub fn open(dir: Option<&Path>) -> Database {
    let mut config = match dir {
        Some(dir) => Config::new(dir, StorageMode::Persistent),
        None => Config::new(PathBuf::new(), StorageMode::MemoryOnly),
    };
    config
        .extension_kinds
        .push(Arc::new(TimeSeriesExtensionKind));
    Database::open(config).unwrap()
}
