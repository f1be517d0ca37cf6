//! Running a request's work as one serializable transaction, retried on conflicts, returning
//! the commit's sequence number (which clients can match against the change stream).
//!
//! The engine's own `Database::transaction` retries too, but its body can only fail with an
//! engine error; request bodies also fail with API errors (a compare-and-swap mismatch, a
//! document over the server's size limit) that must abort the transaction without a retry.

use std::time::Duration;

use cairn::{Database, EngineError, Transaction, Value};

use crate::api_error::ApiError;
use crate::body::check_document;
use crate::limits::{MAX_TXN_ATTEMPTS, MAX_TXN_BACKOFF};

/// Why a transaction body stopped.
#[derive(Debug)]
pub enum TxnError {
    /// The engine refused an operation (possibly a retryable conflict).
    Engine(EngineError),
    /// The request itself is wrong; abort without retrying.
    Api(ApiError),
}

impl From<EngineError> for TxnError {
    fn from(err: EngineError) -> TxnError {
        TxnError::Engine(err)
    }
}

impl From<ApiError> for TxnError {
    fn from(err: ApiError) -> TxnError {
        TxnError::Api(err)
    }
}

/// Runs `body` in a transaction and commits, retrying the whole body on conflicts with
/// randomised back-off. Returns the body's value and the commit's sequence number.
pub fn run<T>(
    db: &Database,
    mut body: impl FnMut(&mut Transaction) -> Result<T, TxnError>,
) -> Result<(T, u64), ApiError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut txn = db.begin()?;
        let outcome = match body(&mut txn) {
            Ok(value) => txn
                .commit()
                .map(|seq| (value, seq))
                .map_err(TxnError::Engine),
            Err(err) => Err(err),
        };
        match outcome {
            Ok(done) => return Ok(done),
            Err(TxnError::Engine(err)) if err.is_retryable() && attempt < MAX_TXN_ATTEMPTS => {
                backoff(attempt);
            }
            Err(TxnError::Engine(err)) => return Err(err.into()),
            Err(TxnError::Api(err)) => return Err(err),
        }
    }
}

/// Refuses a document the transaction is about to store when it exceeds the server's size
/// limit (patches can grow a document past it).
pub fn guard_size(doc: &Value, limit_bytes: usize) -> Result<(), TxnError> {
    check_document(doc, limit_bytes).map_err(TxnError::Api)
}

/// Sleeps a random time growing with the attempt, so racing retries spread out.
fn backoff(attempt: u32) {
    let ceiling_us = (50u64 << attempt.min(10)).min(MAX_TXN_BACKOFF.as_micros() as u64);
    let jitter = getrandom::u64().unwrap_or(ceiling_us / 2) % ceiling_us.max(1);
    std::thread::sleep(Duration::from_micros(jitter));
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn api_errors_abort_without_committing() {
        let db = Database::open_in_memory().unwrap();
        db.create_collection("c").unwrap();
        let err = run(&db, |txn| {
            txn.insert("c", Value::from_json_str(r#"{"_id": 1}"#).unwrap())?;
            Err::<(), _>(TxnError::Api(ApiError::bad_request("no", "stop")))
        })
        .unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(db.get("c", &cairn::DocId::Int(1)).unwrap(), None);
        let ((), seq) = run(&db, |txn| {
            txn.insert("c", Value::from_json_str(r#"{"_id": 1}"#).unwrap())?;
            Ok(())
        })
        .unwrap();
        assert_eq!(seq, db.last_seq());
    }
}
