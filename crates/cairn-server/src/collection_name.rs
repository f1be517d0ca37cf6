//! The guard every client-supplied collection name passes: names reserved for Cairn's own data
//! (users, tokens) are refused before any database access, on every route, so no client —
//! admins included — can read or write them through the API.
//!
//! Routes with a `{collection}` path segment take a [`CollectionName`]: the extractor runs the
//! guard once, before the handler, and declares the segment (with its pattern) in the OpenAPI
//! document, so neither the check nor the pattern is repeated per route.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::json;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
use utoipa::openapi::Required;

use crate::api_error::ApiError;
use crate::openapi::COLLECTION_NAME_PATTERN;

/// The `{collection}` segment of a route's path, passed through [`check`]: a handler that
/// takes one never sees a reserved or over-long name. The field is public so a handler can
/// destructure it (`CollectionName(collection): CollectionName`); construct one only by
/// extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CollectionName {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|rejection| ApiError::bad_request("invalid_path", rejection.body_text()))?;
        let name = params
            .iter()
            .find_map(|(key, value)| (key == "collection").then(|| value.to_string()))
            .ok_or_else(|| {
                // A route wiring error (extractor on a path without the segment), not input.
                ApiError::bad_request("invalid_path", "this path has no `{collection}` segment")
            })?;
        check(&name)?;
        Ok(CollectionName(name))
    }
}

impl utoipa::IntoParams for CollectionName {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let schema = ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .pattern(Some(COLLECTION_NAME_PATTERN));
        vec![ParameterBuilder::new()
            .name("collection")
            .parameter_in(ParameterIn::Path)
            .required(Required::True)
            .description(Some("Collection name"))
            .schema(Some(schema))
            .build()]
    }
}

/// Accepts any name a client may address (the engine validates the characters when it
/// creates a collection); refuses reserved ones with 403 and absurdly long ones with 400.
pub fn check(name: &str) -> Result<(), ApiError> {
    if cairn::is_system_collection(name) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "reserved_collection",
            format!(
                "collection names starting with `{}` are reserved for Cairn itself",
                cairn::SYSTEM_COLLECTION_PREFIX
            ),
        )
        .with_details(json!({ "collection": name })));
    }
    let limit = cairn::limits::MAX_COLLECTION_NAME_BYTES;
    if name.len() > limit {
        return Err(ApiError::bad_request(
            "invalid_collection_name",
            format!("collection names are at most {limit} bytes"),
        ));
    }
    Ok(())
}

/// Like [`check`], and the name must also obey the engine's naming rules: for names stored
/// before any collection exists (grants).
pub fn check_valid(name: &str) -> Result<(), ApiError> {
    check(name)?;
    cairn::validate_collection_name(name).map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_refused_and_others_pass() {
        assert_eq!(
            check("_sys_users").unwrap_err().status,
            StatusCode::FORBIDDEN
        );
        assert!(check("users").is_ok());
        assert!(check(&"x".repeat(1000)).is_err());
        assert!(check("").is_ok());
        assert!(check_valid("").is_err());
        assert!(check_valid("jobs").is_ok());
    }

    /// A one-route app whose handler echoes the extracted name.
    fn echo_app() -> axum::Router {
        axum::Router::new().route(
            "/c/{collection}/x/{name}",
            axum::routing::get(|CollectionName(name): CollectionName| async move { name }),
        )
    }

    async fn get(app: axum::Router, uri: &str) -> (StatusCode, String) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let request = axum::http::Request::get(uri)
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn extractor_refuses_reserved_and_long_names_before_the_handler() {
        let (status, body) = get(echo_app(), "/c/_sys_users/x/a").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(body.contains("reserved_collection"), "{body}");
        let long = "x".repeat(cairn::limits::MAX_COLLECTION_NAME_BYTES + 1);
        let (status, body) = get(echo_app(), &format!("/c/{long}/x/a")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid_collection_name"), "{body}");
    }

    #[tokio::test]
    async fn extractor_passes_the_decoded_segment_among_others() {
        assert_eq!(
            get(echo_app(), "/c/jobs/x/a").await,
            (StatusCode::OK, "jobs".into())
        );
        assert_eq!(
            get(echo_app(), "/c/a%2Db/x/a").await,
            (StatusCode::OK, "a-b".into())
        );
    }
}
