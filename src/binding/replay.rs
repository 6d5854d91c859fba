//! Where proof `jti`s are remembered (RFC 9449 §11.1): the [`ReplayStore`] trait, which
//! the DynamoDB table implements (`dynamo.rs`, shared by every container), and
//! [`MemoryReplay`], this container's own memory, bounded in entries: the oldest entry
//! goes first when it is full, so a flood of unique proofs cannot grow it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use aws_lc_rs::digest::{SHA256, digest};

use crate::error::UpstreamError;

/// A write under way: `Ok(true)` when the `jti` was new (and is now remembered),
/// `Ok(false)` when it was seen before.
pub type Remembering<'a> = Pin<Box<dyn Future<Output = Result<bool, UpstreamError>> + Send + 'a>>;

/// A memory of proof `jti`s, per proof key.
pub trait ReplayStore: Send + Sync {
    /// Remembers `jti` of the key `jkt` until `expires_at` (wall seconds), unless a live
    /// entry holds it already; `now` is the wall clock.
    fn remember<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> Remembering<'a>;
}

/// Bytes one entry of [`MemoryReplay`] takes, about (key twice, expiry, map overhead).
pub const MEMORY_ENTRY_BYTES: usize = 128;

type Digest = [u8; 32];

/// The `jti`s this container saw, by digest of `jkt` and `jti`, each until its expiry;
/// at most `capacity` entries.
#[derive(Debug)]
pub struct MemoryReplay {
    capacity: usize,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    expiry: HashMap<Digest, u64>,
    /// In insertion order; every entry lives for the same window, so this is also
    /// expiry order (a [`MemoryReplay`] is written with one window).
    order: VecDeque<(Digest, u64)>,
}

impl MemoryReplay {
    /// A memory of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// Entries held (live or not yet swept).
    pub fn len(&self) -> usize {
        lock(&self.inner).expiry.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Remembers `jti` of `jkt` until `expires_at`: `true` when it was new, `false` when a
    /// live entry held it. Sweeps expired entries; evicts the oldest when full.
    pub fn insert(&self, jkt: &str, jti: &str, now: u64, expires_at: u64) -> bool {
        let key = key(jkt, jti);
        let mut entries = lock(&self.inner);
        while let Some(&(old, at)) = entries.order.front() {
            if at > now && entries.order.len() < self.capacity {
                break;
            }
            entries.order.pop_front();
            if entries.expiry.get(&old) == Some(&at) {
                entries.expiry.remove(&old);
            }
        }
        if entries.expiry.get(&key).is_some_and(|at| *at > now) {
            return false;
        }
        entries.expiry.insert(key, expires_at);
        entries.order.push_back((key, expires_at));
        true
    }
}

fn key(jkt: &str, jti: &str) -> Digest {
    // Length-prefixed: no (jkt, jti) pair reads as another.
    let mut input = Vec::with_capacity(8 + jkt.len() + jti.len());
    input.extend_from_slice(&(jkt.len() as u64).to_be_bytes());
    input.extend_from_slice(jkt.as_bytes());
    input.extend_from_slice(jti.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest(&SHA256, &input).as_ref());
    out
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReplayStore for MemoryReplay {
    fn remember<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> Remembering<'a> {
        let fresh = self.insert(jkt, jti, now, expires_at);
        Box::pin(async move { Ok(fresh) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_jti_is_refused_the_second_time_within_its_window() {
        let memory = MemoryReplay::new(16);
        assert!(memory.insert("k", "j1", 100, 170));
        assert!(!memory.insert("k", "j1", 150, 220));
        assert!(memory.insert("k", "j2", 150, 220));
    }

    #[test]
    fn the_same_jti_of_another_key_is_another_proof() {
        let memory = MemoryReplay::new(16);
        assert!(memory.insert("k1", "j", 100, 170));
        assert!(memory.insert("k2", "j", 100, 170));
        // No ambiguity from the separator.
        assert!(memory.insert("a#b", "c", 100, 170));
        assert!(memory.insert("a", "b#c", 100, 170));
    }

    #[test]
    fn an_expired_entry_is_forgotten() {
        let memory = MemoryReplay::new(16);
        assert!(memory.insert("k", "j", 100, 170));
        assert!(memory.insert("k", "j", 170, 240));
        assert!(memory.insert("k", "other", 400, 470));
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn a_flood_of_unique_proofs_stays_within_capacity() {
        let memory = MemoryReplay::new(1000);
        for n in 0..100_000 {
            assert!(memory.insert("k", &format!("j{n}"), 100, 170));
        }
        assert_eq!(memory.len(), 1000);
        let entries = lock(&memory.inner);
        assert_eq!(entries.order.len(), 1000);
    }

    #[test]
    fn the_newest_entries_survive_a_flood() {
        let memory = MemoryReplay::new(10);
        for n in 0..100 {
            memory.insert("k", &format!("j{n}"), 100, 170);
        }
        assert!(!memory.insert("k", "j99", 101, 171));
    }
}
