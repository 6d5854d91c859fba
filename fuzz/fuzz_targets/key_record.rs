//! The key tier's table items: `keys::record::parse` on attribute maps built from the
//! input, for both item kinds (`JWKS#…` and `DISCOVERY#…`).
//!
//! Input, as text: `@now=EPOCH` and lines `name=TYPE:value`, TYPE one of `S`, `N`, `B`
//! (bytes), `BOOL`, `NULL`, `L` (a list of strings, comma-separated), `SS`, `NS`.
//!
//! Invariants (SPEC.md "The key tiers"): an item is usable exactly when its body
//! attribute is a string and `fetched_at`/`expires_at` are integer epoch seconds with
//! `fetched_at` at most 300 s ahead; a usable item carries exactly those values, and
//! liveness is `now < expires_at`; a poisoned one keeps its stored `fetched_at` text
//! (for the conditional overwrite); writing a usable item's attributes and reading them
//! back gives the same item.
#![no_main]

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use jwt_authorizer::keys::record::{
    self, DiscoveryRecord, EXPIRES_AT, FETCHED_AT, Item, KeyRecord, MAX_FUTURE_SECONDS, Stored,
};
use libfuzzer_sys::fuzz_target;

fn value(kind: &str, text: &str) -> Option<AttributeValue> {
    let list = || text.split(',').map(str::to_owned).collect::<Vec<_>>();
    Some(match kind {
        "S" => AttributeValue::S(text.to_owned()),
        "N" => AttributeValue::N(text.to_owned()),
        "B" => AttributeValue::B(Blob::new(text.as_bytes())),
        "BOOL" => AttributeValue::Bool(text == "true"),
        "NULL" => AttributeValue::Null(true),
        "L" => AttributeValue::L(list().into_iter().map(AttributeValue::S).collect()),
        "SS" => AttributeValue::Ss(list()),
        "NS" => AttributeValue::Ns(list()),
        _ => return None,
    })
}

fn check<T: Item + std::fmt::Debug + PartialEq>(item: &HashMap<String, AttributeValue>, now: u64) {
    let subject = "https://issuer.test/jwks";
    let parsed = record::parse::<T>(subject, item, now);
    let integer = |name: &str| match item.get(name) {
        Some(AttributeValue::N(n)) => n.parse::<u64>().ok(),
        _ => None,
    };
    let body = match item.get(T::BODY) {
        Some(AttributeValue::S(s)) => Some(s.clone()),
        _ => None,
    };
    let (fetched, expires) = (integer(FETCHED_AT), integer(EXPIRES_AT));
    let usable = match (&body, fetched, expires) {
        (Some(_), Some(f), Some(_)) => f <= now.saturating_add(MAX_FUTURE_SECONDS),
        _ => false,
    };
    match &parsed {
        Stored::Usable(r) => {
            assert!(
                usable,
                "usable, but the model says poisoned: {item:?} at {now}"
            );
            assert_eq!(Some(r.body().to_owned()), body);
            assert_eq!(Some(r.fetched_at()), fetched);
            assert_eq!(Some(r.expires_at()), expires);
            assert_eq!(r.subject(), subject);
            assert_eq!(r.is_live(now), now < r.expires_at());
            let written = record::attributes(r);
            assert_eq!(
                record::parse::<T>(subject, &written, now),
                parsed,
                "round trip"
            );
        }
        Stored::Poisoned(poison) => {
            assert!(
                !usable,
                "poisoned ({}), but the model says usable: {item:?}",
                poison.reason
            );
            let stored = match item.get(FETCHED_AT) {
                Some(AttributeValue::N(n)) => Some(n.clone()),
                _ => None,
            };
            assert_eq!(poison.fetched_at, stored);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut now = 1_800_000_000u64;
    let mut item = HashMap::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("@now=") {
            now = n.parse().unwrap_or(now);
            continue;
        }
        let Some((name, typed)) = line.split_once('=') else {
            continue;
        };
        let (kind, raw) = typed.split_once(':').unwrap_or((typed, ""));
        if let Some(v) = value(kind, raw) {
            item.insert(name.to_owned(), v);
        }
    }
    check::<KeyRecord>(&item, now);
    check::<DiscoveryRecord>(&item, now);
});
