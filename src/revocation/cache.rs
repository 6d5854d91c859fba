//! The container's cache of revocation lookups, per item (so a subject's item serves all
//! of its tokens, and one sign-in's `origin_jti` item all of its refreshed tokens):
//! found or absent, each reused for `REVOCATION_CACHE_SECONDS` from the moment its
//! lookup started, within a memory bound. An item being looked up is marked pending:
//! decisions that need it meanwhile wait for that lookup instead of starting their own,
//! so concurrent misses cost one round trip.
//!
//! Items are held per issuer and kind, by the claim's value, so a decision whose items
//! are all fresh builds no key and allocates nothing. Every critical section is short
//! and holds no `await`; the lookup runs outside the lock. A lookup abandoned halfway
//! (its future dropped) puts back what it replaced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::decide::{self, Known, MAX_ITEMS, Wanted};
use super::record::{Key, Revocation, Scope};
use crate::token_cache::heap_string;

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

/// One issuer's items: subject items and token items, by the claim's value.
#[derive(Debug)]
struct Shelf {
    issuer: String,
    subjects: HashMap<Box<str>, Slot>,
    tokens: HashMap<Box<str>, Slot>,
}

impl Shelf {
    fn map(&mut self, scope: Scope) -> &mut HashMap<Box<str>, Slot> {
        match scope {
            Scope::Subject => &mut self.subjects,
            Scope::Token => &mut self.tokens,
        }
    }

    fn maps(&mut self) -> [&mut HashMap<Box<str>, Slot>; 2] {
        [&mut self.subjects, &mut self.tokens]
    }
}

/// An estimate of one entry: the id's heap string plus the map slot, doubled for the
/// map's spare capacity.
fn entry_bytes(id: &str) -> usize {
    heap_string(id.len()) + 2 * std::mem::size_of::<(Box<str>, Slot)>()
}

/// What the cache says about one of a decision's items.
#[derive(Debug)]
pub(crate) enum Claim {
    /// Known now: fresh, or unreadable (the table rests after a failure).
    Ready(Known),
    /// Another decision's lookup is reading it (the item's partition key).
    Wait {
        result: watch::Receiver<Published>,
        last: Option<Revocation>,
        pk: String,
    },
    /// This decision's own lookup reads it (the item's partition key).
    Mine {
        last: Option<Revocation>,
        pk: String,
    },
}

impl Claim {
    /// What a finished lookup says about the item `pk`.
    pub(crate) fn resolve(found: Option<&Found>, pk: &str, last: Option<Revocation>) -> Known {
        match found {
            Some(Ok(items)) => Known::Current(items.get(pk).copied()),
            Some(Err(())) | None => Known::Unavailable(last),
        }
    }
}

/// One claim per item of a decision, in the order asked.
pub(crate) type Claims = [Option<Claim>; MAX_ITEMS];

/// The cache; see the module docs.
#[derive(Debug)]
pub(crate) struct Cache {
    inner: Mutex<Inner>,
    window: Duration,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    /// One per issuer seen (configured issuers only: a few), never removed.
    shelves: Vec<Shelf>,
    bytes: usize,
    flights: u64,
}

impl Inner {
    fn shelf(&mut self, issuer: &str) -> usize {
        match self.shelves.iter().position(|s| s.issuer == issuer) {
            Some(index) => index,
            None => {
                self.shelves.push(Shelf {
                    issuer: issuer.to_owned(),
                    subjects: HashMap::new(),
                    tokens: HashMap::new(),
                });
                self.shelves.len() - 1
            }
        }
    }

    fn slots(&mut self, shelf: usize, scope: Scope) -> Option<&mut HashMap<Box<str>, Slot>> {
        self.shelves.get_mut(shelf).map(|s| s.map(scope))
    }

    fn recount(&mut self) {
        self.bytes = self
            .shelves
            .iter_mut()
            .flat_map(Shelf::maps)
            .flat_map(|map| map.keys())
            .map(|id| entry_bytes(id))
            .sum();
    }

    fn len(&mut self) -> usize {
        self.shelves
            .iter_mut()
            .flat_map(Shelf::maps)
            .map(|map| map.len())
            .sum()
    }
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

    /// Classifies each of a decision's items of `issuer` at `now` (monotonic). Items
    /// neither fresh nor pending join one new lookup (returned) when `callable`, and are
    /// otherwise unreadable now.
    pub(crate) fn begin(
        &self,
        issuer: &str,
        wanted: &[Wanted<'_>],
        now: Duration,
        callable: bool,
    ) -> (Claims, Option<Flight<'_>>) {
        let mut inner = self.lock();
        let shelf = inner.shelf(issuer);
        let mut claims: Claims = std::array::from_fn(|_| None);
        let mut mine: Vec<Entry> = Vec::new();
        for (slot, (_, scope, id)) in claims.iter_mut().zip(wanted) {
            let held = inner.slots(shelf, *scope).and_then(|map| map.get(*id));
            let claim = match held {
                Some(Slot::Known { item, read_at })
                    if decide::fresh(*read_at, now, self.window) =>
                {
                    Claim::Ready(Known::Current(*item))
                }
                Some(held @ Slot::Pending { result, .. }) => Claim::Wait {
                    result: result.clone(),
                    last: held.last_seen(),
                    pk: pk(issuer, *scope, id),
                },
                held => {
                    let before = match held {
                        Some(Slot::Known { item, read_at }) => Some((*item, *read_at)),
                        _ => None,
                    };
                    let last = before.and_then(|(item, _)| item);
                    if callable {
                        let key = Key {
                            scope: *scope,
                            pk: pk(issuer, *scope, id),
                        };
                        let claim = Claim::Mine {
                            last,
                            pk: key.pk.clone(),
                        };
                        mine.push(Entry {
                            id: (*id).into(),
                            key,
                            before,
                        });
                        claim
                    } else {
                        Claim::Ready(Known::Unavailable(last))
                    }
                }
            };
            *slot = Some(claim);
        }
        if mine.is_empty() {
            return (claims, None);
        }
        let (publish, result) = watch::channel(None);
        inner.flights += 1;
        let flight = inner.flights;
        for entry in &mine {
            let slot = Slot::Pending {
                flight,
                result: result.clone(),
                before: entry.before,
            };
            self.put(&mut inner, shelf, entry.key.scope, &entry.id, slot, now);
        }
        let flight = Flight {
            cache: self,
            id: flight,
            shelf,
            started: now,
            entries: mine,
            publish: Some(publish),
        };
        (claims, Some(flight))
    }

    /// Number of items held (pending ones included).
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The estimated bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Stores `slot` for `id`, making room first when the bound would be passed: stale
    /// entries go first, then (unless that freed an eighth of the budget) every finished
    /// one; pending lookups are kept. An entry that still does not fit is not stored.
    fn put(
        &self,
        inner: &mut Inner,
        shelf: usize,
        scope: Scope,
        id: &str,
        slot: Slot,
        now: Duration,
    ) {
        if let Some(existing) = inner.slots(shelf, scope).and_then(|map| map.get_mut(id)) {
            *existing = slot;
            return;
        }
        let need = entry_bytes(id);
        let window = self.window;
        let evictions: [&dyn Fn(&Slot) -> bool; 2] = [
            &|slot| match slot {
                Slot::Known { read_at, .. } => decide::fresh(*read_at, now, window),
                Slot::Pending { .. } => true,
            },
            &|slot| matches!(slot, Slot::Pending { .. }),
        ];
        // An eviction leaves an eighth of the budget free, so a full cache is not
        // scanned again at every insert.
        let target = self.max_bytes - self.max_bytes / 8;
        if inner.bytes + need > self.max_bytes {
            for keep in evictions {
                for map in inner.shelves.iter_mut().flat_map(Shelf::maps) {
                    map.retain(|_, slot| keep(slot));
                }
                inner.recount();
                if inner.bytes + need <= target {
                    break;
                }
            }
        }
        if inner.bytes + need <= self.max_bytes {
            if let Some(map) = inner.slots(shelf, scope) {
                map.insert(id.into(), slot);
                inner.bytes += need;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key of `issuer`'s item for `id` (its length was checked by `decide::items`).
fn pk(issuer: &str, scope: Scope, id: &str) -> String {
    Key::new(issuer, scope, id)
        .map(|key| key.pk)
        .unwrap_or_default()
}

/// One item a lookup reads.
#[derive(Debug)]
struct Entry {
    id: Box<str>,
    key: Key,
    before: Before,
}

/// One lookup under way: the items it reads, marked pending in the cache until
/// [`Flight::finish`] stores what it found and tells the decisions waiting on it.
pub(crate) struct Flight<'a> {
    cache: &'a Cache,
    id: u64,
    shelf: usize,
    started: Duration,
    entries: Vec<Entry>,
    publish: Option<watch::Sender<Published>>,
}

impl Flight<'_> {
    /// The items to read.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.entries.iter().map(|e| e.key.clone()).collect()
    }

    /// Stores what the lookup found (or, when it failed, puts back what was there), and
    /// publishes it to the decisions waiting.
    pub(crate) fn finish(mut self, found: Found) -> Arc<Found> {
        let found = Arc::new(found);
        {
            let mut inner = self.cache.lock();
            for entry in &self.entries {
                let slot = match found.as_ref() {
                    Ok(items) => Some(Slot::Known {
                        item: items.get(&entry.key.pk).copied(),
                        read_at: self.started,
                    }),
                    Err(()) => entry
                        .before
                        .map(|(item, read_at)| Slot::Known { item, read_at }),
                };
                self.settle(&mut inner, entry, slot);
            }
        }
        if let Some(publish) = self.publish.take() {
            publish.send_replace(Some(Arc::clone(&found)));
        }
        found
    }

    /// Replaces this flight's pending mark on `entry` with `slot` (`None`: removes it). A
    /// newer lookup's result is never overwritten.
    fn settle(&self, inner: &mut Inner, entry: &Entry, slot: Option<Slot>) {
        let scope = entry.key.scope;
        let ours = match inner
            .slots(self.shelf, scope)
            .and_then(|m| m.get(&entry.id))
        {
            Some(Slot::Pending { flight, .. }) => *flight == self.id,
            Some(Slot::Known { read_at, .. }) => *read_at < self.started,
            None => true,
        };
        if !ours {
            return;
        }
        match slot {
            Some(slot) => {
                self.cache
                    .put(inner, self.shelf, scope, &entry.id, slot, self.started);
            }
            None => {
                let removed = inner
                    .slots(self.shelf, scope)
                    .and_then(|map| map.remove(&entry.id));
                if removed.is_some() {
                    inner.bytes = inner.bytes.saturating_sub(entry_bytes(&entry.id));
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
        for entry in &self.entries {
            let pending_here = matches!(
                inner.slots(self.shelf, entry.key.scope).and_then(|m| m.get(&entry.id)),
                Some(Slot::Pending { flight, .. }) if *flight == self.id
            );
            if pending_here {
                let slot = entry
                    .before
                    .map(|(item, read_at)| Slot::Known { item, read_at });
                self.settle(&mut inner, entry, slot);
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
    use crate::revocation::decide::Via;

    const SECOND: Duration = Duration::from_secs(1);
    const BIG: usize = usize::MAX;
    const ISS: &str = "iss";
    const ITEM: Revocation = Revocation::Token { expires_at: 99 };

    fn jti(id: &str) -> Wanted<'_> {
        (Via::Jti, Scope::Token, id)
    }

    fn pk_of(id: &str) -> String {
        format!("REVOKED#{ISS}#jti#{id}")
    }

    fn found(present: &[&str]) -> Found {
        Ok(present.iter().map(|id| (pk_of(id), ITEM)).collect())
    }

    fn ready(claims: &Claims) -> Vec<Option<Known>> {
        claims
            .iter()
            .flatten()
            .map(|c| match c {
                Claim::Ready(known) => Some(*known),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_miss_starts_one_lookup_whose_result_serves_for_the_window() {
        let cache = Cache::new(30 * SECOND, BIG);
        let wanted = [jti("a"), jti("b")];
        let (claims, flight) = cache.begin(ISS, &wanted, SECOND, true);
        assert!(
            claims
                .iter()
                .flatten()
                .all(|c| matches!(c, Claim::Mine { last: None, .. }))
        );
        let flight = flight.expect("a lookup");
        let pks: Vec<String> = flight.keys().into_iter().map(|k| k.pk).collect();
        assert_eq!(pks, [pk_of("a"), pk_of("b")]);
        flight.finish(found(&["a"]));
        let (claims, flight) = cache.begin(ISS, &wanted, 30 * SECOND, true);
        assert!(flight.is_none(), "both served from the cache");
        assert_eq!(
            ready(&claims),
            [Some(Known::Current(Some(ITEM))), Some(Known::Current(None))],
            "found or not"
        );
        let (_, flight) = cache.begin(ISS, &wanted, 31 * SECOND, true);
        assert_eq!(flight.unwrap().keys().len(), 2, "stale after the window");
    }

    #[test]
    fn issuers_and_kinds_do_not_share_items() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (_, flight) = cache.begin(ISS, &[jti("x")], SECOND, true);
        flight.unwrap().finish(found(&["x"]));
        let (_, other_issuer) = cache.begin("other", &[jti("x")], SECOND, true);
        assert!(other_issuer.is_some());
        let (_, subject) = cache.begin(ISS, &[(Via::Subject, Scope::Subject, "x")], SECOND, true);
        assert_eq!(subject.unwrap().keys()[0].pk, "REVOKED#iss#sub#x");
    }

    #[test]
    fn concurrent_misses_wait_for_the_lookup_under_way() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (_, first) = cache.begin(ISS, &[jti("a")], SECOND, true);
        let first = first.unwrap();
        let (claims, second) = cache.begin(ISS, &[jti("a"), jti("b")], SECOND, true);
        let second = second.expect("b still needs its own lookup");
        assert_eq!(second.keys()[0].pk, pk_of("b"), "a is not read twice");
        assert_eq!(second.keys().len(), 1);
        let Some(Claim::Wait { result, pk, .. }) = &claims[0] else {
            panic!("a should wait for the first lookup");
        };
        let result = result.clone();
        assert!(result.borrow().is_none());
        first.finish(found(&["a"]));
        let published = result.borrow().clone().unwrap();
        assert_eq!(
            Claim::resolve(Some(&published), pk, None),
            Known::Current(Some(ITEM))
        );
        second.finish(found(&[]));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn a_failed_lookup_keeps_what_was_known_and_tells_the_waiters() {
        let cache = Cache::new(10 * SECOND, BIG);
        let (_, flight) = cache.begin(ISS, &[jti("a")], SECOND, true);
        flight.unwrap().finish(found(&["a"]));
        let (claims, flight) = cache.begin(ISS, &[jti("a")], 20 * SECOND, true);
        assert!(matches!(
            claims[0],
            Some(Claim::Mine {
                last: Some(ITEM),
                ..
            })
        ));
        let (waiting, _) = cache.begin(ISS, &[jti("a")], 20 * SECOND, true);
        let Some(Claim::Wait { result, last, pk }) = &waiting[0] else {
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
            Claim::resolve(result.borrow().as_deref(), pk, Some(ITEM)),
            Known::Unavailable(Some(ITEM))
        );
        let (claims, _) = cache.begin(ISS, &[jti("a")], 20 * SECOND, false);
        assert_eq!(
            ready(&claims),
            [Some(Known::Unavailable(Some(ITEM)))],
            "the stale item is back, for the window"
        );
    }

    #[test]
    fn while_the_table_rests_misses_are_unavailable_and_start_nothing() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (claims, flight) = cache.begin(ISS, &[jti("a")], SECOND, false);
        assert!(flight.is_none());
        assert_eq!(ready(&claims), [Some(Known::Unavailable(None))]);
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_abandoned_lookup_undoes_its_marks_and_fails_its_waiters() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (_, flight) = cache.begin(ISS, &[jti("a")], SECOND, true);
        let (waiting, _) = cache.begin(ISS, &[jti("a")], SECOND, true);
        let Some(Claim::Wait { result, .. }) = &waiting[0] else {
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
        let (_, again) = cache.begin(ISS, &[jti("a")], SECOND, true);
        assert!(again.is_some(), "the next decision looks up again");
    }

    #[test]
    fn a_zero_budget_keeps_nothing_but_still_looks_up() {
        let cache = Cache::new(30 * SECOND, 0);
        let (_, flight) = cache.begin(ISS, &[jti("a")], SECOND, true);
        assert_eq!(cache.len(), 0, "no pending mark");
        flight.unwrap().finish(found(&["a"]));
        assert_eq!(cache.len(), 0, "no result kept");
        let (_, again) = cache.begin(ISS, &[jti("a")], SECOND, true);
        assert!(again.is_some());
    }

    #[test]
    fn an_older_lookup_never_overwrites_a_newer_one() {
        let cache = Cache::new(30 * SECOND, BIG);
        let (_, old) = cache.begin(ISS, &[jti("a")], SECOND, true);
        let old = old.unwrap();
        // Its mark is lost (evicted), and a newer lookup stores its answer first.
        {
            let mut inner = cache.lock();
            inner.shelves.clear();
            inner.bytes = 0;
        }
        let (_, new) = cache.begin(ISS, &[jti("a")], 2 * SECOND, true);
        new.unwrap().finish(found(&["a"]));
        old.finish(found(&[]));
        let (claims, _) = cache.begin(ISS, &[jti("a")], 3 * SECOND, true);
        assert_eq!(ready(&claims), [Some(Known::Current(Some(ITEM)))]);
    }

    #[test]
    fn the_cache_is_bounded_in_bytes_stale_entries_first() {
        let one = entry_bytes("00000");
        let cache = Cache::new(10 * SECOND, 10 * one);
        let ids: Vec<String> = (0..100).map(|i| format!("{i:05}")).collect();
        for id in &ids[..5] {
            let (_, f) = cache.begin(ISS, &[jti(id)], SECOND, true);
            f.unwrap().finish(Ok(HashMap::new()));
        }
        for id in &ids[5..] {
            let (_, f) = cache.begin(ISS, &[jti(id)], 20 * SECOND, true);
            f.unwrap().finish(Ok(HashMap::new()));
            assert!(cache.bytes() <= 10 * one, "{} bytes", cache.bytes());
            assert_eq!(cache.bytes(), cache.len() * one);
        }
        assert!(cache.len() <= 10);
        let (claims, _) = cache.begin(ISS, &[jti("00099")], 20 * SECOND, true);
        assert!(
            matches!(claims[0], Some(Claim::Ready(Known::Current(None)))),
            "the newest entry is kept"
        );
    }
}
