//! `cairn insert | get | update | delete`

use std::io::{BufRead, Write};

use anyhow::{bail, Context};
use cairn::{Database, DocId, Patch, Value};

use super::parse_json;

/// Creates `collection` unless it exists (`insert --create`).
pub fn create_if_missing(db: &Database, collection: &str) -> anyhow::Result<()> {
    match db.create_collection(collection) {
        Ok(_) | Err(cairn::EngineError::CollectionExists { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Inserts one document given on the command line; prints its id.
pub fn insert_one(db: &Database, collection: &str, json: &str) -> anyhow::Result<()> {
    let doc = parse_json("the document", json)?;
    let id = db.insert(collection, doc)?;
    println!("{id}");
    Ok(())
}

/// Inserts JSON lines from standard input in transactions of `batch`; prints each id only
/// after the transaction holding it committed under the database's storage mode.
pub fn insert_stream(db: &Database, collection: &str, batch: usize) -> anyhow::Result<()> {
    if batch == 0 || batch > cairn::limits::MAX_TXN_OPS {
        bail!(
            "--batch must be between 1 and {}",
            cairn::limits::MAX_TXN_OPS
        );
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let mut pending: Vec<(usize, Value)> = Vec::with_capacity(batch);
    for (index, line) in stdin.lock().lines().enumerate() {
        let line_no = index + 1;
        let line = line.with_context(|| format!("reading standard input at line {line_no}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc = Value::from_json_str(&line)
            .with_context(|| format!("line {line_no} is not a valid document"))?;
        pending.push((line_no, doc));
        if pending.len() == batch {
            commit_and_print(db, collection, &mut pending, &mut stdout.lock())?;
        }
    }
    commit_and_print(db, collection, &mut pending, &mut stdout.lock())
}

fn commit_and_print(
    db: &Database,
    collection: &str,
    pending: &mut Vec<(usize, Value)>,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    let mut failed_line = None;
    let ids = db.transaction(|txn| {
        let mut ids = Vec::with_capacity(pending.len());
        for (line_no, doc) in pending.iter() {
            failed_line = Some(*line_no);
            ids.push(txn.insert(collection, doc.clone())?);
        }
        failed_line = None;
        Ok(ids)
    });
    let ids = ids.map_err(|err| match failed_line {
        Some(line_no) => {
            anyhow::anyhow!("line {line_no}: {err}; nothing from its batch was stored")
        }
        None => anyhow::Error::new(err),
    })?;
    for id in ids {
        writeln!(out, "{id}")?;
    }
    out.flush()?;
    pending.clear();
    Ok(())
}

/// Prints a document as JSON.
pub fn get(db: &Database, collection: &str, id: &DocId, as_of: Option<&str>) -> anyhow::Result<()> {
    let found = match as_of {
        Some(point) => cairn::get_as_of(db, collection, id, cairn::AsOf::parse(point)?)?,
        None => db.get(collection, id)?,
    };
    match (found, as_of) {
        (Some(doc), _) => {
            println!("{}", doc.to_json_string());
            Ok(())
        }
        (None, Some(point)) => {
            bail!("document `{id}` did not exist in `{collection}` as of {point}")
        }
        (None, None) => bail!("document `{id}` not found in `{collection}`"),
    }
}

/// Applies a patch; prints the new document.
pub fn update(db: &Database, collection: &str, id: &DocId, patch: &str) -> anyhow::Result<()> {
    let patch = Patch::from_json_str(patch).context("the patch is not valid")?;
    let doc = db.update(collection, id, &patch)?;
    println!("{}", doc.to_json_string());
    Ok(())
}

/// Deletes a document; a missing one is an error so scripts notice.
pub fn delete(db: &Database, collection: &str, id: &DocId) -> anyhow::Result<()> {
    if db.delete(collection, id)? {
        println!("deleted `{id}`");
        Ok(())
    } else {
        bail!("document `{id}` not found in `{collection}`")
    }
}
