//! Keeping the statistics: catching up from the change log, and rebuilding from a snapshot
//! scan.
//!
//! Where they live: one document per tracked collection in the system collection
//! [`INFERENCE_COLLECTION`], `_id` = the collection's numeric id (ids are never reused, so a
//! dropped and re-created collection never inherits figures), holding the figures and the
//! sequence number they are current to — always written together. A system collection rather
//! than extension tables because attaching an extension is a catalog change the change log
//! cannot replay (incremental restores would stop at it), and looking at a schema must not
//! break a backup chain; plain document writes replay like any other.

use cairn_doc::{DocId, Object, Value};
use cairn_engine::{ChangeOp, Database, EngineError, Transaction};

use crate::error::{InferError, Result};
use crate::limits::{CHANGES_PER_PAGE, MAX_CATCH_UP_ATTEMPTS, SKIPPED_COMMITS_PERSIST};
use crate::stats::InferredSchema;

/// The system collection holding every tracked collection's statistics.
pub const INFERENCE_COLLECTION: &str = "_sys_inferred_schemas";

/// The inferred schema of a collection, current to the latest commit. The first call on a
/// collection starts tracking it (one snapshot scan); later calls only apply the changes
/// committed since the previous one.
pub fn infer_schema(db: &Database, collection: &str) -> Result<InferredSchema> {
    catch_up(db, collection)
}

/// Brings a collection's statistics up to the latest commit and returns them. Safe to call
/// from several threads or processes at once (one catch-up wins, the others retry and find
/// little left to do); never conflicts with writers.
pub fn catch_up(db: &Database, collection: &str) -> Result<InferredSchema> {
    for _ in 0..MAX_CATCH_UP_ATTEMPTS {
        match catch_up_once(db, collection) {
            Err(InferError::Engine(err)) if err.is_retryable() => continue,
            // Another catch-up created the system collection first.
            Err(InferError::Engine(EngineError::CollectionExists { .. })) => continue,
            other => return other,
        }
    }
    Err(InferError::Busy {
        collection: collection.to_string(),
    })
}

/// Stops tracking a collection and deletes its statistics (the next look starts again with a
/// scan).
pub fn disable_inference(db: &Database, collection: &str) -> Result<()> {
    db.transaction(|txn| {
        let id = txn.collection_meta(collection)?.id;
        match txn.delete(INFERENCE_COLLECTION, &DocId::Int(i64::from(id))) {
            Ok(_) | Err(EngineError::UnknownCollection { .. }) => Ok(()),
            Err(other) => Err(other),
        }
    })?;
    Ok(())
}

fn catch_up_once(db: &Database, collection: &str) -> Result<InferredSchema> {
    let mut txn = db.begin()?;
    let id = txn.collection_meta(collection)?.id;
    let Some(mut schema) = read_state(&mut txn, id)? else {
        drop(txn);
        return rebuild(db, collection);
    };
    let target = txn.snapshot_seq();
    if schema.as_of_seq >= target {
        return Ok(schema);
    }
    let stored_seq = schema.as_of_seq;
    let applied = match apply_changes(db, id, collection, &mut schema, target) {
        Ok(applied) => applied,
        Err(InferError::Engine(EngineError::ChangeLogTrimmed { .. })) => {
            // Retention removed changes we had not applied: start again from a scan.
            drop(txn);
            return rebuild(db, collection);
        }
        Err(other) => return Err(other),
    };
    schema.as_of_seq = target;
    if applied == 0 && target - stored_seq < SKIPPED_COMMITS_PERSIST {
        // Nothing of this collection changed (perhaps only our own last write): do not
        // commit again just to move the number; the next look re-reads these few records.
        return Ok(schema);
    }
    write_state(&mut txn, id, collection, &schema)?;
    txn.commit()?;
    Ok(schema)
}

/// Recomputes the statistics from one snapshot and stores them as of that snapshot. Writers
/// are not blocked and do not conflict: the scan runs on a read-only snapshot, and commits
/// after it are applied from the change log by the next catch-up.
fn rebuild(db: &Database, collection: &str) -> Result<InferredSchema> {
    let mut read = db.read()?;
    let id = read.collection_meta(collection)?.id;
    let mut schema = InferredSchema::default();
    read.for_each(collection, |_, doc| {
        schema.add(doc);
        true
    })?;
    schema.as_of_seq = read.snapshot_seq();
    drop(read);
    let mut txn = db.begin()?;
    if txn.collection_meta(collection)?.id != id {
        // Dropped and re-created meanwhile: the scan is of another collection.
        return Err(EngineError::Conflict {
            table: INFERENCE_COLLECTION.to_string(),
        }
        .into());
    }
    if let Some(stored) = read_state(&mut txn, id)? {
        if stored.as_of_seq >= schema.as_of_seq {
            return Ok(stored);
        }
    }
    forget_dropped(&mut txn)?;
    write_state(&mut txn, id, collection, &schema)?;
    txn.commit()?;
    Ok(schema)
}

/// Deletes the statistics of collections that no longer exist. Runs with rebuilds (rare), so
/// the system collection holds at most one document per live tracked collection plus those
/// dropped since the last rebuild.
fn forget_dropped(txn: &mut Transaction) -> Result<()> {
    let live: Vec<i64> = txn
        .list_collections()?
        .iter()
        .map(|meta| i64::from(meta.id))
        .collect();
    let mut stale = Vec::new();
    match txn.for_each(INFERENCE_COLLECTION, |id, _| {
        if let DocId::Int(n) = id {
            if !live.contains(n) {
                stale.push(id.clone());
            }
        }
        true
    }) {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => {}
        Err(other) => return Err(other.into()),
    }
    for id in stale {
        txn.delete(INFERENCE_COLLECTION, &id)?;
    }
    Ok(())
}

/// Applies the collection's changes with sequence numbers in `(schema.as_of_seq, target]`;
/// returns how many document changes it applied.
fn apply_changes(
    db: &Database,
    collection_id: u32,
    collection: &str,
    schema: &mut InferredSchema,
    target: u64,
) -> Result<u64> {
    let mut applied = 0;
    let mut after = schema.as_of_seq;
    while after < target {
        let page = db.changes_after(after, CHANGES_PER_PAGE)?;
        if page.is_empty() {
            break;
        }
        for change in &page {
            if change.seq > target {
                return Ok(applied);
            }
            after = change.seq;
            if change.collection_id != collection_id {
                continue;
            }
            let damaged = |detail: String| InferError::Corrupt {
                collection: collection.to_string(),
                detail: format!("change {}.{}: {detail}", change.seq, change.index),
            };
            let missing = || damaged("a document change without its document".to_string());
            match change.op {
                ChangeOp::Insert | ChangeOp::Update | ChangeOp::Delete => applied += 1,
                _ => {}
            }
            match change.op {
                ChangeOp::Insert => schema.add(change.new.as_ref().ok_or_else(missing)?),
                ChangeOp::Update => {
                    schema
                        .remove(change.old.as_ref().ok_or_else(missing)?)
                        .map_err(damaged)?;
                    schema.add(change.new.as_ref().ok_or_else(missing)?);
                }
                ChangeOp::Delete => schema
                    .remove(change.old.as_ref().ok_or_else(missing)?)
                    .map_err(damaged)?,
                _ => {}
            }
        }
    }
    Ok(applied)
}

/// The stored statistics of the collection with this id, if any.
fn read_state(txn: &mut Transaction, id: u32) -> Result<Option<InferredSchema>> {
    let doc = match txn.get(INFERENCE_COLLECTION, &DocId::Int(i64::from(id))) {
        Ok(doc) => doc,
        Err(EngineError::UnknownCollection { .. }) => None,
        Err(other) => return Err(other.into()),
    };
    let Some(doc) = doc else {
        return Ok(None);
    };
    InferredSchema::from_value(&doc)
        .map(Some)
        .ok_or_else(|| InferError::Corrupt {
            collection: INFERENCE_COLLECTION.to_string(),
            detail: format!("malformed statistics of collection id {id}"),
        })
}

/// Stores the statistics (creating the system collection on first use).
fn write_state(
    txn: &mut Transaction,
    id: u32,
    collection: &str,
    schema: &InferredSchema,
) -> Result<()> {
    match txn.collection_meta(INFERENCE_COLLECTION) {
        Ok(_) => {}
        Err(EngineError::UnknownCollection { .. }) => {
            txn.create_collection(INFERENCE_COLLECTION)?;
        }
        Err(other) => return Err(other.into()),
    }
    let Value::Object(fields) = schema.to_value() else {
        return Err(InferError::Corrupt {
            collection: INFERENCE_COLLECTION.to_string(),
            detail: "statistics are not an object".to_string(),
        });
    };
    let mut doc = Object::with_capacity(fields.len() + 2);
    doc.insert("_id", Value::Int(i64::from(id)));
    doc.insert("collection", Value::String(collection.to_string()));
    for (name, value) in fields {
        doc.insert(name, value);
    }
    txn.upsert(INFERENCE_COLLECTION, Value::Object(doc))?;
    Ok(())
}
