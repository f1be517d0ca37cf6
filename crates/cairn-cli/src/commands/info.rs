//! `cairn stats | changes | locate | check | compact`

use anyhow::{bail, Context};
use cairn::{Config, Database, DocId, Object, Value};

/// Prints per-collection documents and bytes, and the storage mode.
pub fn stats(db: &Database) -> anyhow::Result<()> {
    let stats = db.stats()?;
    println!("storage mode: {}", stats.mode);
    println!(
        "data file:    {} bytes on disk ({} bytes long; the tail is preallocated and sparse)",
        stats.store.disk_bytes, stats.store.file_bytes
    );
    println!("last commit:  {}", stats.last_seq);
    println!(
        "change log:   {} entries, {} bytes",
        stats.changelog_entries, stats.changelog_bytes
    );
    println!();
    println!(
        "{:<32} {:>12} {:>14}",
        "collection", "documents", "bytes on disk"
    );
    for coll in &stats.collections {
        println!(
            "{:<32} {:>12} {:>14}",
            coll.name, coll.documents, coll.bytes
        );
    }
    println!();
    println!(
        "{:<32} {:>14} {:>14} {:>7} {:>6}",
        "compression", "logical bytes", "stored bytes", "ratio", "dicts"
    );
    for coll in db.compression_stats()? {
        println!(
            "{:<32} {:>14} {:>14} {:>7.3} {:>6}",
            coll.collection,
            coll.logical_bytes,
            coll.stored_bytes,
            coll.ratio(),
            coll.dictionaries
        );
    }
    Ok(())
}

/// Prints change-log entries as JSON lines.
pub fn changes(db: &Database, after: u64, limit: usize) -> anyhow::Result<()> {
    for change in db.changes_after(after, limit)? {
        let mut obj = Object::new();
        obj.insert("seq".to_string(), Value::Int(change.seq as i64));
        obj.insert("index".to_string(), Value::Int(i64::from(change.index)));
        obj.insert("at".to_string(), Value::DateTime(change.at));
        obj.insert("collection".to_string(), Value::String(change.collection));
        obj.insert(
            "op".to_string(),
            Value::String(change.op.name().to_string()),
        );
        if let cairn::ChangeOp::RenameCollection { to } = &change.op {
            obj.insert("to".to_string(), Value::String(to.clone()));
        }
        if let Some(id) = change.id {
            obj.insert("id".to_string(), id.to_value());
        }
        if let Some(new) = change.new {
            obj.insert("new".to_string(), new);
        }
        if let Some(old) = change.old {
            obj.insert("old".to_string(), old);
        }
        println!("{}", Value::Object(obj).to_json_string());
    }
    Ok(())
}

/// Prints the collections holding a document id.
pub fn locate(db: &Database, id: &DocId) -> anyhow::Result<()> {
    let collections = db.locate(id)?;
    if collections.is_empty() {
        bail!("no collection holds a document with id `{id}`");
    }
    for name in collections {
        println!("{name}");
    }
    Ok(())
}

/// Verifies a (closed) database deeply; fails (non-zero exit) on any finding.
pub fn check(config: &Config) -> anyhow::Result<()> {
    if !config.dir.join(cairn::DATA_FILE_NAME).exists() {
        bail!("no database at {}", config.dir.display());
    }
    let mut report = cairn::check_database(config)
        .with_context(|| format!("checking the database at {}", config.dir.display()))?;
    let indexes = if report.is_clean() {
        check_indexes(config, &mut report)?
    } else {
        0
    };
    if report.recovered_on_open {
        println!(
            "note: the database was not closed cleanly (crash or power loss); recovered on open"
        );
    }
    for finding in &report.findings {
        println!("finding: {finding}");
    }
    if report.is_clean() {
        println!(
            "ok: storage checksums{} verified; {} collections, {} documents and {} change-log records decode; routing and change log consistent; {} indexes match their documents",
            if report.encrypted { " and every encrypted block" } else { "" },
            report.collections,
            report.documents,
            report.changes,
            indexes
        );
        Ok(())
    } else {
        bail!(
            "{} problem(s) found ({} listed)",
            report.findings_total,
            report.findings.len()
        )
    }
}

/// Verifies every index against a rebuild from its collection's documents; adds a finding
/// per mismatch. Returns the number of indexes checked. Runs after the storage check passed,
/// on an opened database (one snapshot).
fn check_indexes(config: &Config, report: &mut cairn::CheckReport) -> anyhow::Result<usize> {
    let db = cairn::open(config.clone())?;
    let mut txn = db.read()?;
    let mut checked = 0;
    for meta in db.list_collections()? {
        for handle in cairn::index::indexes(&mut txn, &meta.name)? {
            let found = cairn::index::verify::verify_index(&mut txn, &meta.name, &handle)?;
            checked += 1;
            let findings = found
                .extra_entries
                .iter()
                .map(|key| format!("entry {key} has no matching document"))
                .chain(
                    found
                        .missing_entries
                        .iter()
                        .map(|key| format!("entry {key} is missing for its document")),
                );
            for detail in findings {
                report.add(cairn::Finding::Extension {
                    collection: meta.name.clone(),
                    extension: handle.spec.name.clone(),
                    detail,
                });
            }
        }
        checked += check_vector_indexes(&mut txn, &meta.name, report)?;
    }
    Ok(checked)
}

/// Verifies every vector index of a collection against its documents (`cairn_vector::verify`);
/// adds a finding per disagreement. Returns the number of indexes checked.
fn check_vector_indexes(
    txn: &mut cairn::Transaction,
    collection: &str,
    report: &mut cairn::CheckReport,
) -> anyhow::Result<usize> {
    let names: Vec<String> = txn
        .collection_meta(collection)?
        .extensions
        .iter()
        .filter(|e| e.kind == cairn::vector::VECTOR_KIND)
        .map(|e| e.name.clone())
        .collect();
    for name in &names {
        for finding in cairn::vector::verify(txn, collection, name)?.findings {
            report.add(cairn::Finding::Extension {
                collection: collection.to_string(),
                extension: name.clone(),
                detail: format!("{}: {}", finding.subject, finding.problem),
            });
        }
    }
    Ok(names.len())
}

/// Compacts a closed database and says how much space it gave back.
pub fn compact(config: &Config) -> anyhow::Result<()> {
    if !config.dir.join(cairn::DATA_FILE_NAME).exists() {
        bail!("no database at {}", config.dir.display());
    }
    let report = cairn::compact(config)
        .with_context(|| format!("compacting the database at {}", config.dir.display()))?;
    println!(
        "compacted: {} -> {} bytes on disk ({} bytes reclaimed)",
        report.before_bytes,
        report.after_bytes,
        report.reclaimed_bytes()
    );
    Ok(())
}
