//! A cache of verified tokens, bounded in entries and in bytes. A token seen before (the same bytes, keyed by
//! SHA-256) skips decoding and the signature check, but only while it is still valid:
//! never past `exp` (with the configured skew), and only while its issuer still trusts
//! the very key set that verified it (a key reload or revocation forces a full check).
//! What is cached is the verified claims; the answer is still built per request, so a
//! different `methodArn` always gets its own policy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use aws_lc_rs::digest::{SHA256, digest};
use serde_json::{Map, Value};

use crate::issuers::Issuer;
use crate::keys::Snapshot;

/// SHA-256 of a token.
pub type TokenHash = [u8; 32];

/// What a cache hit needs to stand in for a full verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// An estimate of the memory the entry holds, in bytes.
    pub bytes: usize,
    /// The verified claims.
    pub claims: Arc<Map<String, Value>>,
    /// `exp`, in epoch seconds.
    pub exp: f64,
    /// The issuer that verified it (configured or registered).
    pub issuer: Weak<Issuer>,
    /// The header `kid`, for logs.
    pub kid: Option<String>,
    /// The key set that verified it (`None` for secret issuers).
    pub keys: Option<Weak<Snapshot>>,
}

impl Verified {
    /// A verification to cache; its size is estimated from the claims.
    pub fn new(
        claims: Map<String, Value>,
        exp: f64,
        issuer: Weak<Issuer>,
        kid: Option<String>,
        keys: Option<Weak<Snapshot>>,
    ) -> Self {
        let bytes = ENTRY_OVERHEAD
            + object_bytes(&claims)
            + kid.as_ref().map_or(0, |k| heap_string(k.len()));
        Self {
            bytes,
            claims: Arc::new(claims),
            exp,
            issuer,
            kid,
            keys,
        }
    }
}

/// The fixed cost of one entry: the hash key, the entry, the map slot, the `Arc`.
const ENTRY_OVERHEAD: usize = 256;

/// An estimate of the heap a JSON object holds (allocator rounding included).
fn object_bytes(object: &Map<String, Value>) -> usize {
    object
        .iter()
        .map(|(key, value)| 64 + heap_string(key.len()) + value_bytes(value))
        .sum()
}

fn value_bytes(value: &Value) -> usize {
    std::mem::size_of::<Value>()
        + match value {
            Value::String(s) => heap_string(s.len()),
            Value::Array(items) => 16 + items.iter().map(value_bytes).sum::<usize>(),
            Value::Object(object) => 16 + object_bytes(object),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

/// A heap string of `len` bytes: rounded up to the allocator's 16-byte chunks, plus its
/// header; an empty one allocates nothing.
pub(crate) fn heap_string(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        len.div_ceil(16) * 16 + 16
    }
}

/// The cache; a capacity of 0 entries or bytes disables it.
#[derive(Debug, Default)]
pub struct TokenCache {
    entries: Mutex<Entries>,
    capacity: usize,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<TokenHash, Verified>,
    bytes: usize,
}

impl TokenCache {
    /// A cache of at most `capacity` tokens holding at most about `max_bytes`.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        let capacity = if max_bytes == 0 { 0 } else { capacity };
        Self {
            entries: Mutex::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
            capacity,
            max_bytes,
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
        let entry = entries.map.get(hash)?;
        if entry.exp + skew as f64 <= now as f64 {
            if let Some(gone) = entries.map.remove(hash) {
                entries.bytes -= gone.bytes;
            }
            return None;
        }
        Some(entry.clone())
    }

    /// Remembers a verified token. When full (in entries or bytes), expired entries go
    /// first, then everything; an entry larger than the whole budget is not kept.
    pub fn insert(&self, hash: TokenHash, verified: Verified, now: u64, skew: u64) {
        if self.capacity == 0 || verified.bytes > self.max_bytes {
            return;
        }
        let mut entries = self.lock();
        let full =
            |e: &Entries| e.map.len() >= self.capacity || e.bytes + verified.bytes > self.max_bytes;
        if full(&entries) {
            entries.map.retain(|_, e| e.exp + skew as f64 > now as f64);
            entries.bytes = entries.map.values().map(|e| e.bytes).sum();
            if full(&entries) {
                entries.map.clear();
                entries.bytes = 0;
            }
        }
        entries.bytes += verified.bytes;
        if let Some(replaced) = entries.map.insert(hash, verified) {
            entries.bytes -= replaced.bytes;
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// The estimated bytes the cached tokens hold.
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(exp: f64) -> Verified {
        Verified::new(Map::new(), exp, Weak::new(), None, None)
    }

    const BIG: usize = usize::MAX;

    #[test]
    fn an_entry_is_never_served_past_exp() {
        let cache = TokenCache::new(4, BIG);
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
        let cache = TokenCache::new(4, BIG);
        cache.insert(TokenCache::hash("a.b.c"), verified(100.0), 0, 0);
        assert!(cache.get(&TokenCache::hash("a.b.d"), 0, 0).is_none());
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::new(3, BIG);
        for i in 0..10 {
            cache.insert(TokenCache::hash(&i.to_string()), verified(1000.0), 0, 0);
            assert!(cache.len() <= 3);
        }
        let live = TokenCache::new(2, BIG);
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
        let cache = TokenCache::new(0, BIG);
        cache.insert(TokenCache::hash("a"), verified(100.0), 0, 0);
        assert!(cache.get(&TokenCache::hash("a"), 0, 0).is_none());
    }

    /// Defect 6: a large `TOKEN_CACHE_SIZE` could hold more than a small function's memory.
    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let big_claims = || {
            let groups: Vec<Value> = (0..1000).map(|i| Value::String(format!("g{i}"))).collect();
            let mut claims = Map::new();
            claims.insert("groups".into(), Value::Array(groups));
            Verified::new(claims, 1000.0, Weak::new(), None, None)
        };
        let one = big_claims().bytes;
        assert!(
            one > 40_000,
            "1000 small strings cost more than their JSON: {one}"
        );
        let cache = TokenCache::new(65_536, 10 * one);
        for i in 0..100 {
            cache.insert(TokenCache::hash(&i.to_string()), big_claims(), 0, 0);
            assert!(cache.bytes() <= 10 * one, "{} bytes", cache.bytes());
        }
        assert!(cache.len() <= 10);
        let tiny = TokenCache::new(65_536, one - 1);
        tiny.insert(TokenCache::hash("x"), big_claims(), 0, 0);
        assert!(
            tiny.is_empty(),
            "an entry over the whole budget is not kept"
        );
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_true() {
        let cache = TokenCache::new(8, BIG);
        let h = TokenCache::hash("a");
        cache.insert(h, verified(100.0), 0, 0);
        let once = cache.bytes();
        cache.insert(h, verified(100.0), 0, 0);
        assert_eq!(cache.bytes(), once);
        assert!(cache.get(&h, 100, 0).is_none());
        assert_eq!(cache.bytes(), 0);
    }
}
