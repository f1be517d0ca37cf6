//! Path and query extractors that answer malformed input in the common error format (axum's
//! own rejections are plain text), and the parsing of document ids in URLs.

use axum::extract::{FromRequestParts, Path, Query};
use axum::http::request::Parts;
use cairn::DocId;
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;

/// Path parameters; 400 `invalid_path` when they do not parse.
pub struct ApiPath<T>(pub T);

/// Query parameters; 400 `invalid_query` when they do not parse.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))
    }
}

/// Reads a document id from a URL segment, as the command line does: a hyphenated UUID is a
/// UUID, a canonical decimal integer is an integer, a JSON string literal (`"123"`, quotes
/// included) is the string inside, and anything else is a string id.
pub fn parse_doc_id(text: &str) -> Result<DocId, ApiError> {
    let id = DocId::parse_cli(text);
    // Encoding the key checks the id rules (non-empty, at most MAX_ID_BYTES).
    id.to_key()?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_urls_read_like_the_command_line() {
        assert_eq!(parse_doc_id("42").unwrap(), DocId::Int(42));
        assert_eq!(
            parse_doc_id("\"42\"").unwrap(),
            DocId::String("42".to_string())
        );
        assert!(matches!(
            parse_doc_id("0190c3c0-0000-7000-8000-000000000000").unwrap(),
            DocId::Uuid(_)
        ));
        assert!(parse_doc_id(&"x".repeat(5000)).is_err());
    }
}
