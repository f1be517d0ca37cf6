//! The async side of authentication: what can be settled before a request goes to a thread
//! (a password verified before, the throttle, a slot for Argon2), and the [`Login`] that the
//! blocking side finishes in [`super::store::authenticate`].
//!
//! Password verification is the one expensive step an anonymous client can trigger, so it is
//! bounded three ways: at most [`MAX_CONCURRENT_PASSWORD_CHECKS`] at once, each in Argon2
//! memory kept for reuse ([`PasswordPermit`]); failures throttled per user name and client
//! address ([`super::throttle`]); and a verified password remembered as a keyed hash
//! ([`super::cache`]) so that Basic auth costs what a bearer token costs. New passwords (admin
//! routes) are hashed one at a time in one more kept buffer: Argon2 memory stays bounded at
//! `MAX_CONCURRENT_PASSWORD_CHECKS + 1` times 19 MiB.

use std::net::IpAddr;
use std::sync::Arc;

use argon2::Block;
use axum::http::StatusCode;
use cairn::DateTime;
use parking_lot::Mutex;
use serde_json::json;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::cache::TokenCache;
use super::credentials::Credentials;
use super::throttle::LoginThrottle;
use super::{password, Principal};
use crate::api_error::ApiError;
use crate::limits::{MAX_CONCURRENT_PASSWORD_CHECKS, PASSWORD_CHECK_WAIT};

/// Credentials as far as the async side could take them.
pub enum Login {
    /// Already known: authentication is off, or the password was verified before.
    Resolved(Arc<Principal>),
    /// A bearer token, resolved on the thread (cache, then a document read).
    Bearer(String),
    /// A password to verify, with the slot and memory to verify it in.
    Password {
        /// The user name.
        user: String,
        /// The password.
        password: String,
        /// The client's address, for the throttle.
        client: Option<IpAddr>,
        /// The password's cache key ([`TokenCache::password_key`]).
        cache_key: String,
        /// The verification slot.
        permit: PasswordPermit,
    },
}

impl Login {
    /// Whether finishing this login runs Argon2 (then it belongs on the blocking pool, not
    /// on the reader threads).
    pub fn checks_password(&self) -> bool {
        matches!(self, Login::Password { .. })
    }
}

/// Bounds and throttles password verification.
pub struct LoginGuard {
    permits: Arc<Semaphore>,
    memory: Arc<Mutex<Vec<Vec<Block>>>>,
    /// The Argon2 memory new passwords are hashed in.
    hashing: Mutex<Vec<Block>>,
    /// Failed logins per user name and client address.
    pub throttle: LoginThrottle,
}

impl Default for LoginGuard {
    fn default() -> Self {
        LoginGuard {
            permits: Arc::new(Semaphore::new(MAX_CONCURRENT_PASSWORD_CHECKS)),
            memory: Arc::default(),
            hashing: Mutex::default(),
            throttle: LoginThrottle::default(),
        }
    }
}

/// A password verification slot and the Argon2 memory that goes with it; both go back to the
/// guard when it is dropped.
pub struct PasswordPermit {
    _permit: OwnedSemaphorePermit,
    memory: Vec<Block>,
    pool: Arc<Mutex<Vec<Vec<Block>>>>,
}

impl PasswordPermit {
    /// The memory to run Argon2 in (grown on first use, then reused).
    pub fn memory(&mut self) -> &mut Vec<Block> {
        &mut self.memory
    }
}

impl Drop for PasswordPermit {
    fn drop(&mut self) {
        self.pool.lock().push(std::mem::take(&mut self.memory));
    }
}

impl LoginGuard {
    /// A slot to verify `user`'s password from `client`: 429 `too_many_login_failures`
    /// while either is throttled, 503 `auth_busy` when no slot frees up within
    /// [`PASSWORD_CHECK_WAIT`].
    pub async fn admit(
        &self,
        user: &str,
        client: Option<IpAddr>,
    ) -> Result<PasswordPermit, ApiError> {
        self.check_throttle(user, client)?;
        let acquired =
            tokio::time::timeout(PASSWORD_CHECK_WAIT, self.permits.clone().acquire_owned()).await;
        match acquired {
            Ok(Ok(permit)) => {
                // Again: failures recorded while this request waited count too, or a burst of
                // concurrent guesses would all pass the first check.
                self.check_throttle(user, client)?;
                Ok(self.permit(permit))
            }
            // Timed out, or (never: the guard holds the semaphore) closed.
            _ => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_busy",
                "too many password logins in progress; retry shortly, or log in once and use a bearer token",
            )),
        }
    }

    /// Hashes a new password (an admin creating a user or changing a password) in the one
    /// buffer kept for that, waiting while another hash is made: called on a blocking thread,
    /// after authentication released its verification slot, so it never waits while holding
    /// one.
    pub fn hash_new_password(&self, password: &str) -> Result<String, ApiError> {
        password::hash_in(password, &mut self.hashing.lock())
    }

    /// A slot if one is free now (for tests and callers already on a thread).
    pub fn try_admit(
        &self,
        user: &str,
        client: Option<IpAddr>,
    ) -> Result<PasswordPermit, ApiError> {
        self.check_throttle(user, client)?;
        match self.permits.clone().try_acquire_owned() {
            Ok(permit) => Ok(self.permit(permit)),
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "auth_busy",
                "too many password logins in progress; retry shortly",
            )),
        }
    }

    fn permit(&self, permit: OwnedSemaphorePermit) -> PasswordPermit {
        PasswordPermit {
            _permit: permit,
            memory: self.memory.lock().pop().unwrap_or_default(),
            pool: self.memory.clone(),
        }
    }

    fn check_throttle(&self, user: &str, client: Option<IpAddr>) -> Result<(), ApiError> {
        self.throttle.check(user, client).map_err(|wait| {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_login_failures",
                format!(
                    "too many wrong passwords for this user name or from this address; retry in {seconds} s"
                ),
            )
            .with_details(json!({ "retry_after_seconds": seconds }))
            .with_retry_after(seconds)
        })
    }
}

/// Settles what can be settled without a thread: authentication off, missing credentials,
/// a password verified before; otherwise admits a password check (throttle and slot).
pub async fn prepare(
    auth_enabled: bool,
    cache: &TokenCache,
    guard: &LoginGuard,
    credentials: Credentials,
) -> Result<Login, ApiError> {
    if !auth_enabled {
        return Ok(Login::Resolved(Arc::new(Principal::anonymous_admin())));
    }
    match credentials {
        Credentials::Missing => Err(ApiError::unauthorized(
            "credentials required: HTTP Basic or a bearer token from POST /v1/auth/tokens",
        )),
        Credentials::Bearer(text) => Ok(Login::Bearer(text)),
        Credentials::Basic {
            user,
            password,
            client,
        } => {
            let cache_key = cache.password_key(&user, &password);
            if let Some(principal) = cache.fresh(&cache_key, DateTime::now().micros()) {
                return Ok(Login::Resolved(principal));
            }
            let permit = guard.admit(&user, client).await?;
            Ok(Login::Password {
                user,
                password,
                client,
                cache_key,
                permit,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_slots_are_bounded_and_their_memory_is_reused() {
        let guard = LoginGuard::default();
        let mut held: Vec<PasswordPermit> = (0..MAX_CONCURRENT_PASSWORD_CHECKS)
            .map(|_| guard.try_admit("u", None).unwrap())
            .collect();
        let busy = guard.try_admit("u", None).err().unwrap();
        assert_eq!((busy.status.as_u16(), busy.code), (503, "auth_busy"));
        // A buffer grown under one permit is handed to the next one.
        held[0].memory().resize(8, Block::default());
        held.remove(0);
        let mut next = guard.try_admit("u", None).unwrap();
        assert_eq!(next.memory().len(), 8);
        drop(next);
        drop(held);
        assert!(guard.memory.lock().len() <= MAX_CONCURRENT_PASSWORD_CHECKS);
        // New passwords are hashed in their own kept buffer, into hashes that verify.
        let stored = guard.hash_new_password("a-new-password").unwrap();
        assert!(password::verify_in(
            "a-new-password",
            &stored,
            &mut Vec::new()
        ));
        assert_eq!(
            guard.hashing.lock().len(),
            argon2::Params::DEFAULT_M_COST as usize
        );
    }

    #[tokio::test]
    async fn a_throttled_login_is_429_with_retry_after_before_any_wait() {
        let guard = LoginGuard::default();
        for _ in 0..crate::limits::LOGIN_FAILURE_BURST {
            guard.throttle.record_failure("u", None);
        }
        let err = guard.admit("u", None).await.err().unwrap();
        assert_eq!(
            (err.status.as_u16(), err.code),
            (429, "too_many_login_failures")
        );
        assert!(err.retry_after_seconds.is_some_and(|s| s >= 1));
        assert!(guard.admit("v", None).await.is_ok());
    }
}
