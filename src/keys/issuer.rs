//! The key tiers of one JWKS issuer, carried out: memory serves while its lease holds;
//! otherwise a reload asks [`plan::next`] what to do, does it (GetItem, discovery, JWKS
//! fetch, write-through), records what it saw, and asks again until done. One reload per
//! issuer at a time: concurrent misses wait for the one in flight, then find its result.

use std::sync::Arc;

use tokio::sync::Mutex;

use super::plan::{self, Dated, Held, History, Input, Progress, Read, Sent, Step};
use super::record::{DiscoveryRecord, Item, KeyRecord, Poison, Stored};
use super::{Budget, KeyTable, MemoryTier, Prefetched, Snapshot, Tier, TierDeps, fetch_keys};
use crate::clock::Now;
use crate::config::{IssuerConfig, JwksLocation, checked_url};
use crate::error::{KeyError, UpstreamError};
use crate::jwk::{Algorithm, KeySet};
use crate::metrics::Counter;

/// What Lambda init read for every issuer at once (see [`warm_up_together`]).
type Batch = Result<Prefetched, UpstreamError>;

/// Loads every issuer's keys during Lambda init with one table round trip however many
/// issuers there are: one BatchGetItem of each issuer's first item (`JWKS#{url}`, or
/// `DISCOVERY#{issuer}` for a discovery issuer, whose keys item is read after), then each
/// issuer's plan on what it found. A single issuer reads with GetItem as before; a failed
/// batch counts as the table down for every issuer (one bounded call, not one per issuer).
pub async fn warm_up_together(stores: &[&IssuerKeys], now: Now) {
    let (Some(first), true) = (stores.first(), stores.len() > 1) else {
        for keys in stores {
            keys.warm_up(now).await;
        }
        return;
    };
    let batch = match &first.deps.table {
        Some(table) => {
            let mut keys: Vec<String> = Vec::with_capacity(stores.len());
            for store in stores {
                let key = store.first_item_key().await;
                if !keys.contains(&key) {
                    keys.push(key);
                }
            }
            first.deps.counters.add(Counter::TableReads);
            let batch = table.get_many(&keys).await;
            if let Err(error) = &batch {
                first.table_failed(table, error);
            }
            Some(batch)
        }
        None => None,
    };
    for keys in stores {
        keys.warm_up_with(now, batch.as_ref()).await;
    }
}

/// A reload takes at most this many steps (the plan takes at most seven; this guards
/// against a planning bug turning into a loop).
const MAX_STEPS: usize = 12;

/// The keys of one JWKS issuer and the tiers behind them.
pub struct IssuerKeys {
    issuer: String,
    algorithms: Vec<Algorithm>,
    deps: TierDeps,
    plan: plan::Settings,
    memory: MemoryTier,
    reload: Mutex<ReloadState>,
}

/// Guarded by the reload lock: what a container remembers between reloads.
#[derive(Debug, Default)]
struct ReloadState {
    history: History,
    /// The JWKS URL: configured, discovered, or adopted from a live discovery item.
    url: Option<String>,
    /// What this container's own discovery found; written with the next keys write.
    discovered: Option<DiscoveryRecord>,
}

/// What one reload read from the table, beyond what the plan sees.
#[derive(Default)]
struct Seen {
    discovery: Option<DiscoveryRecord>,
    discovery_poison: Option<Poison>,
    keys: Option<(KeyRecord, KeySet)>,
    keys_poison: Option<Poison>,
    /// A stale discovery item's URL, for this reload only.
    stale_url: Option<String>,
}

impl IssuerKeys {
    /// Key store for `issuer` at `location`; loads nothing until [`IssuerKeys::warm_up`]
    /// or a lookup. A configured URL is known at once and starts no cooldown.
    pub fn new(issuer: &IssuerConfig, location: &JwksLocation, deps: TierDeps) -> Self {
        let settings = &deps.settings;
        let plan = plan::Settings {
            has_table: deps.table.is_some(),
            cooldown: std::time::Duration::from_secs(settings.cooldown_seconds),
            memory: std::time::Duration::from_secs(settings.memory_seconds),
            max_stale_seconds: settings.max_stale_seconds,
        };
        let url = match location {
            JwksLocation::Url(url) => Some(url.clone()),
            JwksLocation::Discover => None,
        };
        Self {
            issuer: issuer.issuer.clone(),
            algorithms: issuer.algorithms.clone(),
            deps,
            plan,
            memory: MemoryTier::default(),
            reload: Mutex::new(ReloadState {
                url,
                ..ReloadState::default()
            }),
        }
    }

    /// The keys in memory, leased or not.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.memory.get()
    }

    /// The keys in memory if they may serve at `now` without a reload.
    pub fn leased(&self, now: Now) -> Option<Arc<Snapshot>> {
        self.memory.leased(now)
    }

    /// Puts the keys of a JWKS document in memory as if just fetched (key material that
    /// arrives another way, e.g. a benchmark fixture).
    /// They serve for the memory window, as if the table had just been read.
    pub fn load_document(&self, document: &[u8], now: Now) -> Result<(), UpstreamError> {
        let keys = KeySet::from_jwks(document, &self.algorithms)?;
        self.memory.set(Snapshot {
            keys,
            fetched_at: now.wall,
            expires_at: now.wall.saturating_add(self.deps.settings.ttl_seconds),
            source: Tier::Memory,
        });
        let read_now = History {
            table_read_at: Some(now.mono),
            upstream_sent_at: None,
        };
        self.memory
            .set_lease(plan::lease_end(&read_now, &self.plan));
        Ok(())
    }

    /// Loads the keys during Lambda init: from the table when it has a live item (no
    /// request to the issuer then), else from the issuer. Failures are logged; requests
    /// retry.
    pub async fn warm_up(&self, now: Now) {
        self.warm_up_with(now, None).await;
    }

    /// The partition key of the first item a cold start reads: the keys item when the
    /// JWKS URL is known, else the discovery item.
    async fn first_item_key(&self) -> String {
        match &self.reload.lock().await.url {
            Some(url) => KeyRecord::partition_key(url),
            None => DiscoveryRecord::partition_key(&self.issuer),
        }
    }

    /// [`IssuerKeys::warm_up`], taking the items `batch` answered for from it.
    async fn warm_up_with(&self, now: Now, batch: Option<&Batch>) {
        let mut state = self.reload.lock().await;
        let tier = self.reload_locked(&mut state, None, now, batch).await;
        match self.memory.get() {
            Some(snapshot) => {
                match snapshot.source {
                    Tier::Table => self.deps.counters.add(Counter::InitKeysFromTable),
                    Tier::Jwks => self.deps.counters.add(Counter::InitKeysFromJwks),
                    Tier::Memory => {}
                }
                tracing::info!(issuer = %self.issuer, tier = tier.map_or("memory", Tier::as_str), reason = "cold_start", kids = ?snapshot.keys.kids(), "keys loaded");
            }
            None => {
                self.deps.counters.add(Counter::InitKeysMissing);
                tracing::warn!(issuer = %self.issuer, reason = "cold_start", "no keys loaded; requests will retry");
            }
        }
    }

    /// The key set holding `kid` at `now`, and the tier that provided it.
    pub async fn keys_for(&self, kid: &str, now: Now) -> Result<(Arc<Snapshot>, Tier), KeyError> {
        if let Some(snapshot) = self.memory.leased(now).filter(|s| s.keys.contains(kid)) {
            return Ok((snapshot, Tier::Memory));
        }
        // Boxed: a reload's future (table and issuer calls) is kilobytes, which every
        // decision's future would otherwise hold, and move, when memory serves.
        Box::pin(self.reload_for(kid, now)).await
    }

    /// [`IssuerKeys::keys_for`] when memory does not serve: the table, then the issuer.
    async fn reload_for(&self, kid: &str, now: Now) -> Result<(Arc<Snapshot>, Tier), KeyError> {
        let serving = |snapshot: &Arc<Snapshot>| snapshot.keys.contains(kid);
        let mut state = self.reload.lock().await;
        // Another request may have reloaded while this one waited for the lock.
        if let Some(snapshot) = self.memory.leased(now).filter(serving) {
            return Ok((snapshot, Tier::Memory));
        }
        let tier = self.reload_locked(&mut state, Some(kid), now, None).await;
        drop(state);
        if let Some(tier) = tier {
            tracing::info!(issuer = %self.issuer, tier = tier.as_str(), reason = "key_miss", kid, "keys loaded");
        }
        let snapshot = self.memory.get().ok_or(KeyError::Unavailable)?;
        if !snapshot.keys.contains(kid) {
            return Err(KeyError::UnknownKid);
        }
        match plan::age(snapshot.expires_at, now.wall, self.plan.max_stale_seconds) {
            plan::Age::Live => {}
            plan::Age::Stale => {
                self.deps.counters.add(Counter::StaleKeysServed);
                tracing::warn!(issuer = %self.issuer, expires_at = snapshot.expires_at, "serving stale keys: fresher ones are unreachable");
            }
            plan::Age::TooStale => {
                tracing::warn!(issuer = %self.issuer, expires_at = snapshot.expires_at, "keys too stale to serve");
                return Err(KeyError::Unavailable);
            }
        }
        Ok((snapshot, tier.unwrap_or(Tier::Memory)))
    }

    /// Runs the plan for a caller that needs `kid` (any key, when `None`), taking items
    /// from `batch` where it answered for them; returns the tier that loaded new keys
    /// into memory, if any.
    async fn reload_locked(
        &self,
        state: &mut ReloadState,
        kid: Option<&str>,
        now: Now,
        batch: Option<&Batch>,
    ) -> Option<Tier> {
        let history = state.history;
        // Lambda init waits out a slow table (a small CPU share); requests do not.
        let budget = if kid.is_none() {
            Budget::Init
        } else {
            Budget::Request
        };
        let mut progress = Progress::default();
        let mut seen = Seen::default();
        let mut loaded = None;
        for _ in 0..MAX_STEPS {
            let held = self.memory.get().map(|s| Held {
                fetched_at: s.fetched_at,
                expires_at: s.expires_at,
                has_kid: kid.is_none_or(|kid| s.keys.contains(kid)),
            });
            let url = state.url.clone().or_else(|| seen.stale_url.clone());
            let step = plan::next(&Input {
                held,
                url_known: url.is_some(),
                history: &history,
                progress: &progress,
                now,
                settings: &self.plan,
            });
            match (step, url) {
                (Step::Done, _) => break,
                (Step::ReadDiscoveryItem, _) => {
                    let item = self
                        .read_item(&self.issuer, now, budget, batch, |d: &DiscoveryRecord| {
                            checked_url(&d.jwks_uri)
                        })
                        .await;
                    progress.discovery_item = item.read;
                    seen.discovery = item.usable.map(|(record, _)| record);
                    seen.discovery_poison = item.poison;
                }
                (Step::AdoptDiscoveryItem { stale }, _) => {
                    let uri = seen.discovery.as_ref().map(|d| d.jwks_uri.clone());
                    if stale {
                        tracing::warn!(issuer = %self.issuer, "using a stale discovery item: discovery is unreachable");
                        seen.stale_url = uri;
                    } else {
                        state.url = uri;
                    }
                }
                (Step::Discover, _) => {
                    progress.sent_at = Some(self.deps.clock.monotonic());
                    progress.discovery = self.discover(state, now).await;
                }
                (Step::ReadKeysItem, Some(url)) => {
                    let item = self
                        .read_item(&url, now, budget, batch, |k: &KeyRecord| {
                            KeySet::from_jwks(k.jwks.as_bytes(), &self.algorithms)
                                .map_err(|e| e.to_string())
                        })
                        .await;
                    progress.keys_item = item.read;
                    seen.keys = item.usable;
                    seen.keys_poison = item.poison;
                }
                (Step::InstallKeysItem { stale }, _) => {
                    if let Some((record, keys)) = seen.keys.take() {
                        if stale {
                            tracing::warn!(issuer = %self.issuer, expires_at = record.expires_at, "installing expired keys from the table: the issuer is unreachable");
                        }
                        self.memory.set(Snapshot {
                            keys,
                            fetched_at: record.fetched_at,
                            expires_at: record.expires_at,
                            source: Tier::Table,
                        });
                        loaded = Some(Tier::Table);
                    }
                }
                (Step::FetchJwks { write_through }, Some(url)) => {
                    progress.sent_at = Some(self.deps.clock.monotonic());
                    progress.jwks = self.fetch(&url, write_through, state, &seen, now).await;
                    if progress.jwks == Sent::Ok {
                        loaded = Some(Tier::Jwks);
                    }
                }
                (Step::ReadKeysItem | Step::FetchJwks { .. }, None) => {
                    // The plan asks for the keys only once the URL is known.
                    tracing::error!(issuer = %self.issuer, ?step, "key plan asked for keys without a URL");
                    break;
                }
            }
        }
        state.history = plan::after(&history, &progress, now);
        self.memory
            .set_lease(plan::lease_end(&state.history, &self.plan));
        loaded
    }

    /// Reads `subject`'s item of kind `T` (from `batch` when it answered for it, else
    /// with a GetItem) and checks its content with `content`: the plan's view of it, the
    /// usable item with its parsed content, or the poisoned version the next write must
    /// replace.
    async fn read_item<T: Item, U>(
        &self,
        subject: &str,
        now: Now,
        budget: Budget,
        batch: Option<&Batch>,
        content: impl FnOnce(&T) -> Result<U, String>,
    ) -> ItemRead<T, U> {
        let Some(table) = &self.deps.table else {
            return ItemRead::of(Read::Absent);
        };
        let answered = match batch {
            // Counted and logged once, for every issuer, by `warm_up_together`.
            Some(Err(_)) => return ItemRead::of(Read::Failed),
            Some(Ok(batch)) => batch.get::<T>(subject, now.wall),
            None => None,
        };
        let stored = match answered {
            Some(found) => Ok(found),
            None => {
                self.deps.counters.add(Counter::TableReads);
                table.get::<T>(subject, now.wall, budget).await
            }
        };
        let poison = match stored {
            Ok(Some(Stored::Usable(record))) => match content(&record) {
                Ok(parsed) => {
                    return ItemRead {
                        read: Read::Found(dates(&record)),
                        usable: Some((record, parsed)),
                        poison: None,
                    };
                }
                Err(reason) => Poison::unusable(&record, reason),
            },
            Ok(Some(Stored::Poisoned(poison))) => poison,
            Ok(None) => return ItemRead::of(Read::Absent),
            Err(error) => {
                self.table_failed(table, &error);
                return ItemRead::of(Read::Failed);
            }
        };
        tracing::error!(issuer = %self.issuer, table = table.name(), item = T::PREFIX, reason = %poison.reason, "unusable item in the keys table counts as absent; the next write replaces it");
        ItemRead {
            poison: Some(poison),
            ..ItemRead::of(Read::Absent)
        }
    }

    async fn discover(&self, state: &mut ReloadState, now: Now) -> Sent {
        self.deps.counters.add(Counter::JwksFetches);
        match self.deps.client.discover(&self.issuer).await {
            Ok(uri) => {
                state.discovered = Some(DiscoveryRecord::discovered(
                    &self.issuer,
                    &uri,
                    now.wall,
                    self.deps.settings.ttl_seconds,
                ));
                state.url = Some(uri);
                Sent::Ok
            }
            Err(error) => {
                self.deps.counters.add(Counter::JwksErrors);
                tracing::warn!(issuer = %self.issuer, error = %error, error_kind = error.as_str(), "OIDC discovery failed");
                Sent::Failed
            }
        }
    }

    async fn fetch(
        &self,
        url: &str,
        write_through: bool,
        state: &mut ReloadState,
        seen: &Seen,
        now: Now,
    ) -> Sent {
        self.deps.counters.add(Counter::JwksFetches);
        let (keys, text) = match fetch_keys(&self.deps.client, url, &self.algorithms).await {
            Ok(fetched) => fetched,
            Err(error) => {
                self.deps.counters.add(Counter::JwksErrors);
                let kept = self.memory.get().map_or(0, |s| s.keys.len());
                tracing::warn!(issuer = %self.issuer, tier = "jwks", error = %error, error_kind = error.as_str(), kept_keys = kept, "JWKS fetch failed; keeping cached keys");
                return Sent::Failed;
            }
        };
        let record = KeyRecord::fetched(url, text, now.wall, self.deps.settings.ttl_seconds);
        self.memory.set(Snapshot {
            keys,
            fetched_at: record.fetched_at,
            expires_at: record.expires_at,
            source: Tier::Jwks,
        });
        let table = self.deps.table.as_ref().filter(|table| table.writable());
        if let (true, Some(table)) = (write_through, table) {
            self.write(table, &record, seen.keys_poison.as_ref(), now)
                .await;
            if let Some(discovered) = state.discovered.take() {
                self.write(table, &discovered, seen.discovery_poison.as_ref(), now)
                    .await;
            }
        }
        Sent::Ok
    }

    async fn write<T: Item>(
        &self,
        table: &KeyTable,
        record: &T,
        replacing: Option<&Poison>,
        now: Now,
    ) {
        match table.put(record, now.wall, replacing).await {
            Ok(true) => self.deps.counters.add(Counter::TableWrites),
            Ok(false) => {
                tracing::info!(issuer = %self.issuer, item = T::PREFIX, "keys table already holds a newer item");
            }
            Err(error) => {
                self.table_failed(table, &error);
            }
        }
    }

    fn table_failed(&self, table: &KeyTable, error: &UpstreamError) {
        self.deps.counters.add(Counter::TableErrors);
        tracing::warn!(issuer = %self.issuer, table = table.name(), error = %error, error_kind = error.as_str(), "keys table call failed");
    }
}

/// What one item read gave (see [`IssuerKeys::read_item`]).
struct ItemRead<T, U> {
    read: Read,
    usable: Option<(T, U)>,
    poison: Option<Poison>,
}

impl<T, U> ItemRead<T, U> {
    fn of(read: Read) -> Self {
        Self {
            read,
            usable: None,
            poison: None,
        }
    }
}

fn dates<T: Item>(record: &T) -> Dated {
    Dated {
        fetched_at: record.fetched_at(),
        expires_at: record.expires_at(),
    }
}
