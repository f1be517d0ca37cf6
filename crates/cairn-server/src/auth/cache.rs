//! Resolved bearer tokens and verified passwords, kept in memory so a request with a token
//! costs one hash and one map lookup instead of two document reads, and a request with a
//! password already verified costs the same instead of an Argon2 run (19 MiB, tens of
//! milliseconds).
//!
//! A password is remembered only as a keyed hash (HMAC-SHA256 under a key drawn at random
//! when the process starts and never stored) of the user name and the password, so the cache
//! holds nothing an attacker reading memory could test guesses against offline faster than
//! the stored Argon2 hashes, and an entry matches only the exact secret that was verified.
//! Entries expire after [`VERIFIED_PASSWORD_TTL`] at the latest.
//!
//! Correctness rests on two facts. Only this process can change users and tokens (the
//! database file is locked by its one writer process), and every route that changes them calls
//! [`TokenCache::invalidate`] after its commit. A lookup that raced with such a change is not
//! cached: it remembers the generation it started from and stores its result only if no
//! invalidation happened since, so a stale principal never outlives the change that made it
//! stale. Every invalidation is also published ([`TokenCache::subscribe`]), so change streams
//! re-check their caller when users or tokens change.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::Principal;
use crate::api_error::ApiError;
use crate::limits::MAX_CACHED_TOKENS;
use crate::limits::VERIFIED_PASSWORD_TTL;

/// A principal resolved from a token, and when the token expires (µs since the epoch).
#[derive(Debug, Clone)]
pub struct CachedToken {
    /// Who the token authenticates (shared: a cache hit hands out this one copy).
    pub principal: Arc<Principal>,
    /// Expiry, microseconds since the Unix epoch.
    pub expires_at_us: i64,
}

/// Token digest (or keyed password hash) → resolved principal.
pub struct TokenCache {
    inner: Mutex<Inner>,
    /// The HMAC key of password entries: random per process.
    key: [u8; 32],
    /// The generation, published on every invalidation.
    changes: watch::Sender<u64>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<String, CachedToken>,
}

impl TokenCache {
    /// An empty cache with a fresh random key.
    pub fn new() -> Result<TokenCache, ApiError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(ApiError::internal)?;
        Ok(TokenCache {
            inner: Mutex::default(),
            key,
            changes: watch::Sender::new(0),
        })
    }

    /// The cache key of a user name and password: `basic:` and the hex HMAC-SHA256 of the
    /// name's length, the name and the password (the length keeps `ab`+`c` apart from
    /// `a`+`bc`).
    pub fn password_key(&self, user: &str, password: &str) -> String {
        let len = (user.len() as u64).to_be_bytes();
        let mac = hmac_sha256(&self.key, &[&len, user.as_bytes(), password.as_bytes()]);
        let mut out = String::with_capacity(6 + 64);
        out.push_str("basic:");
        for byte in mac {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// The principal a cached, unexpired entry resolves to.
    pub fn fresh(&self, key: &str, now_us: i64) -> Option<Arc<Principal>> {
        let inner = self.inner.lock();
        inner
            .entries
            .get(key)
            .filter(|entry| entry.expires_at_us > now_us)
            .map(|entry| entry.principal.clone())
    }

    /// Remembers a verified password (see [`TokenCache::insert`]) for at most
    /// [`VERIFIED_PASSWORD_TTL`].
    pub fn insert_password(
        &self,
        key: String,
        principal: Arc<Principal>,
        now_us: i64,
        generation: u64,
    ) {
        let ttl_us = i64::try_from(VERIFIED_PASSWORD_TTL.as_micros()).unwrap_or(i64::MAX);
        let entry = CachedToken {
            principal,
            expires_at_us: now_us.saturating_add(ttl_us),
        };
        self.insert(key, entry, generation);
    }

    /// A receiver that wakes on every invalidation (its value is the new generation).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// The cached entry for a token digest, and the generation to pass to
    /// [`TokenCache::insert`] when there is none.
    pub fn get(&self, digest: &str) -> (Option<CachedToken>, u64) {
        let inner = self.inner.lock();
        (inner.entries.get(digest).cloned(), inner.generation)
    }

    /// Remembers a resolution that started at `generation`, unless users or tokens changed
    /// since.
    pub fn insert(&self, digest: String, entry: CachedToken, generation: u64) {
        let mut inner = self.inner.lock();
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_CACHED_TOKENS {
            inner.entries.clear();
        }
        inner.entries.insert(digest, entry);
    }

    /// Forgets everything; called after every change to users or tokens.
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock();
        inner.generation += 1;
        inner.entries.clear();
        self.changes.send_replace(inner.generation);
    }
}

/// HMAC-SHA256 (RFC 2104) of the concatenated `parts` under a key of at most 64 bytes.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; 64];
    for (slot, byte) in block.iter_mut().zip(key) {
        *slot = *byte;
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> CachedToken {
        CachedToken {
            principal: Arc::new(Principal::anonymous_admin()),
            expires_at_us: i64::MAX,
        }
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya ", b"want for nothing?"]);
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn password_entries_are_keyed_per_process_and_dropped_on_invalidation() {
        let cache = TokenCache::new().unwrap();
        let key = cache.password_key("ab", "c");
        assert_ne!(key, cache.password_key("a", "bc"));
        assert_ne!(key, TokenCache::new().unwrap().password_key("ab", "c"));
        assert!(key.starts_with("basic:") && key.len() == 70, "{key}");
        let (_, generation) = cache.get(&key);
        let principal = Arc::new(Principal::anonymous_admin());
        cache.insert_password(key.clone(), principal, 0, generation);
        assert!(cache.fresh(&key, 1).is_some());
        let ttl_us = VERIFIED_PASSWORD_TTL.as_micros() as i64;
        assert!(cache.fresh(&key, ttl_us).is_none(), "expired");
        let changes = cache.subscribe();
        cache.invalidate();
        assert!(changes.has_changed().unwrap());
        assert!(cache.fresh(&key, 1).is_none());
    }

    #[test]
    fn a_lookup_that_raced_with_an_invalidation_is_not_cached() {
        let cache = TokenCache::new().unwrap();
        let (missing, generation) = cache.get("d");
        assert!(missing.is_none());
        cache.invalidate();
        cache.insert("d".to_string(), entry(), generation);
        assert!(cache.get("d").0.is_none());
        let (_, generation) = cache.get("d");
        cache.insert("d".to_string(), entry(), generation);
        assert!(cache.get("d").0.is_some());
        cache.invalidate();
        assert!(cache.get("d").0.is_none());
    }
}
