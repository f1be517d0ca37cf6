//! Users and tokens as documents in the database. All functions here block (they read and
//! write the database) and run on the blocking pool.
//!
//! A user record is `{"_id": name, "password": PHC string, "role", "grants", "epoch"}`; a token
//! record is `{"_id": sha256 hex, "user", "epoch", "expires_at_us"}`. Changing a password or
//! deleting a user bumps or removes the epoch tokens carry, so outstanding tokens stop working
//! at once without a scan of the token collection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn::{Database, DateTime, DocId, EngineError, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cache::{CachedToken, TokenCache};
use super::credentials::Credentials;
use super::{password, token, Access, Principal, Role};
use crate::api_error::ApiError;
use crate::error::ServerError;
use crate::limits::MAX_GRANTS_PER_USER;

/// The reserved collection holding users.
pub const USERS: &str = "_sys_users";
/// The reserved collection holding token digests.
pub const TOKENS: &str = "_sys_tokens";
/// The user created on first start.
pub const ROOT_USER: &str = "root";
/// Longest user name: 64 bytes, the same character set as collection names.
pub const MAX_USER_NAME_BYTES: usize = 64;

/// A stored user.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user name (the document id).
    #[serde(rename = "_id")]
    pub name: String,
    /// Argon2id PHC string.
    pub password: String,
    /// Default access.
    pub role: Role,
    /// Per-collection overrides.
    #[serde(default)]
    pub grants: BTreeMap<String, Access>,
    /// Bumped on every password change; tokens from an older epoch are invalid.
    pub epoch: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenRecord {
    #[serde(rename = "_id")]
    digest: String,
    user: String,
    epoch: i64,
    expires_at_us: i64,
}

/// What first start did about the `root` user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootBootstrap {
    /// Users already existed; nothing was created.
    Existing,
    /// `root` was created with the configured password.
    Created,
    /// `root` was created with this generated password (to be shown once).
    CreatedWithGeneratedPassword(String),
}

impl UserRecord {
    /// The principal this user authenticates as.
    pub fn principal(&self) -> Principal {
        Principal {
            name: self.name.clone(),
            role: self.role,
            grants: self.grants.clone(),
        }
    }
}

/// Creates the reserved collections if missing and, when there are no users yet, `root` (admin)
/// with `root_password` or a generated one.
pub fn bootstrap(db: &Database, root_password: Option<&str>) -> Result<RootBootstrap, ServerError> {
    let store_error = |err: ApiError| ServerError::AuthStore(err.message);
    create_collections(db)?;
    let mut any_user = false;
    db.for_each(USERS, |_, _| {
        any_user = true;
        false
    })?;
    if any_user {
        return Ok(RootBootstrap::Existing);
    }
    let (password, outcome) = match root_password {
        Some(password) => (password.to_string(), RootBootstrap::Created),
        None => {
            let generated = token::generate_password().map_err(store_error)?;
            (
                generated.clone(),
                RootBootstrap::CreatedWithGeneratedPassword(generated),
            )
        }
    };
    password::check_new(&password).map_err(|err| ServerError::InvalidSetting {
        setting: "CAIRN_ROOT_PASSWORD",
        reason: err.message,
    })?;
    let record = UserRecord {
        name: ROOT_USER.to_string(),
        password: password::hash(&password).map_err(store_error)?,
        role: Role::Admin,
        grants: BTreeMap::new(),
        epoch: 0,
    };
    db.insert(USERS, to_value(&record).map_err(store_error)?)?;
    Ok(outcome)
}

/// Creates the reserved collections if they are missing.
pub fn create_collections(db: &Database) -> Result<(), ServerError> {
    let existing: Vec<String> = db.list_collections()?.into_iter().map(|m| m.name).collect();
    for name in [USERS, TOKENS] {
        if !existing.iter().any(|n| n == name) {
            match db.create_collection(name) {
                Ok(_) | Err(EngineError::CollectionExists { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}

/// Checks credentials; the principal they belong to, or 401. Resolved tokens are cached.
pub fn authenticate(
    db: &Database,
    cache: &TokenCache,
    credentials: &Credentials,
) -> Result<Arc<Principal>, ApiError> {
    match credentials {
        Credentials::Missing => Err(ApiError::unauthorized(
            "credentials required: HTTP Basic or a bearer token from POST /v1/auth/tokens",
        )),
        Credentials::Basic { user, password } => {
            let record = load_user(db, user)?;
            match record {
                Some(record) if password::verify(password, &record.password) => {
                    Ok(Arc::new(record.principal()))
                }
                Some(_) => Err(wrong_login()),
                None => {
                    password::verify_against_nothing(password);
                    Err(wrong_login())
                }
            }
        }
        Credentials::Bearer(text) => {
            let invalid =
                || ApiError::unauthorized("the bearer token is unknown, expired or revoked");
            let digest = token::HexDigest::of(text);
            let digest = digest.as_str();
            let now_us = DateTime::now().micros();
            let (cached, generation) = cache.get(digest);
            if let Some(cached) = cached {
                if cached.expires_at_us > now_us {
                    return Ok(cached.principal);
                }
            }
            let (record, expires_at_us) = resolve_token(db, digest)?.ok_or_else(invalid)?;
            let principal = Arc::new(record.principal());
            let entry = CachedToken {
                principal: principal.clone(),
                expires_at_us,
            };
            cache.insert(digest.to_string(), entry, generation);
            Ok(principal)
        }
    }
}

/// Issues a token for `user` valid for `ttl`; returns the token text and its expiry.
pub fn issue_token(
    db: &Database,
    user: &str,
    ttl: Duration,
) -> Result<(String, DateTime), ApiError> {
    let record = load_user(db, user)?.ok_or_else(wrong_login)?;
    let text = token::generate()?;
    let ttl_us = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
    let expires = DateTime::from_micros(DateTime::now().micros().saturating_add(ttl_us));
    let stored = TokenRecord {
        digest: token::digest(&text),
        user: record.name,
        epoch: record.epoch,
        expires_at_us: expires.micros(),
    };
    db.insert(TOKENS, to_value(&stored)?)?;
    Ok((text, expires))
}

/// Revokes a token; whether it existed.
pub fn revoke_token(db: &Database, text: &str) -> Result<bool, ApiError> {
    Ok(db.delete(TOKENS, &DocId::String(token::digest(text)))?)
}

/// The user a valid token (given by its digest) belongs to, and the token's expiry. Expired
/// tokens are deleted when met.
fn resolve_token(db: &Database, digest: &str) -> Result<Option<(UserRecord, i64)>, ApiError> {
    let id = DocId::String(digest.to_string());
    let Some(value) = db.get(TOKENS, &id)? else {
        return Ok(None);
    };
    let stored: TokenRecord = from_value(&value)?;
    if !token::digests_match(&stored.digest, digest) {
        return Ok(None);
    }
    if stored.expires_at_us <= DateTime::now().micros() {
        db.delete(TOKENS, &id)?;
        return Ok(None);
    }
    let user = load_user(db, &stored.user)?.filter(|user| user.epoch == stored.epoch);
    Ok(user.map(|user| (user, stored.expires_at_us)))
}

/// Reads a user record.
pub fn load_user(db: &Database, name: &str) -> Result<Option<UserRecord>, ApiError> {
    if check_user_name(name).is_err() {
        return Ok(None);
    }
    match db.get(USERS, &DocId::String(name.to_string()))? {
        Some(value) => Ok(Some(from_value(&value)?)),
        None => Ok(None),
    }
}

/// Every user, in name order.
pub fn list_users(db: &Database) -> Result<Vec<UserRecord>, ApiError> {
    let mut values = Vec::new();
    db.for_each(USERS, |_, value| {
        values.push(value.clone());
        true
    })?;
    values.iter().map(from_value).collect()
}

/// Stores a new user; 409 if the name is taken.
pub fn create_user(db: &Database, record: &UserRecord) -> Result<(), ApiError> {
    check_user_name(&record.name)?;
    check_grants(&record.grants)?;
    match db.insert(USERS, to_value(record)?) {
        Ok(_) => Ok(()),
        Err(EngineError::DuplicateId { .. }) => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "user_exists",
            format!("user `{}` already exists", record.name),
        )
        .with_details(json!({ "user": record.name }))),
        Err(err) => Err(err.into()),
    }
}

/// Replaces a user record (after the caller applied its changes).
pub fn store_user(db: &Database, record: &UserRecord) -> Result<(), ApiError> {
    check_grants(&record.grants)?;
    let id = DocId::String(record.name.clone());
    Ok(db.replace(USERS, &id, to_value(record)?)?)
}

/// Deletes a user; whether it existed. Its tokens die with it (they name a missing user).
pub fn delete_user(db: &Database, name: &str) -> Result<bool, ApiError> {
    check_user_name(name)?;
    Ok(db.delete(USERS, &DocId::String(name.to_string()))?)
}

/// 404 for a user name that does not exist.
pub fn user_not_found(name: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_FOUND,
        "user_not_found",
        format!("user `{name}` does not exist"),
    )
    .with_details(json!({ "user": name }))
}

/// User names: 1 to [`MAX_USER_NAME_BYTES`] ASCII letters, digits, `_`, `-` and `.`.
pub fn check_user_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_USER_NAME_BYTES
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_user_name",
            format!(
                "a user name is 1 to {MAX_USER_NAME_BYTES} ASCII letters, digits, `_`, `-` or `.`"
            ),
        ))
    }
}

fn check_grants(grants: &BTreeMap<String, Access>) -> Result<(), ApiError> {
    if grants.len() > MAX_GRANTS_PER_USER {
        return Err(ApiError::bad_request(
            "too_many_grants",
            format!("a user may hold at most {MAX_GRANTS_PER_USER} grants"),
        ));
    }
    for collection in grants.keys() {
        crate::collection_name::check_valid(collection)?;
    }
    Ok(())
}

fn wrong_login() -> ApiError {
    ApiError::unauthorized("wrong user name or password")
}

/// Records go through their JSON form: both sides are plain JSON (no Cairn-specific types).
fn to_value<T: Serialize>(record: &T) -> Result<Value, ApiError> {
    let text = serde_json::to_string(record).map_err(ApiError::internal)?;
    Value::from_json_str(&text).map_err(ApiError::internal)
}

fn from_value<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, ApiError> {
    serde_json::from_str(&value.to_json_string()).map_err(|err| {
        ApiError::internal(format!("unreadable record in the auth collections: {err}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Credentials {
        Credentials::Basic {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    #[test]
    fn first_start_creates_root_once() {
        let db = Database::open_in_memory().unwrap();
        let cache = TokenCache::default();
        assert_eq!(
            bootstrap(&db, Some("secret-password")).unwrap(),
            RootBootstrap::Created
        );
        assert_eq!(
            bootstrap(&db, Some("another-one")).unwrap(),
            RootBootstrap::Existing
        );
        let root = authenticate(&db, &cache, &basic("root", "secret-password")).unwrap();
        assert_eq!(root.role, Role::Admin);
        assert!(authenticate(&db, &cache, &basic("root", "another-one")).is_err());
        assert!(authenticate(&db, &cache, &basic("nobody", "x")).is_err());
        assert!(authenticate(&db, &cache, &Credentials::Missing).is_err());
    }

    #[test]
    fn a_generated_root_password_works() {
        let db = Database::open_in_memory().unwrap();
        let cache = TokenCache::default();
        let RootBootstrap::CreatedWithGeneratedPassword(password) = bootstrap(&db, None).unwrap()
        else {
            panic!("expected a generated password");
        };
        assert!(authenticate(&db, &cache, &basic("root", &password)).is_ok());
    }

    #[test]
    fn tokens_die_with_a_password_change_or_revocation() {
        let db = Database::open_in_memory().unwrap();
        let cache = TokenCache::default();
        bootstrap(&db, Some("secret-password")).unwrap();
        let (text, _) = issue_token(&db, "root", Duration::from_secs(60)).unwrap();
        let bearer = Credentials::Bearer(text.clone());
        assert_eq!(authenticate(&db, &cache, &bearer).unwrap().name, "root");
        let mut root = load_user(&db, "root").unwrap().unwrap();
        root.epoch += 1;
        store_user(&db, &root).unwrap();
        cache.invalidate();
        assert!(authenticate(&db, &cache, &bearer).is_err());
        let (text, _) = issue_token(&db, "root", Duration::from_secs(60)).unwrap();
        assert!(revoke_token(&db, &text).unwrap());
        cache.invalidate();
        assert!(authenticate(&db, &cache, &Credentials::Bearer(text)).is_err());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let db = Database::open_in_memory().unwrap();
        let cache = TokenCache::default();
        bootstrap(&db, Some("secret-password")).unwrap();
        let (text, _) = issue_token(&db, "root", Duration::ZERO).unwrap();
        assert!(authenticate(&db, &cache, &Credentials::Bearer(text)).is_err());
    }
}
