//! The container's cache of revocation lookups, per item (so a subject's item serves all
//! of its tokens, and one sign-in's `origin_jti` item all of its refreshed tokens):
//! found or absent, each reused for `REVOCATION_CACHE_SECONDS` from the moment its
//! lookup started, within a memory bound. An item being looked up is marked pending:
//! decisions that need it meanwhile wait for that lookup instead of starting their own,
//! so concurrent misses cost one round trip.
//!
//! Every critical section is short and holds no `await`; the lookup itself runs outside
//! the lock. A lookup abandoned halfway (its future dropped) puts back what it replaced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use super::decide::{self, Known, Via};
use super::record::{Key, Revocation};

/// What a finished lookup found: the items present, by partition key (absent ones are
/// not listed); `Err` when the lookup failed.
pub(crate) type Found = Result<HashMap<String, Revocation>, ()>;

/// The value a pending lookup publishes to the decisions waiting on it.
type Published = Option<Arc<Found>>;

/// What a slot held before a lookup replaced it: the item and when it was read.
type Before = Option<(Option<Revocation>, Duration)>;

/// What the cache holds for one item.
#[derive(Debug)]
enum Slot {
    /// The item (`None`: absent) as read by a lookup that started at `read_at`.
    Known {
        item: Option<Revocation>,
        read_at: Duration,
    },
    /// A lookup is under way; `before` is what it replaced.
    Pending {
        flight: u64,
        result: watch::Receiver<Published>,
        before: Before,
    },
}

impl Slot {
    /// The item last seen, if any (for a decision that can't read it now).
    fn last_seen(&self) -> Option<Revocation> {
        match self {
            Self::Known { item, .. } => *item,
            Self::Pending { before, .. } => before.and_then(|(item, _)| item),
        }
    }
}

/// An estimate of one entry: the key's heap string plus the map slot, doubled for the
/// map's spare capacity (allocator rounding as in the token cache).
fn entry_bytes(key: &str) -> usize {
    let heap = key.len().div_ceil(16) * 16 + 16;
    heap + 2 * std::mem::size_of::<(String, Slot)>()
}

/// What the cache says about one of a decision's items.
pub(crate) enum Claim {
    /// Known now: fresh, or unreadable (the table rests after a failure).
    Ready(Known),
    /// Another decision's lookup is reading it.
    Wait {
        result: watch::Receiver<Published>,
        last: Option<Revocation>,
    },
    /// This decision's own lookup reads it.
    Mine { last: Option<Revocation> },
}

impl Claim {
    /// What a finished lookup says about `key`.
    pub(crate) fn resolve(found: Option<&Found>, key: &Key, last: Option<Revocation>) -> Known {
        match found {
            Some(Ok(items)) => Known::Current(items.get(&key.pk).copied()),
            Some(Err(())) | None => Known::Unavailable(last),
        }
    }
}

/// The cache; see the module docs.
#[derive(Debug)]
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    window: Duration,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    map: HashMap<String, Slot>,
    bytes: usize,
    flights: u64,
}

impl Cache {
    /// Lookups serve for `window` (`REVOCATION_CACHE_SECONDS`), within about `max_bytes`.
    pub(crate) fn new(window: Duration, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            window,
            max_bytes,
        }
    }

    /// Classifies each of a decision's items at `now` (monotonic). Items neither fresh
    /// nor pending join one new lookup (returned) when `callable`, and are otherwise
    /// unreadable now.
    pub(crate) fn begin(
        &self,
        keys: &[(Via, Key)],
        now: Duration,
        callable: bool,
    ) -> (Vec<Claim>, Option<Flight<'_>>) {
        let mut inner = self.lock();
        let mut claims = Vec::with_capacity(keys.len());
        let mut mine: Vec<(Key, Before)> = Vec::new();
        for (_, key) in keys {
            let claim = match inner.map.get(&key.pk) {
                Some(Slot::Known { item, read_at })
                    if decide::fresh(*read_at, now, self.window) =>
                {
                    Claim::Ready(Known::Current(*item))
                }
                Some(slot @ Slot::Pending { result, .. }) => Claim::Wait {
                    result: result.clone(),
                    last: slot.last_seen(),
                },
                slot => {
                    let before = match slot {
                        Some(Slot::Known { item, read_at }) => Some((*item, *read_at)),
                        _ => None,
                    };
                    let last = before.and_then(|(item, _)| item);
                    if callable {
                        mine.push((key.clone(), before));
                        Claim::Mine { last }
                    } else {
                        Claim::Ready(Known::Unavailable(last))
                    }
                }
            };
            claims.push(claim);
        }
        if mine.is_empty() {
            return (claims, None);
        }
        let (publish, result) = watch::channel(None);
        inner.flights += 1;
        let flight = inner.flights;
        for (key, before) in &mine {
            let slot = Slot::Pending {
                flight,
                result: result.clone(),
                before: *before,
            };
            self.put(&mut inner, &key.pk, slot, now);
        }
        let flight = Flight {
            cache: self,
            id: flight,
            started: now,
            entries: mine,
            publish: Some(publish),
        };
        (claims, Some(flight))
    }

    /// Number of items held (pending ones included).
    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// The estimated bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Stores `slot` under `pk`, making room first when the bound would be passed:
    /// stale entries go first, then every finished one; pending lookups are kept. An
    /// entry that still does not fit is not stored.
    fn put(&self, inner: &mut Inner, pk: &str, slot: Slot, now: Duration) {
        if let Some(existing) = inner.map.get_mut(pk) {
            *existing = slot;
            return;
        }
        let need = entry_bytes(pk);
        if inner.bytes + need > self.max_bytes {
            let window = self.window;
            inner.map.retain(|_, slot| match slot {
                Slot::Known { read_at, .. } => decide::fresh(*read_at, now, window),
                Slot::Pending { .. } => true,
            });
            inner.bytes = inner.map.keys().map(|k| entry_bytes(k)).sum();
        }
        if inner.bytes + need > self.max_bytes {
            inner
                .map
                .retain(|_, slot| matches!(slot, Slot::Pending { .. }));
            inner.bytes = inner.map.keys().map(|k| entry_bytes(k)).sum();
        }
        if inner.bytes + need <= self.max_bytes {
            inner.bytes += need;
            inner.map.insert(pk.to_owned(), slot);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// One lookup under way: the items it reads, marked pending in the cache until
/// [`Flight::finish`] stores what it found and tells the decisions waiting on it.
pub(crate) struct Flight<'a> {
    cache: &'a Cache,
    id: u64,
    started: Duration,
    entries: Vec<(Key, Before)>,
    publish: Option<watch::Sender<Published>>,
}

impl Flight<'_> {
    /// The items to read.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.entries.iter().map(|(key, _)| key.clone()).collect()
    }

    /// Stores what the lookup found (or, when it failed, puts back what was there), and
    /// publishes it to the decisions waiting.
    pub(crate) fn finish(mut self, found: Found) -> Arc<Found> {
        let found = Arc::new(found);
        {
            let mut inner = self.cache.lock();
            for (key, before) in &self.entries {
                let slot = match found.as_ref() {
                    Ok(items) => Some(Slot::Known {
                        item: items.get(&key.pk).copied(),
                        read_at: self.started,
                    }),
                    Err(()) => before.map(|(item, read_at)| Slot::Known { item, read_at }),
                };
                self.settle(&mut inner, &key.pk, slot);
            }
        }
        if let Some(publish) = self.publish.take() {
            publish.send_replace(Some(Arc::clone(&found)));
        }
        found
    }

    /// Replaces this flight's pending mark on `pk` with `slot` (`None`: removes it). A
    /// newer lookup's result is never overwritten.
    fn settle(&self, inner: &mut Inner, pk: &str, slot: Option<Slot>) {
        let ours = match inner.map.get(pk) {
            Some(Slot::Pending { flight, .. }) => *flight == self.id,
            Some(Slot::Known { read_at, .. }) => *read_at < self.started,
            None => true,
        };
        if !ours {
            return;
        }
        match slot {
            Some(slot) => self.cache.put(inner, pk, slot, self.started),
            None => {
                if inner.map.remove(pk).is_some() {
                    inner.bytes = inner.bytes.saturating_sub(entry_bytes(pk));
                }
            }
        }
    }
}

impl Drop for Flight<'_> {
    /// A lookup abandoned before it finished (its decision dropped): its pending marks
    /// are undone, and the decisions waiting on it see it fail.
    fn drop(&mut self) {
        if self.publish.is_none() {
            return;
        }
        let mut inner = self.cache.lock();
        for (key, before) in &self.entries {
            if matches!(inner.map.get(&key.pk), Some(Slot::Pending { flight, .. }) if *flight == self.id)
            {
                let slot = before.map(|(item, read_at)| Slot::Known { item, read_at });
                self.settle(&mut inner, &key.pk, slot);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::revocation::record::Scope;

    const SECOND: Duration = Duration::from_secs(1);
    const BIG: usize = usize::MAX;

    fn key(id: &str) -> (Via, Key) {
        (Via::Jti, Key::new("iss", Scope::Token, id).unwrap())
    }

    fn found(pairs: &[(&(Via, Key), Revocation)]) -> Found {
        Ok(pairs
            .iter()
            .map(|((_, key), item)| (key.pk.clone(), *item))
            .collect())
    }

    const ITEM: Revocation = Revocation::Token { expires_at: 99 };

    fn ready(claims: &[Claim]) -> Vec<Option<Known>> {
        claims
            .iter()
            .map(|c| match c {
                Claim::Ready(known) => Some(*known),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_miss_starts_one_lookup_whose_result_serves_for_the_window() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (a, b) = (key("a"), key("b"));
        let keys = [a.clone(), b.clone()];
        let (claims, flight) = cache.begin(&keys, SECOND, true);
        assert!(
            claims
                .iter()
                .all(|c| matches!(c, Claim::Mine { last: None }))
        );
        let flight = flight.expect("a lookup");
        assert_eq!(flight.keys(), vec![a.1.clone(), b.1.clone()]);
        flight.finish(found(&[(&a, ITEM)]));
        let (claims, flight) = cache.begin(&keys, 30 * SECOND, true);
        assert!(flight.is_none(), "both served from the cache");
        assert_eq!(
            ready(&claims),
            [Some(Known::Current(Some(ITEM))), Some(Known::Current(None))],
            "found or not"
        );
        let (_, flight) = cache.begin(&keys, 31 * SECOND, true);
        assert_eq!(flight.unwrap().keys().len(), 2, "stale after the window");
    }

    #[test]
    fn concurrent_misses_wait_for_the_lookup_under_way() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (a, b) = (key("a"), key("b"));
        let (_, first) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        let first = first.unwrap();
        let (claims, second) = cache.begin(&[a.clone(), b.clone()], SECOND, true);
        let second = second.expect("b still needs its own lookup");
        assert_eq!(second.keys(), vec![b.1.clone()], "a is not read twice");
        let Some(Claim::Wait { result, .. }) = claims.first() else {
            panic!("a should wait for the first lookup");
        };
        let result = result.clone();
        assert!(result.borrow().is_none());
        first.finish(found(&[(&a, ITEM)]));
        let published = result.borrow().clone().unwrap();
        assert_eq!(
            Claim::resolve(Some(&published), &a.1, None),
            Known::Current(Some(ITEM))
        );
        second.finish(found(&[]));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_failed_lookup_keeps_what_was_known_and_tells_the_waiters() {
        let cache = Cache::new(10 * SECOND, BIG);
        let a = key("a");
        let (_, flight) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        flight.unwrap().finish(found(&[(&a, ITEM)]));
        let (claims, flight) = cache.begin(std::slice::from_ref(&a), 20 * SECOND, true);
        assert!(matches!(claims[0], Claim::Mine { last: Some(ITEM) }));
        let (waiting, _) = cache.begin(std::slice::from_ref(&a), 20 * SECOND, true);
        let Claim::Wait { result, last } = &waiting[0] else {
            panic!("should wait");
        };
        assert_eq!(
            *last,
            Some(ITEM),
            "the last item seen goes to the waiters too"
        );
        let result = result.clone();
        flight.unwrap().finish(Err(()));
        assert_eq!(
            Claim::resolve(result.borrow().as_deref(), &a.1, Some(ITEM)),
            Known::Unavailable(Some(ITEM))
        );
        let (claims, _) = cache.begin(std::slice::from_ref(&a), 20 * SECOND, false);
        assert_eq!(
            ready(&claims),
            [Some(Known::Unavailable(Some(ITEM)))],
            "the stale item is back, for the window"
        );
    }

    #[test]
    fn while_the_table_rests_misses_are_unavailable_and_start_nothing() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (claims, flight) = cache.begin(&[key("a")], SECOND, false);
        assert!(flight.is_none());
        assert_eq!(ready(&claims), [Some(Known::Unavailable(None))]);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_abandoned_lookup_undoes_its_marks_and_fails_its_waiters() {
        let cache = Cache::new(30 * SECOND, BIG);
        let a = key("a");
        let (_, flight) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        let (waiting, _) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        let Claim::Wait { result, .. } = &waiting[0] else {
            panic!("should wait");
        };
        let mut result = result.clone();
        drop(flight);
        assert_eq!(cache.len(), 0);
        let changed = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(result.changed());
        assert!(changed.is_err(), "waiters see the lookup gone");
        let (_, again) = cache.begin(&[a], SECOND, true);
        assert!(again.is_some(), "the next decision looks up again");
    }

    #[test]
    fn a_zero_budget_keeps_nothing_but_still_looks_up() {
        let cache = Cache::new(30 * SECOND, 0);
        let a = key("a");
        let (_, flight) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        assert_eq!(cache.len(), 0, "no pending mark");
        flight.unwrap().finish(found(&[(&a, ITEM)]));
        assert_eq!(cache.len(), 0, "no result kept");
        let (_, again) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        assert!(again.is_some());
    }

    #[test]
    fn an_older_lookup_never_overwrites_a_newer_one() {
        let cache = Cache::new(30 * SECOND, BIG);
        let a = key("a");
        let (_, old) = cache.begin(std::slice::from_ref(&a), SECOND, true);
        let old = old.unwrap();
        // Its mark is lost (evicted), and a newer lookup stores its answer first.
        cache.lock().map.clear();
        cache.lock().bytes = 0;
        let (_, new) = cache.begin(std::slice::from_ref(&a), 2 * SECOND, true);
        new.unwrap().finish(found(&[(&a, ITEM)]));
        old.finish(found(&[]));
        let (claims, _) = cache.begin(&[a], 3 * SECOND, true);
        assert_eq!(ready(&claims), [Some(Known::Current(Some(ITEM)))]);
    }

    #[test]
    fn the_cache_is_bounded_in_bytes_stale_entries_first() {
        let one = entry_bytes(&key("00000").1.pk);
        let cache = Cache::new(10 * SECOND, 10 * one);
        for i in 0..5 {
            let k = key(&format!("{i:05}"));
            let (_, f) = cache.begin(&[k], SECOND, true);
            f.unwrap().finish(Ok(HashMap::new()));
        }
        for i in 5..100 {
            let k = key(&format!("{i:05}"));
            let (_, f) = cache.begin(&[k], 20 * SECOND, true);
            f.unwrap().finish(Ok(HashMap::new()));
            assert!(cache.bytes() <= 10 * one, "{} bytes", cache.bytes());
            assert_eq!(cache.bytes(), cache.len() * one);
        }
        assert!(cache.len() <= 10);
        let (claims, _) = cache.begin(&[key("00099")], 20 * SECOND, true);
        assert!(
            matches!(claims[0], Claim::Ready(Known::Current(None))),
            "the newest entry is kept"
        );
    }
}
