//! Keeping the statistics: the extension that owns their table, catching up from the change
//! log, and rebuilding from a snapshot scan.

use std::sync::Arc;

use cairn_doc::{Object, Value};
use cairn_engine::{
    ChangeOp, Database, DocChange, EngineError, Extension, ExtensionKind, ExtensionTxn,
    Result as EngineResult,
};

use crate::error::{InferError, Result};
use crate::limits::{CHANGES_PER_PAGE, MAX_CATCH_UP_ATTEMPTS, SKIPPED_COMMITS_PERSIST};
use crate::stats::InferredSchema;

/// The extension kind name of schema inference in the catalog.
pub const INFERENCE_KIND: &str = "inference";
/// The instance name inference is attached under.
pub const INFERENCE_EXTENSION: &str = "_inferred_schema";
/// Table holding the statistics.
const STATS_TABLE: &str = "stats";
/// The one key of [`STATS_TABLE`]: the statistics together with the sequence number they are
/// current to, so both always change in the same commit.
const STATE_KEY: &[u8] = b"state";

/// The inference extension. It does nothing on writes (the statistics follow the change log);
/// it exists so the statistics' table belongs to the collection and disappears with it.
struct InferenceExtension;

impl Extension for InferenceExtension {
    fn on_write(&self, _txn: &mut ExtensionTxn<'_>, _change: &DocChange<'_>) -> EngineResult<()> {
        Ok(())
    }
}

/// The extension kind to register when opening a database (the `cairn` facade does).
#[derive(Debug, Default)]
pub struct InferenceExtensionKind;

impl ExtensionKind for InferenceExtensionKind {
    fn kind(&self) -> &str {
        INFERENCE_KIND
    }

    fn instantiate(
        &self,
        _collection: &str,
        _name: &str,
        _config: &Value,
    ) -> EngineResult<Arc<dyn Extension>> {
        Ok(Arc::new(InferenceExtension))
    }
}

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
            Err(InferError::Engine(EngineError::ExtensionState { .. })) => continue,
            other => return other,
        }
    }
    Err(InferError::Busy {
        collection: collection.to_string(),
    })
}

/// Stops tracking a collection and deletes its statistics.
pub fn disable_inference(db: &Database, collection: &str) -> Result<()> {
    db.detach_extension(collection, INFERENCE_EXTENSION)?;
    Ok(())
}

fn catch_up_once(db: &Database, collection: &str) -> Result<InferredSchema> {
    let mut txn = db.begin()?;
    let meta = txn.collection_meta(collection)?;
    let attached = meta
        .extensions
        .iter()
        .any(|ext| ext.name == INFERENCE_EXTENSION && ext.kind == INFERENCE_KIND);
    if !attached {
        drop(txn);
        db.attach_extension_unfilled(
            collection,
            INFERENCE_KIND,
            INFERENCE_EXTENSION,
            Value::Object(Object::new()),
        )?;
        return rebuild(db, collection);
    }
    let Some(mut schema) = read_state(&mut txn, collection)? else {
        drop(txn);
        return rebuild(db, collection);
    };
    let target = txn.snapshot_seq();
    if schema.as_of_seq >= target {
        return Ok(schema);
    }
    let stored_seq = schema.as_of_seq;
    let applied = match apply_changes(db, meta.id, collection, &mut schema, target) {
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
    write_state(&mut txn, collection, &schema)?;
    txn.commit()?;
    Ok(schema)
}

/// Recomputes the statistics from one snapshot and stores them as of that snapshot. Writers
/// are not blocked and do not conflict: the scan runs on a read-only snapshot, and commits
/// after it are applied from the change log by the next catch-up.
fn rebuild(db: &Database, collection: &str) -> Result<InferredSchema> {
    let mut read = db.read()?;
    let mut schema = InferredSchema::default();
    read.for_each(collection, |_, doc| {
        schema.add(doc);
        true
    })?;
    schema.as_of_seq = read.snapshot_seq();
    drop(read);
    let mut txn = db.begin()?;
    if let Some(stored) = read_state(&mut txn, collection)? {
        if stored.as_of_seq >= schema.as_of_seq {
            return Ok(stored);
        }
    }
    write_state(&mut txn, collection, &schema)?;
    txn.commit()?;
    Ok(schema)
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

fn read_state(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
) -> Result<Option<InferredSchema>> {
    let Some(bytes) = txn.extension_get(collection, INFERENCE_EXTENSION, STATS_TABLE, STATE_KEY)?
    else {
        return Ok(None);
    };
    let corrupt = |detail: &str| InferError::Corrupt {
        collection: collection.to_string(),
        detail: detail.to_string(),
    };
    let value = cairn_doc::decode_document(&bytes).map_err(|_| corrupt("undecodable"))?;
    InferredSchema::from_value(&value)
        .map(Some)
        .ok_or_else(|| corrupt("malformed statistics"))
}

fn write_state(
    txn: &mut cairn_engine::Transaction,
    collection: &str,
    schema: &InferredSchema,
) -> Result<()> {
    let mut bytes = Vec::new();
    cairn_doc::encode_document(&schema.to_value(), &mut bytes)?;
    txn.extension_put(
        collection,
        INFERENCE_EXTENSION,
        STATS_TABLE,
        STATE_KEY,
        &bytes,
    )?;
    Ok(())
}
