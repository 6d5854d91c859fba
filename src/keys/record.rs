//! The DynamoDB items of the key tier (SPEC.md "The key tiers"), shared by the
//! authorizer's write-through and the refresher:
//!
//! - `JWKS#{jwks_url}`: `jwks` (S, the document as served), `fetched_at`, `expires_at`;
//! - `DISCOVERY#{issuer}`: `jwks_uri` (S, found by OIDC discovery), `fetched_at`,
//!   `expires_at`;
//!
//! with integer epoch seconds (N; `expires_at` is the table's TTL attribute). Parsing is
//! pure: an item whose attributes don't parse, or whose `fetched_at` lies more than
//! [`MAX_FUTURE_SECONDS`] ahead, is [`Stored::Poisoned`]: it counts as absent and the
//! next write replaces it.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

/// Partition key attribute.
pub const PK: &str = "PK";
/// The JWKS document attribute of a keys item (S).
pub const JWKS: &str = "jwks";
/// The discovered JWKS URL attribute of a discovery item (S).
pub const JWKS_URI: &str = "jwks_uri";
/// Epoch seconds of the fetch (N).
pub const FETCHED_AT: &str = "fetched_at";
/// Epoch seconds after which the item counts as absent (N); the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";
/// How far ahead of the reader's clock a `fetched_at` may lie (writers' clocks differ a
/// little); beyond it the item is poisoned, since it would block every later write.
pub const MAX_FUTURE_SECONDS: u64 = 300;

/// One kind of stored item: its key prefix, its one string attribute, and its dates.
pub trait Item: Sized {
    /// The partition key prefix, e.g. `JWKS#`.
    const PREFIX: &'static str;
    /// The name of the string attribute that carries the content.
    const BODY: &'static str;
    /// What the partition key names (the JWKS URL, the issuer).
    fn subject(&self) -> &str;
    /// The content.
    fn body(&self) -> &str;
    /// When it was fetched (epoch seconds).
    fn fetched_at(&self) -> u64;
    /// When it stops counting as live (epoch seconds).
    fn expires_at(&self) -> u64;
    /// The item from its parts.
    fn from_parts(subject: &str, body: String, fetched_at: u64, expires_at: u64) -> Self;

    /// The partition key of `subject`'s item.
    fn partition_key(subject: &str) -> String {
        format!("{}{subject}", Self::PREFIX)
    }

    /// Whether the item still counts as present at `now` (DynamoDB's TTL deletion lags).
    fn is_live(&self, now: u64) -> bool {
        now < self.expires_at()
    }
}

/// The key set of one JWKS URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The JWKS URL the document was fetched from.
    pub jwks_url: String,
    /// The JWKS document exactly as the issuer served it.
    pub jwks: String,
    /// When it was fetched (epoch seconds).
    pub fetched_at: u64,
    /// When it stops counting as live (epoch seconds).
    pub expires_at: u64,
}

impl KeyRecord {
    /// A record for a document fetched at `now`, live for `ttl_seconds`.
    pub fn fetched(jwks_url: &str, jwks: String, now: u64, ttl_seconds: u64) -> Self {
        Self::from_parts(jwks_url, jwks, now, now.saturating_add(ttl_seconds))
    }
}

impl Item for KeyRecord {
    const PREFIX: &'static str = "JWKS#";
    const BODY: &'static str = JWKS;

    fn subject(&self) -> &str {
        &self.jwks_url
    }
    fn body(&self) -> &str {
        &self.jwks
    }
    fn fetched_at(&self) -> u64 {
        self.fetched_at
    }
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
    fn from_parts(subject: &str, body: String, fetched_at: u64, expires_at: u64) -> Self {
        Self {
            jwks_url: subject.to_owned(),
            jwks: body,
            fetched_at,
            expires_at,
        }
    }
}

/// The `jwks_uri` OIDC discovery found for an issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryRecord {
    /// The issuer (`iss`).
    pub issuer: String,
    /// Its discovered JWKS URL.
    pub jwks_uri: String,
    /// When discovery found it (epoch seconds).
    pub fetched_at: u64,
    /// When it stops counting as live (epoch seconds).
    pub expires_at: u64,
}

impl DiscoveryRecord {
    /// A record for a discovery made at `now`, live for `ttl_seconds`.
    pub fn discovered(issuer: &str, jwks_uri: &str, now: u64, ttl_seconds: u64) -> Self {
        Self::from_parts(
            issuer,
            jwks_uri.to_owned(),
            now,
            now.saturating_add(ttl_seconds),
        )
    }
}

impl Item for DiscoveryRecord {
    const PREFIX: &'static str = "DISCOVERY#";
    const BODY: &'static str = JWKS_URI;

    fn subject(&self) -> &str {
        &self.issuer
    }
    fn body(&self) -> &str {
        &self.jwks_uri
    }
    fn fetched_at(&self) -> u64 {
        self.fetched_at
    }
    fn expires_at(&self) -> u64 {
        self.expires_at
    }
    fn from_parts(subject: &str, body: String, fetched_at: u64, expires_at: u64) -> Self {
        Self {
            issuer: subject.to_owned(),
            jwks_uri: body,
            fetched_at,
            expires_at,
        }
    }
}

/// An item as read from the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored<T> {
    /// It parses.
    Usable(T),
    /// It does not: it counts as absent, and the next write replaces it.
    Poisoned(Poison),
}

/// Why a stored item is unusable, and what a writer needs to replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poison {
    /// What is wrong with it (for the log).
    pub reason: String,
    /// Its `fetched_at` as stored, when that is a number: a write conditioned on this
    /// very value replaces the item even if it claims to be newer.
    pub fetched_at: Option<String>,
}

impl Poison {
    /// An item whose content turned out unusable after its attributes parsed (a JWKS with
    /// no usable key, a discovery URL that is not https).
    pub fn unusable<T: Item>(item: &T, reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
            fetched_at: Some(item.fetched_at().to_string()),
        }
    }
}

/// Parses the stored attributes of `subject`'s item, read at wall time `now`.
pub fn parse<T: Item>(
    subject: &str,
    item: &HashMap<String, AttributeValue>,
    now: u64,
) -> Stored<T> {
    let raw_fetched = item.get(FETCHED_AT).and_then(|v| v.as_n().ok());
    let poison = |reason: String| {
        Stored::Poisoned(Poison {
            reason,
            fetched_at: raw_fetched.cloned(),
        })
    };
    let integer = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<u64>().ok())
    };
    let Some(body) = item.get(T::BODY).and_then(|v| v.as_s().ok()) else {
        return poison(format!("{} is not a string", T::BODY));
    };
    let Some(fetched_at) = integer(FETCHED_AT) else {
        return poison(format!("{FETCHED_AT} is not an integer"));
    };
    let Some(expires_at) = integer(EXPIRES_AT) else {
        return poison(format!("{EXPIRES_AT} is not an integer"));
    };
    if fetched_at > now.saturating_add(MAX_FUTURE_SECONDS) {
        return poison(format!(
            "{FETCHED_AT} lies {} s in the future",
            fetched_at - now
        ));
    }
    Stored::Usable(T::from_parts(subject, body.clone(), fetched_at, expires_at))
}

/// The attributes of `record`'s item.
pub fn attributes<T: Item>(record: &T) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            PK.to_owned(),
            AttributeValue::S(T::partition_key(record.subject())),
        ),
        (
            T::BODY.to_owned(),
            AttributeValue::S(record.body().to_owned()),
        ),
        (
            FETCHED_AT.to_owned(),
            AttributeValue::N(record.fetched_at().to_string()),
        ),
        (
            EXPIRES_AT.to_owned(),
            AttributeValue::N(record.expires_at().to_string()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic, clippy::indexing_slicing)]
    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn stored(pairs: &[(&str, AttributeValue)]) -> HashMap<String, AttributeValue> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn n(v: u64) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_owned())
    }

    #[test]
    fn an_item_round_trips_through_its_attributes() {
        let record = KeyRecord::fetched("https://i/jwks", "{}".into(), NOW, 60);
        assert_eq!(record.expires_at, NOW + 60);
        let item = attributes(&record);
        assert_eq!(item[PK], s("JWKS#https://i/jwks"));
        assert_eq!(
            parse::<KeyRecord>("https://i/jwks", &item, NOW),
            Stored::Usable(record)
        );
        let discovery = DiscoveryRecord::discovered("https://i", "https://i/k", NOW, 60);
        let item = attributes(&discovery);
        assert_eq!(item[PK], s("DISCOVERY#https://i"));
        assert_eq!(item[JWKS_URI], s("https://i/k"));
        assert_eq!(
            parse::<DiscoveryRecord>("https://i", &item, NOW),
            Stored::Usable(discovery)
        );
    }

    #[test]
    fn an_item_past_expires_at_is_not_live() {
        let record = KeyRecord::fetched("https://i/jwks", "{}".into(), 1000, 60);
        assert!(record.is_live(1059));
        assert!(!record.is_live(1060));
    }

    #[test]
    fn attributes_that_do_not_parse_poison_the_item() {
        let good = [
            (JWKS, s("{}")),
            (FETCHED_AT, n(NOW)),
            (EXPIRES_AT, n(NOW + 60)),
        ];
        for (name, bad) in [
            (JWKS, n(5)),
            (FETCHED_AT, s("1800000000")),
            (FETCHED_AT, AttributeValue::N("1.5".into())),
            (FETCHED_AT, AttributeValue::N("-1".into())),
            (EXPIRES_AT, AttributeValue::Bool(true)),
        ] {
            let mut item = stored(&good);
            item.insert(name.to_owned(), bad.clone());
            let Stored::Poisoned(poison) = parse::<KeyRecord>("u", &item, NOW) else {
                panic!("{name} = {bad:?} should poison the item");
            };
            assert!(poison.reason.contains(name), "{poison:?}");
        }
        let mut item = stored(&good);
        item.remove(JWKS);
        assert!(matches!(
            parse::<KeyRecord>("u", &item, NOW),
            Stored::Poisoned(_)
        ));
    }

    #[test]
    fn a_fetch_more_than_300_s_ahead_poisons_the_item_and_names_its_version() {
        let item = |fetched_at: u64| {
            stored(&[
                (JWKS, s("{}")),
                (FETCHED_AT, n(fetched_at)),
                (EXPIRES_AT, n(fetched_at + 60)),
            ])
        };
        assert!(matches!(
            parse::<KeyRecord>("u", &item(NOW + 300), NOW),
            Stored::Usable(_)
        ));
        let far = NOW + 10 * 365 * 86_400;
        assert_eq!(
            parse::<KeyRecord>("u", &item(far), NOW),
            Stored::Poisoned(Poison {
                reason: format!("fetched_at lies {} s in the future", far - NOW),
                fetched_at: Some(far.to_string()),
            })
        );
    }
}
