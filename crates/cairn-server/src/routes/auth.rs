//! `/v1/auth`: bearer tokens and the current user.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::{store, Need};
use crate::body::OptionalJsonBody;
use crate::limits::{DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL};
use crate::openapi::ErrorResponses;
use crate::routes::users::UserInfo;
use crate::state::SharedState;

/// Body of `POST /v1/auth/tokens` (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime in seconds: default 86,400 (a day), at most 2,592,000 (30 days); never past
    /// the expiry of the bearer token the request authenticates with.
    #[schema(value_type = Option<u64>, minimum = 1, maximum = 2_592_000)]
    #[serde(default, deserialize_with = "whole_seconds")]
    pub ttl_seconds: Option<u64>,
}

/// Reads a count of seconds, accepting integral floats (`60.0`): JSON Schema, and many JSON
/// writers, treat those as integers.
fn whole_seconds<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<u64>, D::Error> {
    let number: Option<serde_json::Number> = Option::deserialize(deserializer)?;
    let Some(number) = number else {
        return Ok(None);
    };
    if let Some(seconds) = number.as_u64() {
        return Ok(Some(seconds));
    }
    match number.as_f64() {
        Some(value) if value.fract() == 0.0 && (0.0..=u64::MAX as f64).contains(&value) => {
            Ok(Some(value as u64))
        }
        _ => Err(serde::de::Error::custom(
            "ttl_seconds must be a whole, non-negative number of seconds",
        )),
    }
}

/// A new bearer token. It is shown only here; the server keeps only its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenIssued {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// When it stops working (RFC 3339, UTC).
    pub expires_at: String,
    /// The user it authenticates as.
    pub user: String,
}

/// Issues a bearer token for the authenticated user (log in with Basic, or renew with a
/// token). A token issued to a request authenticated with a token expires no later than that
/// token, so renewing cannot keep a leaked token alive.
#[utoipa::path(post, operation_id = "create_token", path = "/v1/auth/tokens", tag = "auth", request_body = Option<TokenRequest>,
    responses((status = 201, description = "Issued", body = TokenIssued), ErrorResponses))]
pub async fn create_token(
    State(state): State<SharedState>,
    credentials: Credentials,
    OptionalJsonBody(request): OptionalJsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<TokenIssued>), ApiError> {
    if !state.auth_enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "auth_disabled",
            "authentication is off (--insecure-no-auth): requests need no token",
        ));
    }
    let ttl = match request.ttl_seconds {
        None => DEFAULT_TOKEN_TTL,
        Some(seconds) if (1..=MAX_TOKEN_TTL.as_secs()).contains(&seconds) => {
            Duration::from_secs(seconds)
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_request",
                format!(
                    "ttl_seconds must be between 1 and {}",
                    MAX_TOKEN_TTL.as_secs()
                ),
            ))
        }
    };
    let issued = state
        .run(credentials, Need::Authenticated, move |db, principal| {
            let (token, expires) = store::issue_token(db, principal, ttl)?;
            Ok(TokenIssued {
                token,
                expires_at: expires.to_string(),
                user: principal.name.clone(),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes the bearer token this request authenticates with. Idempotent: with Basic
/// credentials there is no token to revoke, and the answer is the same 204.
#[utoipa::path(delete, operation_id = "revoke_current_token", path = "/v1/auth/tokens/current", tag = "auth",
    responses((status = 204, description = "Revoked"), ErrorResponses))]
pub async fn revoke_current(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<StatusCode, ApiError> {
    let token = match &credentials {
        Credentials::Bearer(token) => Some(token.clone()),
        _ => None,
    };
    let revoked = state
        .run(credentials, Need::Authenticated, move |db, _| match token {
            Some(token) => store::revoke_token(db, &token).map(|_| ()),
            None => Ok(()),
        })
        .await;
    state.tokens.invalidate();
    revoked?;
    Ok(StatusCode::NO_CONTENT)
}

/// The authenticated user.
#[utoipa::path(get, operation_id = "current_user", path = "/v1/auth/me", tag = "auth",
    responses((status = 200, description = "Who you are", body = UserInfo), ErrorResponses))]
pub async fn me(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<UserInfo>, ApiError> {
    let principal = state
        .read(credentials, Need::Authenticated, |_, principal| {
            Ok(principal.clone())
        })
        .await?;
    Ok(Json(UserInfo {
        name: principal.name,
        role: principal.role,
        grants: principal.grants,
    }))
}
