//! A bounded cache of verified tokens. A token seen before (the same bytes, keyed by
//! SHA-256) skips decoding and the signature check, but only while it is still valid:
//! never past `exp` (with the configured skew), and only while its issuer still trusts
//! the very key set that verified it (a key reload or revocation forces a full check).
//! What is cached is the verified claims; the answer is still built per request, so a
//! different `methodArn` always gets its own policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};

use crate::keys::Snapshot;

/// SHA-256 of a token.
pub type TokenHash = [u8; 32];

/// What a cache hit needs to stand in for a full verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The verified claims.
    pub claims: Arc<Map<String, Value>>,
    /// `exp`, in epoch seconds.
    pub exp: f64,
    /// Index of the issuer in the configuration.
    pub issuer: usize,
    /// The header `kid`, for logs.
    pub kid: Option<String>,
    /// The key set that verified it (`None` for secret issuers).
    pub keys: Option<Weak<Snapshot>>,
}

/// The cache; capacity 0 disables it.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<TokenHash, Verified>>,
    capacity: usize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens.
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(HashMap::with_capacity(capacity.min(4096))),
            capacity,
        }
    }

    /// Whether the cache keeps anything (capacity above 0).
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The key of `token`.
    pub fn hash(token: &str) -> TokenHash {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
        out
    }

    /// The entry for `hash` if it is still within `exp` at `now` (expired ones are dropped).
    pub fn get(&self, hash: &TokenHash, now: u64, skew: u64) -> Option<Verified> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.lock();
        let entry = entries.get(hash)?;
        if entry.exp + skew as f64 <= now as f64 {
            entries.remove(hash);
            return None;
        }
        Some(entry.clone())
    }

    /// Remembers a verified token. When full, expired entries go first, then everything.
    pub fn insert(&self, hash: TokenHash, verified: Verified, now: u64, skew: u64) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.exp + skew as f64 > now as f64);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(hash, verified);
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, Verified>> {
        match self.entries.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(exp: f64) -> Verified {
        Verified {
            claims: Arc::new(Map::new()),
            exp,
            issuer: 0,
            kid: None,
            keys: None,
        }
    }

    #[test]
    fn an_entry_is_never_served_past_exp() {
        let cache = TokenCache::new(4);
        let h = TokenCache::hash("a.b.c");
        cache.insert(h, verified(100.0), 50, 0);
        assert!(cache.get(&h, 99, 0).is_some());
        assert!(cache.get(&h, 100, 0).is_none());
        assert!(cache.is_empty(), "the expired entry was dropped");
        cache.insert(h, verified(100.0), 50, 5);
        assert!(cache.get(&h, 104, 5).is_some());
        assert!(cache.get(&h, 105, 5).is_none());
    }

    #[test]
    fn different_tokens_have_different_keys() {
        assert_ne!(TokenCache::hash("a.b.c"), TokenCache::hash("a.b.d"));
        let cache = TokenCache::new(4);
        cache.insert(TokenCache::hash("a.b.c"), verified(100.0), 0, 0);
        assert!(cache.get(&TokenCache::hash("a.b.d"), 0, 0).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::new(3);
        for i in 0..10 {
            cache.insert(TokenCache::hash(&i.to_string()), verified(1000.0), 0, 0);
            assert!(cache.len() <= 3);
        }
        let live = TokenCache::new(2);
        live.insert(TokenCache::hash("old"), verified(10.0), 0, 0);
        live.insert(TokenCache::hash("new"), verified(1000.0), 0, 0);
        live.insert(TokenCache::hash("newer"), verified(1000.0), 20, 0);
        assert!(
            live.get(&TokenCache::hash("new"), 20, 0).is_some(),
            "expired entries are evicted first"
        );
    }

    #[test]
    fn capacity_zero_disables_it() {
        let cache = TokenCache::new(0);
        cache.insert(TokenCache::hash("a"), verified(100.0), 0, 0);
        assert!(cache.get(&TokenCache::hash("a"), 0, 0).is_none());
    }
}
