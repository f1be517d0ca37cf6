//! Health: whether each source answers, how fast, and what it holds, checked on a schedule
//! ([`crate::limits::SOURCE_HEALTH_INTERVAL`]) by `cairn serve` and on demand by
//! `cairn source list`.
//!
//! A check connects (or reuses the open connection) and runs `SELECT 1` — for a SQLite file,
//! opens it and reads its table list; for files, looks them up — under
//! [`crate::limits::SOURCE_HEALTH_TIMEOUT`]. Its result is only for display and the table
//! listing: a statement never waits for a check, and a statement on a source that is down
//! fails on its own with an error naming the source.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{files, postgres, sqlite, SourceError, SourceHandle, SourceKind, SourceRegistry};
use crate::limits::SOURCE_HEALTH_TIMEOUT;

/// The outcome of a source's last health check.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// `None`: the source answered; else why it did not (redacted).
    pub error: Option<String>,
    /// How long the check took.
    pub latency: Duration,
    /// When it ran (milliseconds since the Unix epoch).
    pub checked_at_ms: u64,
    /// What the source holds, as `(schema, table)` (empty when down).
    pub tables: Vec<(String, String)>,
}

impl Health {
    /// Whether the source answered.
    pub fn is_up(&self) -> bool {
        self.error.is_none()
    }
}

/// Checks one source now and records the outcome on its handle.
pub async fn check(handle: &Arc<SourceHandle>) -> Health {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(SOURCE_HEALTH_TIMEOUT, probe(handle)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(handle.def.unavailable(format!(
            "no answer within {} s",
            SOURCE_HEALTH_TIMEOUT.as_secs()
        ))),
    };
    let checked_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let health = match outcome {
        Ok(tables) => Health {
            error: None,
            latency: started.elapsed(),
            checked_at_ms,
            tables,
        },
        Err(err) => {
            tracing::warn!(source = %handle.def.name, error = %err, "source is down");
            Health {
                error: Some(err.to_string()),
                latency: started.elapsed(),
                checked_at_ms,
                tables: Vec::new(),
            }
        }
    };
    *handle.health.lock() = Some(health.clone());
    health
}

/// Reaches the source and lists its tables.
async fn probe(handle: &Arc<SourceHandle>) -> Result<Vec<(String, String)>, SourceError> {
    match handle.def.kind {
        SourceKind::Postgres => {
            postgres::ping(handle).await?;
            postgres::tables(handle).await
        }
        SourceKind::Sqlite => {
            let owned = handle.clone();
            let names = tokio::task::spawn_blocking(move || sqlite::tables(&owned))
                .await
                .map_err(|e| handle.def.unavailable(e))??;
            Ok(names
                .into_iter()
                .map(|t| (sqlite::SCHEMA.to_string(), t))
                .collect())
        }
        SourceKind::Csv | SourceKind::Json | SourceKind::Parquet => {
            files::ping(&handle.def)?;
            Ok(vec![(
                files::SCHEMA.to_string(),
                files::table_name(&handle.def),
            )])
        }
    }
}

/// Re-reads the definitions and checks every source (concurrently).
pub async fn check_all(registry: &SourceRegistry) -> Result<(), SourceError> {
    registry.refresh()?;
    let checks: Vec<_> = registry
        .handles()
        .into_iter()
        .map(|handle| tokio::spawn(async move { check(&handle).await }))
        .collect();
    for check in checks {
        let _ = check.await;
    }
    Ok(())
}

/// Checks every source every `interval` until `stop` turns true (`cairn serve`).
pub async fn run_schedule(
    registry: Arc<SourceRegistry>,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(err) = check_all(&registry).await {
            tracing::warn!(%err, "reading the source definitions failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|&stopping| stopping) => return,
        }
    }
}
