//! The revocation decision as pure functions of the token's ids, what is known of its
//! items, the time and the settings; no I/O (the executor is `check.rs`):
//!
//! - [`items`]: which items a token needs (its subject, its `jti`, its `origin_jti`);
//! - [`revokes`]: whether one item covers a token at a given time;
//! - [`judge`]: the verdict from everything known, including what could not be read;
//! - [`fresh`] and [`may_call`]: whether a cached lookup may still serve, and whether the
//!   table may be asked again after a failure.
//!
//! Windows are measured on the monotonic clock, dates (`expires_at`, `iat`) on the wall
//! clock.

use std::borrow::Cow;
use std::time::Duration;

use serde_json::Value;

use super::record::{Key, Revocation, Scope};
use crate::claims::Claims;
use crate::config::OnError;

/// After a failed lookup, how long the container decides by `REVOCATION_ON_ERROR`
/// without calling the table again. A table that accepts connections and never answers
/// costs one bounded call (about 0.7 s) per window instead of one per decision; the
/// window is short next to `REVOCATION_CACHE_SECONDS` (default 30), so recovery is
/// seen within seconds. Lookups cached and still fresh keep serving meanwhile.
pub const ERROR_WINDOW: Duration = Duration::from_secs(5);

/// The claims of a valid token that revocation items can name.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenIds<'a> {
    /// `sub`.
    pub sub: Option<Cow<'a, str>>,
    /// `iat` (a number when present: the claims check already refused anything else).
    pub iat: Option<f64>,
    /// `jti`.
    pub jti: Option<Cow<'a, str>>,
    /// `origin_jti` (Cognito: shared by every token of one sign-in).
    pub origin_jti: Option<Cow<'a, str>>,
}

impl<'a> TokenIds<'a> {
    /// The ids of `claims`: non-empty strings, or integers written in decimal.
    pub fn from_claims(claims: &'a Claims) -> Self {
        Self {
            sub: id(claims.get("sub")),
            iat: claims.get("iat").and_then(Value::as_f64),
            jti: id(claims.get("jti")),
            origin_jti: id(claims.get("origin_jti")),
        }
    }
}

fn id(value: Option<&Value>) -> Option<Cow<'_, str>> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Which of the token's claims an item was looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `sub`: the subject item.
    Subject,
    /// `jti`: the token item.
    Jti,
    /// `origin_jti`: the token item of the sign-in.
    OriginJti,
}

impl Via {
    /// Short stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "subject",
            Self::Jti => "jti",
            Self::OriginJti => "origin_jti",
        }
    }
}

/// At most this many items per token: its subject's, its `jti`'s, its `origin_jti`'s.
pub const MAX_ITEMS: usize = 3;

/// One item a token needs: which claim names it, its kind, and the claim's value.
pub type Wanted<'a> = (Via, Scope, &'a str);

/// The items a token needs, in order (subject, `jti`, `origin_jti`), each once; built
/// without allocating, since a decision whose lookups are cached must stay cheap.
#[derive(Debug, Clone, Copy)]
pub struct Items<'a> {
    list: [Wanted<'a>; MAX_ITEMS],
    len: usize,
}

impl<'a> Items<'a> {
    /// The items.
    pub fn as_slice(&self) -> &[Wanted<'a>] {
        self.list.get(..self.len).unwrap_or(&[])
    }
}

/// The items a token of `issuer` needs. A token with none of the ids needs none; an id
/// too long to be a key is known absent; an `origin_jti` equal to the `jti` is one item.
pub fn items<'a>(issuer: &str, ids: &'a TokenIds<'_>) -> Items<'a> {
    let origin = ids
        .origin_jti
        .as_deref()
        .filter(|o| Some(*o) != ids.jti.as_deref());
    let mut items = Items {
        list: [(Via::Subject, Scope::Subject, ""); MAX_ITEMS],
        len: 0,
    };
    for (via, scope, id) in [
        (Via::Subject, Scope::Subject, ids.sub.as_deref()),
        (Via::Jti, Scope::Token, ids.jti.as_deref()),
        (Via::OriginJti, Scope::Token, origin),
    ] {
        let Some(id) = id.filter(|id| Key::fits(issuer, scope, id)) else {
            continue;
        };
        if let Some(slot) = items.list.get_mut(items.len) {
            *slot = (via, scope, id);
            items.len += 1;
        }
    }
    items
}

/// What a decision knows of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Read within `REVOCATION_CACHE_SECONDS`: the item, or `None` when absent.
    Current(Option<Revocation>),
    /// Could not be read now; the item this container last saw, if it saw one. A
    /// revocation already seen stays in force while the table is unreachable.
    Unavailable(Option<Revocation>),
}

/// Whether `item` revokes a token issued at `iat` (none: issued whenever), at wall time
/// `now`. An item counts as absent once `expires_at + skew` has passed; a subject item
/// revokes tokens whose `iat` is earlier than `revoked_before`; an unreadable item
/// revokes every token at its key.
pub fn revokes(item: &Revocation, iat: Option<f64>, now: u64, skew: u64) -> bool {
    if now >= item.expires_at().saturating_add(skew) {
        return false;
    }
    match *item {
        Revocation::Subject { revoked_before, .. } => {
            iat.is_none_or(|iat| iat < revoked_before as f64)
        }
        Revocation::Token { .. } | Revocation::Unreadable { .. } => true,
    }
}

/// The verdict on a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// No item covers it.
    Clear,
    /// An item covers it (the first found, in key order).
    Revoked(Via),
    /// No item known covers it, but some could not be read: `REVOCATION_ON_ERROR`
    /// decides.
    Unknown(OnError),
}

/// The verdict from what is known of each of a token's items.
pub fn judge(
    iat: Option<f64>,
    items: &[(Via, Known)],
    now: u64,
    skew: u64,
    on_error: OnError,
) -> Check {
    let mut unknown = false;
    for (via, known) in items {
        let (item, current) = match known {
            Known::Current(item) => (item, true),
            Known::Unavailable(item) => (item, false),
        };
        if item.is_some_and(|item| revokes(&item, iat, now, skew)) {
            return Check::Revoked(*via);
        }
        unknown |= !current;
    }
    if unknown {
        Check::Unknown(on_error)
    } else {
        Check::Clear
    }
}

/// Whether a lookup made at `read_at` may still serve at `now` (monotonic): for
/// `cache`, exclusive (a zero cache never serves).
pub fn fresh(read_at: Duration, now: Duration, cache: Duration) -> bool {
    now < read_at.saturating_add(cache)
}

/// Whether the table may be called at `now` (monotonic), the last failure being at
/// `failed_at`: not within `window` of it.
pub fn may_call(failed_at: Option<Duration>, now: Duration, window: Duration) -> bool {
    failed_at.is_none_or(|failed| now >= failed.saturating_add(window))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_800_000_000;
    const ISS: &str = "https://issuer.test";

    fn subject(revoked_before: u64, expires_at: u64) -> Revocation {
        Revocation::Subject {
            revoked_before,
            expires_at,
        }
    }

    fn token(expires_at: u64) -> Revocation {
        Revocation::Token { expires_at }
    }

    fn current(item: Revocation) -> Known {
        Known::Current(Some(item))
    }

    fn verdict(iat: Option<f64>, items: &[(Via, Known)], now: u64, skew: u64) -> Check {
        judge(iat, items, now, skew, OnError::Allow)
    }

    #[test]
    fn ids_are_read_from_the_claims() {
        let claims = json!({"sub": "alice", "iat": 5, "jti": "j", "origin_jti": "o"});
        let claims = Claims::from_json(claims.clone());
        let ids = TokenIds::from_claims(&claims);
        assert_eq!(
            (ids.sub.as_deref(), ids.iat, ids.jti.as_deref()),
            (Some("alice"), Some(5.0), Some("j"))
        );
        assert_eq!(ids.origin_jti.as_deref(), Some("o"));
        let claims = json!({"sub": 42, "jti": "", "origin_jti": ["o"], "iat": 1.5});
        let claims = Claims::from_json(claims.clone());
        let ids = TokenIds::from_claims(&claims);
        assert_eq!(
            ids.sub.as_deref(),
            Some("42"),
            "an integer sub is its decimal"
        );
        assert_eq!((ids.jti, ids.origin_jti, ids.iat), (None, None, Some(1.5)));
    }

    #[test]
    fn a_token_needs_its_subject_jti_and_origin_jti_items_each_once() {
        let needs = |claims: Value| -> Vec<(Via, Scope, String)> {
            let claims = Claims::from_json(claims);
            let ids = TokenIds::from_claims(&claims);
            items(ISS, &ids)
                .as_slice()
                .iter()
                .map(|(via, scope, id)| (*via, *scope, (*id).to_owned()))
                .collect()
        };
        assert_eq!(
            needs(json!({"sub": "alice", "jti": "j", "origin_jti": "o"})),
            [
                (Via::Subject, Scope::Subject, "alice".to_owned()),
                (Via::Jti, Scope::Token, "j".to_owned()),
                (Via::OriginJti, Scope::Token, "o".to_owned()),
            ]
        );
        assert_eq!(
            needs(json!({"sub": "alice", "jti": "j", "origin_jti": "j"})).len(),
            2
        );
        assert_eq!(
            needs(json!({"jti": "j", "origin_jti": "o"}))[0],
            (Via::Jti, Scope::Token, "j".to_owned())
        );
        assert!(needs(json!({"exp": 5})).is_empty());
        assert!(
            needs(json!({"sub": "x".repeat(4096)})).is_empty(),
            "an id too long for a key can have no item"
        );
    }

    #[test]
    fn a_subject_item_revokes_tokens_issued_before_it() {
        let item = [(Via::Subject, current(subject(NOW - 10, NOW + 100)))];
        let at = |iat: f64| verdict(Some(iat), &item, NOW, 0);
        assert_eq!(at((NOW - 11) as f64), Check::Revoked(Via::Subject));
        assert_eq!(at((NOW - 10) as f64 - 0.5), Check::Revoked(Via::Subject));
        assert_eq!(
            at((NOW - 10) as f64),
            Check::Clear,
            "issued at revoked_before"
        );
        assert_eq!(at((NOW - 5) as f64), Check::Clear, "signed in again since");
    }

    #[test]
    fn a_subject_item_revokes_every_token_without_iat() {
        let item = [(Via::Subject, current(subject(NOW - 10, NOW + 100)))];
        assert_eq!(verdict(None, &item, NOW, 0), Check::Revoked(Via::Subject));
    }

    #[test]
    fn a_token_item_revokes_by_jti_or_origin_jti() {
        for via in [Via::Jti, Via::OriginJti] {
            let items = [
                (Via::Subject, Known::Current(None)),
                (via, current(token(NOW + 1))),
            ];
            assert_eq!(
                verdict(Some(NOW as f64), &items, NOW, 0),
                Check::Revoked(via)
            );
        }
    }

    #[test]
    fn an_item_counts_as_absent_once_expires_at_plus_skew_has_passed() {
        let item = token(NOW + 10);
        assert!(revokes(&item, None, NOW + 9, 0));
        assert!(!revokes(&item, None, NOW + 10, 0));
        assert!(revokes(&item, None, NOW + 14, 5));
        assert!(!revokes(&item, None, NOW + 15, 5));
        let sub = subject(NOW, NOW + 10);
        assert!(revokes(&sub, Some(1.0), NOW + 14, 5));
        assert!(!revokes(&sub, Some(1.0), NOW + 15, 5));
        assert!(
            revokes(&token(u64::MAX), None, u64::MAX - 1, 300),
            "no overflow"
        );
    }

    #[test]
    fn an_unreadable_item_revokes_every_token_at_its_key_until_its_expiry() {
        let unreadable = |expires_at| Revocation::Unreadable {
            scope: Scope::Subject,
            expires_at,
        };
        let items = [(Via::Subject, current(unreadable(None)))];
        for iat in [None, Some(1.0), Some(NOW as f64 + 100.0)] {
            assert_eq!(verdict(iat, &items, NOW, 0), Check::Revoked(Via::Subject));
        }
        let items = [(Via::Subject, current(unreadable(Some(NOW + 10))))];
        assert_eq!(
            verdict(None, &items, NOW + 9, 0),
            Check::Revoked(Via::Subject)
        );
        assert_eq!(verdict(None, &items, NOW + 10, 0), Check::Clear);
    }

    #[test]
    fn nothing_found_is_clear() {
        let items = [
            (Via::Subject, Known::Current(None)),
            (Via::Jti, Known::Current(None)),
        ];
        assert_eq!(verdict(Some(1.0), &items, NOW, 0), Check::Clear);
        assert_eq!(verdict(None, &[], NOW, 0), Check::Clear);
    }

    #[test]
    fn an_unreadable_item_leaves_it_to_on_error() {
        let items = [
            (Via::Subject, Known::Current(None)),
            (Via::Jti, Known::Unavailable(None)),
        ];
        for on_error in [OnError::Allow, OnError::Deny] {
            assert_eq!(
                judge(Some(1.0), &items, NOW, 0, on_error),
                Check::Unknown(on_error)
            );
        }
    }

    #[test]
    fn a_revocation_already_seen_holds_while_the_table_is_unreadable() {
        let items = [
            (
                Via::Subject,
                Known::Unavailable(Some(subject(NOW, NOW + 60))),
            ),
            (Via::Jti, Known::Unavailable(None)),
        ];
        assert_eq!(
            verdict(Some(1.0), &items, NOW, 0),
            Check::Revoked(Via::Subject)
        );
        assert_eq!(
            verdict(Some(1.0), &items, NOW + 60, 0),
            Check::Unknown(OnError::Allow),
            "but not past its expires_at"
        );
    }

    #[test]
    fn a_known_revocation_beats_an_unreadable_item() {
        let items = [
            (Via::Subject, Known::Unavailable(None)),
            (Via::Jti, current(token(NOW + 60))),
        ];
        assert_eq!(
            judge(Some(1.0), &items, NOW, 0, OnError::Allow),
            Check::Revoked(Via::Jti)
        );
    }

    #[test]
    fn a_lookup_serves_for_the_cache_time_then_is_stale() {
        let s = Duration::from_secs;
        assert!(fresh(s(10), s(10), s(30)));
        assert!(fresh(s(10), s(39), s(30)));
        assert!(!fresh(s(10), s(40), s(30)));
        assert!(
            !fresh(s(10), s(10), Duration::ZERO),
            "a zero cache never serves"
        );
    }

    #[test]
    fn after_a_failure_the_table_rests_for_the_window() {
        let s = Duration::from_secs;
        assert!(may_call(None, s(0), ERROR_WINDOW));
        assert!(!may_call(Some(s(10)), s(10), ERROR_WINDOW));
        assert!(!may_call(Some(s(10)), s(14), ERROR_WINDOW));
        assert!(may_call(Some(s(10)), s(15), ERROR_WINDOW));
    }
}
