//! Revocation through the real AWS SDK against moto_server's DynamoDB on 127.0.0.1:
//! subject, `jti` and `origin_jti` items; what they leave alone; expiry with the skew;
//! the bound with the token cache; a dead table under either `REVOCATION_ON_ERROR`;
//! concurrent misses; revocation off. Scenarios that need exact timing of concurrent
//! lookups use the in-memory store behind the same trait.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::dynamo::{self, DeadEndpoint, moto_with_table, put_raw, raw_item_pk, sdk};
use common::jwks_server::{Behavior, JwksServer};
use common::moto::Moto;
use common::runtime_api::RuntimeApi;
use common::*;
use jwt_authorizer::events::Kind;
use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::metrics::Counter;
use jwt_authorizer::revocation::{
    DynamoStore, ERROR_WINDOW, Key, MemoryStore, Revocation, Revoked, Scope,
};
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use jwt_authorizer::{Authorizer, Decision, ManualClock, Outcome};
use serde_json::{Value, json};

const TABLE: &str = "jwt-keys";

struct World {
    _moto: Moto,
    sdk: aws_config::SdkConfig,
    jwks: JwksServer,
}

async fn world() -> World {
    let (moto, sdk) = moto_with_table(TABLE).await;
    World {
        _moto: moto,
        sdk,
        jwks: JwksServer::start(Behavior::Serve(JWKS.into())),
    }
}

/// A container with `REVOCATION=on` (plus `vars`) over the table reached through `sdk`.
async fn container(
    sdk: &aws_config::SdkConfig,
    jwks_url: &str,
    vars: &[(&str, &str)],
) -> (Authorizer, Arc<ManualClock>) {
    let mut all = vec![("REVOCATION", "on")];
    all.extend_from_slice(vars);
    dynamo::container(sdk, TABLE, jwks_url, NOW, &all).await
}

fn store(sdk: &aws_config::SdkConfig) -> DynamoStore {
    DynamoStore::new(&KeyTable::new(sdk, TABLE))
}

async fn revoke_subject(sdk: &aws_config::SdkConfig, issuer: &str, sub: &str, before: u64) {
    let key = Key::new(issuer, Scope::Subject, sub).unwrap();
    let item = Revocation::Subject {
        revoked_before: before,
        expires_at: before + 86_400,
    };
    store(sdk).revoke(&key, item).await.unwrap();
}

async fn revoke_jti(sdk: &aws_config::SdkConfig, jti: &str, until: u64) {
    let key = Key::new(ISSUER, Scope::Token, jti).unwrap();
    store(sdk)
        .revoke(&key, Revocation::Token { expires_at: until })
        .await
        .unwrap();
}

/// A token for `sub` with `extra` claims merged in (`null` removes one).
fn token(sub: &str, extra: Value) -> String {
    let mut c = claims(sub);
    for (name, value) in extra.as_object().unwrap() {
        match value {
            Value::Null => c.as_object_mut().unwrap().remove(name),
            _ => c
                .as_object_mut()
                .unwrap()
                .insert(name.clone(), value.clone()),
        };
    }
    mint(FixtureKey::Rsa, &c)
}

async fn decide(a: &Authorizer, token: &str, sub: &str) -> Decision {
    a.decide(&event(Kind::RestToken, token, sub).to_string())
        .await
}

fn verdict(d: &Decision) -> (Outcome, &'static str) {
    (d.outcome, d.reason.as_str())
}

const REVOKED: (Outcome, &str) = (Outcome::Unauthorized, "revoked");
const ALLOWED: (Outcome, &str) = (Outcome::Allow, "ok");

#[tokio::test]
async fn a_subject_is_refused_for_tokens_issued_before_its_revocation_only() {
    let w = world().await;
    revoke_subject(&w.sdk, ISSUER, "alice-1", NOW - 30).await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    let before = token("alice-1", json!({"iat": NOW - 60}));
    assert_eq!(verdict(&decide(&a, &before, "alice-1").await), REVOKED);
    let no_iat = token("alice-1", json!({"iat": null}));
    assert_eq!(
        verdict(&decide(&a, &no_iat, "alice-1").await),
        REVOKED,
        "a token without iat could have been issued any time"
    );
    let signed_in_again = token("alice-1", json!({"iat": NOW - 10}));
    assert_eq!(
        verdict(&decide(&a, &signed_in_again, "alice-1").await),
        ALLOWED
    );
    let at_the_second = token("alice-1", json!({"iat": NOW - 30}));
    assert_eq!(
        verdict(&decide(&a, &at_the_second, "alice-1").await),
        ALLOWED,
        "iat equal to revoked_before is not earlier"
    );
    let bob = token("bob-2", json!({"iat": NOW - 60}));
    assert_eq!(verdict(&decide(&a, &bob, "bob-2").await), ALLOWED);
    assert_eq!(a.counters().get(Counter::RevokedTokens), 2);
}

#[tokio::test]
async fn a_jti_item_refuses_that_token_and_every_token_of_its_sign_in() {
    let w = world().await;
    revoke_jti(&w.sdk, "leaked-1", NOW + 3600).await;
    revoke_jti(&w.sdk, "sign-in-7", NOW + 3600).await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    let leaked = token("alice-1", json!({"jti": "leaked-1"}));
    assert_eq!(verdict(&decide(&a, &leaked, "alice-1").await), REVOKED);
    let sibling = token("alice-1", json!({"jti": "j-2", "origin_jti": "sign-in-7"}));
    assert_eq!(
        verdict(&decide(&a, &sibling, "alice-1").await),
        REVOKED,
        "Cognito: every token of the sign-in shares its origin_jti"
    );
    let other = token("alice-1", json!({"jti": "j-3", "origin_jti": "sign-in-8"}));
    assert_eq!(verdict(&decide(&a, &other, "alice-1").await), ALLOWED);
}

#[tokio::test]
async fn other_issuers_are_untouched() {
    let w = world().await;
    let issuers = json!([
        {"issuer": ISSUER, "jwks_url": w.jwks.url(), "audience": [AUDIENCE]},
        {"issuer": "https://other.test", "jwks_url": w.jwks.url(), "audience": [AUDIENCE]},
    ])
    .to_string();
    let config = config_only(&[
        ("JWT_ISSUERS", &issuers),
        ("KEYS_TABLE_NAME", TABLE),
        ("REVOCATION", "on"),
    ]);
    revoke_subject(&w.sdk, ISSUER, "alice-1", NOW).await;
    let clock = Arc::new(ManualClock::new(NOW));
    let a = Authorizer::new(&config, clock, Some(KeyTable::new(&w.sdk, TABLE))).unwrap();
    a.warm_up().await;
    assert_eq!(
        verdict(&decide(&a, &token("alice-1", json!({})), "alice-1").await),
        REVOKED
    );
    let elsewhere = token("alice-1", json!({"iss": "https://other.test"}));
    assert_eq!(
        verdict(&decide(&a, &elsewhere, "alice-1").await),
        ALLOWED,
        "the same sub at another issuer is another subject"
    );
}

#[tokio::test]
async fn an_item_counts_as_absent_once_expires_at_plus_the_skew_has_passed() {
    let w = world().await;
    revoke_jti(&w.sdk, "j-1", NOW + 10).await;
    let vars = [
        ("CLOCK_SKEW_SECONDS", "5"),
        ("REVOCATION_CACHE_SECONDS", "0"),
    ];
    let (a, clock) = container(&w.sdk, &w.jwks.url(), &vars).await;
    let t = token("alice-1", json!({"jti": "j-1"}));
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), REVOKED);
    clock.advance(14);
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), REVOKED);
    clock.advance(1);
    assert_eq!(
        verdict(&decide(&a, &t, "alice-1").await),
        ALLOWED,
        "DynamoDB's TTL deletion lags; the authorizer does not"
    );
    assert!(
        raw_item_pk(&w.sdk, TABLE, &format!("REVOKED#{ISSUER}#jti#j-1"))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn the_bound_holds_with_a_cached_verified_token() {
    let w = world().await;
    let (a, clock) = container(&w.sdk, &w.jwks.url(), &[]).await;
    let t = token("alice-1", json!({"iat": NOW - 60}));
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), ALLOWED);
    let hit = decide(&a, &t, "alice-1").await;
    assert!(hit.cached, "the token cache is on");
    assert_eq!(verdict(&hit), ALLOWED);
    assert_eq!(a.counters().get(Counter::RevocationLookups), 1);

    // Signed out at T = NOW + 1 (every token before it revoked).
    clock.advance(1);
    revoke_subject(&w.sdk, ISSUER, "alice-1", NOW + 1).await;
    let (fresh, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    assert_eq!(
        verdict(&decide(&fresh, &t, "alice-1").await),
        REVOKED,
        "a container without the lookup cached refuses at once"
    );
    assert_eq!(
        verdict(&decide(&a, &t, "alice-1").await),
        ALLOWED,
        "within REVOCATION_CACHE_SECONDS of the last lookup, the cached answer may serve"
    );
    clock.advance(29);
    let after = decide(&a, &t, "alice-1").await;
    assert!(after.cached, "still a token-cache hit");
    assert_eq!(
        verdict(&after),
        REVOKED,
        "from T + REVOCATION_CACHE_SECONDS on, the cached token is refused"
    );
    assert_eq!(a.counters().get(Counter::RevocationLookups), 2);
}

#[tokio::test]
async fn an_invalid_token_never_costs_a_lookup_and_a_revoked_one_gets_deny_mode() {
    let w = world().await;
    revoke_subject(&w.sdk, ISSUER, "alice-1", NOW).await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[("DENY_MODE", "deny")]).await;
    let forged = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    assert_eq!(
        decide(&a, &forged, "alice-1").await.reason.as_str(),
        "bad_signature"
    );
    assert_eq!(a.counters().get(Counter::RevocationLookups), 0);
    for kind in ALL_KINDS {
        let d = a
            .decide(&event(kind, &token("alice-1", json!({})), "alice-1").to_string())
            .await;
        assert_eq!(d.reason.as_str(), "revoked", "{kind:?}");
        assert_eq!(
            d.outcome,
            Outcome::Deny,
            "{kind:?}: DENY_MODE=deny (HTTP API: false)"
        );
    }
}

/// A container whose table accepts connections and never answers.
async fn dead_container(
    jwks_url: &str,
    on_error: &str,
) -> (Authorizer, Arc<ManualClock>, DeadEndpoint) {
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let (a, clock) = container(
        &dead_sdk,
        jwks_url,
        &[("REVOCATION_ON_ERROR", on_error), ("TOKEN_CACHE_SIZE", "0")],
    )
    .await;
    (a, clock, dead)
}

#[tokio::test]
async fn a_dead_table_with_on_error_allow_allows_counts_and_costs_one_call_per_window() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, clock, _dead) = dead_container(&jwks.url(), "allow").await;
    let t = token("alice-1", json!({}));
    let started = Instant::now();
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), ALLOWED);
    let first = started.elapsed();
    assert!(
        first < Duration::from_millis(1500),
        "first lookup took {first:?}"
    );
    let started = Instant::now();
    for _ in 0..20 {
        assert_eq!(verdict(&decide(&a, &t, "alice-1").await), ALLOWED);
    }
    let rest = started.elapsed();
    assert!(
        rest < Duration::from_millis(300),
        "20 decisions within the window took {rest:?}: the table was called again"
    );
    let c = a.counters();
    assert_eq!(
        (
            c.get(Counter::RevocationLookups),
            c.get(Counter::RevocationErrors),
            c.get(Counter::RevocationUnchecked)
        ),
        (1, 1, 21)
    );
    clock.advance(ERROR_WINDOW.as_secs());
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), ALLOWED);
    assert_eq!(
        (
            c.get(Counter::RevocationLookups),
            c.get(Counter::RevocationErrors)
        ),
        (2, 2),
        "after the window, the table is tried again"
    );
}

#[tokio::test]
async fn a_dead_table_with_on_error_deny_refuses_with_its_own_reason_in_bounded_time() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, _, _dead) = dead_container(&jwks.url(), "deny").await;
    let t = token("alice-1", json!({}));
    let started = Instant::now();
    for _ in 0..10 {
        assert_eq!(
            verdict(&decide(&a, &t, "alice-1").await),
            (Outcome::Unauthorized, "revocation_unavailable")
        );
    }
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1800), "{elapsed:?}");
    assert_eq!(a.counters().get(Counter::RevocationLookups), 1);
    assert_eq!(a.counters().get(Counter::RevocationUnchecked), 10);
    assert_eq!(a.counters().get(Counter::RevokedTokens), 0);
}

#[tokio::test]
async fn concurrent_misses_of_one_token_share_one_lookup() {
    let w = world().await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[("TOKEN_CACHE_SIZE", "0")]).await;
    let t = token("alice-1", json!({"jti": "j-1", "origin_jti": "o-1"}));
    let (d1, d2, d3, d4) = tokio::join!(
        decide(&a, &t, "alice-1"),
        decide(&a, &t, "alice-1"),
        decide(&a, &t, "alice-1"),
        decide(&a, &t, "alice-1"),
    );
    for d in [d1, d2, d3, d4] {
        assert_eq!(verdict(&d), ALLOWED);
    }
    assert_eq!(a.counters().get(Counter::RevocationLookups), 1);
    decide(&a, &t, "alice-1").await;
    assert_eq!(
        a.counters().get(Counter::RevocationLookups),
        1,
        "then cached"
    );
    let revocations = a.verifier().revocations().unwrap();
    assert_eq!(revocations.cached_items(), 3, "sub, jti, origin_jti");
}

#[tokio::test]
async fn revocation_off_reads_nothing() {
    let w = world().await;
    revoke_subject(&w.sdk, ISSUER, "alice-1", NOW).await;
    let config = config(&w.jwks.url(), &[("KEYS_TABLE_NAME", TABLE)]);
    let clock = Arc::new(ManualClock::new(NOW));
    let a = Authorizer::new(&config, clock, Some(KeyTable::new(&w.sdk, TABLE))).unwrap();
    a.warm_up().await;
    assert!(a.verifier().revocations().is_none());
    let reads = a.counters().get(Counter::TableReads);
    for _ in 0..3 {
        assert_eq!(
            verdict(&decide(&a, &token("alice-1", json!({})), "alice-1").await),
            ALLOWED
        );
    }
    assert_eq!(a.counters().get(Counter::RevocationLookups), 0);
    assert_eq!(a.counters().get(Counter::TableReads), reads);
}

#[tokio::test]
async fn revoke_never_narrows_a_stored_revocation() {
    let w = world().await;
    let store = store(&w.sdk);
    let key = Key::new(ISSUER, Scope::Subject, "alice-1").unwrap();
    let subject = |revoked_before, expires_at| Revocation::Subject {
        revoked_before,
        expires_at,
    };
    assert_eq!(
        store.revoke(&key, subject(100, 1000)).await.unwrap(),
        Revoked::Stored(subject(100, 1000))
    );
    assert_eq!(
        store.revoke(&key, subject(50, 900)).await.unwrap(),
        Revoked::Unchanged(subject(100, 1000))
    );
    assert_eq!(
        store.revoke(&key, subject(200, 500)).await.unwrap(),
        Revoked::Widened {
            was: subject(100, 1000),
            now: subject(200, 1000)
        }
    );
    assert_eq!(store.get(&key).await.unwrap(), Some(subject(200, 1000)));
    // An unreadable item (another writer's mistake) is replaced.
    put_raw(
        &w.sdk,
        TABLE,
        &[
            ("PK", AttributeValue::S(key.pk.clone())),
            ("revoked_before", AttributeValue::S("soon".into())),
            ("expires_at", AttributeValue::N("2000".into())),
        ],
    )
    .await;
    assert_eq!(
        store.get(&key).await.unwrap(),
        Some(Revocation::Unreadable {
            scope: Scope::Subject,
            expires_at: Some(2000)
        })
    );
    assert_eq!(
        store.revoke(&key, subject(300, 400)).await.unwrap(),
        Revoked::Stored(subject(300, 400))
    );
}

/// Finding 2 of the security review: an item present at a token's key that does not
/// parse failed the whole lookup, so `REVOCATION_ON_ERROR=allow` (the default) let the
/// revoked token in and opened an error window for everyone. Now it revokes that token,
/// and other tokens are looked up and decided as usual.
#[tokio::test]
async fn an_unreadable_item_revokes_its_token_and_opens_no_error_window() {
    let w = world().await;
    put_raw(
        &w.sdk,
        TABLE,
        &[
            (
                "PK",
                AttributeValue::S(format!("REVOKED#{ISSUER}#sub#alice-1")),
            ),
            ("revoked_before", AttributeValue::S(NOW.to_string())),
            ("expires_at", AttributeValue::N((NOW + 60).to_string())),
        ],
    )
    .await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    assert_eq!(
        verdict(&decide(&a, &token("alice-1", json!({})), "alice-1").await),
        REVOKED
    );
    assert_eq!(
        verdict(&decide(&a, &token("bob-2", json!({})), "bob-2").await),
        ALLOWED
    );
    assert_eq!(a.counters().get(Counter::RevocationErrors), 0);
    assert_eq!(a.counters().get(Counter::RevocationUnchecked), 0);
    assert_eq!(
        a.counters().get(Counter::RevocationLookups),
        2,
        "bob's token was looked up, not waved through by an error window"
    );
}

/// `Date.now()/1000` writes a fraction: it rounds up, so the token issued in that second
/// is covered, where the fraction used to fail the lookup (and so allow the token).
#[tokio::test]
async fn a_fractional_revoked_before_rounds_up() {
    let w = world().await;
    put_raw(
        &w.sdk,
        TABLE,
        &[
            (
                "PK",
                AttributeValue::S(format!("REVOKED#{ISSUER}#sub#alice-1")),
            ),
            (
                "revoked_before",
                AttributeValue::N(format!("{}.25", NOW - 10)),
            ),
            ("expires_at", AttributeValue::N(format!("{}.5", NOW + 60))),
        ],
    )
    .await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    let issued = |iat: u64| token("alice-1", json!({ "iat": iat }));
    assert_eq!(
        verdict(&decide(&a, &issued(NOW - 10), "alice-1").await),
        REVOKED,
        "issued in the second the fraction falls in"
    );
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[]).await;
    assert_eq!(
        verdict(&decide(&a, &issued(NOW - 9), "alice-1").await),
        ALLOWED
    );
    assert_eq!(a.counters().get(Counter::RevocationErrors), 0);
}

/// Not a benchmark (performance is never asserted): shows that an uncached decision
/// makes exactly one table round trip and a cached one none, and prints what each costs
/// here, against moto through the real SDK (`cargo test --test revocation -- --nocapture`).
#[tokio::test]
async fn an_uncached_decision_costs_one_round_trip_and_a_cached_one_none() {
    let w = world().await;
    let (a, _) = container(&w.sdk, &w.jwks.url(), &[("TOKEN_CACHE_SIZE", "0")]).await;
    let tokens: Vec<String> = (0..20)
        .map(|i| token(&format!("user-{i}"), json!({"jti": format!("j-{i}")})))
        .collect();
    let started = Instant::now();
    for (i, t) in tokens.iter().enumerate() {
        decide(&a, t, &format!("user-{i}")).await;
    }
    let uncached = started.elapsed() / 20;
    assert_eq!(a.counters().get(Counter::RevocationLookups), 20);
    let started = Instant::now();
    for (i, t) in tokens.iter().enumerate() {
        decide(&a, t, &format!("user-{i}")).await;
    }
    let cached = started.elapsed() / 20;
    assert_eq!(a.counters().get(Counter::RevocationLookups), 20);
    let keys = [
        Key::new(ISSUER, Scope::Subject, "nobody").unwrap(),
        Key::new(ISSUER, Scope::Token, "nothing").unwrap(),
    ];
    let store = store(&w.sdk);
    let started = Instant::now();
    for _ in 0..20 {
        store.read(&keys).await.unwrap();
    }
    let round_trip = started.elapsed() / 20;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    eprintln!(
        "revocation, {build} build, moto on loopback: uncached decision {uncached:?}, cached {cached:?} \
         (difference {:?}); one BatchGetItem of the same two keys {round_trip:?}",
        uncached.saturating_sub(cached)
    );
}

// The in-memory store behind the same trait: exact interleavings of concurrent lookups.

struct Memory {
    authorizer: Authorizer,
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    _jwks: JwksServer,
}

async fn with_memory(vars: &[(&str, &str)]) -> Memory {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let mut all = vec![("KEYS_TABLE_NAME", TABLE), ("REVOCATION", "on")];
    all.extend_from_slice(vars);
    let config = config(&jwks.url(), &all);
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::new(NOW));
    let a = Authorizer::with_revocation_store(&config, clock.clone(), None, store.clone()).unwrap();
    a.warm_up().await;
    Memory {
        authorizer: a,
        store,
        clock,
        _jwks: jwks,
    }
}

#[tokio::test]
async fn concurrent_misses_for_one_subject_read_its_item_once() {
    let Memory {
        authorizer: a,
        store,
        ..
    } = with_memory(&[("TOKEN_CACHE_SIZE", "0")]).await;
    store.set_delay(Duration::from_millis(50));
    let t = |jti: &str| token("alice-1", json!({"jti": jti, "origin_jti": "sign-in"}));
    let (t1, t2, t3) = (t("j-1"), t("j-2"), t("j-3"));
    let (d1, d2, d3) = tokio::join!(
        decide(&a, &t1, "alice-1"),
        decide(&a, &t2, "alice-1"),
        decide(&a, &t3, "alice-1"),
    );
    for d in [d1, d2, d3] {
        assert_eq!(verdict(&d), ALLOWED);
    }
    let asked = store.asked();
    let count = |pk: String| asked.iter().filter(|a| **a == pk).count();
    assert_eq!(count(format!("REVOKED#{ISSUER}#sub#alice-1")), 1);
    assert_eq!(count(format!("REVOKED#{ISSUER}#jti#sign-in")), 1);
    assert_eq!(asked.len(), 5, "each token's own jti once: {asked:?}");
    assert_eq!(store.lookups(), 3, "one round trip per token at most");
}

#[tokio::test]
async fn a_decision_waiting_on_a_failed_lookup_follows_on_error() {
    let Memory {
        authorizer: a,
        store,
        ..
    } = with_memory(&[("TOKEN_CACHE_SIZE", "0"), ("REVOCATION_ON_ERROR", "deny")]).await;
    store.set_delay(Duration::from_millis(50));
    store.set_failing(true);
    let t = token("alice-1", json!({}));
    let (d1, d2) = tokio::join!(decide(&a, &t, "alice-1"), decide(&a, &t, "alice-1"));
    for d in [d1, d2] {
        assert_eq!(
            verdict(&d),
            (Outcome::Unauthorized, "revocation_unavailable")
        );
    }
    assert_eq!(store.lookups(), 1);
}

#[tokio::test]
async fn a_revocation_seen_before_the_table_failed_stays_in_force() {
    let Memory {
        authorizer: a,
        store,
        clock,
        ..
    } = with_memory(&[("TOKEN_CACHE_SIZE", "0")]).await;
    store.put(
        &format!("REVOKED#{ISSUER}#sub#alice-1"),
        Revocation::Subject {
            revoked_before: NOW,
            expires_at: NOW + 3600,
        },
    );
    let t = token("alice-1", json!({}));
    assert_eq!(verdict(&decide(&a, &t, "alice-1").await), REVOKED);
    store.set_failing(true);
    clock.advance(60);
    assert_eq!(
        verdict(&decide(&a, &t, "alice-1").await),
        REVOKED,
        "REVOCATION_ON_ERROR=allow never un-revokes what this container saw"
    );
    assert_eq!(
        verdict(&decide(&a, &token("bob-2", json!({})), "bob-2").await),
        ALLOWED,
        "the unknown is allowed, per REVOCATION_ON_ERROR=allow"
    );
}

#[tokio::test]
async fn revocation_on_needs_the_table() {
    let config = config(
        "http://127.0.0.1:9/jwks.json",
        &[("KEYS_TABLE_NAME", TABLE), ("REVOCATION", "on")],
    );
    let clock = Arc::new(ManualClock::new(NOW));
    assert!(Authorizer::new(&config, clock, None).is_err());
    let vars = [
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("REVOCATION", "on"),
    ];
    let map: std::collections::HashMap<&str, &str> = vars.into();
    let err =
        jwt_authorizer::Config::from_lookup(|n| map.get(n).map(|v| (*v).to_owned())).unwrap_err();
    assert_eq!(err.variable, "KEYS_TABLE_NAME");
}

#[test]
fn the_built_authorizer_fails_init_on_revocation_without_a_table() {
    let runtime = RuntimeApi::start();
    let env = [
        ("COGNITO_USER_POOL_ID", "us-east-1_Example1".to_owned()),
        ("JWT_AUDIENCE", "client".to_owned()),
        ("REVOCATION", "on".to_owned()),
    ];
    let child = runtime.spawn(std::path::Path::new(env!("CARGO_BIN_EXE_authorizer")), &env);
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let reported = runtime.init_errors();
    assert_eq!(reported.len(), 1, "{reported:?}");
    let message = reported[0].1["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("invalid configuration: KEYS_TABLE_NAME: required with REVOCATION=on"),
        "{message}"
    );
}
