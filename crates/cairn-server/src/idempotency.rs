//! Idempotency keys on writes: a client that sends `Idempotency-Key: K` with a write can
//! retry it (after a 408, a dropped connection, a crash) without applying it twice.
//!
//! Why it is needed: a 408 answers the client, not the work: a write already handed to the
//! database finishes and may commit. With a key, the first attempt that commits stores its
//! answer in the reserved collection [`IDEMPOTENCY`] *in the same transaction as the write*,
//! so the write and its record commit together or not at all. A retry with the same key and
//! the same request (method, path and body bytes) gets that answer back (with
//! `Idempotent-Replayed: true`) without writing; the same key with a different request is 422
//! `idempotency_key_reused`. Keys are per user, kept for the configured retention
//! ([`crate::config::LimitsConfig::idempotency_retention_s`]) and then pruned. A write that
//! failed stored nothing: retrying it simply runs it again.
//!
//! The commit's sequence number is only known once the transaction has committed, so it is
//! added to the record by a second, small commit (a replay racing it waits for it); if the
//! server stops between the two, a replay answers `seq` 0.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cairn::{Database, DocId, EngineError, Filter, Patch, Query, Transaction, Value};
use serde_json::{json, Value as JsonValue};
use sha2::{Digest, Sha256};

use crate::api_error::ApiError;
use crate::auth::Principal;
use crate::body::read_limited;
use crate::limits::{IDEMPOTENCY_PRUNE_BATCH, IDEMPOTENCY_SEQ_WAIT, MAX_IDEMPOTENCY_KEY_BYTES};
use crate::state::SharedState;
use crate::transact::{self, TxnError};

/// The reserved collection holding the answers of writes sent with a key. Like the user
/// collections, no client route can name it.
pub const IDEMPOTENCY: &str = "_sys_idempotency";

/// Pause between two looks at a record still waiting for its sequence number.
const SEQ_POLL: Duration = Duration::from_millis(10);

/// The request header carrying the key.
pub const HEADER: &str = "idempotency-key";

/// The response header marking an answer replayed from the record.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// A key with the fingerprint of the request that came with it.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: String,
}

/// A request body extractor `B` with the request's idempotency key, when it has one. The body
/// is read once: hashed for the fingerprint, then handed to `B` unchanged.
pub struct Idempotent<B>(pub B, pub Option<IdempotencyKey>);

impl<B> FromRequest<SharedState> for Idempotent<B>
where
    B: FromRequest<SharedState, Rejection = ApiError> + Send,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, ApiError> {
        let Some(value) = req.headers().get(HEADER) else {
            return Ok(Idempotent(B::from_request(req, state).await?, None));
        };
        let key = check_key(value)?;
        let (parts, body) = req.into_parts();
        let method = parts.method.clone();
        let path = parts.uri.path().to_string();
        let bytes: Bytes = read_limited(
            Request::from_parts(parts.clone(), body),
            state.limits.max_body_bytes,
        )
        .await?;
        let mut hash = Sha256::new();
        for piece in [method.as_str().as_bytes(), b"\0", path.as_bytes(), b"\0"] {
            hash.update(piece);
        }
        hash.update(&bytes);
        let fingerprint = hex(&hash.finalize());
        let inner = B::from_request(Request::from_parts(parts, Body::from(bytes)), state).await?;
        Ok(Idempotent(inner, Some(IdempotencyKey { key, fingerprint })))
    }
}

/// 1 to [`MAX_IDEMPOTENCY_KEY_BYTES`] visible ASCII characters (a UUID fits; so does any
/// client's own scheme).
fn check_key(value: &HeaderValue) -> Result<String, ApiError> {
    let bytes = value.as_bytes();
    let valid = (1..=MAX_IDEMPOTENCY_KEY_BYTES).contains(&bytes.len())
        && bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    if !valid {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!(
                "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"
            ),
        )
        .with_details(json!({ "limit": MAX_IDEMPOTENCY_KEY_BYTES })));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// What a write answers: its status and JSON body. `seq` is added after the commit when
/// `with_seq` says the body carries one.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, without `seq`.
    pub body: JsonValue,
    /// Whether the body gets the commit's `seq`.
    pub with_seq: bool,
    /// Whether this answer was replayed from an earlier attempt.
    pub replayed: bool,
}

impl Answer {
    /// An answer whose body gets the commit's `seq`.
    pub fn new(status: StatusCode, body: JsonValue) -> Answer {
        Answer {
            status,
            body,
            with_seq: true,
            replayed: false,
        }
    }

    fn set_seq(&mut self, seq: u64) {
        if let (true, Some(body)) = (self.with_seq, self.body.as_object_mut()) {
            body.insert("seq".to_string(), json!(seq));
        }
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.replayed {
            response.headers_mut().insert(
                HeaderName::from_static(REPLAYED_HEADER),
                HeaderValue::from_static("true"),
            );
        }
        response
    }
}

/// The outcome of the transaction: a fresh answer, or the record of an earlier attempt.
enum Outcome {
    Fresh(Answer),
    Recorded(Value),
}

/// Runs `write` in one transaction with the idempotency record of `key` (see the module
/// documentation); without a key, just runs it. `retention` is how long records count.
pub fn run(
    db: &Database,
    principal: &Principal,
    key: Option<&IdempotencyKey>,
    retention: Duration,
    mut write: impl FnMut(&mut Transaction) -> Result<Answer, TxnError>,
) -> Result<Answer, ApiError> {
    let Some(key) = key else {
        let (mut answer, seq) = transact::run(db, write)?;
        answer.set_seq(seq);
        return Ok(answer);
    };
    let id = DocId::String(record_id(&principal.name, &key.key));
    let now = now_ms();
    let (outcome, seq) = transact::run(db, |txn| {
        if let Some(record) = txn.get(IDEMPOTENCY, &id)? {
            if !expired(&record, now, retention) {
                return Ok(Outcome::Recorded(record));
            }
            txn.delete(IDEMPOTENCY, &id)?;
        }
        let answer = write(txn)?;
        txn.insert(IDEMPOTENCY, record(&id, key, &answer, now))?;
        Ok(Outcome::Fresh(answer))
    })?;
    match outcome {
        Outcome::Recorded(record) => replay(&settled(db, &id, record), key),
        Outcome::Fresh(mut answer) => {
            answer.set_seq(seq);
            if answer.with_seq {
                record_seq(db, &id, seq);
            }
            Ok(answer)
        }
    }
}

/// The record's `_id`: a hash of user and key, so keys are per user and of any shape.
fn record_id(user: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(user.as_bytes());
    hash.update(b"\0");
    hash.update(key.as_bytes());
    hex(&hash.finalize())
}

fn record(id: &DocId, key: &IdempotencyKey, answer: &Answer, now: i64) -> Value {
    let mut object = cairn::Object::new();
    object.insert("_id", id.to_value());
    object.insert("fingerprint", Value::from(key.fingerprint.as_str()));
    object.insert("status", Value::Int(i64::from(answer.status.as_u16())));
    object.insert("body", Value::from(answer.body.to_string().as_str()));
    object.insert("with_seq", Value::Bool(answer.with_seq));
    object.insert("created_at_ms", Value::Int(now));
    Value::Object(object)
}

/// Adds the commit's sequence number to a fresh record; best effort (see the module docs).
fn record_seq(db: &Database, id: &DocId, seq: u64) {
    let set = json!({ "$set": { "seq": seq } }).to_string();
    let outcome = Patch::from_json_str(&set)
        .map_err(EngineError::from)
        .and_then(|patch| db.transaction(|txn| txn.update(IDEMPOTENCY, id, &patch)));
    if let Err(err) = outcome {
        tracing::warn!(%err, "recording the sequence number of an idempotent write");
    }
}

/// The record once its first attempt has added the commit's sequence number, waiting for it
/// up to [`IDEMPOTENCY_SEQ_WAIT`]: a retry racing the first attempt's second commit would
/// otherwise answer without it.
fn settled(db: &Database, id: &DocId, mut record: Value) -> Value {
    let pending = |record: &Value| {
        let object = record.as_object();
        matches!(
            object.and_then(|o| o.get("with_seq")),
            Some(Value::Bool(true))
        ) && object.and_then(|o| o.get("seq")).is_none()
    };
    let started = Instant::now();
    while pending(&record) && started.elapsed() < IDEMPOTENCY_SEQ_WAIT {
        std::thread::sleep(SEQ_POLL);
        match db.get(IDEMPOTENCY, id) {
            Ok(Some(latest)) => record = latest,
            Ok(None) | Err(_) => break,
        }
    }
    record
}

/// The earlier attempt's answer, or 422 when the key came with a different request.
fn replay(record: &Value, key: &IdempotencyKey) -> Result<Answer, ApiError> {
    let field = |name: &str| record.as_object().and_then(|o| o.get(name));
    let text = |name: &str| match field(name) {
        Some(Value::String(s)) => Some(s.to_string()),
        _ => None,
    };
    if text("fingerprint").as_deref() != Some(key.fingerprint.as_str()) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request; use a new key per write",
        ));
    }
    let status = match field("status") {
        Some(Value::Int(code)) => u16::try_from(*code)
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok()),
        _ => None,
    };
    let body = text("body").and_then(|body| serde_json::from_str(&body).ok());
    let (Some(status), Some(body)) = (status, body) else {
        return Err(ApiError::internal("an idempotency record is malformed"));
    };
    let mut answer = Answer {
        status,
        body,
        with_seq: matches!(field("with_seq"), Some(Value::Bool(true))),
        replayed: true,
    };
    let seq = match field("seq") {
        Some(Value::Int(seq)) => u64::try_from(*seq).unwrap_or(0),
        _ => 0,
    };
    answer.set_seq(seq);
    Ok(answer)
}

fn expired(record: &Value, now: i64, retention: Duration) -> bool {
    let created = match record.as_object().and_then(|o| o.get("created_at_ms")) {
        Some(Value::Int(ms)) => *ms,
        _ => return true,
    };
    now.saturating_sub(created) > i64::try_from(retention.as_millis()).unwrap_or(i64::MAX)
}

/// Deletes records older than `retention`, a batch per transaction; returns how many.
pub fn prune(db: &Database, retention: Duration) -> Result<u64, ApiError> {
    let cutoff = now_ms().saturating_sub(i64::try_from(retention.as_millis()).unwrap_or(i64::MAX));
    let filter = Filter::field("created_at_ms")?.lt(cutoff);
    let mut pruned = 0;
    loop {
        let query = Query::new(filter.clone()).limit(IDEMPOTENCY_PRUNE_BATCH);
        let page = cairn::find(db, IDEMPOTENCY, &query)?;
        if page.documents.is_empty() {
            return Ok(pruned);
        }
        let ids: Vec<DocId> = page
            .documents
            .iter()
            .filter_map(|doc| doc.as_object().and_then(|o| o.get("_id")))
            .filter_map(|id| DocId::from_value(id).ok())
            .collect();
        db.transaction(|txn| {
            for id in &ids {
                txn.delete(IDEMPOTENCY, id)?;
            }
            Ok(())
        })?;
        pruned += ids.len() as u64;
        if page.cursor.is_none() {
            return Ok(pruned);
        }
    }
}

/// Creates the reserved collection if it does not exist yet.
pub fn create_collection(db: &Database) -> Result<(), EngineError> {
    match db.create_collection(IDEMPOTENCY) {
        Ok(_) | Err(EngineError::CollectionExists { .. }) => Ok(()),
        Err(err) => Err(err),
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(key: &str, fingerprint: &str) -> IdempotencyKey {
        IdempotencyKey {
            key: key.to_string(),
            fingerprint: fingerprint.to_string(),
        }
    }

    fn database() -> Database {
        let db = Database::open_in_memory().unwrap();
        db.create_collection("c").unwrap();
        create_collection(&db).unwrap();
        db
    }

    fn insert(txn: &mut Transaction) -> Result<Answer, TxnError> {
        let id = txn.insert("c", Value::from_json_str(r#"{"v": 1}"#).unwrap())?;
        Ok(Answer::new(
            StatusCode::CREATED,
            json!({ "_id": serde_json::to_value(id.to_value()).unwrap() }),
        ))
    }

    #[test]
    fn a_retry_with_the_key_is_answered_from_the_record_and_writes_once() {
        let db = database();
        let user = Principal::anonymous_admin();
        let day = Duration::from_secs(86_400);
        let first = run(&db, &user, Some(&key("k", "f")), day, insert).unwrap();
        let again = run(&db, &user, Some(&key("k", "f")), day, insert).unwrap();
        assert!(again.replayed && !first.replayed);
        assert_eq!((again.status, &again.body), (first.status, &first.body));
        assert_eq!(cairn::count(&db, "c", &Filter::All).unwrap(), 1);
        let err = run(&db, &user, Some(&key("k", "other")), day, insert).unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.code),
            (422, "idempotency_key_reused")
        );
        // Another key, or no key, writes again.
        run(&db, &user, Some(&key("k2", "f")), day, insert).unwrap();
        run(&db, &user, None, day, insert).unwrap();
        assert_eq!(cairn::count(&db, "c", &Filter::All).unwrap(), 3);
    }

    #[test]
    fn expired_records_are_pruned_and_no_longer_replayed() {
        let db = database();
        let user = Principal::anonymous_admin();
        run(&db, &user, Some(&key("k", "f")), Duration::ZERO, insert).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        // Expired but not yet pruned: not replayed, written again under the same key.
        let again = run(&db, &user, Some(&key("k", "f")), Duration::ZERO, insert).unwrap();
        assert!(!again.replayed);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(prune(&db, Duration::ZERO).unwrap(), 1);
        let again = run(&db, &user, Some(&key("k", "f")), Duration::ZERO, insert).unwrap();
        assert!(!again.replayed);
        assert_eq!(cairn::count(&db, "c", &Filter::All).unwrap(), 3);
    }
}
