//! Bulk updates by criteria: `update_many(filter, patch)` and `delete_many(filter)`.
//!
//! One call is one transaction: the matching documents are found with the planner (indexes
//! included) inside a *write* transaction, so every document and index range it read is
//! conflict-checked at commit, and then each match is patched or deleted in that same
//! transaction. Either every change commits or none does (a unique violation, a patch that
//! does not fit one document, a document over a limit: nothing is written), and the result is
//! serializable with every other transaction. A conflicting concurrent commit makes the whole
//! call start again on a fresh snapshot.
//!
//! A dry run does exactly the same work, including every write and every check, and then
//! rolls the transaction back instead of committing: its counts and its errors are the ones a
//! real run would have produced on that snapshot.

use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use cairn_doc::limits::MAX_DOCUMENT_BYTES;
use cairn_doc::{encode_document, DocId, Patch, Value};
use cairn_engine::limits::{MAX_RETRY_BACKOFF, MAX_TXN_RETRIES};
use cairn_engine::{Database, EngineError, Transaction};

use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::find::for_each_match;
use crate::limits::DEFAULT_TIME_BUDGET;
pub use crate::limits::MAX_BULK_DOCUMENTS;

/// How a bulk call runs.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOptions {
    /// Do every step, report the counts, commit nothing.
    pub dry_run: bool,
    /// Fail (writing nothing) when more documents than this match; a caller's guard against
    /// a filter broader than intended. Capped at [`MAX_BULK_DOCUMENTS`].
    pub max_documents: usize,
    /// Time budget for finding the matches; exceeding it fails with
    /// [`QueryError::TimedOut`] and writes nothing.
    pub time_budget: Duration,
    /// Largest encoded size a patched document may reach (a caller's limit below the
    /// engine's own, e.g. a server's); a patch growing one past it fails the whole call with
    /// [`QueryError::TooLarge`], writing nothing.
    pub max_document_bytes: usize,
}

impl Default for BulkOptions {
    fn default() -> BulkOptions {
        BulkOptions {
            dry_run: false,
            max_documents: MAX_BULK_DOCUMENTS,
            time_budget: DEFAULT_TIME_BUDGET,
            max_document_bytes: MAX_DOCUMENT_BYTES,
        }
    }
}

impl BulkOptions {
    /// Options for a dry run (everything else default).
    pub fn dry_run() -> BulkOptions {
        BulkOptions {
            dry_run: true,
            ..BulkOptions::default()
        }
    }
}

/// What a bulk call did (or, for a dry run, would do).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkReport {
    /// Documents the filter matched.
    pub matched: u64,
    /// Documents actually changed: for an update, those whose patched form differs from the
    /// stored one (an update that changes nothing writes nothing); for a delete, every match.
    pub changed: u64,
    /// Whether this was a dry run (nothing was written).
    pub dry_run: bool,
    /// Sequence number of the commit holding the changes; `None` for a dry run or when
    /// nothing changed (no commit was needed).
    pub seq: Option<u64>,
}

/// Applies `patch` to every document of `collection` matching `filter`, atomically, in one
/// transaction (retried on conflicts). See the module documentation.
pub fn update_many(
    db: &Database,
    collection: &str,
    filter: &Filter,
    patch: &Patch,
    options: &BulkOptions,
) -> Result<BulkReport> {
    in_transaction(db, options, |txn| {
        update_many_in(txn, collection, filter, patch, options)
    })
}

/// Deletes every document of `collection` matching `filter`, atomically, in one transaction
/// (retried on conflicts).
pub fn delete_many(
    db: &Database,
    collection: &str,
    filter: &Filter,
    options: &BulkOptions,
) -> Result<BulkReport> {
    in_transaction(db, options, |txn| {
        delete_many_in(txn, collection, filter, options)
    })
}

/// The work of [`update_many`] inside a caller's transaction (which sees its own earlier
/// writes); returns `(matched, changed)`. Nothing is committed; `options.dry_run` is ignored
/// (the caller decides whether to commit). On error, the documents already patched by this
/// call stay in the transaction: the caller must not commit it.
pub fn update_many_in(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    patch: &Patch,
    options: &BulkOptions,
) -> Result<(u64, u64)> {
    if let Some(source) = crate::access::source(txn, collection)? {
        return update_source(txn, collection, source.as_ref(), filter, patch, options);
    }
    let keys = matching_keys(txn, collection, filter, options)?;
    let mut changed = 0u64;
    let mut old_bytes = Vec::new();
    let mut new_bytes = Vec::new();
    for key in &keys {
        let id = DocId::decode_key(key).map_err(EngineError::from)?;
        // Present: found in this transaction's view a moment ago, and keys are distinct.
        let Some(old) = txn.get_by_key(collection, key)? else {
            continue;
        };
        let mut new = old.clone();
        patch.apply(&mut new).map_err(EngineError::from)?;
        if same_encoding(&old, &new, &mut old_bytes, &mut new_bytes)? {
            continue;
        }
        if new_bytes.len() > options.max_document_bytes {
            return Err(QueryError::TooLarge {
                what: "encoded bytes of a patched document",
                limit: options.max_document_bytes as u64,
                hint: "the patch grows a matching document past the document size limit",
            });
        }
        txn.replace(collection, &id, new)?;
        changed += 1;
    }
    Ok((keys.len() as u64, changed))
}

/// [`update_many_in`] on a collection whose documents a model keeps (time-series points): the
/// matches are read with their keys, patched, and handed back to the source to replace.
fn update_source(
    txn: &mut Transaction,
    collection: &str,
    source: &dyn crate::access::DocumentSource,
    filter: &Filter,
    patch: &Patch,
    options: &BulkOptions,
) -> Result<(u64, u64)> {
    txn.collection_meta(collection)?;
    let max = options.max_documents.min(MAX_BULK_DOCUMENTS);
    let mut matched: Vec<(Vec<u8>, Value)> = Vec::new();
    for_each_match(
        txn,
        collection,
        filter,
        options.time_budget,
        &mut |key, doc| {
            if matched.len() >= max {
                return Err(QueryError::TooLarge {
                    what: "documents matched by one bulk update or delete",
                    limit: max as u64,
                    hint: "narrow the filter, or split the work into several calls by time range",
                });
            }
            matched.push((key.to_vec(), doc));
            Ok(true)
        },
    )?;
    let (mut keys, mut documents) = (Vec::new(), Vec::new());
    let mut old_bytes = Vec::new();
    let mut new_bytes = Vec::new();
    for (key, old) in &matched {
        let mut new = old.clone();
        patch.apply(&mut new).map_err(EngineError::from)?;
        if same_encoding(old, &new, &mut old_bytes, &mut new_bytes)? {
            continue;
        }
        keys.push(key.clone());
        documents.push(new);
    }
    if !keys.is_empty() {
        source.rewrite(txn, &keys, &documents)?;
    }
    Ok((matched.len() as u64, keys.len() as u64))
}

/// The work of [`delete_many`] inside a caller's transaction; returns `(matched, deleted)`.
/// Same contract as [`update_many_in`].
pub fn delete_many_in(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    options: &BulkOptions,
) -> Result<(u64, u64)> {
    let source = crate::access::source(txn, collection)?;
    let keys = matching_keys(txn, collection, filter, options)?;
    if let Some(source) = source {
        let deleted = source.delete(txn, &keys)?;
        return Ok((keys.len() as u64, deleted));
    }
    let mut deleted = 0u64;
    for key in &keys {
        let id = DocId::decode_key(key).map_err(EngineError::from)?;
        if txn.delete(collection, &id)? {
            deleted += 1;
        }
    }
    Ok((keys.len() as u64, deleted))
}

/// The keys of the matching documents, in no particular order, at most
/// `options.max_documents` of them (more is an error).
fn matching_keys(
    txn: &mut Transaction,
    collection: &str,
    filter: &Filter,
    options: &BulkOptions,
) -> Result<Vec<Vec<u8>>> {
    // Resolving the collection first makes an unknown one an error even for an empty filter.
    txn.collection_meta(collection)?;
    let max = options.max_documents.min(MAX_BULK_DOCUMENTS);
    let mut keys = Vec::new();
    for_each_match(
        txn,
        collection,
        filter,
        options.time_budget,
        &mut |key, _| {
            if keys.len() >= max {
                return Err(QueryError::TooLarge {
                    what: "documents matched by one bulk update or delete",
                    limit: max as u64,
                    hint: "narrow the filter, or split the work into several calls by `_id` range",
                });
            }
            keys.push(key.to_vec());
            Ok(true)
        },
    )?;
    Ok(keys)
}

/// Whether two documents have the same canonical encoding (every value has exactly one), i.e.
/// whether a patch changed nothing, down to number types and field order.
fn same_encoding(
    old: &Value,
    new: &Value,
    old_bytes: &mut Vec<u8>,
    new_bytes: &mut Vec<u8>,
) -> Result<bool> {
    old_bytes.clear();
    new_bytes.clear();
    encode_document(old, old_bytes).map_err(EngineError::from)?;
    encode_document(new, new_bytes).map_err(EngineError::from)?;
    Ok(old_bytes == new_bytes)
}

/// Runs `body` in a fresh write transaction and commits it (or, for a dry run, rolls it
/// back), retrying the whole body when the commit conflicts with a concurrent one.
fn in_transaction(
    db: &Database,
    options: &BulkOptions,
    mut body: impl FnMut(&mut Transaction) -> Result<(u64, u64)>,
) -> Result<BulkReport> {
    let mut attempt = 0u32;
    loop {
        let mut txn = db.begin()?;
        let outcome = body(&mut txn).and_then(|(matched, changed)| {
            let seq = if options.dry_run || changed == 0 {
                txn.rollback();
                None
            } else {
                Some(txn.commit()?)
            };
            Ok(BulkReport {
                matched,
                changed,
                dry_run: options.dry_run,
                seq,
            })
        });
        match outcome {
            Err(QueryError::Engine(err)) if err.is_retryable() && attempt < MAX_TXN_RETRIES => {
                attempt += 1;
                backoff(attempt);
            }
            other => return other,
        }
    }
}

/// Sleeps a random time growing with the attempt (capped at the engine's bound), so racing
/// retries spread out.
fn backoff(attempt: u32) {
    let ceiling_us = (50u64 << attempt.min(10)).min(MAX_RETRY_BACKOFF.as_micros() as u64);
    // A fresh `RandomState` is randomly keyed: a cheap jitter without a random-number crate.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(attempt);
    let jitter = hasher.finish() % ceiling_us.max(1);
    std::thread::sleep(Duration::from_micros(jitter));
}
