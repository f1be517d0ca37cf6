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
use crate::body::JsonBody;
use crate::limits::{DEFAULT_TOKEN_TTL, MAX_TOKEN_TTL};
use crate::openapi::ErrorResponses;
use crate::routes::users::UserInfo;
use crate::state::SharedState;

/// Body of `POST /v1/auth/tokens` (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// Lifetime in seconds: default 86,400 (a day), at most 2,592,000 (30 days).
    #[schema(minimum = 1, maximum = 2_592_000)]
    pub ttl_seconds: Option<u64>,
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
/// token).
#[utoipa::path(post, path = "/v1/auth/tokens", tag = "auth", request_body = TokenRequest,
    responses((status = 201, description = "Issued", body = TokenIssued), ErrorResponses))]
pub async fn create_token(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<(StatusCode, Json<TokenIssued>), ApiError> {
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
            let (token, expires) = store::issue_token(db, &principal.name, ttl)?;
            Ok(TokenIssued {
                token,
                expires_at: expires.to_string(),
                user: principal.name.clone(),
            })
        })
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Revokes the bearer token this request authenticates with.
#[utoipa::path(delete, path = "/v1/auth/tokens/current", tag = "auth",
    responses((status = 204, description = "Revoked"), ErrorResponses))]
pub async fn revoke_current(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<StatusCode, ApiError> {
    let Credentials::Bearer(token) = credentials.clone() else {
        return Err(ApiError::bad_request(
            "not_a_token",
            "authenticate with the bearer token to revoke",
        ));
    };
    state
        .run(credentials, Need::Authenticated, move |db, _| {
            store::revoke_token(db, &token).map(|_| ())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The authenticated user.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth",
    responses((status = 200, description = "Who you are", body = UserInfo), ErrorResponses))]
pub async fn me(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<UserInfo>, ApiError> {
    let principal = state
        .run(credentials, Need::Authenticated, |_, principal| {
            Ok(principal.clone())
        })
        .await?;
    Ok(Json(UserInfo {
        name: principal.name,
        role: principal.role,
        grants: principal.grants,
    }))
}
