//! The key-tier policy as pure functions (SPEC.md "The key tiers"). Given what memory
//! holds, when each upstream was last asked, what this reload has seen so far, the time
//! and the settings, [`next`] names the one thing to do next; [`lease_end`] says how long
//! memory may then serve on its own, and [`age`] whether held keys may still serve. No
//! I/O happens here: the executor (`issuer.rs`) carries each step out, records what it
//! saw in [`Progress`], and asks again until the answer is [`Step::Done`].
//!
//! Windows (cooldown, memory) are measured on the monotonic clock; dates (`expires_at`)
//! on the wall clock.

use std::time::Duration;

use crate::clock::Now;

/// The settings the policy depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Whether a keys table is configured (`KEYS_TABLE_NAME`).
    pub has_table: bool,
    /// At most one upstream request (JWKS or discovery) per window (`JWKS_COOLDOWN_SECONDS`).
    pub cooldown: Duration,
    /// How long memory serves before the table is read again (`KEYS_MEMORY_SECONDS`).
    pub memory: Duration,
    /// How long past `expires_at` keys may still serve (`KEYS_MAX_STALE_SECONDS`).
    pub max_stale_seconds: u64,
}

/// What memory holds, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// When the issuer served these keys (epoch seconds).
    pub fetched_at: u64,
    /// When they stop being live (epoch seconds).
    pub expires_at: u64,
    /// Whether they hold the key the caller needs (any key, at a cold start).
    pub has_kid: bool,
}

/// When each upstream was last asked, on the monotonic clock; kept across reloads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    /// The last read of the keys item (successful or not).
    pub table_read_at: Option<Duration>,
    /// The last JWKS or discovery request actually sent.
    pub upstream_sent_at: Option<Duration>,
}

/// The dates of a stored item (keys or discovery), epoch seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dated {
    /// When its content was fetched from the issuer.
    pub fetched_at: u64,
    /// When it stops being live.
    pub expires_at: u64,
}

/// What one table read found. An item that does not parse counts as [`Read::Absent`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Read {
    /// Not read during this reload.
    #[default]
    NotYet,
    /// A usable item, live or not.
    Found(Dated),
    /// No usable item.
    Absent,
    /// The table could not be read.
    Failed,
}

/// What one request to the issuer gave.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Sent {
    /// Not sent during this reload.
    #[default]
    NotYet,
    /// It answered usably.
    Ok,
    /// It failed (down, timeout, garbage).
    Failed,
}

/// What this reload has seen so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The `DISCOVERY#{issuer}` item.
    pub discovery_item: Read,
    /// The OIDC discovery request.
    pub discovery: Sent,
    /// The `JWKS#{url}` item.
    pub keys_item: Read,
    /// The JWKS request.
    pub jwks: Sent,
    /// When the last JWKS or discovery request of this reload was sent (monotonic): a
    /// table read may come first, so it can be well after the reload began.
    pub sent_at: Option<Duration>,
}

/// Everything [`next`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// What memory holds now.
    pub held: Option<Held>,
    /// Whether the JWKS URL is known: configured, discovered, or adopted from the table.
    pub url_known: bool,
    /// When the upstreams were last asked, as of the start of this reload.
    pub history: &'a History,
    /// What this reload has seen.
    pub progress: &'a Progress,
    /// The time this reload started.
    pub now: Now,
    /// The settings.
    pub settings: &'a Settings,
}

/// The one thing to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Read `DISCOVERY#{issuer}` from the table.
    ReadDiscoveryItem,
    /// Use the `jwks_uri` of the discovery item read: for the container's life when it is
    /// live, for this reload only when it is stale (the issuer's discovery is down).
    AdoptDiscoveryItem {
        /// Whether the item is past `expires_at` (within `KEYS_MAX_STALE_SECONDS`).
        stale: bool,
    },
    /// Run OIDC discovery against the issuer.
    Discover,
    /// Read `JWKS#{url}` from the table.
    ReadKeysItem,
    /// Put the keys of the item read into memory.
    InstallKeysItem {
        /// Whether the item is past `expires_at` (within `KEYS_MAX_STALE_SECONDS`).
        stale: bool,
    },
    /// Fetch the JWKS; on success put it in memory.
    FetchJwks {
        /// Whether to write the fetched keys through to the table (it is configured and
        /// was not found down during this reload).
        write_through: bool,
    },
    /// Nothing more to do.
    Done,
}

/// How old held keys are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    /// Before `expires_at`.
    Live,
    /// Past `expires_at` but within `KEYS_MAX_STALE_SECONDS`: may serve while fresher keys
    /// are unreachable.
    Stale,
    /// Too old to serve.
    TooStale,
}

/// The age of something live until `expires_at`, at wall time `now`.
pub fn age(expires_at: u64, now: u64, max_stale_seconds: u64) -> Age {
    if now < expires_at {
        Age::Live
    } else if now < expires_at.saturating_add(max_stale_seconds) {
        Age::Stale
    } else {
        Age::TooStale
    }
}

/// The next step of a reload.
pub fn next(input: &Input<'_>) -> Step {
    let Input {
        held,
        url_known,
        history,
        progress,
        now,
        settings,
    } = *input;
    // One cooldown decision per reload: it bounds discovery and the JWKS fetch alike.
    let cooled = elapsed(history.upstream_sent_at, settings.cooldown, now);
    if !url_known {
        return locate(progress, settings, cooled, now);
    }
    let satisfied = held.is_some_and(|h| h.has_kid && now.wall < h.expires_at);
    // What the issuer just served beats any item, whatever its writer's clock said.
    let newer = |item: Dated| {
        progress.jwks != Sent::Ok && held.is_none_or(|h| item.fetched_at > h.fetched_at)
    };

    if settings.has_table && progress.keys_item == Read::NotYet {
        let due = elapsed(history.table_read_at, settings.memory, now);
        // An unknown kid re-reads the table at most once per cooldown, unless memory is
        // empty (then the table is the only way to keys short of the issuer).
        let missing = !satisfied
            && (held.is_none() || elapsed(history.table_read_at, settings.cooldown, now));
        if due || missing {
            return Step::ReadKeysItem;
        }
    }
    if let Read::Found(item) = progress.keys_item {
        if now.wall < item.expires_at && newer(item) {
            return Step::InstallKeysItem { stale: false };
        }
    }
    if !satisfied && progress.jwks == Sent::NotYet && cooled {
        return Step::FetchJwks {
            write_through: settings.has_table && progress.keys_item != Read::Failed,
        };
    }
    // Stale beats down: an expired item newer than memory serves, within bounds.
    if let Read::Found(item) = progress.keys_item {
        if !satisfied
            && age(item.expires_at, now.wall, settings.max_stale_seconds) == Age::Stale
            && newer(item)
        {
            return Step::InstallKeysItem { stale: true };
        }
    }
    Step::Done
}

/// The steps that find the JWKS URL of a discovery issuer: the table's discovery item
/// when live, else the issuer's discovery (once per cooldown), else a stale item.
fn locate(progress: &Progress, settings: &Settings, cooled: bool, now: Now) -> Step {
    if settings.has_table && progress.discovery_item == Read::NotYet {
        return Step::ReadDiscoveryItem;
    }
    let item_age = match progress.discovery_item {
        Read::Found(item) => Some(age(item.expires_at, now.wall, settings.max_stale_seconds)),
        _ => None,
    };
    if item_age == Some(Age::Live) {
        return Step::AdoptDiscoveryItem { stale: false };
    }
    if progress.discovery == Sent::NotYet && cooled {
        return Step::Discover;
    }
    if item_age == Some(Age::Stale) {
        return Step::AdoptDiscoveryItem { stale: true };
    }
    Step::Done
}

/// Whether `window` has passed since `since` (or nothing happened yet).
fn elapsed(since: Option<Duration>, window: Duration, now: Now) -> bool {
    since.is_none_or(|t| now.mono >= t.saturating_add(window))
}

/// The history after a reload that made `progress`, started at `now`. The cooldown
/// window starts only at a request actually sent, and when it was sent (`now` when the
/// executor did not say).
pub fn after(history: &History, progress: &Progress, now: Now) -> History {
    History {
        table_read_at: if progress.keys_item == Read::NotYet {
            history.table_read_at
        } else {
            Some(now.mono)
        },
        upstream_sent_at: if progress.discovery == Sent::NotYet && progress.jwks == Sent::NotYet {
            history.upstream_sent_at
        } else {
            Some(progress.sent_at.unwrap_or(now.mono))
        },
    }
}

/// Until when (monotonic) memory may serve without a reload, besides its keys being live:
/// `None` without a table; with one, `KEYS_MEMORY_SECONDS` after the table was last read
/// (never read: no lease at all).
pub fn lease_end(history: &History, settings: &Settings) -> Option<Duration> {
    if !settings.has_table {
        return None;
    }
    Some(
        history
            .table_read_at
            .map_or(Duration::ZERO, |t| t.saturating_add(settings.memory)),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::indexing_slicing)]
    //! Scenario by scenario: a container's memory and history, a table and an issuer
    //! described as data, and the steps one reload takes through them.
    use super::*;

    const T0: u64 = 1_800_000_000;
    const TTL: u64 = 15 * 86_400;
    const DAY: u64 = 86_400;

    fn settings(has_table: bool) -> Settings {
        Settings {
            has_table,
            cooldown: Duration::from_secs(30),
            memory: Duration::from_secs(900),
            max_stale_seconds: 7 * DAY,
        }
    }

    /// A stored item: its dates and whether its keys hold the kid asked for.
    #[derive(Clone, Copy)]
    struct Item {
        fetched_at: u64,
        expires_at: u64,
        has_kid: bool,
    }

    fn item(fetched_at: u64, has_kid: bool) -> Item {
        Item {
            fetched_at,
            expires_at: fetched_at + TTL,
            has_kid,
        }
    }

    #[derive(Clone, Copy)]
    enum Table {
        Absent,
        Down,
        Holds {
            discovery: Option<Item>,
            keys: Option<Item>,
        },
    }

    /// The world outside the container.
    #[derive(Clone, Copy)]
    struct World {
        table: Table,
        issuer_up: bool,
        /// Whether the issuer's current keys hold the kid asked for.
        issuer_has_kid: bool,
    }

    impl World {
        fn read(&self, discovery: bool) -> Read {
            match self.table {
                Table::Absent => unreachable!("no table is configured"),
                Table::Down => Read::Failed,
                Table::Holds {
                    discovery: d,
                    keys: k,
                } => match if discovery { d } else { k } {
                    Some(i) => Read::Found(Dated {
                        fetched_at: i.fetched_at,
                        expires_at: i.expires_at,
                    }),
                    None => Read::Absent,
                },
            }
        }

        fn keys_item(&self) -> Option<Item> {
            match self.table {
                Table::Holds { keys, .. } => keys,
                _ => None,
            }
        }
    }

    /// A container: what it holds and remembers between reloads.
    #[derive(Clone, Copy)]
    struct Container {
        held: Option<Held>,
        url_known: bool,
        history: History,
        settings: Settings,
    }

    impl Container {
        fn new(world: &World, url_configured: bool) -> Self {
            Self {
                held: None,
                url_known: url_configured,
                history: History::default(),
                settings: settings(!matches!(world.table, Table::Absent)),
            }
        }

        /// One reload at `now`: the steps taken, with their effects applied.
        fn reload(&mut self, world: &World, now: Now) -> Vec<Step> {
            let mut progress = Progress::default();
            let mut url_this_reload = false;
            let mut steps = Vec::new();
            let history = self.history;
            loop {
                let step = next(&Input {
                    held: self.held,
                    url_known: self.url_known || url_this_reload,
                    history: &history,
                    progress: &progress,
                    now,
                    settings: &self.settings,
                });
                steps.push(step);
                assert!(steps.len() < 10, "a reload must end: {steps:?}");
                match step {
                    Step::ReadDiscoveryItem => progress.discovery_item = world.read(true),
                    Step::AdoptDiscoveryItem { stale: false } => self.url_known = true,
                    Step::AdoptDiscoveryItem { stale: true } => url_this_reload = true,
                    Step::Discover => {
                        progress.discovery = if world.issuer_up {
                            self.url_known = true;
                            Sent::Ok
                        } else {
                            Sent::Failed
                        };
                    }
                    Step::ReadKeysItem => progress.keys_item = world.read(false),
                    Step::InstallKeysItem { .. } => {
                        let i = world.keys_item().expect("installs what was read");
                        self.held = Some(Held {
                            fetched_at: i.fetched_at,
                            expires_at: i.expires_at,
                            has_kid: i.has_kid,
                        });
                    }
                    Step::FetchJwks { .. } => {
                        progress.jwks = if world.issuer_up {
                            self.held = Some(Held {
                                fetched_at: now.wall,
                                expires_at: now.wall + TTL,
                                has_kid: world.issuer_has_kid,
                            });
                            Sent::Ok
                        } else {
                            Sent::Failed
                        };
                    }
                    Step::Done => break,
                }
            }
            self.history = after(&history, &progress, now);
            steps
        }

        /// Whether memory now serves the kid, and how.
        fn serves(&self, now: Now) -> Option<Age> {
            self.held
                .filter(|h| h.has_kid)
                .map(|h| age(h.expires_at, now.wall, self.settings.max_stale_seconds))
                .filter(|a| *a != Age::TooStale)
        }

        /// What a request at `now` does: nothing while memory is leased and holds the
        /// kid, else a reload (with `has_kid` recomputed for the kid asked for).
        fn request(&mut self, world: &World, now: Now, kid_in_memory: bool) -> Vec<Step> {
            if let Some(h) = self.held.as_mut() {
                h.has_kid = kid_in_memory;
            }
            let leased = self
                .held
                .is_some_and(|h| h.has_kid && now.wall < h.expires_at)
                && lease_end(&self.history, &self.settings).is_none_or(|end| now.mono < end);
            if leased {
                return Vec::new();
            }
            self.reload(world, now)
        }
    }

    fn at(wall: u64, mono_secs: u64) -> Now {
        Now {
            wall,
            mono: Duration::from_secs(mono_secs),
        }
    }

    const fn world(table: Table, issuer_up: bool) -> World {
        World {
            table,
            issuer_up,
            issuer_has_kid: true,
        }
    }

    const LIVE_TABLE: Table = Table::Holds {
        discovery: None,
        keys: Some(Item {
            fetched_at: T0 - DAY,
            expires_at: T0 - DAY + TTL,
            has_kid: true,
        }),
    };

    const EMPTY_TABLE: Table = Table::Holds {
        discovery: None,
        keys: None,
    };

    use Step::*;

    #[test]
    fn cold_start_with_a_live_item_loads_it_and_sends_nothing_upstream() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, true);
        let steps = c.reload(&w, at(T0, 0));
        assert_eq!(
            steps,
            [ReadKeysItem, InstallKeysItem { stale: false }, Done]
        );
        assert_eq!(c.serves(at(T0, 0)), Some(Age::Live));
        assert_eq!(c.history.upstream_sent_at, None);
    }

    #[test]
    fn cold_start_with_an_empty_table_fetches_and_writes_through() {
        let w = world(EMPTY_TABLE, true);
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                Done
            ]
        );
        assert_eq!(c.serves(at(T0, 0)), Some(Age::Live));
    }

    #[test]
    fn cold_start_without_a_table_fetches_without_writing() {
        let w = world(Table::Absent, true);
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                FetchJwks {
                    write_through: false
                },
                Done
            ]
        );
    }

    /// Defect 1: the cold start resolved a configured URL and read the table, which sent
    /// nothing to the issuer, yet it spent the cooldown: a key rotated right after the
    /// cold start was refused with no request at all.
    #[test]
    fn a_rotated_kid_right_after_a_cold_start_from_the_table_is_fetched() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        let steps = c.request(&w, at(T0 + 5, 5), false);
        assert_eq!(
            steps,
            [
                FetchJwks {
                    write_through: true
                },
                Done
            ]
        );
        assert_eq!(c.serves(at(T0 + 5, 5)), Some(Age::Live));
    }

    #[test]
    fn unknown_kids_inside_the_cooldown_cost_nothing_and_after_it_one_read_and_one_fetch() {
        let w = World {
            issuer_has_kid: false,
            ..world(LIVE_TABLE, true)
        };
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert_eq!(
            c.request(&w, at(T0 + 1, 1), false),
            [
                FetchJwks {
                    write_through: true
                },
                Done
            ],
            "the first unknown kid fetches: nothing was sent yet"
        );
        for s in 2..30 {
            assert_eq!(c.request(&w, at(T0 + s, s), false), [Done], "at {s}s");
        }
        assert_eq!(
            c.request(&w, at(T0 + 31, 31), false),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                Done
            ],
            "a new window: the table first, then the issuer"
        );
    }

    #[test]
    fn cooldowns_and_windows_run_on_the_monotonic_clock() {
        let w = World {
            issuer_has_kid: false,
            ..world(LIVE_TABLE, true)
        };
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        c.request(&w, at(T0 + 1, 1), false);
        // The wall clock steps back an hour while 40 s pass.
        assert_eq!(
            c.request(&w, at(T0 - 3_600, 41), false),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                Done
            ]
        );
    }

    #[test]
    fn memory_is_reread_from_the_table_after_its_window() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert!(c.request(&w, at(T0 + 899, 899), true).is_empty());
        assert_eq!(
            c.request(&w, at(T0 + 900, 900), true),
            [ReadKeysItem, Done],
            "same item: nothing newer to install, nothing sent upstream"
        );
        assert!(c.request(&w, at(T0 + 901, 901), true).is_empty());
    }

    #[test]
    fn without_a_table_memory_serves_until_its_keys_expire() {
        let w = world(Table::Absent, true);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert!(c.request(&w, at(T0 + TTL - 1, TTL - 1), true).is_empty());
        assert_eq!(
            c.request(&w, at(T0 + TTL, TTL), true),
            [
                FetchJwks {
                    write_through: false
                },
                Done
            ]
        );
    }

    #[test]
    fn a_table_down_falls_back_to_the_issuer_without_a_write() {
        let w = world(Table::Down, true);
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: false
                },
                Done
            ]
        );
        assert_eq!(c.serves(at(T0, 0)), Some(Age::Live));
        assert!(
            c.request(&w, at(T0 + 60, 60), true).is_empty(),
            "a failed read still starts the memory window: a dead table is not hammered"
        );
    }

    #[test]
    fn issuer_down_with_a_fresh_item_serves_it() {
        let w = world(LIVE_TABLE, false);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert_eq!(c.serves(at(T0, 0)), Some(Age::Live));
    }

    #[test]
    fn issuer_down_with_an_expired_item_serves_it_stale() {
        let expired = Item {
            fetched_at: T0 - 16 * DAY,
            expires_at: T0 - DAY,
            has_kid: true,
        };
        let w = world(
            Table::Holds {
                discovery: None,
                keys: Some(expired),
            },
            false,
        );
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                InstallKeysItem { stale: true },
                Done
            ]
        );
        assert_eq!(c.serves(at(T0, 0)), Some(Age::Stale));
    }

    #[test]
    fn issuer_down_with_a_too_stale_item_serves_nothing() {
        let ancient = Item {
            fetched_at: T0 - 30 * DAY,
            expires_at: T0 - 8 * DAY,
            has_kid: true,
        };
        let w = world(
            Table::Holds {
                discovery: None,
                keys: Some(ancient),
            },
            false,
        );
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                Done
            ]
        );
        assert_eq!(c.serves(at(T0, 0)), None);
    }

    #[test]
    fn both_down_and_nothing_held_retries_the_table_each_time_and_the_issuer_per_cooldown() {
        let w = world(Table::Down, false);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert_eq!(c.serves(at(T0, 0)), None);
        assert_eq!(c.request(&w, at(T0 + 1, 1), true), [ReadKeysItem, Done]);
        assert_eq!(
            c.request(&w, at(T0 + 31, 31), true),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: false
                },
                Done
            ]
        );
    }

    #[test]
    fn memory_past_expiry_keeps_serving_stale_when_everything_is_down() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        let down = world(Table::Down, false);
        let later = T0 + TTL;
        c.request(&down, at(later, TTL), true);
        assert_eq!(c.serves(at(later, TTL)), Some(Age::Stale));
    }

    /// Defect 3, as the policy sees it: an item that does not parse (or claims a fetch far
    /// in the future) is read as absent, so the issuer is asked and the write goes through.
    #[test]
    fn a_poisoned_item_reads_as_absent_and_gets_overwritten() {
        let w = world(EMPTY_TABLE, true);
        let mut c = Container::new(&w, true);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadKeysItem,
                FetchJwks {
                    write_through: true
                },
                Done
            ]
        );
    }

    /// Found by mutating the poison rule: an item whose writer's clock ran ahead (within
    /// the 300 s tolerance) looked newer than keys fetched a moment later, and replaced them.
    #[test]
    fn keys_just_fetched_are_never_replaced_by_an_item_read_in_the_same_reload() {
        let ahead = Item {
            fetched_at: T0 + 100,
            expires_at: T0 + 100 + TTL,
            has_kid: false,
        };
        let w = world(
            Table::Holds {
                discovery: None,
                keys: Some(ahead),
            },
            true,
        );
        let mut c = Container::new(&w, true);
        c.reload(&w, at(T0, 0));
        assert_eq!(
            c.request(&w, at(T0 + 31, 31), false),
            [
                ReadKeysItem,
                InstallKeysItem { stale: false },
                FetchJwks {
                    write_through: true
                },
                Done
            ],
            "the item may be newer than memory; the issuer's answer is newer still"
        );
        assert_eq!(c.serves(at(T0 + 31, 31)), Some(Age::Live));
    }

    #[test]
    fn an_item_older_than_memory_is_not_installed() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, true);
        c.held = Some(Held {
            fetched_at: T0,
            expires_at: T0 + TTL,
            has_kid: true,
        });
        assert_eq!(c.reload(&w, at(T0, 0)), [ReadKeysItem, Done]);
        assert_eq!(c.held.map(|h| h.fetched_at), Some(T0));
    }

    /// Defect 2: with the issuer down, a discovery issuer's cold start found nothing,
    /// although the table held its keys; the discovery item now leads to them.
    #[test]
    fn a_discovery_issuer_cold_starts_from_the_table_while_the_issuer_is_down() {
        let keys = item(T0 - DAY, true);
        let w = world(
            Table::Holds {
                discovery: Some(item(T0 - DAY, true)),
                keys: Some(keys),
            },
            false,
        );
        let mut c = Container::new(&w, false);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadDiscoveryItem,
                AdoptDiscoveryItem { stale: false },
                ReadKeysItem,
                InstallKeysItem { stale: false },
                Done
            ]
        );
        assert!(
            c.url_known,
            "a live item is adopted for the container's life"
        );
        assert_eq!(c.history.upstream_sent_at, None);
    }

    #[test]
    fn a_discovery_issuer_without_a_discovery_item_discovers_then_reads_the_table() {
        let w = world(LIVE_TABLE, true);
        let mut c = Container::new(&w, false);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                ReadDiscoveryItem,
                Discover,
                ReadKeysItem,
                InstallKeysItem { stale: false },
                Done
            ]
        );
        assert!(c.history.upstream_sent_at.is_some());
    }

    #[test]
    fn a_stale_discovery_item_serves_only_while_discovery_fails() {
        let old = Item {
            fetched_at: T0 - 16 * DAY,
            expires_at: T0 - DAY,
            has_kid: true,
        };
        let table = Table::Holds {
            discovery: Some(old),
            keys: Some(item(T0 - DAY, true)),
        };
        let mut c = Container::new(&world(table, false), false);
        assert_eq!(
            c.reload(&world(table, false), at(T0, 0)),
            [
                ReadDiscoveryItem,
                Discover,
                AdoptDiscoveryItem { stale: true },
                ReadKeysItem,
                InstallKeysItem { stale: false },
                Done
            ]
        );
        assert!(!c.url_known, "a stale item is used for this reload only");
        let mut c = Container::new(&world(table, true), false);
        assert_eq!(
            c.reload(&world(table, true), at(T0, 0))[..2],
            [ReadDiscoveryItem, Discover]
        );
        assert!(c.url_known);
    }

    #[test]
    fn failing_discovery_without_a_table_obeys_the_cooldown() {
        let w = world(Table::Absent, false);
        let mut c = Container::new(&w, false);
        assert_eq!(c.reload(&w, at(T0, 0)), [Discover, Done]);
        assert_eq!(c.request(&w, at(T0 + 10, 10), true), [Done]);
        assert_eq!(c.request(&w, at(T0 + 30, 30), true), [Discover, Done]);
    }

    #[test]
    fn discovery_and_the_jwks_fetch_share_one_cooldown_decision() {
        let w = world(Table::Absent, true);
        let mut c = Container::new(&w, false);
        assert_eq!(
            c.reload(&w, at(T0, 0)),
            [
                Discover,
                FetchJwks {
                    write_through: false
                },
                Done
            ]
        );
    }

    /// Found by the soak (docs/reliability.md): the window started when the reload began,
    /// so a request sent after a slow table read (up to 0.7 s) opened a window that closed
    /// early, and two requests could go out less than a cooldown apart.
    #[test]
    fn the_cooldown_runs_from_the_request_sent_not_from_the_start_of_the_reload() {
        let settings = settings(true);
        let began = at(T0, 100);
        let progress = Progress {
            keys_item: Read::Failed,
            jwks: Sent::Ok,
            sent_at: Some(Duration::from_millis(100_700)),
            ..Progress::default()
        };
        let history = after(&History::default(), &progress, began);
        assert_eq!(
            history.upstream_sent_at,
            Some(Duration::from_millis(100_700))
        );
        assert_eq!(history.table_read_at, Some(Duration::from_secs(100)));
        let unknown_kid = |now| {
            next(&Input {
                held: Some(Held {
                    fetched_at: T0,
                    expires_at: T0 + TTL,
                    has_kid: false,
                }),
                url_known: true,
                history: &history,
                progress: &Progress {
                    keys_item: Read::Absent,
                    ..Progress::default()
                },
                now,
                settings: &settings,
            })
        };
        assert_eq!(
            unknown_kid(at(T0 + 30, 130)),
            Done,
            "30 s after the reload began"
        );
        assert_eq!(
            unknown_kid(Now {
                wall: T0 + 30,
                mono: Duration::from_millis(130_700)
            }),
            FetchJwks {
                write_through: true
            },
            "30 s after the request went out"
        );
    }

    #[test]
    fn ages_of_keys() {
        assert_eq!(age(100, 99, 10), Age::Live);
        assert_eq!(age(100, 100, 10), Age::Stale);
        assert_eq!(age(100, 109, 10), Age::Stale);
        assert_eq!(age(100, 110, 10), Age::TooStale);
        assert_eq!(age(100, 100, 0), Age::TooStale);
        assert_eq!(age(u64::MAX, 5, u64::MAX), Age::Live);
    }

    #[test]
    fn the_lease_follows_the_last_table_read() {
        let with = settings(true);
        let mut history = History::default();
        assert_eq!(lease_end(&history, &with), Some(Duration::ZERO));
        history.table_read_at = Some(Duration::from_secs(10));
        assert_eq!(lease_end(&history, &with), Some(Duration::from_secs(910)));
        assert_eq!(lease_end(&history, &settings(false)), None);
    }
}
