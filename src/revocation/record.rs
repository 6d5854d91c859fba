//! The revocation items of the keys table (SPEC.md "Revocation"), as pure functions:
//!
//! - `REVOKED#{iss}#sub#{sub}`: `revoked_before` (N), `expires_at` (N): that subject's
//!   tokens issued before `revoked_before` (all of them when they carry no `iat`);
//! - `REVOKED#{iss}#jti#{jti}`: `expires_at` (N): the token with that `jti`, or every
//!   token whose `origin_jti` is that value (Cognito: every token of one sign-in);
//!
//! with epoch seconds (`expires_at` is the table's TTL attribute); a fraction, as
//! `Date.now()/1000` writes, rounds up. An item whose attributes don't parse is neither
//! "absent" nor a failed lookup: it is [`Revocation::Unreadable`], which revokes every
//! token at its key (a revocation somebody meant never fails open), and the reader logs
//! it as an error.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub use crate::keys::record::{EXPIRES_AT, PK};

/// The partition key prefix of every revocation item.
pub const PREFIX: &str = "REVOKED#";
/// The attribute of a subject item: tokens issued before it are revoked (N).
pub const REVOKED_BEFORE: &str = "revoked_before";
/// DynamoDB's limit on a partition key value, in bytes: a longer key can't be stored, so
/// its item is known to be absent without asking.
pub const MAX_KEY_BYTES: usize = 2048;

/// What an item revokes: a subject's tokens, or one token (by `jti` or `origin_jti`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `REVOKED#{iss}#sub#{sub}`.
    Subject,
    /// `REVOKED#{iss}#jti#{jti}`.
    Token,
}

impl Scope {
    /// The key segment: `sub` or `jti`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Subject => "sub",
            Self::Token => "jti",
        }
    }
}

/// One revocation item, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// A subject's tokens issued before `revoked_before`.
    Subject {
        /// Tokens whose `iat` is earlier are revoked (epoch seconds).
        revoked_before: u64,
        /// When the item stops counting (epoch seconds; plus `CLOCK_SKEW_SECONDS`).
        expires_at: u64,
    },
    /// One token, or one sign-in's tokens.
    Token {
        /// When the item stops counting (epoch seconds; plus `CLOCK_SKEW_SECONDS`).
        expires_at: u64,
    },
    /// An item at this key whose attributes do not parse (`revoked_before` written as
    /// `S`, say): it revokes every token at its key, whatever their `iat`.
    Unreadable {
        /// The kind of key it was found at.
        scope: Scope,
        /// Its `expires_at` when that much parses; `None`: it never stops counting
        /// (DynamoDB's TTL deletes only items whose `expires_at` is a number).
        expires_at: Option<u64>,
    },
}

impl Revocation {
    /// When the item stops counting, before the skew is added.
    pub fn expires_at(&self) -> u64 {
        match *self {
            Self::Subject { expires_at, .. } | Self::Token { expires_at } => expires_at,
            Self::Unreadable { expires_at, .. } => expires_at.unwrap_or(u64::MAX),
        }
    }

    /// The kind of item.
    pub fn scope(&self) -> Scope {
        match *self {
            Self::Subject { .. } => Scope::Subject,
            Self::Token { .. } => Scope::Token,
            Self::Unreadable { scope, .. } => scope,
        }
    }
}

/// What to store when `existing` is in the table and `wanted` is asked for, so that a
/// revoke never narrows a revocation: `None` when `existing` already revokes everything
/// `wanted` does; otherwise the item revoking both (the later `revoked_before`, the
/// later `expires_at`).
pub fn union(existing: &Revocation, wanted: &Revocation) -> Option<Revocation> {
    let merged = match (*existing, *wanted) {
        (
            Revocation::Subject {
                revoked_before: b1,
                expires_at: e1,
            },
            Revocation::Subject {
                revoked_before: b2,
                expires_at: e2,
            },
        ) => Revocation::Subject {
            revoked_before: b1.max(b2),
            expires_at: e1.max(e2),
        },
        (Revocation::Token { expires_at: e1 }, Revocation::Token { expires_at: e2 }) => {
            Revocation::Token {
                expires_at: e1.max(e2),
            }
        }
        _ => *wanted,
    };
    (merged != *existing).then_some(merged)
}

/// The partition key of one item, and what kind it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    /// Subject or token.
    pub scope: Scope,
    /// `REVOKED#{iss}#{sub|jti}#{id}`.
    pub pk: String,
}

impl Key {
    /// The key of `issuer`'s item for `id`; `None` when it would exceed
    /// [`MAX_KEY_BYTES`] (no such item can exist).
    pub fn new(issuer: &str, scope: Scope, id: &str) -> Option<Self> {
        if !Self::fits(issuer, scope, id) {
            return None;
        }
        let mut pk = String::with_capacity(Self::len(issuer, scope, id));
        for part in [PREFIX, issuer, "#", scope.as_str(), "#", id] {
            pk.push_str(part);
        }
        Some(Self { scope, pk })
    }

    /// Whether the key of `issuer`'s item for `id` fits DynamoDB's limit (builds nothing).
    pub fn fits(issuer: &str, scope: Scope, id: &str) -> bool {
        Self::len(issuer, scope, id) <= MAX_KEY_BYTES
    }

    fn len(issuer: &str, scope: Scope, id: &str) -> usize {
        PREFIX.len() + issuer.len() + 1 + scope.as_str().len() + 1 + id.len()
    }
}

/// Parses the stored attributes of an item of `scope`; the error says what is wrong.
pub fn parse(scope: Scope, item: &HashMap<String, AttributeValue>) -> Result<Revocation, String> {
    let number = |name: &str| {
        epoch_attribute(item, name)
            .ok_or_else(|| format!("{name} is not a number of epoch seconds"))
    };
    let expires_at = number(EXPIRES_AT)?;
    Ok(match scope {
        Scope::Subject => Revocation::Subject {
            revoked_before: number(REVOKED_BEFORE)?,
            expires_at,
        },
        Scope::Token => Revocation::Token { expires_at },
    })
}

/// What an item of `scope` found at its key means: [`parse`]'s revocation, or
/// [`Revocation::Unreadable`] with the reason it does not parse (for the error log).
pub fn read(scope: Scope, item: &HashMap<String, AttributeValue>) -> (Revocation, Option<String>) {
    match parse(scope, item) {
        Ok(revocation) => (revocation, None),
        Err(reason) => (
            Revocation::Unreadable {
                scope,
                expires_at: epoch_attribute(item, EXPIRES_AT),
            },
            Some(reason),
        ),
    }
}

/// The attribute `name` as epoch seconds: an `N` of decimal digits, a fraction rounding
/// up (`1800000000.25` is `1800000001`: an item is never read as ending, or as revoking,
/// earlier than written). Anything else (another type, a sign, an exponent, a value past
/// `u64`) is `None`.
pub fn epoch_attribute(item: &HashMap<String, AttributeValue>, name: &str) -> Option<u64> {
    epoch_seconds(item.get(name)?.as_n().ok()?)
}

fn epoch_seconds(text: &str) -> Option<u64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    let seconds = whole.parse::<u64>().ok()?;
    if fraction.bytes().any(|b| b != b'0') {
        seconds.checked_add(1)
    } else {
        Some(seconds)
    }
}

/// The attributes of the item `revocation` stored under `pk`.
pub fn attributes(pk: &str, revocation: &Revocation) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (
            EXPIRES_AT.to_owned(),
            AttributeValue::N(revocation.expires_at().to_string()),
        ),
    ]);
    if let Revocation::Subject { revoked_before, .. } = *revocation {
        item.insert(
            REVOKED_BEFORE.to_owned(),
            AttributeValue::N(revoked_before.to_string()),
        );
    }
    item
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn n(v: u64) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }

    #[test]
    fn keys_follow_the_spec() {
        let key = Key::new("https://issuer.test", Scope::Subject, "alice").unwrap();
        assert_eq!(key.pk, "REVOKED#https://issuer.test#sub#alice");
        let key = Key::new("https://issuer.test", Scope::Token, "j-1").unwrap();
        assert_eq!(key.pk, "REVOKED#https://issuer.test#jti#j-1");
    }

    #[test]
    fn a_key_longer_than_dynamodb_allows_is_no_key() {
        let fits = "x".repeat(MAX_KEY_BYTES - "REVOKED#i#sub#".len());
        assert_eq!(Key::new("i", Scope::Subject, &fits).unwrap().pk.len(), 2048);
        assert!(Key::fits("i", Scope::Subject, &fits));
        assert_eq!(Key::new("i", Scope::Subject, &format!("{fits}x")), None);
        assert!(!Key::fits("i", Scope::Subject, &format!("{fits}x")));
    }

    #[test]
    fn items_round_trip_through_their_attributes() {
        for revocation in [
            Revocation::Subject {
                revoked_before: 100,
                expires_at: 200,
            },
            Revocation::Token { expires_at: 300 },
        ] {
            let item = attributes("REVOKED#i#x#y", &revocation);
            assert_eq!(item[PK], AttributeValue::S("REVOKED#i#x#y".into()));
            assert_eq!(parse(revocation.scope(), &item), Ok(revocation));
        }
    }

    #[test]
    fn a_revoke_never_narrows_what_is_stored() {
        let stored = Revocation::Subject {
            revoked_before: 100,
            expires_at: 1000,
        };
        let subject = |revoked_before, expires_at| Revocation::Subject {
            revoked_before,
            expires_at,
        };
        assert_eq!(union(&stored, &subject(50, 900)), None, "already covered");
        assert_eq!(union(&stored, &stored), None);
        assert_eq!(
            union(&stored, &subject(200, 1100)),
            Some(subject(200, 1100))
        );
        assert_eq!(
            union(&stored, &subject(200, 500)),
            Some(subject(200, 1000)),
            "a later revoked_before keeps the later expires_at"
        );
        assert_eq!(union(&stored, &subject(50, 2000)), Some(subject(100, 2000)));
        let token = |expires_at| Revocation::Token { expires_at };
        assert_eq!(union(&token(10), &token(5)), None);
        assert_eq!(union(&token(10), &token(20)), Some(token(20)));
    }

    #[test]
    fn attributes_that_do_not_parse_say_which() {
        let item = HashMap::from([(EXPIRES_AT.to_owned(), n(200))]);
        assert_eq!(
            parse(Scope::Subject, &item),
            Err("revoked_before is not a number of epoch seconds".into())
        );
        for bad in [
            AttributeValue::S("200".into()),
            AttributeValue::N("-1".into()),
            AttributeValue::N("1e9".into()),
            AttributeValue::N(".5".into()),
            AttributeValue::N("99999999999999999999".into()),
        ] {
            let item = HashMap::from([
                (EXPIRES_AT.to_owned(), bad.clone()),
                (REVOKED_BEFORE.to_owned(), n(1)),
            ]);
            assert_eq!(
                parse(Scope::Token, &item),
                Err("expires_at is not a number of epoch seconds".into()),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_fraction_rounds_up() {
        let item = |before: &str, expires: &str| {
            HashMap::from([
                (REVOKED_BEFORE.to_owned(), AttributeValue::N(before.into())),
                (EXPIRES_AT.to_owned(), AttributeValue::N(expires.into())),
            ])
        };
        assert_eq!(
            parse(Scope::Subject, &item("1800000000.001", "1800086400.9")),
            Ok(Revocation::Subject {
                revoked_before: 1_800_000_001,
                expires_at: 1_800_086_401
            })
        );
        assert_eq!(
            parse(Scope::Subject, &item("1800000000.000", "7")),
            Ok(Revocation::Subject {
                revoked_before: 1_800_000_000,
                expires_at: 7
            })
        );
    }

    #[test]
    fn an_item_that_does_not_parse_reads_as_unreadable_and_keeps_its_expiry() {
        let item = HashMap::from([
            (REVOKED_BEFORE.to_owned(), AttributeValue::S("now".into())),
            (EXPIRES_AT.to_owned(), n(500)),
        ]);
        assert_eq!(
            read(Scope::Subject, &item),
            (
                Revocation::Unreadable {
                    scope: Scope::Subject,
                    expires_at: Some(500)
                },
                Some("revoked_before is not a number of epoch seconds".into())
            )
        );
        let item = HashMap::from([(EXPIRES_AT.to_owned(), AttributeValue::S("x".into()))]);
        let (unreadable, _) = read(Scope::Token, &item);
        assert_eq!(unreadable.expires_at(), u64::MAX, "never ends by itself");
        assert_eq!(unreadable.scope(), Scope::Token);
    }
}
