//! `cairn source add|list|remove`: external sources on the embedded database, and the same
//! sources as `cairn serve` offers them (`/v1/sources`, `/metrics`). A URL is only ever
//! printed redacted (its password replaced by `***`).

use std::sync::Arc;

use anyhow::Context;
use cairn::Database;
use cairn_server::routes::sources::{SourceInfo, SourceRefusal, Sources};
use cairn_server::SourcesStarter;
use cairn_sql::limits::SOURCE_HEALTH_INTERVAL;
use cairn_sql::source::{health, SourceDef, SourceError, SourceHandle, SourceKind, SourceRegistry};

use crate::cli::SourceAction;

/// Runs one source operation.
pub fn run(db: &Database, action: &SourceAction) -> anyhow::Result<()> {
    match action {
        SourceAction::Add { name, kind, url } => {
            let def = SourceDef::new(name, SourceKind::parse(kind)?, url)?;
            let shown = def.redacted_url();
            cairn_sql::source::add(db, &def)?;
            println!("added source {name} ({kind}) {shown}");
            Ok(())
        }
        SourceAction::List => list(db),
        SourceAction::Remove { name } => {
            cairn_sql::source::remove(db, name)?;
            println!("removed source {name}");
            Ok(())
        }
    }
}

/// Prints every source with a health check run now.
fn list(db: &Database) -> anyhow::Result<()> {
    let registry = SourceRegistry::open(db.clone())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(health::check_all(&registry))?;
    let handles = registry.handles();
    if handles.is_empty() {
        println!("no sources (add one with `cairn source add NAME --kind KIND --url URL`)");
        return Ok(());
    }
    println!(
        "{:<16} {:<8} {:<6} {:>10} {:>7}  URL / ERROR",
        "NAME", "KIND", "STATUS", "LATENCY", "TABLES"
    );
    for handle in handles {
        let health = handle.health.lock().clone();
        let (status, latency, tables, detail) = match &health {
            Some(h) if h.is_up() => (
                "up",
                format!("{:.1} ms", h.latency.as_secs_f64() * 1e3),
                h.tables.len().to_string(),
                handle.def.redacted_url(),
            ),
            Some(h) => (
                "down",
                format!("{:.1} ms", h.latency.as_secs_f64() * 1e3),
                "-".to_string(),
                format!(
                    "{}  ({})",
                    handle.def.redacted_url(),
                    h.error.as_deref().unwrap_or_default()
                ),
            ),
            None => ("?", "-".into(), "-".into(), handle.def.redacted_url()),
        };
        println!(
            "{:<16} {:<8} {:<6} {:>10} {:>7}  {}",
            handle.def.name,
            handle.def.kind.name(),
            status,
            latency,
            tables,
            detail
        );
    }
    Ok(())
}

/// The source layer `cairn serve` hands the server (`/v1/sources`, `/metrics`): the SQL
/// layer's registry, its health checked every [`SOURCE_HEALTH_INTERVAL`] until shutdown.
pub struct ServerSources {
    registry: Arc<SourceRegistry>,
}

/// What `cairn serve` sets as the server's source layer.
pub fn server_starter() -> SourcesStarter {
    SourcesStarter(Arc::new(|db, stop| {
        let registry = SourceRegistry::open(db).map_err(|e| e.to_string())?;
        tokio::spawn(health::run_schedule(
            registry.clone(),
            SOURCE_HEALTH_INTERVAL,
            stop,
        ));
        Ok(Arc::new(ServerSources { registry }) as Arc<dyn Sources>)
    }))
}

fn refusal(err: SourceError) -> SourceRefusal {
    match err {
        SourceError::UnknownKind { .. }
        | SourceError::InvalidName { .. }
        | SourceError::InvalidUrl { .. }
        | SourceError::UnsupportedKind { .. }
        | SourceError::TooMany { .. } => SourceRefusal::Invalid(err.to_string()),
        SourceError::Exists { .. } => SourceRefusal::Exists(err.to_string()),
        SourceError::Unknown { .. } => SourceRefusal::NotFound(err.to_string()),
        other => SourceRefusal::Internal(other.to_string()),
    }
}

fn info(handle: &SourceHandle) -> SourceInfo {
    let health = handle.health.lock().clone();
    SourceInfo {
        name: handle.def.name.clone(),
        kind: handle.def.kind.name().to_string(),
        url: handle.def.redacted_url(),
        status: match &health {
            Some(h) if h.is_up() => "up",
            Some(_) => "down",
            None => "unknown",
        }
        .to_string(),
        error: health.as_ref().and_then(|h| h.error.clone()),
        latency_ms: health.as_ref().map(|h| h.latency.as_secs_f64() * 1e3),
        checked_at_ms: health.as_ref().map(|h| h.checked_at_ms),
        tables: health
            .map(|h| h.tables.iter().map(|(s, t)| format!("{s}.{t}")).collect())
            .unwrap_or_default(),
    }
}

impl Sources for ServerSources {
    fn list(&self) -> Result<Vec<SourceInfo>, SourceRefusal> {
        self.registry.refresh().map_err(refusal)?;
        Ok(self.registry.handles().iter().map(|h| info(h)).collect())
    }

    fn add(&self, name: &str, kind: &str, url: &str) -> Result<SourceInfo, SourceRefusal> {
        let kind = SourceKind::parse(kind).map_err(refusal)?;
        let def = SourceDef::new(name, kind, url).map_err(refusal)?;
        self.registry.add(def).map_err(refusal)?;
        let handle = self
            .registry
            .handle(name)
            .ok_or_else(|| SourceRefusal::Internal(format!("source {name} vanished")))?;
        // Checked at once, so the answer says whether the source is reachable (this runs on
        // the blocking pool, inside the server's runtime).
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.block_on(health::check(&handle));
        }
        Ok(info(&handle))
    }

    fn remove(&self, name: &str) -> Result<(), SourceRefusal> {
        self.registry.remove(name).map_err(refusal)
    }

    fn catalog_entries(&self) -> Vec<cairn::catalog::CatalogEntry> {
        cairn_sql::source::listing::gather(&self.registry)
    }

    fn metrics_text(&self) -> String {
        let handles = self.registry.handles();
        let mut up = String::from(
            "# HELP cairn_source_up Whether the source answered its last health check.\n\
             # TYPE cairn_source_up gauge\n",
        );
        let mut latency = String::from(
            "# HELP cairn_source_check_seconds How long the source's last health check took.\n\
             # TYPE cairn_source_check_seconds gauge\n",
        );
        let mut rows = String::from(
            "# HELP cairn_source_rows_transferred_total Rows received from the source.\n\
             # TYPE cairn_source_rows_transferred_total counter\n",
        );
        for handle in handles {
            let name = &handle.def.name;
            let kind = handle.def.kind.name();
            if let Some(health) = handle.health.lock().as_ref() {
                up.push_str(&format!(
                    "cairn_source_up{{source=\"{name}\",kind=\"{kind}\"}} {}\n",
                    u8::from(health.is_up())
                ));
                latency.push_str(&format!(
                    "cairn_source_check_seconds{{source=\"{name}\"}} {}\n",
                    health.latency.as_secs_f64()
                ));
            }
            rows.push_str(&format!(
                "cairn_source_rows_transferred_total{{source=\"{name}\"}} {}\n",
                self.registry.rows_transferred(name)
            ));
        }
        format!("{up}{latency}{rows}")
    }
}
