//! Response bodies under the byte cap ([`crate::config::LimitsConfig::max_response_bytes`]).
//!
//! A request is small; what it asks for need not be: a transaction can read one large
//! document hundreds of times, a pipeline can return every document of a collection. Answers
//! are serialized on the reader thread that computed them and refused with 413
//! `limit_exceeded` past the cap; work that builds an answer piece by piece (transactions)
//! charges a [`ResponseBudget`] as it goes, so it stops before holding the whole answer.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;

use crate::api_error::ApiError;

/// A serialized JSON answer, ready to send.
pub struct JsonBytes(pub Vec<u8>);

impl IntoResponse for JsonBytes {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// Serializes `value`, or answers 413 when it is over `limit_bytes`.
pub fn capped_json<T: Serialize>(value: &T, limit_bytes: usize) -> Result<JsonBytes, ApiError> {
    let bytes = serde_json::to_vec(value)
        .map_err(|err| ApiError::internal(format!("serializing a response: {err}")))?;
    if bytes.len() > limit_bytes {
        return Err(response_too_large(bytes.len(), limit_bytes));
    }
    Ok(JsonBytes(bytes))
}

/// 413 `limit_exceeded` for an answer of (at least) `size_bytes` over the response limit.
pub fn response_too_large(size_bytes: usize, limit_bytes: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "limit_exceeded",
        format!(
            "the response would be over the limit of {limit_bytes} bytes; ask for less \
             (fewer operations, a projection, a smaller page)"
        ),
    )
    .with_details(json!({
        "what": "response_bytes",
        "size_bytes": size_bytes,
        "limit": limit_bytes,
        "setting": "limits.max_response_bytes",
    }))
}

/// Bytes an answer has used so far of the response limit.
#[derive(Debug)]
pub struct ResponseBudget {
    used: usize,
    limit: usize,
}

impl ResponseBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> ResponseBudget {
        ResponseBudget { used: 0, limit }
    }

    /// Counts `bytes` more; 413 once the total passes the limit.
    pub fn charge(&mut self, bytes: usize) -> Result<(), ApiError> {
        self.used = self.used.saturating_add(bytes);
        if self.used > self.limit {
            return Err(response_too_large(self.used, self.limit));
        }
        Ok(())
    }

    /// Starts over (a transaction retried after a conflict builds its answer again).
    pub fn reset(&mut self) {
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_over_the_limit_are_413_naming_it() {
        assert!(capped_json(&json!({"a": 1}), 100).is_ok());
        let err = capped_json(&json!({"a": "x".repeat(200)}), 100)
            .err()
            .unwrap();
        assert_eq!(
            (err.status, err.code),
            (StatusCode::PAYLOAD_TOO_LARGE, "limit_exceeded")
        );
        let details = err.details.unwrap();
        assert_eq!(details["what"], "response_bytes");
        assert_eq!(details["limit"], 100);
        let mut budget = ResponseBudget::new(10);
        budget.charge(6).unwrap();
        assert!(budget.charge(6).is_err());
        budget.reset();
        budget.charge(10).unwrap();
    }
}
