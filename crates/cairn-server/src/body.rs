//! Request bodies: read under the body-size limit, then parsed into a typed request (unknown
//! fields refused) or a document (Cairn's document rules and the document-size limit). Every
//! failure is a 4xx in the common error format, never axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use cairn::Value;
use serde::de::DeserializeOwned;

use crate::api_error::ApiError;
use crate::state::SharedState;

/// A JSON request body deserialized into `T` (whose fields deny unknown names).
pub struct JsonBody<T>(pub T);

/// Like [`JsonBody`], for requests whose fields are all optional: an empty body means
/// `T::default()`, so `curl -X POST` without `-d` works.
pub struct OptionalJsonBody<T>(pub T);

/// A JSON request body holding one document.
pub struct DocumentBody(pub Value);

impl<T: DeserializeOwned> FromRequest<SharedState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, ApiError> {
        let bytes = read_limited(req, state.limits.max_body_bytes).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_json",
                "this request needs a JSON body",
            ));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

impl<T: DeserializeOwned + Default> FromRequest<SharedState> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, ApiError> {
        let bytes = read_limited(req, state.limits.max_body_bytes).await?;
        if bytes.is_empty() {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse_json(&bytes).map(OptionalJsonBody)
    }
}

impl FromRequest<SharedState> for DocumentBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &SharedState) -> Result<Self, ApiError> {
        let bytes = read_limited(req, state.limits.max_body_bytes).await?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "invalid_json",
                "this request needs a JSON document as its body",
            ));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| ApiError::bad_request("invalid_json", "the body is not UTF-8 text"))?;
        let doc = Value::from_json_str(text)?;
        check_document(&doc, state.limits.max_document_bytes)?;
        Ok(DocumentBody(doc))
    }
}

/// Parses JSON into `T`, telling malformed JSON (`invalid_json`) from well-formed JSON that does
/// not fit the request's shape (`invalid_request`: unknown or missing fields, wrong types).
/// Every request body is a JSON object: serde would also fill a struct from an array of its
/// fields in order (`[null, null]`), which no client means and the OpenAPI document forbids.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes.trim_ascii_start().first();
    if first.is_some_and(|&byte| byte != b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_slice(bytes).map_err(|err| {
        use serde_json::error::Category;
        match err.classify() {
            Category::Data => ApiError::bad_request("invalid_request", err.to_string()),
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::bad_request("invalid_json", err.to_string())
            }
        }
    })
}

/// Checks a document obeys the document rules and the configured size limit (413 beyond).
pub fn check_document(doc: &Value, limit_bytes: usize) -> Result<(), ApiError> {
    if doc.as_object().is_none() {
        return Err(ApiError::bad_request(
            "invalid_document",
            format!("a document must be a JSON object, not {}", doc.type_name()),
        ));
    }
    let size = cairn::encoded_len(doc)?;
    if size > limit_bytes {
        return Err(ApiError::too_large(
            "document_too_large",
            size as u64,
            limit_bytes as u64,
        ));
    }
    Ok(())
}

/// Reads the whole body, refusing more than `limit` bytes with 413 (up front when the client
/// declared its length).
pub(crate) async fn read_limited(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    if let Some(declared) = declared.filter(|&len| len > limit as u64) {
        return Err(ApiError::too_large(
            "body_too_large",
            declared,
            limit as u64,
        ));
    }
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|err| {
            if is_length_limit(&err) {
                ApiError::too_large("body_too_large", limit as u64 + 1, limit as u64)
            } else {
                ApiError::bad_request("invalid_body", format!("cannot read the body: {err}"))
            }
        })
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(current) = source {
        if current.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Shape {
        name: String,
    }

    #[test]
    fn syntax_and_shape_errors_have_distinct_codes() {
        assert_eq!(
            parse_json::<Shape>(b"{").err().unwrap().code,
            "invalid_json"
        );
        let array = parse_json::<Shape>(br#"["a"]"#).err().unwrap();
        assert_eq!(array.code, "invalid_request");
        assert_eq!(
            parse_json::<Shape>(b"[").err().unwrap().code,
            "invalid_json"
        );
        let unknown = parse_json::<Shape>(br#"{"name":"a","x":1}"#).err().unwrap();
        assert_eq!(unknown.code, "invalid_request");
        assert!(unknown.message.contains("unknown field"));
    }

    #[test]
    fn documents_over_the_limit_are_413() {
        let doc = Value::from_json_str(r#"{"a": "0123456789"}"#).unwrap();
        assert!(check_document(&doc, 1_000).is_ok());
        assert_eq!(
            check_document(&doc, 5).unwrap_err().status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let not_object = Value::from_json_str("[1]").unwrap();
        assert!(check_document(&not_object, 1_000).is_err());
    }
}
