//! `cairn update-many | delete-many`

use anyhow::{bail, Context};
use cairn::query::limits::MAX_BULK_DOCUMENTS;
use cairn::{BulkOptions, BulkReport, Database, Filter, Patch, Value};

/// The options the flags ask for.
pub fn options(dry_run: bool, max_documents: Option<usize>) -> anyhow::Result<BulkOptions> {
    let max_documents = max_documents.unwrap_or(MAX_BULK_DOCUMENTS);
    if !(1..=MAX_BULK_DOCUMENTS).contains(&max_documents) {
        bail!("--max-documents must be between 1 and {MAX_BULK_DOCUMENTS}");
    }
    Ok(BulkOptions {
        dry_run,
        max_documents,
        ..BulkOptions::default()
    })
}

fn parse_filter(text: &str) -> anyhow::Result<Filter> {
    let value = Value::from_json_expression(text).context("--filter is not valid JSON")?;
    Ok(Filter::parse(&value)?)
}

/// Patches every matching document and prints the report.
pub fn update_many(
    db: &Database,
    collection: &str,
    filter: &str,
    patch: &str,
    options: &BulkOptions,
) -> anyhow::Result<()> {
    let filter = parse_filter(filter)?;
    let patch = Patch::from_json_str(patch).context("--patch is not a valid patch")?;
    print_report(cairn::update_many(
        db, collection, &filter, &patch, options,
    )?);
    Ok(())
}

/// Deletes every matching document and prints the report.
pub fn delete_many(
    db: &Database,
    collection: &str,
    filter: &str,
    options: &BulkOptions,
) -> anyhow::Result<()> {
    let filter = parse_filter(filter)?;
    print_report(cairn::delete_many(db, collection, &filter, options)?);
    Ok(())
}

/// One JSON line: scripts read it, people can too.
fn print_report(report: BulkReport) {
    let mut line = serde_json::json!({
        "matched": report.matched,
        "changed": report.changed,
        "dry_run": report.dry_run,
    });
    if let (Some(seq), Some(map)) = (report.seq, line.as_object_mut()) {
        map.insert("seq".to_string(), seq.into());
    }
    println!("{line}");
}
