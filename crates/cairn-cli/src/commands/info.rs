//! `cairn stats | changes | locate | check`

use std::path::Path;

use anyhow::bail;
use cairn::{Database, DocId, Object, Value};

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

/// Verifies storage checksums and structure of a (closed) database.
pub fn check(dir: &Path) -> anyhow::Result<()> {
    if !dir.join(cairn::DATA_FILE_NAME).exists() {
        bail!("no database at {}", dir.display());
    }
    let report = cairn::check_integrity(dir)?;
    if report.recovered_on_open {
        println!(
            "note: the database was not closed cleanly (crash or power loss); recovered on open"
        );
    }
    if report.intact {
        println!("ok: storage checksums and structure verified");
        Ok(())
    } else {
        bail!("the data file needed repair: storage checksums or structure were damaged")
    }
}
