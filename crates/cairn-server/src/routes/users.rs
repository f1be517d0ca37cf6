//! `/v1/users`: user management, for admins.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api_error::ApiError;
use crate::auth::credentials::Credentials;
use crate::auth::store::{self, UserRecord};
use crate::auth::{password, Access, Need, Role};
use crate::body::JsonBody;
use crate::extract::ApiPath;
use crate::openapi::{ErrorResponses, GrantsSchema};
use crate::state::SharedState;

/// A user as shown to admins (never the password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// Default access to every collection.
    pub role: Role,
    /// Per-collection overrides of the role.
    #[schema(value_type = GrantsSchema)]
    pub grants: BTreeMap<String, Access>,
}

/// All users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    /// In name order.
    pub users: Vec<UserInfo>,
}

/// Body of `POST /v1/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    /// 1 to 64 ASCII letters, digits, `_`, `-` or `.`.
    #[schema(pattern = r"^[A-Za-z0-9_.-]{1,64}$")]
    pub name: String,
    /// 8 to 1,024 characters.
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    /// Default access to every collection.
    pub role: Role,
    /// Per-collection overrides of the role.
    #[schema(value_type = GrantsSchema)]
    #[serde(default)]
    pub grants: BTreeMap<String, Access>,
}

/// Body of `PATCH /v1/users/{name}`: the settings to change. A new password invalidates the
/// user's tokens.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUser {
    /// A new password (8 to 1,024 characters).
    #[schema(min_length = 8, max_length = 1024)]
    pub password: Option<String>,
    /// A new role.
    pub role: Option<Role>,
    /// New grants, replacing the old ones.
    #[schema(value_type = Option<GrantsSchema>)]
    pub grants: Option<BTreeMap<String, Access>>,
}

impl From<UserRecord> for UserInfo {
    fn from(record: UserRecord) -> UserInfo {
        UserInfo {
            name: record.name,
            role: record.role,
            grants: record.grants,
        }
    }
}

/// Lists users.
#[utoipa::path(get, operation_id = "list_users", path = "/v1/users", tag = "users",
    responses((status = 200, description = "All users", body = UserList), ErrorResponses))]
pub async fn list(
    State(state): State<SharedState>,
    credentials: Credentials,
) -> Result<Json<UserList>, ApiError> {
    let users = state
        .read(credentials, Need::Admin, |db, _| store::list_users(db))
        .await?;
    let users = users.into_iter().map(UserInfo::from).collect();
    Ok(Json(UserList { users }))
}

/// Creates a user.
#[utoipa::path(post, operation_id = "create_user", path = "/v1/users", tag = "users", request_body = CreateUser,
    responses((status = 201, description = "Created", body = UserInfo), ErrorResponses))]
pub async fn create(
    State(state): State<SharedState>,
    credentials: Credentials,
    JsonBody(request): JsonBody<CreateUser>,
) -> Result<(StatusCode, Json<UserInfo>), ApiError> {
    store::check_user_name(&request.name)?;
    password::check_new(&request.password)?;
    let logins = state.logins.clone();
    let record = state
        .run(credentials, Need::Admin, move |db, _| {
            let hash = logins.hash_new_password(&request.password)?;
            let mut record =
                UserRecord::new(request.name, hash.clone(), request.role, request.grants)?;
            record.set_password(hash, &request.password)?;
            store::create_user(db, &record)?;
            Ok(record)
        })
        .await;
    // Nothing cached can name a user that did not exist; invalidating anyway keeps the rule
    // simple: every change to users or tokens invalidates.
    state.tokens.invalidate();
    let record = record?;
    Ok((StatusCode::CREATED, Json(record.into())))
}

/// Shows a user.
#[utoipa::path(get, operation_id = "get_user", path = "/v1/users/{name}", tag = "users",
    params(("name" = String, Path, description = "User name", pattern = r"^[A-Za-z0-9_.-]{1,64}$")),
    responses((status = 200, description = "The user", body = UserInfo), ErrorResponses))]
pub async fn get(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<UserInfo>, ApiError> {
    let record = state
        .read(credentials, Need::Admin, move |db, _| {
            store::load_user(db, &name)?.ok_or_else(|| store::user_not_found(&name))
        })
        .await?;
    Ok(Json(record.into()))
}

/// Changes a user's password, role or grants.
#[utoipa::path(patch, operation_id = "update_user", path = "/v1/users/{name}", tag = "users",
    params(("name" = String, Path, description = "User name", pattern = r"^[A-Za-z0-9_.-]{1,64}$")),
    request_body = UpdateUser,
    responses((status = 200, description = "The updated user", body = UserInfo), ErrorResponses))]
pub async fn update(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(name): ApiPath<String>,
    JsonBody(request): JsonBody<UpdateUser>,
) -> Result<Json<UserInfo>, ApiError> {
    if let Some(new_password) = &request.password {
        password::check_new(new_password)?;
    }
    let logins = state.logins.clone();
    let record = state
        .run(credentials, Need::Admin, move |db, _| {
            let mut record =
                store::load_user(db, &name)?.ok_or_else(|| store::user_not_found(&name))?;
            if let Some(new_password) = &request.password {
                let hash = logins.hash_new_password(new_password)?;
                record.set_password(hash, new_password)?;
                record.epoch += 1;
            }
            if let Some(role) = request.role {
                record.role = role;
            }
            if let Some(grants) = request.grants {
                record.grants = grants;
            }
            store::store_user(db, &record)?;
            Ok(record)
        })
        .await;
    // After the commit: tokens resolved before it may carry the old role or password epoch.
    state.tokens.invalidate();
    let record = record?;
    Ok(Json(record.into()))
}

/// Deletes a user and their tokens (a user created again under the name never inherits them). Admins cannot delete themselves, so a server
/// always keeps the admin that is managing it.
#[utoipa::path(delete, operation_id = "delete_user", path = "/v1/users/{name}", tag = "users",
    params(("name" = String, Path, description = "User name", pattern = r"^[A-Za-z0-9_.-]{1,64}$")),
    responses((status = 204, description = "Deleted"), ErrorResponses))]
pub async fn delete(
    State(state): State<SharedState>,
    credentials: Credentials,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = state
        .run(credentials, Need::Admin, move |db, principal| {
            if principal.name == name {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "cannot_delete_self",
                    "an admin cannot delete the user they are logged in as",
                ));
            }
            if store::delete_user(db, &name)? {
                Ok(())
            } else {
                Err(store::user_not_found(&name))
            }
        })
        .await;
    state.tokens.invalidate();
    deleted?;
    Ok(StatusCode::NO_CONTENT)
}
