//! The guard every client-supplied collection name passes: names reserved for Cairn's own data
//! (users, tokens) are refused before any database access, on every route, so no client —
//! admins included — can read or write them through the API.

use axum::http::StatusCode;
use serde_json::json;

use crate::api_error::ApiError;

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
}
