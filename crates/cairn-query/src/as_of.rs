//! Time travel: `get`, `find`, `count` and `distinct` "as of" an earlier commit, within change-log
//! retention.
//!
//! How: take one current read snapshot (at sequence `S`), then read the change log from the
//! requested point `n` up to `S` through the engine's public reader
//! ([`Database::changes_after`]). For every document of the collection changed after `n`, the
//! *first* such change's old document is the document as of `n` (none for an insert) — the
//! same as undoing every newer change newest first, without holding them all. The answer is
//! the snapshot with those documents overlaid. Cost: O(changes in the whole database since
//! `n`) to read the log, memory O(distinct documents of the collection changed since `n`),
//! plus, for `find`/`count`, a full scan of the collection: secondary indexes describe the
//! present, so as-of reads never use them.
//!
//! The collection's changes come from [`Database::collection_changes_after`]: its kept history
//! first when it has a retention of its own longer than the database's, so an audit trail
//! reaches back further than the change log (and a shorter one bounds it), then the log
//! (other collections' records skipped undecoded).
//!
//! Points that cannot be answered exactly are typed errors, never a guess: before the
//! collection's retention ([`cairn_engine::EngineError::CollectionHistoryTrimmed`], naming it
//! and its retention; [`cairn_engine::EngineError::ChangeLogTrimmed`] when a time is older
//! than every record), after the latest commit, or a collection created, dropped or renamed
//! after the point ([`QueryError::AsOfUnavailable`]).

use std::collections::BTreeMap;

use cairn_doc::{DateTime, DocId, FieldPath, Value};
use cairn_engine::limits::MAX_CHANGES_PER_READ;
use cairn_engine::{ChangeOp, Database, EngineError, Transaction};

use crate::error::{QueryError, Result};
use crate::filter::Filter;
use crate::find::DistinctValues;
use crate::limits::{MAX_AS_OF_CHANGED_DOCUMENTS, MAX_RESULT_DOCUMENTS, MAX_SORT_BYTES};
use crate::query::{sort_key, Query};
use crate::ranked::ranked_of;

/// The point a read travels back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// Right after the commit with this sequence number (0: before the first commit).
    Seq(u64),
    /// Right before the first commit stamped later than this time: the state a read at that
    /// time would have seen (commit times come from the writer's clock).
    Time(DateTime),
}

impl AsOf {
    /// Parses a point as the command line and HTTP write it: digits are a commit sequence
    /// number, anything else an RFC 3339 time (`2026-12-01T10:00:00Z`).
    pub fn parse(text: &str) -> Result<AsOf> {
        let invalid = |reason: String| {
            QueryError::invalid(
                "as_of",
                format!("must be a sequence number or an RFC 3339 time: {reason}"),
            )
        };
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(AsOf::Seq)
                .map_err(|_| invalid("the sequence number is too large".to_string()));
        }
        DateTime::parse_rfc3339(text)
            .map(AsOf::Time)
            .map_err(|err| invalid(err.to_string()))
    }
}

/// One collection as of a point: the present snapshot plus the older versions of the
/// documents changed since.
struct Reconstruction {
    txn: Transaction,
    collection: String,
    /// Documents changed after the point: their version at the point (`None`: absent).
    overlay: BTreeMap<DocId, Option<Value>>,
}

/// Resolves `as_of` to a sequence number the change log can still answer from: the
/// requested one, or for a time the last commit before the first one stamped after it.
pub fn resolve_as_of(db: &Database, as_of: AsOf) -> Result<u64> {
    let latest = db.last_seq();
    let seq = match as_of {
        AsOf::Seq(seq) => seq,
        AsOf::Time(at) => seq_at_time(db, at)?,
    };
    if seq > latest {
        return Err(unavailable(
            seq,
            format!("the latest commit is sequence {latest}"),
        ));
    }
    Ok(seq)
}

/// The document `id` of `collection` as it was at `as_of`; `None` if it did not exist then.
pub fn get_as_of(
    db: &Database,
    collection: &str,
    id: &DocId,
    as_of: AsOf,
) -> Result<Option<Value>> {
    let mut state = reconstruct(db, collection, as_of)?;
    match state.overlay.remove(id) {
        Some(then) => Ok(then),
        None => Ok(state.txn.get(&state.collection, id)?),
    }
}

/// Runs `query` over the collection as it was at `as_of`: filter, sort, skip, limit and
/// projection as [`crate::find`]; by scan (indexes describe the present). Cursors (`after`)
/// and ranking conditions (`$near`...) are refused: both need indexes of that moment.
pub fn find_as_of(
    db: &Database,
    collection: &str,
    query: &Query,
    as_of: AsOf,
) -> Result<crate::FindResult> {
    if query.after.is_some() {
        return Err(QueryError::invalid(
            "after",
            "cursors are not supported with as_of; use skip and limit",
        ));
    }
    if ranked_of(&query.filter)?.is_some() {
        return Err(QueryError::invalid(
            "filter",
            "ranking conditions need an index and indexes describe the present; not supported with as_of",
        ));
    }
    let state = reconstruct(db, collection, as_of)?;
    let mut matched: Vec<(Vec<u8>, Value)> = Vec::new();
    let mut sort_bytes = 0usize;
    let mut examined = 0u64;
    let mut overflow = None;
    state.each_document(|id, doc| {
        examined += 1;
        if !query.filter.matches(doc) {
            return Ok(true);
        }
        let mut doc_key = Vec::new();
        id.encode_key(&mut doc_key).map_err(EngineError::from)?;
        let mut key = Vec::new();
        sort_key(&query.sort, doc, &doc_key, &mut key);
        sort_bytes =
            sort_bytes.saturating_add(key.len() + cairn_doc::encoded_len(doc).unwrap_or(0));
        if sort_bytes > MAX_SORT_BYTES {
            overflow = Some(QueryError::TooLarge {
                what: "as-of query memory",
                limit: MAX_SORT_BYTES as u64,
                hint: "narrow the filter",
            });
            return Ok(false);
        }
        matched.push((key, doc.clone()));
        Ok(true)
    })?;
    if let Some(err) = overflow {
        return Err(err);
    }
    matched.sort_by(|a, b| a.0.cmp(&b.0));
    let take = query.limit.unwrap_or(MAX_RESULT_DOCUMENTS);
    let remaining = matched.len().saturating_sub(query.skip);
    if take > MAX_RESULT_DOCUMENTS && remaining > MAX_RESULT_DOCUMENTS {
        return Err(QueryError::TooLarge {
            what: "as-of result documents",
            limit: MAX_RESULT_DOCUMENTS as u64,
            hint: "add a limit (as-of reads have no cursor)",
        });
    }
    let documents = matched
        .into_iter()
        .skip(query.skip)
        .take(take)
        .map(|(_, doc)| match &query.projection {
            Some(projection) => projection.apply(doc),
            None => doc,
        })
        .collect();
    let stats = crate::exec::ExecStats {
        docs_examined: examined,
        ..Default::default()
    };
    Ok(crate::FindResult {
        documents,
        cursor: None,
        stats,
        plan: "as-of scan (the current snapshot with newer changes undone from the change log)"
            .to_string(),
    })
}

/// Counts the documents of the collection matching `filter` as it was at `as_of` (by scan).
pub fn count_as_of(db: &Database, collection: &str, filter: &Filter, as_of: AsOf) -> Result<u64> {
    if ranked_of(filter)?.is_some() {
        return Err(QueryError::invalid(
            "filter",
            "ranking conditions are not supported with as_of",
        ));
    }
    let state = reconstruct(db, collection, as_of)?;
    let mut n = 0u64;
    state.each_document(|_, doc| {
        n += u64::from(filter.matches(doc));
        Ok(true)
    })?;
    Ok(n)
}

/// The distinct values of `field` among the documents matching `filter` as the collection
/// was at `as_of` (by scan), in the value order, as [`crate::distinct`] answers.
pub fn distinct_as_of(
    db: &Database,
    collection: &str,
    field: &str,
    filter: &Filter,
    as_of: AsOf,
) -> Result<Vec<Value>> {
    if ranked_of(filter)?.is_some() {
        return Err(QueryError::invalid(
            "filter",
            "ranking conditions are not supported with as_of",
        ));
    }
    let path =
        FieldPath::parse(field).map_err(|err| QueryError::invalid(field, err.to_string()))?;
    let state = reconstruct(db, collection, as_of)?;
    let mut values = DistinctValues::default();
    state.each_document(|_, doc| {
        if filter.matches(doc) {
            values.add(&path, doc)?;
        }
        Ok(true)
    })?;
    Ok(values.into_values())
}

impl Reconstruction {
    /// Visits every document of the collection as of the point, in no particular order,
    /// until `visit` returns false.
    fn each_document(
        mut self,
        mut visit: impl FnMut(&DocId, &Value) -> Result<bool>,
    ) -> Result<()> {
        let mut stopped = false;
        let overlay = &self.overlay;
        self.txn
            .try_for_each::<QueryError>(&self.collection, |id, doc| {
                if overlay.contains_key(id) {
                    return Ok(true);
                }
                let go_on = visit(id, doc)?;
                stopped = !go_on;
                Ok(go_on)
            })?;
        if stopped {
            return Ok(());
        }
        for (id, then) in &self.overlay {
            if let Some(doc) = then {
                if !visit(id, doc)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// The present snapshot of `collection` and the versions at `as_of` of every document
/// changed since.
fn reconstruct(db: &Database, collection: &str, as_of: AsOf) -> Result<Reconstruction> {
    let mut txn = db.read()?;
    let present = txn.snapshot_seq();
    let meta = txn.collection_meta(collection)?;
    let seq = match as_of {
        AsOf::Time(at) => resolve_time_in(db, collection, meta.id, at)?,
        AsOf::Seq(_) => resolve_as_of(db, as_of)?,
    };
    let mut overlay: BTreeMap<DocId, Option<Value>> = BTreeMap::new();
    let mut failure = None;
    // The collection's own history: its kept records (per-collection retention), then the
    // change log; a point its retention no longer reaches is the engine's typed error.
    db.collection_changes_after(collection, meta.id, seq, |change| {
        if change.seq > present {
            return Ok(false);
        }
        match change.op {
            ChangeOp::Insert | ChangeOp::Update | ChangeOp::Delete => {}
            ChangeOp::CreateCollection
            | ChangeOp::DropCollection
            | ChangeOp::RenameCollection { .. } => {
                failure = Some(unavailable(
                    seq,
                    format!(
                        "collection `{collection}` had `{}` at sequence {}, after the point: \
                         reads by its present name cannot be answered exactly before that",
                        change.op.name(),
                        change.seq
                    ),
                ));
                return Ok(false);
            }
            _ => return Ok(true),
        }
        let Some(id) = change.id else {
            return Ok(true);
        };
        if overlay.contains_key(&id) {
            return Ok(true);
        }
        if overlay.len() >= MAX_AS_OF_CHANGED_DOCUMENTS {
            failure = Some(QueryError::TooLarge {
                what: "documents changed since the as-of point",
                limit: MAX_AS_OF_CHANGED_DOCUMENTS as u64,
                hint: "choose a later point",
            });
            return Ok(false);
        }
        overlay.insert(id, change.old);
        Ok(true)
    })?;
    if let Some(err) = failure {
        return Err(err);
    }
    Ok(Reconstruction {
        txn,
        collection: collection.to_string(),
        overlay,
    })
}

/// The sequence number as of time `at` for reads of one collection: as [`resolve_as_of`],
/// and when the change log no longer reaches back to `at`, from the collection's kept history
/// (per-collection retention): the commit before its first change stamped after `at`.
fn resolve_time_in(db: &Database, collection: &str, id: u32, at: DateTime) -> Result<u64> {
    match resolve_as_of(db, AsOf::Time(at)) {
        Err(QueryError::Engine(EngineError::ChangeLogTrimmed { .. })) => {}
        other => return other,
    }
    let start = match db.collection_changes_after(collection, id, 0, |_| Ok(false)) {
        Ok(()) => 0,
        Err(EngineError::CollectionHistoryTrimmed {
            oldest_available, ..
        }) => oldest_available,
        Err(err) => return Err(err.into()),
    };
    let mut first_after = None;
    let mut last = start;
    db.collection_changes_after(collection, id, start, |change| {
        if change.at > at {
            first_after = Some(change.seq);
            return Ok(false);
        }
        last = change.seq;
        Ok(true)
    })?;
    match first_after {
        // Its first kept change is already after `at`: what it was at `at` is not kept.
        Some(seq) if seq.saturating_sub(1) <= start && start > 0 => {
            Err(EngineError::CollectionHistoryTrimmed {
                collection: collection.to_string(),
                requested: start.saturating_sub(1),
                oldest_available: start,
                retention: "its retention".to_string(),
            }
            .into())
        }
        Some(seq) => Ok(seq - 1),
        // Unchanged since its last kept change, which is at or before `at`.
        None => Ok(last),
    }
}

/// The sequence number as of time `at`: the commit before the first one stamped after `at`.
fn seq_at_time(db: &Database, at: DateTime) -> Result<u64> {
    let mut after = match db.changes_after(0, 1) {
        Ok(_) => 0,
        Err(EngineError::ChangeLogTrimmed {
            oldest_available, ..
        }) => oldest_available.saturating_sub(1),
        Err(err) => return Err(err.into()),
    };
    let trimmed_through = after;
    loop {
        let changes = db.changes_after(after, MAX_CHANGES_PER_READ)?;
        if changes.is_empty() {
            return Ok(after);
        }
        for change in &changes {
            if change.at > at {
                let before = change.seq.saturating_sub(1);
                if before == trimmed_through && trimmed_through > 0 {
                    // The last commit at or before `at` may be among the trimmed ones.
                    return Err(EngineError::ChangeLogTrimmed {
                        requested: before,
                        oldest_available: trimmed_through + 1,
                    }
                    .into());
                }
                return Ok(before);
            }
            after = change.seq;
        }
    }
}

fn unavailable(seq: u64, reason: String) -> QueryError {
    QueryError::AsOfUnavailable { seq, reason }
}
