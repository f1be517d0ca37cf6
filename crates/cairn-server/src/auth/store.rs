//! Users and tokens as documents in the database. All functions here block (they read and
//! write the database) and run on the blocking pool.
//!
//! A user record is `{"_id": name, "password": PHC string, "role", "grants", "epoch",
//! "incarnation"}`; a token record is `{"_id": sha256 hex, "user", "epoch", "incarnation",
//! "expires_at_us"}`. A token works only while its user's record carries the same epoch and
//! incarnation. Changing a password bumps the epoch, so outstanding tokens stop working at
//! once without a scan of the token collection. Deleting a user deletes its tokens in the same
//! transaction, and a user created again under the same name gets a new random incarnation, so
//! no token (nor a copy of one restored from a backup) of the old user ever works for the new.
//!
//! Every change here is made durable before it is acknowledged, in every storage mode
//! ([`durable`]): a revocation that a crash could undo is no revocation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use cairn::{Database, DateTime, DocId, EngineError, Value};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cache::{CachedToken, TokenCache};
use super::credentials::Credentials;
use super::login::{Login, LoginGuard};
use super::{password, token, Access, Principal, Role, UserStamp};
use crate::api_error::ApiError;
use crate::error::ServerError;
use crate::limits::MAX_GRANTS_PER_USER;
pub use crate::limits::MAX_USER_NAME_BYTES;

/// The reserved collection holding users.
pub const USERS: &str = "_sys_users";
/// The reserved collection holding token digests.
pub const TOKENS: &str = "_sys_tokens";
/// The user created on first start.
pub const ROOT_USER: &str = "root";

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
    /// Random, drawn when the user is created: tokens of an earlier user of the same name
    /// never match it. Empty in records written before it existed.
    #[serde(default)]
    pub incarnation: String,
    /// The password's SCRAM-SHA-256 verifier (PostgreSQL's form), for logins over the SQL
    /// wire protocol. Absent in records whose password was set before verifiers existed:
    /// those users log in over SQL once their password is set again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scram: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct TokenRecord {
    #[serde(rename = "_id")]
    digest: String,
    user: String,
    epoch: i64,
    #[serde(default)]
    incarnation: String,
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
    /// A new user (epoch 0, a fresh incarnation) with an already hashed password.
    pub fn new(
        name: String,
        password_hash: String,
        role: Role,
        grants: BTreeMap<String, Access>,
    ) -> Result<UserRecord, ApiError> {
        Ok(UserRecord {
            name,
            password: password_hash,
            role,
            grants,
            epoch: 0,
            incarnation: token::generate_incarnation()?,
            scram: None,
        })
    }

    /// Sets the password: its Argon2 hash (computed by the caller, who owns the hashing
    /// memory) and its SCRAM verifier, which must always change together.
    pub fn set_password(&mut self, hash: String, password: &str) -> Result<(), ApiError> {
        self.password = hash;
        self.scram = Some(password::scram_verifier(password)?);
        Ok(())
    }

    /// The principal this user authenticates as (with a password: no expiry).
    pub fn principal(&self) -> Principal {
        Principal {
            name: self.name.clone(),
            role: self.role,
            grants: self.grants.clone(),
            expires_at_us: None,
            stamp: Some(self.stamp()),
        }
    }

    /// The record's incarnation and epoch.
    fn stamp(&self) -> UserStamp {
        UserStamp {
            incarnation: self.incarnation.clone(),
            epoch: self.epoch,
        }
    }
}

/// Makes the changes just committed durable before they are acknowledged, whatever the storage
/// mode (in `memory-first` a crash within the flush window would otherwise undo a revocation,
/// a user deletion or a password change); a no-op where commits are durable already.
pub fn durable(db: &Database) -> Result<(), ApiError> {
    Ok(db.flush()?)
}

/// Creates the reserved collections if missing and, when there are no users yet, `root` (admin)
/// with `root_password` or a generated one.
pub fn bootstrap(db: &Database, root_password: Option<&str>) -> Result<RootBootstrap, ServerError> {
    let store_error = |err: ApiError| ServerError::AuthStore(err.message);
    create_collections(db)?;
    upgrade_legacy_records(db).map_err(store_error)?;
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
    let hash = password::hash(&password).map_err(store_error)?;
    let mut record = UserRecord::new(
        ROOT_USER.to_string(),
        hash.clone(),
        Role::Admin,
        BTreeMap::new(),
    )
    .map_err(store_error)?;
    record.set_password(hash, &password).map_err(store_error)?;
    db.insert(USERS, to_value(&record).map_err(store_error)?)?;
    durable(db).map_err(store_error)?;
    Ok(outcome)
}

/// Gives users written before incarnations existed a fresh one, and deletes the tokens written
/// before (they carry none): such a token cannot tell whether its user was deleted and created
/// again since, so it must not outlive the upgrade. Users log in again once; a no-op after.
pub fn upgrade_legacy_records(db: &Database) -> Result<(), ApiError> {
    let mut users = Vec::new();
    db.for_each(USERS, |_, value| {
        users.push(value.clone());
        true
    })?;
    let mut legacy_users = Vec::new();
    for value in &users {
        let record: UserRecord = from_value(value)?;
        if record.incarnation.is_empty() {
            legacy_users.push(record);
        }
    }
    let mut legacy_tokens = Vec::new();
    db.for_each(TOKENS, |id, value| {
        let incarnation = value.as_object().and_then(|doc| doc.get("incarnation"));
        if incarnation
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            legacy_tokens.push(id.clone());
        }
        true
    })?;
    if legacy_users.is_empty() && legacy_tokens.is_empty() {
        return Ok(());
    }
    for record in &mut legacy_users {
        record.incarnation = token::generate_incarnation()?;
    }
    crate::transact::run(db, |txn| {
        for record in &legacy_users {
            let id = DocId::String(record.name.clone());
            txn.replace(USERS, &id, to_value(record)?)?;
        }
        for id in &legacy_tokens {
            txn.delete(TOKENS, id)?;
        }
        Ok(())
    })?;
    durable(db)
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

/// Finishes a login ([`super::login::prepare`] did the async part); the principal, or 401.
/// Resolved tokens and verified passwords are cached; wrong passwords count against the
/// throttle.
pub fn authenticate(
    db: &Database,
    cache: &TokenCache,
    guard: &LoginGuard,
    login: Login,
) -> Result<Arc<Principal>, ApiError> {
    match login {
        Login::Resolved(principal) => Ok(principal),
        Login::Bearer(text) => authenticate_token(db, cache, &text),
        Login::Password {
            user,
            password,
            client,
            cache_key,
            mut permit,
        } => {
            // Taken before the read: a change committed after it keeps the result out.
            let (_, generation) = cache.get(&cache_key);
            let record = load_user(db, &user)?;
            let verified = match &record {
                Some(record) => password::verify_in(&password, &record.password, permit.memory()),
                None => {
                    password::verify_against_nothing(&password, permit.memory());
                    false
                }
            };
            drop(permit);
            match record {
                Some(record) if verified => {
                    let principal = Arc::new(record.principal());
                    let now_us = DateTime::now().micros();
                    cache.insert_password(cache_key, principal.clone(), now_us, generation);
                    Ok(principal)
                }
                _ => {
                    guard.throttle.record_failure(&user, client);
                    Err(wrong_login())
                }
            }
        }
    }
}

/// Resolves a bearer token through the cache, else the token and user records.
fn authenticate_token(
    db: &Database,
    cache: &TokenCache,
    text: &str,
) -> Result<Arc<Principal>, ApiError> {
    let invalid = || ApiError::unauthorized("the bearer token is unknown, expired or revoked");
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
    let principal = Arc::new(Principal {
        expires_at_us: Some(expires_at_us),
        ..record.principal()
    });
    let entry = CachedToken {
        principal: principal.clone(),
        expires_at_us,
    };
    cache.insert(digest.to_string(), entry, generation);
    Ok(principal)
}

/// Checks that the credentials a long-lived request (a change stream) authenticated with
/// still hold, without verifying a password again: a token must still resolve; a password
/// user must still exist with the same incarnation and epoch (not deleted, re-created or
/// given a new password). Returns the principal as it is now (role and grants may have
/// changed), or 401.
pub fn recheck(
    db: &Database,
    cache: &TokenCache,
    credentials: &Credentials,
    principal: &Principal,
) -> Result<Arc<Principal>, ApiError> {
    match credentials {
        Credentials::Bearer(text) => authenticate_token(db, cache, text),
        Credentials::Basic { .. } => {
            let current = load_user(db, &principal.name)?
                .filter(|record| Some(record.stamp()) == principal.stamp);
            match current {
                Some(record) => Ok(Arc::new(record.principal())),
                None => Err(ApiError::unauthorized(
                    "the user was deleted or its password changed",
                )),
            }
        }
        // Authentication off: nothing to re-check.
        Credentials::Missing => Ok(Arc::new(principal.clone())),
    }
}

/// Issues a token for the principal's user valid for `ttl`, but never past the expiry of the
/// credential the principal authenticated with (a token minted with a token dies with its
/// parent, so renewal cannot keep a leaked token alive); returns the token text and its
/// expiry.
pub fn issue_token(
    db: &Database,
    principal: &Principal,
    ttl: Duration,
) -> Result<(String, DateTime), ApiError> {
    let record = load_user(db, &principal.name)?
        .filter(|record| principal.stamp.is_none() || Some(record.stamp()) == principal.stamp)
        .ok_or_else(wrong_login)?;
    let text = token::generate()?;
    let ttl_us = i64::try_from(ttl.as_micros()).unwrap_or(i64::MAX);
    let mut expires_at_us = DateTime::now().micros().saturating_add(ttl_us);
    if let Some(parent) = principal.expires_at_us {
        expires_at_us = expires_at_us.min(parent);
    }
    let stored = TokenRecord {
        digest: token::digest(&text),
        user: record.name,
        epoch: record.epoch,
        incarnation: record.incarnation,
        expires_at_us,
    };
    db.insert(TOKENS, to_value(&stored)?)?;
    durable(db)?;
    Ok((text, DateTime::from_micros(expires_at_us)))
}

/// Revokes a token; whether it existed.
pub fn revoke_token(db: &Database, text: &str) -> Result<bool, ApiError> {
    let existed = db.delete(TOKENS, &DocId::String(token::digest(text)))?;
    durable(db)?;
    Ok(existed)
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
    let user = load_user(db, &stored.user)?
        .filter(|user| user.epoch == stored.epoch && user.incarnation == stored.incarnation);
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
        Ok(_) => durable(db),
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
    db.replace(USERS, &id, to_value(record)?)?;
    durable(db)
}

/// Deletes a user and, in the same transaction, every token issued to it; whether the user
/// existed.
pub fn delete_user(db: &Database, name: &str) -> Result<bool, ApiError> {
    check_user_name(name)?;
    let user_id = DocId::String(name.to_string());
    let (existed, _) = crate::transact::run(db, |txn| {
        if !txn.delete(USERS, &user_id)? {
            return Ok(false);
        }
        let mut tokens = Vec::new();
        txn.for_each(TOKENS, |id, value| {
            let owner = value.as_object().and_then(|doc| doc.get("user"));
            if owner.and_then(Value::as_str) == Some(name) {
                tokens.push(id.clone());
            }
            true
        })?;
        for id in &tokens {
            txn.delete(TOKENS, id)?;
        }
        Ok(true)
    })?;
    durable(db)?;
    Ok(existed)
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

    /// Authenticates with a password as a request would (no client address).
    fn basic(
        db: &Database,
        cache: &TokenCache,
        guard: &LoginGuard,
        user: &str,
        password: &str,
    ) -> Result<Arc<Principal>, ApiError> {
        let cache_key = cache.password_key(user, password);
        if let Some(principal) = cache.fresh(&cache_key, DateTime::now().micros()) {
            return Ok(principal);
        }
        let login = Login::Password {
            user: user.to_string(),
            password: password.to_string(),
            client: None,
            cache_key,
            permit: guard.try_admit(user, None)?,
        };
        authenticate(db, cache, guard, login)
    }

    fn bearer(db: &Database, cache: &TokenCache, text: &str) -> Result<Arc<Principal>, ApiError> {
        authenticate(
            db,
            cache,
            &LoginGuard::default(),
            Login::Bearer(text.to_string()),
        )
    }

    fn setup() -> (Database, TokenCache, LoginGuard) {
        let db = Database::open_in_memory().unwrap();
        bootstrap(&db, Some("secret-password")).unwrap();
        (db, TokenCache::new().unwrap(), LoginGuard::default())
    }

    fn principal_of(db: &Database, name: &str) -> Principal {
        load_user(db, name).unwrap().unwrap().principal()
    }

    #[test]
    fn first_start_creates_root_once() {
        let (db, cache, guard) = setup();
        assert_eq!(
            bootstrap(&db, Some("another-one")).unwrap(),
            RootBootstrap::Existing
        );
        let root = basic(&db, &cache, &guard, "root", "secret-password").unwrap();
        assert_eq!(root.role, Role::Admin);
        assert!(basic(&db, &cache, &guard, "root", "another-one").is_err());
        assert!(basic(&db, &cache, &guard, "nobody", "x").is_err());
    }

    #[test]
    fn a_generated_root_password_works() {
        let db = Database::open_in_memory().unwrap();
        let cache = TokenCache::new().unwrap();
        let RootBootstrap::CreatedWithGeneratedPassword(password) = bootstrap(&db, None).unwrap()
        else {
            panic!("expected a generated password");
        };
        assert!(basic(&db, &cache, &LoginGuard::default(), "root", &password).is_ok());
    }

    #[test]
    fn a_verified_password_is_cached_until_users_change() {
        let (db, cache, guard) = setup();
        basic(&db, &cache, &guard, "root", "secret-password").unwrap();
        let key = cache.password_key("root", "secret-password");
        assert!(cache.fresh(&key, DateTime::now().micros()).is_some());
        assert!(cache
            .fresh(&cache.password_key("root", "secret-passwor"), 0)
            .is_none());
        let mut root = load_user(&db, "root").unwrap().unwrap();
        root.password = password::hash("a-new-password").unwrap();
        root.epoch += 1;
        store_user(&db, &root).unwrap();
        cache.invalidate();
        assert!(basic(&db, &cache, &guard, "root", "secret-password").is_err());
        assert!(basic(&db, &cache, &guard, "root", "a-new-password").is_ok());
    }

    #[test]
    fn wrong_passwords_are_throttled_per_user() {
        let (db, cache, guard) = setup();
        for _ in 0..crate::limits::LOGIN_FAILURE_BURST {
            let err = basic(&db, &cache, &guard, "root", "wrong-password").unwrap_err();
            assert_eq!(err.code, "unauthorized");
        }
        let err = basic(&db, &cache, &guard, "root", "secret-password").unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(err.retry_after_seconds.is_some_and(|s| s >= 1));
    }

    #[test]
    fn tokens_die_with_a_password_change_or_revocation() {
        let (db, cache, _) = setup();
        let root = principal_of(&db, "root");
        let (text, _) = issue_token(&db, &root, Duration::from_secs(60)).unwrap();
        assert_eq!(bearer(&db, &cache, &text).unwrap().name, "root");
        let mut record = load_user(&db, "root").unwrap().unwrap();
        record.epoch += 1;
        store_user(&db, &record).unwrap();
        cache.invalidate();
        assert!(bearer(&db, &cache, &text).is_err());
        let root = principal_of(&db, "root");
        let (text, _) = issue_token(&db, &root, Duration::from_secs(60)).unwrap();
        assert!(revoke_token(&db, &text).unwrap());
        cache.invalidate();
        assert!(bearer(&db, &cache, &text).is_err());
    }

    #[test]
    fn a_deleted_users_tokens_never_come_back() {
        let (db, cache, _) = setup();
        let alice = UserRecord::new(
            "alice".to_string(),
            password::hash("alice-old-pw").unwrap(),
            Role::ReadWrite,
            BTreeMap::new(),
        )
        .unwrap();
        create_user(&db, &alice).unwrap();
        let (text, _) =
            issue_token(&db, &principal_of(&db, "alice"), Duration::from_secs(60)).unwrap();
        let digest = DocId::String(token::digest(&text));
        assert!(delete_user(&db, "alice").unwrap());
        assert!(
            db.get(TOKENS, &digest).unwrap().is_none(),
            "deleted with the user"
        );
        cache.invalidate();
        // A record of the old user's token (say, from a backup) does not match a new alice.
        let stale = TokenRecord {
            digest: token::digest(&text),
            user: "alice".to_string(),
            epoch: 0,
            incarnation: alice.incarnation.clone(),
            expires_at_us: i64::MAX,
        };
        db.insert(TOKENS, to_value(&stale).unwrap()).unwrap();
        let new_alice = UserRecord::new(
            "alice".to_string(),
            password::hash("new-owner-pw-1").unwrap(),
            Role::Admin,
            BTreeMap::new(),
        )
        .unwrap();
        create_user(&db, &new_alice).unwrap();
        assert!(bearer(&db, &cache, &text).is_err());
    }

    #[test]
    fn records_from_before_incarnations_are_upgraded_once_and_their_tokens_dropped() {
        let (db, cache, _) = setup();
        // As an older version wrote them: no incarnation anywhere.
        let legacy_user = r#"{"_id": "old", "password": "x", "role": "admin", "epoch": 0}"#;
        db.insert(USERS, Value::from_json_str(legacy_user).unwrap())
            .unwrap();
        let text = token::generate().unwrap();
        let legacy_token = format!(
            r#"{{"_id": "{}", "user": "old", "epoch": 0, "expires_at_us": {}}}"#,
            token::digest(&text),
            i64::MAX
        );
        db.insert(TOKENS, Value::from_json_str(&legacy_token).unwrap())
            .unwrap();
        assert_eq!(bearer(&db, &cache, &text).unwrap().name, "old");
        assert_eq!(
            bootstrap(&db, Some("secret-password")).unwrap(),
            RootBootstrap::Existing
        );
        cache.invalidate();
        assert!(bearer(&db, &cache, &text).is_err());
        let upgraded = load_user(&db, "old").unwrap().unwrap();
        assert!(!upgraded.incarnation.is_empty());
        upgrade_legacy_records(&db).unwrap();
        assert_eq!(
            load_user(&db, "old").unwrap().unwrap().incarnation,
            upgraded.incarnation,
            "only once"
        );
    }

    #[test]
    fn a_token_minted_with_a_token_expires_no_later_than_it() {
        let (db, cache, _) = setup();
        let root = principal_of(&db, "root");
        let (parent, parent_expiry) = issue_token(&db, &root, Duration::from_secs(60)).unwrap();
        let via_token = bearer(&db, &cache, &parent).unwrap();
        assert_eq!(via_token.expires_at_us, Some(parent_expiry.micros()));
        let (_, child_expiry) =
            issue_token(&db, &via_token, Duration::from_secs(30 * 24 * 3600)).unwrap();
        assert_eq!(child_expiry.micros(), parent_expiry.micros());
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (db, cache, _) = setup();
        let (text, _) = issue_token(&db, &principal_of(&db, "root"), Duration::ZERO).unwrap();
        assert!(bearer(&db, &cache, &text).is_err());
    }
}
