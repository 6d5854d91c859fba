//! `authorizer-admin keys`: every key-tier item of the table (`JWKS#…`, `DISCOVERY#…`)
//! with its kids or discovered URL, `fetched_at`, `expires_at`, and whether it is live,
//! stale (serves only while the issuer is unreachable), too old to serve, or unusable
//! (poisoned: it counts as absent and the next successful fetch overwrites it), judged
//! by the same parsing and age rules as the authorizer.

use std::collections::HashMap;
use std::io::Write;

use aws_sdk_dynamodb::types::AttributeValue;

use super::AdminError;
use super::format::epoch;
use crate::config::{Config, JwksLocation, KeySourceConfig, checked_url};
use crate::jwk::{Algorithm, KeySet};
use crate::keys::plan::{Age, age};
use crate::keys::record::{self, DiscoveryRecord, Item, KeyRecord, PK, Poison, Stored};
use crate::keys::{KeyTable, upstream};

/// Pages of a scan at most (a key table holds a handful of key items).
const MAX_PAGES: usize = 1000;

/// What an item is worth to the authorizer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Before `expires_at`.
    Live,
    /// Past `expires_at`, within `KEYS_MAX_STALE_SECONDS`: serves only while the issuer
    /// is unreachable.
    Stale,
    /// Too old to serve at all.
    Expired,
    /// Poisoned or unusable: counts as absent.
    Unusable,
}

impl State {
    /// The word printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Live => "live",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::Unusable => "UNUSABLE",
        }
    }
}

/// One line about the item `pk` with `attributes`, read at wall time `now`.
pub fn describe(
    pk: &str,
    attributes: &HashMap<String, AttributeValue>,
    config: &Config,
    now: u64,
) -> (State, String) {
    let max_stale = config.keys.max_stale_seconds;
    let dated = |fetched_at: u64, expires_at: u64, what: String| {
        let state = match age(expires_at, now, max_stale) {
            Age::Live => State::Live,
            Age::Stale => State::Stale,
            Age::TooStale => State::Expired,
        };
        let note = match state {
            State::Stale => format!(
                "  (serves only while the issuer is unreachable, until {})",
                epoch(expires_at.saturating_add(max_stale))
            ),
            State::Expired => "  (too old to serve: KEYS_MAX_STALE_SECONDS has passed)".to_owned(),
            State::Live | State::Unusable => String::new(),
        };
        (
            state,
            format!(
                "{pk}  {}  {what}  fetched_at={}  expires_at={}{note}",
                state.as_str(),
                epoch(fetched_at),
                epoch(expires_at)
            ),
        )
    };
    let unusable = |poison: &Poison| {
        (
            State::Unusable,
            format!(
                "{pk}  {}  {}: counts as absent; the next successful fetch overwrites it",
                State::Unusable.as_str(),
                poison.reason
            ),
        )
    };
    if let Some(url) = pk.strip_prefix(KeyRecord::PREFIX) {
        return match record::parse::<KeyRecord>(url, attributes, now) {
            Stored::Usable(item) => {
                let (algorithms, note) = algorithms_for(config, url);
                match KeySet::from_jwks(item.jwks.as_bytes(), &algorithms) {
                    Ok(keys) => dated(
                        item.fetched_at,
                        item.expires_at,
                        format!("kids={}{note}", keys.kids().join(",")),
                    ),
                    Err(error) => unusable(&Poison::unusable(&item, error.to_string())),
                }
            }
            Stored::Poisoned(poison) => unusable(&poison),
        };
    }
    if let Some(issuer) = pk.strip_prefix(DiscoveryRecord::PREFIX) {
        return match record::parse::<DiscoveryRecord>(issuer, attributes, now) {
            Stored::Usable(item) => match checked_url(&item.jwks_uri) {
                Ok(_) => dated(
                    item.fetched_at,
                    item.expires_at,
                    format!("jwks_uri={}", item.jwks_uri),
                ),
                Err(reason) => unusable(&Poison::unusable(&item, reason)),
            },
            Stored::Poisoned(poison) => unusable(&poison),
        };
    }
    (State::Unusable, format!("{pk}  not a key item"))
}

/// The algorithms the configured issuers with JWKS URL `url` accept; every asymmetric
/// one (and a note) when none has it configured (a discovered URL, or another
/// environment's item).
fn algorithms_for(config: &Config, url: &str) -> (Vec<Algorithm>, &'static str) {
    let algorithms: Vec<Algorithm> = config
        .issuers
        .iter()
        .filter(|i| matches!(&i.keys, KeySourceConfig::Jwks(JwksLocation::Url(u)) if u == url))
        .flat_map(|i| i.algorithms.iter().copied())
        .collect();
    if algorithms.is_empty() {
        (
            Algorithm::ASYMMETRIC.to_vec(),
            "  (not a configured JWKS_URL)",
        )
    } else {
        (algorithms, "")
    }
}

/// Runs `keys` against `table` at wall time `now`, writing to `out`.
pub async fn run(
    config: &Config,
    table: &KeyTable,
    now: u64,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let failed = |error| AdminError::Table {
        table: table.name().to_owned(),
        error,
    };
    let mut items: Vec<(String, HashMap<String, AttributeValue>)> = Vec::new();
    let mut start = None;
    for _ in 0..MAX_PAGES {
        let page = table
            .client()
            .scan()
            .table_name(table.name())
            .filter_expression("begins_with(#pk, :jwks) OR begins_with(#pk, :discovery)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":jwks", AttributeValue::S(KeyRecord::PREFIX.into()))
            .expression_attribute_values(
                ":discovery",
                AttributeValue::S(DiscoveryRecord::PREFIX.into()),
            )
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| failed(upstream(e)))?;
        for item in page.items.unwrap_or_default() {
            if let Some(pk) = item.get(PK).and_then(|v| v.as_s().ok()) {
                items.push((pk.clone(), item));
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    items.sort_by(|a, b| a.0.cmp(&b.0));
    let mut counts: HashMap<&'static str, usize> = HashMap::new();
    for (pk, item) in &items {
        let (state, line) = describe(pk, item, config, now);
        *counts.entry(state.as_str()).or_default() += 1;
        writeln!(out, "{line}").map_err(AdminError::output)?;
    }
    let count = |state: State| counts.get(state.as_str()).copied().unwrap_or(0);
    let summary = if items.is_empty() {
        format!(
            "no key items in {} (the first JWKS fetch, or the refresher, writes them)",
            table.name()
        )
    } else {
        format!(
            "{} key items in {}: {} live, {} stale, {} expired, {} unusable",
            items.len(),
            table.name(),
            count(State::Live),
            count(State::Stale),
            count(State::Expired),
            count(State::Unusable)
        )
    };
    writeln!(out, "{summary}").map_err(AdminError::output)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::test_support::load;
    use crate::testkit::JWKS;

    const NOW: u64 = 1_800_000_000;
    const URL: &str = "https://issuer.test/jwks.json";

    fn config() -> Config {
        load(&[
            ("JWT_ISSUER", "https://issuer.test"),
            ("JWKS_URL", URL),
            ("JWT_AUDIENCE", "a"),
            ("JWT_ALGORITHMS", "RS256,ES256"),
        ])
        .unwrap()
    }

    fn keys_item(jwks: &str, fetched_at: u64, expires_at: u64) -> HashMap<String, AttributeValue> {
        record::attributes(&KeyRecord {
            jwks_url: URL.into(),
            jwks: jwks.into(),
            fetched_at,
            expires_at,
        })
    }

    #[test]
    fn a_key_item_shows_its_kids_dates_and_age() {
        let pk = format!("JWKS#{URL}");
        let (state, line) = describe(&pk, &keys_item(JWKS, NOW - 10, NOW + 10), &config(), NOW);
        assert_eq!(state, State::Live);
        assert!(
            line.starts_with(&format!(
                "{pk}  live  kids=ec-1,rsa-1  fetched_at=1799999990 ("
            )),
            "{line}"
        );
        assert!(
            line.contains("expires_at=1800000010 (2027-01-15T08:00:10Z)"),
            "{line}"
        );
        let (state, line) = describe(&pk, &keys_item(JWKS, NOW - 10, NOW - 1), &config(), NOW);
        assert_eq!(state, State::Stale);
        assert!(
            line.contains("serves only while the issuer is unreachable"),
            "{line}"
        );
        let (state, _) = describe(&pk, &keys_item(JWKS, 0, 1), &config(), NOW);
        assert_eq!(state, State::Expired);
    }

    #[test]
    fn poisoned_and_unusable_items_are_flagged() {
        let pk = format!("JWKS#{URL}");
        let (state, line) = describe(
            &pk,
            &keys_item(JWKS, NOW + 10_000, NOW + 20_000),
            &config(),
            NOW,
        );
        assert_eq!(state, State::Unusable);
        assert!(
            line.contains("fetched_at lies 10000 s in the future"),
            "{line}"
        );
        let (state, line) = describe(
            &pk,
            &keys_item(r#"{"keys":[]}"#, NOW, NOW + 1),
            &config(),
            NOW,
        );
        assert_eq!(state, State::Unusable);
        assert!(line.contains("no usable signing key"), "{line}");
        let mut broken = keys_item(JWKS, NOW, NOW + 1);
        broken.insert("expires_at".into(), AttributeValue::S("soon".into()));
        assert_eq!(describe(&pk, &broken, &config(), NOW).0, State::Unusable);
    }

    #[test]
    fn a_discovery_item_shows_its_url_and_an_unconfigured_jwks_url_says_so() {
        let item = record::attributes(&DiscoveryRecord::discovered(
            "https://issuer.test",
            "https://issuer.test/keys",
            NOW,
            60,
        ));
        let (state, line) = describe("DISCOVERY#https://issuer.test", &item, &config(), NOW);
        assert_eq!(state, State::Live);
        assert!(line.contains("jwks_uri=https://issuer.test/keys"), "{line}");
        let other = "https://elsewhere.test/jwks.json";
        let mut item = keys_item(JWKS, NOW, NOW + 1);
        item.insert("PK".into(), AttributeValue::S(format!("JWKS#{other}")));
        let (_, line) = describe(&format!("JWKS#{other}"), &item, &config(), NOW);
        assert!(
            line.contains("kids=ec-1,ec-2,ed-1,rsa-1  (not a configured JWKS_URL)"),
            "{line}"
        );
    }
}
