//! Resolved bearer tokens, kept in memory so a request with a token costs one hash and one map
//! lookup instead of two document reads.
//!
//! Correctness rests on two facts. Only this process can change users and tokens (the
//! database file is locked by its one writer process), and every route that changes them calls
//! [`TokenCache::invalidate`] after its commit. A lookup that raced with such a change is not
//! cached: it remembers the generation it started from and stores its result only if no
//! invalidation happened since, so a stale principal never outlives the change that made it
//! stale.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use super::Principal;

/// Tokens remembered at most: 10,000. Past it the cache starts over (it is only a cache);
/// each entry is a few hundred bytes.
const MAX_CACHED_TOKENS: usize = 10_000;

/// A principal resolved from a token, and when the token expires (µs since the epoch).
#[derive(Debug, Clone)]
pub struct CachedToken {
    /// Who the token authenticates (shared: a cache hit hands out this one copy).
    pub principal: Arc<Principal>,
    /// Expiry, microseconds since the Unix epoch.
    pub expires_at_us: i64,
}

/// Token digest → resolved principal.
#[derive(Default)]
pub struct TokenCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<String, CachedToken>,
}

impl TokenCache {
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
    }
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
    fn a_lookup_that_raced_with_an_invalidation_is_not_cached() {
        let cache = TokenCache::default();
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
