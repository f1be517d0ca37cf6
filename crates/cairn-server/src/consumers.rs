//! Consumers of the event log: named positions kept by the server, so a client pulls the
//! events after where it stopped, acknowledges what it processed, and after a restart of
//! either side resumes exactly there. All functions here block (they read and write the
//! database) and run off the async runtime.
//!
//! A consumer record in `_sys_consumers` is `{"_id": name, "collection": name or null (every
//! user collection), "seq", "index" (the acknowledged position; `index` -1 = the whole commit
//! `seq`), "created_at_us", "acked_at_us"}`. Pulling never moves the position: events after it
//! are delivered again and again until acknowledged (at least once); an acknowledged event is
//! never delivered again, across restarts and crashes, because the acknowledgement is durable
//! before it is answered (so a consumer that acknowledges what it processed sees each event
//! exactly once). The log's retention is not held back by consumers: one that falls behind it
//! gets 410 `change_log_trimmed` and must acknowledge past the gap or be created again.

use axum::http::StatusCode;
use cairn::{Database, DateTime, DocId, EngineError, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::api_error::ApiError;
use crate::auth::{store, Access, Need, Principal};
use crate::event_log::{is_public, ChangeEvent, Position};
use crate::limits::{
    CHANGES_PER_STREAM_READ, MAX_CHANGES_SCANNED_PER_PULL, MAX_CONSUMERS, MAX_CONSUMER_NAME_BYTES,
};

/// The reserved collection holding consumer positions.
pub const CONSUMERS: &str = "_sys_consumers";

/// The stored form of `index` for "the whole commit".
const WHOLE_COMMIT: i64 = -1;

/// A stored consumer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumerRecord {
    /// The consumer's name (the document id).
    #[serde(rename = "_id")]
    pub name: String,
    /// The collection it follows; `None`: every user collection.
    pub collection: Option<String>,
    /// The acknowledged commit.
    pub seq: u64,
    /// The acknowledged change within `seq`; [`WHOLE_COMMIT`]: all of it.
    pub index: i64,
    /// When it was created, µs since the epoch.
    pub created_at_us: i64,
    /// When it last moved, µs since the epoch.
    pub acked_at_us: Option<i64>,
}

impl ConsumerRecord {
    /// The acknowledged position.
    pub fn position(&self) -> Position {
        match u32::try_from(self.index) {
            Ok(index) => Position {
                seq: self.seq,
                index,
            },
            Err(_) => Position::after_commit(self.seq),
        }
    }

    fn set_position(&mut self, position: Position) {
        self.seq = position.seq;
        self.index = if position.is_whole_commit() {
            WHOLE_COMMIT
        } else {
            i64::from(position.index)
        };
    }

    /// What reading this consumer's events needs: read access to its collection, or admin
    /// for one that follows every collection.
    pub fn need(&self) -> Need {
        need_for(self.collection.as_deref())
    }

    /// Whether the consumer delivers this change.
    fn wants(&self, change: &cairn::Change) -> bool {
        is_public(change)
            && self
                .collection
                .as_ref()
                .is_none_or(|name| *name == change.collection)
    }
}

/// What following `collection` (or every collection) needs.
pub fn need_for(collection: Option<&str>) -> Need {
    match collection {
        Some(name) => Need::read(name),
        None => Need::Admin,
    }
}

/// One pull: the events after the consumer's position and the position to acknowledge.
#[derive(Debug)]
pub struct Pull {
    /// The events, in log order.
    pub events: Vec<ChangeEvent>,
    /// Acknowledging this position consumes every returned event and every change skipped
    /// on the way (other collections, internal steps); the stored position when nothing was
    /// read.
    pub next: Position,
    /// Whether the log may hold more for this consumer (the pull stopped at `max` or at the
    /// scan bound, not at the end of the log).
    pub more: bool,
}

/// Creates the reserved collection if it does not exist yet.
pub fn create_collection(db: &Database) -> Result<(), EngineError> {
    match db.create_collection(CONSUMERS) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

/// Checks a consumer name: 1 to [`MAX_CONSUMER_NAME_BYTES`] of `A-Za-z0-9_.-`.
pub fn check_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_CONSUMER_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_consumer_name",
            format!(
                "consumer names are 1 to {MAX_CONSUMER_NAME_BYTES} characters of A-Z, a-z, 0-9, `_`, `.` and `-`"
            ),
        )
        .with_details(json!({ "consumer": name })))
    }
}

/// Creates a consumer positioned after commit `from_seq` (default: the latest commit, so it
/// sees what is committed from now on). 409 `consumer_exists` if the name is taken, 404 if
/// the collection does not exist, 422 `from_beyond_log` for a future position.
pub fn create(
    db: &Database,
    name: &str,
    collection: Option<&str>,
    from_seq: Option<u64>,
) -> Result<ConsumerRecord, ApiError> {
    check_name(name)?;
    let last = db.last_seq();
    let from = from_seq.unwrap_or(last);
    if from > last {
        return Err(beyond_log("from_beyond_log", from, last));
    }
    let record = ConsumerRecord {
        name: name.to_string(),
        collection: collection.map(str::to_string),
        seq: from,
        index: WHOLE_COMMIT,
        created_at_us: DateTime::now().micros(),
        acked_at_us: None,
    };
    let value = to_value(&record)?;
    crate::transact::run(db, |txn| {
        if let Some(collection) = collection {
            txn.collection_meta(collection)?;
        }
        let mut count = 0usize;
        txn.for_each(CONSUMERS, |_, _| {
            count += 1;
            true
        })?;
        if count >= MAX_CONSUMERS {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "limit_exceeded",
                format!("at most {MAX_CONSUMERS} consumers; delete one first"),
            )
            .with_details(json!({ "what": "consumers", "limit": MAX_CONSUMERS }))
            .into());
        }
        if txn.get(CONSUMERS, &id(name))?.is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "consumer_exists",
                format!("a consumer named `{name}` exists"),
            )
            .with_details(json!({ "consumer": name }))
            .into());
        }
        txn.insert(CONSUMERS, value.clone())?;
        Ok(())
    })?;
    store::durable(db)?;
    Ok(record)
}

/// The consumer, or 404 `consumer_not_found`; 403 unless `principal` may read what it follows.
pub fn get(db: &Database, principal: &Principal, name: &str) -> Result<ConsumerRecord, ApiError> {
    check_name(name)?;
    let record = match db.get(CONSUMERS, &id(name)) {
        Ok(Some(value)) => from_value(&value)?,
        Ok(None) | Err(EngineError::UnknownCollection { .. }) => {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "consumer_not_found",
                format!("no consumer named `{name}`"),
            )
            .with_details(json!({ "consumer": name })))
        }
        Err(err) => return Err(err.into()),
    };
    principal.authorize(&record.need())?;
    Ok(record)
}

/// Every consumer `principal` may read, by name.
pub fn list(db: &Database, principal: &Principal) -> Result<Vec<ConsumerRecord>, ApiError> {
    let mut values = Vec::new();
    match db.for_each(CONSUMERS, |_, value| {
        values.push(value.clone());
        true
    }) {
        Ok(()) | Err(EngineError::UnknownCollection { .. }) => {}
        Err(err) => return Err(err.into()),
    }
    let mut records = Vec::new();
    for value in &values {
        let record: ConsumerRecord = from_value(value)?;
        if may_read(principal, &record) {
            records.push(record);
        }
    }
    Ok(records)
}

fn may_read(principal: &Principal, record: &ConsumerRecord) -> bool {
    match &record.collection {
        Some(name) => principal.access(name) >= Access::ReadOnly,
        None => principal.authorize(&Need::Admin).is_ok(),
    }
}

/// Deletes the consumer (404 if there is none).
pub fn delete(db: &Database, principal: &Principal, name: &str) -> Result<(), ApiError> {
    get(db, principal, name)?;
    crate::transact::run(db, |txn| Ok(txn.delete(CONSUMERS, &id(name))?))?;
    store::durable(db)
}

/// Reads up to `max` of the consumer's events after its position, without moving it. Reads
/// at most about [`MAX_CHANGES_SCANNED_PER_PULL`] changes of the log, so a consumer of a quiet
/// collection in a busy database gets an empty page with `more` and a `next` to acknowledge
/// rather than a long request.
pub fn pull(db: &Database, record: &ConsumerRecord, max: usize) -> Result<Pull, ApiError> {
    let mut events = Vec::new();
    let mut cursor = record.position();
    let mut scanned = 0usize;
    loop {
        let batch = db.changes_after(cursor.read_after(), CHANGES_PER_STREAM_READ)?;
        let Some(last) = batch.last() else {
            return Ok(Pull {
                events,
                next: cursor,
                more: false,
            });
        };
        let last_seq = last.seq;
        for change in &batch {
            let at = Position::of(change);
            if at <= cursor {
                continue;
            }
            if record.wants(change) {
                if events.len() == max {
                    // Stopping before the first change of a commit: the commits before it are
                    // done, and the position says so (no `index` to carry).
                    let next = if change.index == 0 {
                        Position::after_commit(cursor.seq)
                    } else {
                        cursor
                    };
                    return Ok(Pull {
                        events,
                        next,
                        more: true,
                    });
                }
                events.push(ChangeEvent::of(change));
            }
            cursor = at;
            scanned += 1;
        }
        // `changes_after` returns whole commits: the last one is done.
        cursor = Position::after_commit(last_seq);
        if scanned >= MAX_CHANGES_SCANNED_PER_PULL {
            return Ok(Pull {
                events,
                next: cursor,
                more: true,
            });
        }
    }
}

/// Moves the consumer's position forward to `to` and makes it durable before answering.
/// Returns the position now stored and whether it moved: acknowledging a position at or
/// behind the stored one changes nothing (a retried acknowledgement is harmless). 422
/// `ack_beyond_log` for a position past the latest commit.
pub fn ack(
    db: &Database,
    principal: &Principal,
    name: &str,
    to: Position,
) -> Result<(Position, bool), ApiError> {
    get(db, principal, name)?;
    let last = db.last_seq();
    if to.seq > last {
        return Err(beyond_log("ack_beyond_log", to.seq, last));
    }
    let now = DateTime::now().micros();
    let ((position, moved), _) = crate::transact::run(db, |txn| {
        let value = txn.get(CONSUMERS, &id(name))?.ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "consumer_not_found",
                format!("no consumer named `{name}`"),
            )
        })?;
        let mut record: ConsumerRecord = from_value(&value)?;
        if to <= record.position() {
            return Ok((record.position(), false));
        }
        record.set_position(to);
        record.acked_at_us = Some(now);
        txn.replace(CONSUMERS, &id(name), to_value(&record)?)?;
        Ok((to, true))
    })?;
    if moved {
        store::durable(db)?;
    }
    Ok((position, moved))
}

fn beyond_log(code: &'static str, requested: u64, last: u64) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        code,
        format!("sequence number {requested} is past the latest commit ({last})"),
    )
    .with_details(json!({ "requested": requested, "last_seq": last }))
}

fn id(name: &str) -> DocId {
    DocId::String(name.to_string())
}

fn to_value(record: &ConsumerRecord) -> Result<Value, ApiError> {
    let text = serde_json::to_string(record).map_err(ApiError::internal)?;
    Value::from_json_str(&text).map_err(ApiError::internal)
}

fn from_value(value: &Value) -> Result<ConsumerRecord, ApiError> {
    serde_json::from_str(&value.to_json_string())
        .map_err(|err| ApiError::internal(format!("unreadable record in `{CONSUMERS}`: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Database {
        let db = cairn::open_in_memory().unwrap();
        create_collection(&db).unwrap();
        db.create_collection("a").unwrap();
        db.create_collection("b").unwrap();
        db
    }

    fn ids(pull: &Pull) -> Vec<String> {
        pull.events.iter().map(|e| e.id_value.to_string()).collect()
    }

    #[test]
    fn pull_pages_by_max_and_ack_moves_past_skipped_changes() {
        let db = db();
        let admin = Principal::anonymous_admin();
        create(&db, "c", Some("a"), None).unwrap();
        for i in 0..3 {
            db.insert(
                "a",
                Value::from_json_str(&format!(r#"{{"_id": {i}}}"#)).unwrap(),
            )
            .unwrap();
            db.insert(
                "b",
                Value::from_json_str(&format!(r#"{{"_id": {i}}}"#)).unwrap(),
            )
            .unwrap();
        }
        let record = get(&db, &admin, "c").unwrap();
        let first = pull(&db, &record, 2).unwrap();
        assert_eq!(ids(&first), ["0", "1"]);
        assert!(first.more);
        // Not acknowledged: the same events again.
        assert_eq!(ids(&pull(&db, &record, 2).unwrap()), ["0", "1"]);
        assert!(ack(&db, &admin, "c", first.next).unwrap().1);
        // A retried (older) acknowledgement changes nothing.
        let older = Position::after_commit(1);
        assert_eq!(ack(&db, &admin, "c", older).unwrap(), (first.next, false));
        let record = get(&db, &admin, "c").unwrap();
        let rest = pull(&db, &record, 10).unwrap();
        assert_eq!(ids(&rest), ["2"]);
        assert!(!rest.more);
        // Acknowledging the end skips `b`'s trailing change too.
        assert_eq!(rest.next, Position::after_commit(db.last_seq()));
        ack(&db, &admin, "c", rest.next).unwrap();
        let record = get(&db, &admin, "c").unwrap();
        assert!(pull(&db, &record, 10).unwrap().events.is_empty());
    }

    #[test]
    fn a_page_can_end_inside_a_commit() {
        let db = db();
        let admin = Principal::anonymous_admin();
        create(&db, "all", None, None).unwrap();
        db.transaction(|txn| {
            for i in 0..3 {
                let doc = Value::from_json_str(&format!(r#"{{"_id": {i}}}"#)).unwrap();
                txn.insert("a", doc)?;
            }
            Ok(())
        })
        .unwrap();
        let record = get(&db, &admin, "all").unwrap();
        let first = pull(&db, &record, 2).unwrap();
        assert_eq!(ids(&first), ["0", "1"]);
        assert!(!first.next.is_whole_commit());
        ack(&db, &admin, "all", first.next).unwrap();
        let record = get(&db, &admin, "all").unwrap();
        assert_eq!(ids(&pull(&db, &record, 2).unwrap()), ["2"]);
    }

    #[test]
    fn bad_names_future_positions_and_duplicates_are_typed_errors() {
        let db = db();
        let admin = Principal::anonymous_admin();
        assert_eq!(
            create(&db, "no/slash", None, None).unwrap_err().code,
            "invalid_consumer_name"
        );
        assert_eq!(
            create(&db, "c", None, Some(db.last_seq() + 5))
                .unwrap_err()
                .code,
            "from_beyond_log"
        );
        create(&db, "c", None, None).unwrap();
        assert_eq!(
            create(&db, "c", None, None).unwrap_err().code,
            "consumer_exists"
        );
        assert_eq!(
            create(&db, "d", Some("missing"), None).unwrap_err().code,
            "collection_not_found"
        );
        let future = Position::after_commit(db.last_seq() + 1);
        assert_eq!(
            ack(&db, &admin, "c", future).unwrap_err().code,
            "ack_beyond_log"
        );
        delete(&db, &admin, "c").unwrap();
        assert_eq!(
            get(&db, &admin, "c").unwrap_err().code,
            "consumer_not_found"
        );
    }
}
