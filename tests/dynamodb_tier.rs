//! The DynamoDB tier through the real AWS SDK against moto_server on 127.0.0.1, with a
//! JWKS endpoint on loopback whose requests are counted: write-through, cold starts served
//! by the table, rotation, floods, outages of either side, and the conditional write.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dynamo::{DeadEndpoint, create_table, n, raw_item, s, sdk};
use common::jwks_server::{Behavior, JwksServer};
use common::moto::Moto;
use common::*;
use jwt_authorizer::events::Kind;
use jwt_authorizer::keys::{KeyRecord, KeyTable};
use jwt_authorizer::metrics::Counter;
use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_ROTATED, mint, mint_with_header};
use jwt_authorizer::{Authorizer, ManualClock, Outcome};
use serde_json::json;

const TABLE: &str = "jwt-keys";

struct World {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
    jwks: JwksServer,
}

async fn world(behavior: Behavior) -> World {
    let moto = Moto::start();
    let sdk = sdk(&moto.endpoint).await;
    create_table(&sdk, TABLE).await;
    World {
        _moto: moto,
        sdk,
        jwks: JwksServer::start(behavior),
    }
}

/// A fresh container (cold start) at `now`, its table reached through `sdk`.
async fn container(
    sdk: &aws_config::SdkConfig,
    jwks_url: &str,
    now: u64,
    vars: &[(&str, &str)],
) -> (Authorizer, Arc<ManualClock>) {
    let mut all = vec![("KEYS_TABLE_NAME", TABLE)];
    all.extend_from_slice(vars);
    let config = config(jwks_url, &all);
    let clock = Arc::new(ManualClock::new(now));
    let authorizer =
        Authorizer::new(&config, clock.clone(), Some(KeyTable::new(sdk, TABLE))).unwrap();
    authorizer.warm_up().await;
    (authorizer, clock)
}

fn valid() -> String {
    mint(FixtureKey::Rsa, &claims("alice-1"))
}

async fn decide(authorizer: &Authorizer, token: &str) -> jwt_authorizer::Decision {
    authorizer
        .decide(&event(Kind::RestToken, token, "alice-1").to_string())
        .await
}

#[tokio::test]
async fn a_jwks_fetch_is_written_through_to_an_empty_table() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    assert_eq!(w.jwks.hits(), 1);
    let item = raw_item(&w.sdk, TABLE, &w.jwks.url())
        .await
        .expect("item written");
    assert_eq!(s(&item, "PK"), format!("JWKS#{}", w.jwks.url()));
    assert_eq!(
        s(&item, "jwks"),
        JWKS,
        "the document as the issuer served it"
    );
    assert_eq!(n(&item, "fetched_at"), NOW);
    assert_eq!(n(&item, "expires_at"), NOW + 1_296_000);
    assert_eq!(a.counters().get(Counter::TableWrites), 1);
    assert_eq!(decide(&a, &valid()).await.outcome, Outcome::Allow);
}

#[tokio::test]
async fn a_second_cold_container_is_served_from_the_table_without_a_jwks_request() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let _first = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    assert_eq!(w.jwks.hits(), 1);
    let (second, _) = container(&w.sdk, &w.jwks.url(), NOW + 5, &[]).await;
    assert_eq!(
        w.jwks.hits(),
        1,
        "no JWKS request from the second cold start"
    );
    assert_eq!(second.counters().get(Counter::TableReads), 1);
    assert_eq!(second.counters().get(Counter::JwksFetches), 0);
    let decision = decide(&second, &valid()).await;
    assert_eq!(
        (decision.outcome, decision.key_tier),
        (Outcome::Allow, Some(jwt_authorizer::metrics::Tier::Memory))
    );
    assert_eq!(w.jwks.hits(), 1);
}

#[tokio::test]
async fn rotation_a_new_kid_costs_one_fetch_and_updates_the_table() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let (a, clock) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    w.jwks.set(Behavior::Serve(JWKS_ROTATED.into()));
    clock.advance(31);
    let rotated = mint(FixtureKey::RsaRotated, &claims("alice-1"));
    let decision = decide(&a, &rotated).await;
    assert_eq!(
        (decision.outcome, decision.key_tier),
        (Outcome::Allow, Some(jwt_authorizer::metrics::Tier::Jwks))
    );
    assert_eq!(decide(&a, &rotated).await.outcome, Outcome::Allow);
    assert_eq!(w.jwks.hits(), 2);
    let item = raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap();
    assert_eq!(s(&item, "jwks"), JWKS_ROTATED);
    assert_eq!(n(&item, "fetched_at"), NOW + 31);
    // Another container that saw the old keys finds the new kid in the table first.
    let (b, _) = container(&w.sdk, &w.jwks.url(), NOW + 40, &[]).await;
    assert_eq!(decide(&b, &rotated).await.outcome, Outcome::Allow);
    assert_eq!(w.jwks.hits(), 2);
}

#[tokio::test]
async fn an_unknown_kid_reads_the_table_before_the_jwks() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let (old, clock) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    // The refresher (here: another writer) stores the rotated set.
    KeyTable::new(&w.sdk, TABLE)
        .put(&KeyRecord::fetched(
            &w.jwks.url(),
            JWKS_ROTATED.into(),
            NOW + 10,
            1_296_000,
        ))
        .await
        .unwrap();
    clock.advance(31);
    let decision = decide(&old, &mint(FixtureKey::RsaRotated, &claims("alice-1"))).await;
    assert_eq!(
        (decision.outcome, decision.key_tier),
        (Outcome::Allow, Some(jwt_authorizer::metrics::Tier::Table))
    );
    assert_eq!(w.jwks.hits(), 1, "the table had the new kid");
}

#[tokio::test]
async fn a_flood_of_random_kids_costs_at_most_one_fetch() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let (a, clock) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    clock.advance(31);
    for i in 0..100 {
        let token = mint_with_header(
            FixtureKey::Rsa,
            "RS256",
            &json!({"alg": "RS256", "kid": format!("random-{i}")}),
            &claims("alice-1"),
        );
        assert_eq!(decide(&a, &token).await.reason, "unknown_kid");
    }
    assert_eq!(w.jwks.hits(), 2, "init + one fetch for the whole flood");
    assert_eq!(
        a.counters().get(Counter::TableReads),
        2,
        "init + one re-read for the whole flood"
    );
}

#[tokio::test]
async fn a_dead_table_falls_back_to_jwks_within_a_bounded_time() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let started = Instant::now();
    let (a, _) = container(&dead_sdk, &w.jwks.url(), NOW, &[]).await;
    let decision = decide(&a, &valid()).await;
    let elapsed = started.elapsed();
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(w.jwks.hits(), 1);
    assert!(a.counters().get(Counter::TableErrors) >= 1);
    assert!(
        elapsed < Duration::from_millis(2500),
        "a dead table cost {elapsed:?}"
    );
}

fn broken_jwks() -> Vec<(&'static str, Behavior)> {
    vec![
        ("HTTP 500", Behavior::Status(500)),
        ("garbage", Behavior::Serve("<html>oops</html>".into())),
        ("empty key set", Behavior::Serve(r#"{"keys":[]}"#.into())),
        (
            "hanging past the timeout",
            Behavior::Delay(Duration::from_secs(10), JWKS.into()),
        ),
    ]
}

#[tokio::test]
async fn a_broken_jwks_leaves_the_table_keys_serving_even_expired_ones() {
    for (label, broken) in broken_jwks() {
        let w = world(Behavior::Serve(JWKS.into())).await;
        let vars = [("KEYS_TTL_SECONDS", "60"), ("JWKS_TIMEOUT_MS", "300")];
        let _writer = container(&w.sdk, &w.jwks.url(), NOW, &vars).await;
        let before = raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap();
        w.jwks.set(broken);

        // Live item: served from the table; an unknown kid cannot be fetched, known ones still pass.
        let (live, _) = container(&w.sdk, &w.jwks.url(), NOW + 10, &vars).await;
        assert_eq!(
            decide(&live, &valid()).await.outcome,
            Outcome::Allow,
            "{label}"
        );
        let rotated = mint(FixtureKey::RsaRotated, &claims("alice-1"));
        assert_eq!(
            decide(&live, &rotated).await.reason,
            "unknown_kid",
            "{label}"
        );
        assert_eq!(
            decide(&live, &valid()).await.outcome,
            Outcome::Allow,
            "{label}"
        );

        // Expired item (past expires_at, within KEYS_MAX_STALE_SECONDS): stale beats down.
        let started = Instant::now();
        let (stale, _) = container(&w.sdk, &w.jwks.url(), NOW + 120, &vars).await;
        assert_eq!(
            decide(&stale, &valid()).await.outcome,
            Outcome::Allow,
            "{label}"
        );
        assert!(
            stale.counters().get(Counter::StaleKeysServed) >= 1,
            "{label}"
        );
        assert!(stale.counters().get(Counter::JwksErrors) >= 1, "{label}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{label}: {:?}",
            started.elapsed()
        );

        // Too stale: denied, never allowed.
        let too_old = [
            ("KEYS_TTL_SECONDS", "60"),
            ("JWKS_TIMEOUT_MS", "300"),
            ("KEYS_MAX_STALE_SECONDS", "100"),
        ];
        let (expired, _) = container(&w.sdk, &w.jwks.url(), NOW + 500, &too_old).await;
        assert_eq!(
            decide(&expired, &valid()).await.reason,
            "keys_unavailable",
            "{label}"
        );

        assert_eq!(
            raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap(),
            before,
            "{label}: the item is untouched"
        );
    }
}

#[tokio::test]
async fn both_down_denies_without_crashing_then_recovers() {
    let jwks = JwksServer::start(Behavior::Status(503));
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let (a, clock) = container(&dead_sdk, &jwks.url(), NOW, &[]).await;
    for _ in 0..3 {
        let decision = decide(&a, &valid()).await;
        assert_eq!(
            (decision.outcome, decision.reason),
            (Outcome::Unauthorized, "keys_unavailable")
        );
    }
    assert_eq!(jwks.hits(), 1, "JWKS fetches obey the cooldown");
    jwks.set(Behavior::Serve(JWKS.into()));
    clock.advance(31);
    assert_eq!(decide(&a, &valid()).await.outcome, Outcome::Allow);
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn memory_rereads_the_table_after_keys_memory_seconds() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let vars = [("KEYS_MEMORY_SECONDS", "60")];
    let (a, clock) = container(&w.sdk, &w.jwks.url(), NOW, &vars).await;
    assert_eq!(a.counters().get(Counter::TableReads), 1);
    clock.advance(30);
    decide(&a, &valid()).await;
    assert_eq!(a.counters().get(Counter::TableReads), 1);
    clock.advance(31);
    decide(&a, &valid()).await;
    assert_eq!(a.counters().get(Counter::TableReads), 2);
    assert_eq!(w.jwks.hits(), 1);
}

#[tokio::test]
async fn an_item_past_expires_at_counts_as_absent() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let table = KeyTable::new(&w.sdk, TABLE);
    table
        .put(&KeyRecord {
            jwks_url: w.jwks.url(),
            jwks: JWKS.into(),
            fetched_at: NOW - 100,
            expires_at: NOW - 1,
        })
        .await
        .unwrap();
    let (a, _) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    assert_eq!(
        w.jwks.hits(),
        1,
        "the expired item made the cold start fetch"
    );
    assert_eq!(
        n(
            &raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap(),
            "fetched_at"
        ),
        NOW
    );
    assert_eq!(decide(&a, &valid()).await.outcome, Outcome::Allow);
}

#[tokio::test]
async fn a_write_never_replaces_a_newer_item() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let table = KeyTable::new(&w.sdk, TABLE);
    let url = "https://issuer.test/jwks";
    assert!(
        table
            .put(&KeyRecord::fetched(url, JWKS.into(), 2_000, 60))
            .await
            .unwrap()
    );
    let newer = raw_item(&w.sdk, TABLE, url).await.unwrap();
    assert!(
        !table
            .put(&KeyRecord::fetched(url, JWKS_ROTATED.into(), 1_000, 60))
            .await
            .unwrap()
    );
    assert!(
        !table
            .put(&KeyRecord::fetched(url, JWKS_ROTATED.into(), 2_000, 60))
            .await
            .unwrap()
    );
    assert_eq!(raw_item(&w.sdk, TABLE, url).await.unwrap(), newer);
    assert!(
        table
            .put(&KeyRecord::fetched(url, JWKS_ROTATED.into(), 3_000, 60))
            .await
            .unwrap()
    );
    assert_eq!(
        s(&raw_item(&w.sdk, TABLE, url).await.unwrap(), "jwks"),
        JWKS_ROTATED
    );
    let stored = table.get(url).await.unwrap().unwrap();
    assert_eq!((stored.fetched_at, stored.expires_at), (3_000, 3_060));
}
