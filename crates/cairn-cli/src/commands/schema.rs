//! `cairn schema set | show | migrate`

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context};
use cairn::schema::MigrateOptions;
use cairn::schema::{Migration, MigrationProgress};
use cairn::Database;

/// Who the history records for changes made from the command line.
fn who() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".to_string())
}

fn read_file(file: &Path) -> anyhow::Result<cairn::Value> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    cairn::schema::parse_schema_file(&text).with_context(|| format!("in {}", file.display()))
}

/// Sets a schema.
pub fn set(db: &Database, collection: &str, file: &Path) -> anyhow::Result<()> {
    let source = read_file(file)?;
    let version = cairn::schema::set_schema(db, collection, &source, &who())?;
    println!("schema of `{collection}` is now version {version}");
    Ok(())
}

/// Prints the schema (JSON) or its history.
pub fn show(db: &Database, collection: &str, history: bool) -> anyhow::Result<()> {
    if history {
        let entries = cairn::schema::history(db, collection)?;
        if entries.is_empty() {
            println!("`{collection}` has no schema");
        }
        for entry in entries {
            let at = entry.at.to_rfc3339().unwrap_or_else(|_| "?".into());
            println!("version {} at {at} by {}", entry.version, entry.by);
            for change in entry.changes {
                println!("  - {change}");
            }
        }
        return Ok(());
    }
    match cairn::schema::schema_of(db, collection)? {
        None => println!("`{collection}` has no schema (schemaless)"),
        Some(info) => {
            println!("{}", info.source.to_json_string());
            let state = match (&info.progress, info.migrating) {
                (Some(p), true) => format!(
                    ", migration in progress: {} of {} documents rewritten",
                    p.migrated, p.total
                ),
                _ => String::new(),
            };
            eprintln!("version {}{state}", info.version);
        }
    }
    Ok(())
}

/// Runs (or dry-runs, or resumes) a migration with progress.
pub fn migrate(
    db: &Database,
    collection: &str,
    file: Option<&Path>,
    dry_run: bool,
    resume: bool,
    (chunk_size, pause_ms): (usize, u64),
) -> anyhow::Result<()> {
    let migration = match file {
        Some(file) => Some(Migration::from_value(&read_file(file)?)?),
        None if resume => None,
        None => bail!("give a migration file, or --resume to continue the one in progress"),
    };
    if dry_run {
        let Some(migration) = &migration else {
            bail!("--dry-run needs a migration file");
        };
        let report = cairn::schema::dry_run(db, collection, migration)?;
        println!("{} of {} documents would fail", report.failed, report.total);
        for (reason, count, example, ids) in report.reasons {
            let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
            println!(
                "  {count:>8}  {reason}: {example} (e.g. {})",
                ids.join(", ")
            );
        }
        return Ok(());
    }
    if chunk_size == 0 {
        bail!("--chunk-size must be at least 1");
    }
    let options = MigrateOptions {
        chunk_documents: chunk_size,
        pause: Duration::from_millis(pause_ms),
        ..Default::default()
    };
    let terminal = std::io::stderr().is_terminal();
    let mut report = |p: MigrationProgress| {
        // One line per chunk when not on a terminal, so a log (or a test) can follow it.
        if terminal {
            eprint!(
                "\rmigrated {} documents ({} of {} examined)",
                p.migrated, p.scanned, p.total
            );
        } else {
            eprintln!(
                "progress: migrated {} scanned {} total {}",
                p.migrated, p.scanned, p.total
            );
        }
    };
    let done = cairn::schema::migrate(
        db,
        collection,
        migration.as_ref(),
        &who(),
        options,
        &mut report,
    )?;
    if terminal {
        eprintln!();
    }
    println!(
        "{} `{collection}` to schema version {}: {} documents rewritten",
        if done.resumed {
            "resumed and finished migrating"
        } else {
            "migrated"
        },
        done.target_version,
        done.migrated
    );
    Ok(())
}
