//! A cache of verified tokens, bounded in entries and in bytes. A token seen before (the
//! very same bytes: each entry keeps its token and a hit is compared with it whole, in
//! constant time) skips decoding and the signature check, but only while it is still valid:
//! never past `exp` (with the configured skew), and only while its issuer still trusts
//! the very key set that verified it (a key reload or revocation forces a full check).
//! What is cached is the verified claims; the answer is still built per request, so a
//! different `methodArn` always gets its own policy.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::claims::Claims;
use crate::issuers::Issuer;
use crate::keys::Snapshot;

/// How many of a token's last bytes choose its slot: the end of its signature, which
/// differs from token to token. Which bytes are hashed only spreads the entries; a hit
/// is decided by comparing the whole token.
const SLOT_BYTES: usize = 32;

/// What a cache hit needs to stand in for a full verification.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The verified claims.
    pub claims: Arc<Claims>,
    /// `exp`, in epoch seconds.
    pub exp: f64,
    /// The issuer that verified it (configured or registered).
    pub issuer: Weak<Issuer>,
    /// The header `kid`, for logs (set when it is cached).
    pub kid: Option<String>,
    /// The key set that verified it (`None` for secret issuers).
    pub keys: Option<Weak<Snapshot>>,
}

impl Verified {
    /// An estimate of the memory it holds as a cache entry, in bytes (estimated only when
    /// it is cached, not on every verification).
    pub fn bytes(&self) -> usize {
        ENTRY_OVERHEAD
            + self.claims.heap_bytes()
            + self.kid.as_ref().map_or(0, |k| heap_string(k.len()))
    }
}

/// The fixed cost of one entry: the hash key, the entry, the map slot, the `Arc`.
const ENTRY_OVERHEAD: usize = 256;

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
    /// SipHash with this process's random key: slots an outsider cannot predict.
    slots: RandomState,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<u64, Entry>,
    bytes: usize,
}

/// A cached token and what its verification found.
#[derive(Debug)]
struct Entry {
    token: Box<str>,
    verified: Verified,
    /// The entry's estimated bytes: the verification's and the token's.
    bytes: usize,
}

/// Whether `a` and `b` are the same bytes, in a time that depends on their lengths only
/// (a cached token is a credential: how far a guess matches must not show in timing):
/// aws-lc's `CRYPTO_memcmp`.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
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
            slots: RandomState::new(),
        }
    }

    /// Whether the cache keeps anything (capacity above 0).
    pub fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The slot of `token`: a keyed hash of its last [`SLOT_BYTES`] bytes.
    fn slot(&self, token: &str) -> u64 {
        let bytes = token.as_bytes();
        let tail = bytes
            .get(bytes.len().saturating_sub(SLOT_BYTES)..)
            .unwrap_or(bytes);
        self.slots.hash_one(tail)
    }

    /// The entry for `token` (the same bytes, compared whole) if it is still within `exp`
    /// at `now` (expired ones are dropped).
    pub fn get(&self, token: &str, now: u64, skew: u64) -> Option<Verified> {
        if self.capacity == 0 {
            return None;
        }
        let slot = self.slot(token);
        let mut entries = self.lock();
        let entry = entries.map.get(&slot)?;
        if !same_bytes(entry.token.as_bytes(), token.as_bytes()) {
            return None;
        }
        if entry.verified.exp + skew as f64 <= now as f64 {
            if let Some(gone) = entries.map.remove(&slot) {
                entries.bytes -= gone.bytes;
            }
            return None;
        }
        Some(entry.verified.clone())
    }

    /// Remembers a verified token (replacing whatever held its slot). When full (in
    /// entries or bytes), expired entries go first, then everything; an entry larger than
    /// the whole budget is not kept.
    pub fn insert(&self, token: &str, verified: Verified, now: u64, skew: u64) {
        if self.capacity == 0 {
            return;
        }
        let bytes = verified.bytes() + heap_string(token.len());
        if bytes > self.max_bytes {
            return;
        }
        let slot = self.slot(token);
        let mut entries = self.lock();
        let full = |e: &Entries| e.map.len() >= self.capacity || e.bytes + bytes > self.max_bytes;
        if full(&entries) {
            entries
                .map
                .retain(|_, e| e.verified.exp + skew as f64 > now as f64);
            entries.bytes = entries.map.values().map(|e| e.bytes).sum();
            if full(&entries) {
                entries.map.clear();
                entries.bytes = 0;
            }
        }
        entries.bytes += bytes;
        let entry = Entry {
            token: token.into(),
            verified,
            bytes,
        };
        if let Some(replaced) = entries.map.insert(slot, entry) {
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
    use serde_json::Value;

    fn cached(claims: Claims, exp: f64) -> Verified {
        Verified {
            claims: Arc::new(claims),
            exp,
            issuer: Weak::new(),
            kid: None,
            keys: None,
        }
    }

    fn verified(exp: f64) -> Verified {
        cached(Claims::from_json(Value::Null), exp)
    }

    const BIG: usize = usize::MAX;

    #[test]
    fn an_entry_is_never_served_past_exp() {
        let cache = TokenCache::new(4, BIG);
        let h = "a.b.c";
        cache.insert(h, verified(100.0), 50, 0);
        assert!(cache.get(h, 99, 0).is_some());
        assert!(cache.get(h, 100, 0).is_none());
        assert!(cache.is_empty(), "the expired entry was dropped");
        cache.insert(h, verified(100.0), 50, 5);
        assert!(cache.get(h, 104, 5).is_some());
        assert!(cache.get(h, 105, 5).is_none());
    }

    #[test]
    fn different_tokens_have_different_keys() {
        let cache = TokenCache::new(4, BIG);
        cache.insert("a.b.c", verified(100.0), 0, 0);
        assert!(cache.get("a.b.d", 0, 0).is_none());
        assert!(cache.get("a.b.", 0, 0).is_none());
        assert!(cache.get("a.b.c.", 0, 0).is_none());
        assert!(cache.get("a.b.c", 0, 0).is_some());
    }

    /// Tokens that end alike share a slot: only the very same bytes are a hit.
    #[test]
    fn a_token_ending_like_a_cached_one_is_a_miss() {
        let cache = TokenCache::new(4, BIG);
        let tail = "s".repeat(SLOT_BYTES);
        let (cached, other) = (format!("a.b.{tail}"), format!("a.c.{tail}"));
        assert_eq!(cache.slot(&cached), cache.slot(&other));
        cache.insert(&cached, verified(100.0), 0, 0);
        assert!(cache.get(&other, 0, 0).is_none());
        assert!(cache.get(&cached, 0, 0).is_some());
    }

    #[test]
    fn same_bytes_compares_every_byte() {
        assert!(same_bytes(b"", b""));
        assert!(same_bytes(b"abcdefghij", b"abcdefghij"));
        for (a, b) in [
            (&b"abcdefghij"[..], &b"abcdefghiJ"[..]),
            (b"abcdefghij", b"Abcdefghij"),
            (b"abcdefghij", b"abcdefghi"),
            (b"a", b""),
        ] {
            assert!(!same_bytes(a, b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = TokenCache::new(3, BIG);
        for i in 0..10 {
            cache.insert(&i.to_string(), verified(1000.0), 0, 0);
            assert!(cache.len() <= 3);
        }
        let live = TokenCache::new(2, BIG);
        live.insert("old", verified(10.0), 0, 0);
        live.insert("new", verified(1000.0), 0, 0);
        live.insert("newer", verified(1000.0), 20, 0);
        assert!(
            live.get("new", 20, 0).is_some(),
            "expired entries are evicted first"
        );
    }

    #[test]
    fn capacity_zero_disables_it() {
        let cache = TokenCache::new(0, BIG);
        cache.insert("a", verified(100.0), 0, 0);
        assert!(cache.get("a", 0, 0).is_none());
    }

    /// Defect 6: a large `TOKEN_CACHE_SIZE` could hold more than a small function's memory.
    #[test]
    fn the_cache_is_bounded_in_bytes() {
        let big_claims = || {
            let groups: Vec<Value> = (0..1000).map(|i| Value::String(format!("g{i}"))).collect();
            let claims = Claims::from_json(serde_json::json!({"groups": groups}));
            cached(claims, 1000.0)
        };
        let one = big_claims().bytes();
        assert!(
            one > 40_000,
            "1000 small strings cost more than their JSON: {one}"
        );
        let cache = TokenCache::new(65_536, 10 * one);
        for i in 0..100 {
            cache.insert(&i.to_string(), big_claims(), 0, 0);
            assert!(cache.bytes() <= 10 * one, "{} bytes", cache.bytes());
        }
        assert!(cache.len() <= 10);
        let tiny = TokenCache::new(65_536, one - 1);
        tiny.insert("x", big_claims(), 0, 0);
        assert!(
            tiny.is_empty(),
            "an entry over the whole budget is not kept"
        );
    }

    #[test]
    fn replacing_an_entry_keeps_the_byte_count_true() {
        let cache = TokenCache::new(8, BIG);
        let h = "a";
        cache.insert(h, verified(100.0), 0, 0);
        let once = cache.bytes();
        cache.insert(h, verified(100.0), 0, 0);
        assert_eq!(cache.bytes(), once);
        assert!(cache.get(h, 100, 0).is_none());
        assert_eq!(cache.bytes(), 0);
    }
}
