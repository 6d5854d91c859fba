//! The cache of verified tokens cannot change a decision: each request still gets its own
//! policy, nothing is served past `exp`, a key reload or a tampered token forces a full
//! check, and disabling the cache gives the same answers.

use crate::common;

use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::Outcome;
use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_FOREIGN, mint, mint_with_header};
use serde_json::json;

async fn decide(
    a: &jwt_authorizer::Authorizer,
    kind: Kind,
    token: &str,
    user: &str,
) -> jwt_authorizer::Decision {
    a.decide(&event(kind, token, user).to_string()).await
}

#[tokio::test]
async fn a_repeated_token_is_a_hit_and_still_gets_the_policy_of_each_request() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let first = decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(!first.cached);
    for kind in ALL_KINDS {
        let own = decide(&a, kind, &token, "alice-1").await;
        assert!(own.cached, "{kind:?}");
        let fresh = event(kind, &token, "alice-1");
        assert!(grants(&own.answer, &fresh), "{kind:?}");
        assert_eq!(
            (own.kid.as_deref(), own.issuer.as_deref()),
            (Some("rsa-1"), Some(ISSUER))
        );
        let other = decide(&a, kind, &token, "bob-2").await;
        assert!(other.cached);
        let other_event = event(kind, &token, "bob-2");
        if kind != Kind::WebSocket {
            assert!(
                !grants(&other.answer, &other_event),
                "{kind:?}: a hit must not carry another request's policy"
            );
        }
        let arn = other_event
            .get("methodArn")
            .or_else(|| other_event.get("routeArn"))
            .unwrap()
            .as_str()
            .unwrap();
        let prefix = &arn[..arn.find('/').unwrap()];
        let answer = as_json(&other.answer).to_string();
        assert!(!answer.contains("bob-2"), "{kind:?}: {answer}");
        if kind != Kind::HttpApi {
            assert!(
                answer.contains(prefix),
                "{kind:?}: the policy is built for this request's API: {answer}"
            );
        }
    }
}

#[tokio::test]
async fn an_entry_is_never_served_past_exp() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    let mut c = claims("alice-1");
    c["exp"] = json!(NOW + 10);
    let token = mint(FixtureKey::Rsa, &c);
    assert_eq!(
        decide(&a, Kind::RestToken, &token, "alice-1").await.outcome,
        Outcome::Allow
    );
    clock.advance(9);
    let hit = decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(hit.cached && hit.outcome == Outcome::Allow);
    clock.advance(1);
    let expired = decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(!expired.cached);
    assert_eq!(
        (expired.outcome, expired.reason.as_str()),
        (Outcome::Unauthorized, "expired")
    );
}

#[tokio::test]
async fn a_key_reload_forces_a_full_check() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(decide(&a, Kind::RestToken, &token, "alice-1").await.cached);
    // The issuer now publishes another key under the same kid (rsa-1 revoked and replaced).
    jwks.set(Behavior::Serve(JWKS_FOREIGN.into()));
    clock.advance(31);
    let miss = mint_with_header(
        FixtureKey::Rsa,
        "RS256",
        &json!({"alg": "RS256", "kid": "rsa-9"}),
        &claims("alice-1"),
    );
    decide(&a, Kind::RestToken, &miss, "alice-1").await;
    let after = decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(!after.cached);
    assert_eq!(
        (after.outcome, after.reason.as_str()),
        (Outcome::Unauthorized, "bad_signature")
    );
}

#[tokio::test]
async fn a_tampered_copy_of_a_cached_token_is_checked_in_full() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    decide(&a, Kind::RestToken, &token, "alice-1").await;
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut sig = sig.to_owned();
    let last = sig.pop().unwrap();
    sig.push(if last == 'A' { 'B' } else { 'A' });
    let tampered = format!("{head}.{sig}");
    let decision = decide(&a, Kind::RestToken, &tampered, "alice-1").await;
    assert!(!decision.cached);
    assert_ne!(decision.outcome, Outcome::Allow);
    let bob = mint(FixtureKey::Rsa, &claims("bob-2"));
    let swapped = format!(
        "{}.{}.{}",
        token.split('.').next().unwrap(),
        bob.split('.').nth(1).unwrap(),
        token.rsplit('.').next().unwrap()
    );
    assert_eq!(
        decide(&a, Kind::RestToken, &swapped, "bob-2")
            .await
            .reason
            .as_str(),
        "bad_signature"
    );
}

#[tokio::test]
async fn disabling_the_cache_gives_the_same_answers() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (with, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let (without, _) = build_authorizer(&config(&jwks.url(), &[("TOKEN_CACHE_SIZE", "0")])).await;
    let tokens = [
        mint(FixtureKey::Rsa, &claims("alice-1")),
        mint(FixtureKey::Ec256, &claims("bob-2")),
        mint(FixtureKey::RsaForeign, &claims("alice-1")),
    ];
    for _ in 0..2 {
        for kind in ALL_KINDS {
            for token in &tokens {
                for user in ["alice-1", "bob-2"] {
                    let (a, b) = (
                        decide(&with, kind, token, user).await,
                        decide(&without, kind, token, user).await,
                    );
                    assert_eq!(as_json(&a.answer), as_json(&b.answer), "{kind:?} {user}");
                    assert!(!b.cached);
                }
            }
        }
    }
}

/// A token-cache hit still passes the revocation check: a revocation stored after the
/// token was cached refuses it from `REVOCATION_CACHE_SECONDS` on, and the cache never
/// turns a refused token back into an Allow.
#[tokio::test]
async fn a_cached_token_still_passes_the_revocation_check() {
    use jwt_authorizer::revocation::{MemoryStore, Revocation};
    use std::sync::Arc;

    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let vars = [
        ("KEYS_TABLE_NAME", "jwt-keys"),
        ("REVOCATION", "on"),
        ("REVOCATION_CACHE_SECONDS", "10"),
    ];
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(jwt_authorizer::ManualClock::new(NOW));
    let a = jwt_authorizer::Authorizer::with_revocation_store(
        &config(&jwks.url(), &vars),
        clock.clone(),
        None,
        store.clone(),
    )
    .unwrap();
    a.warm_up().await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    assert_eq!(
        decide(&a, Kind::RestToken, &token, "alice-1").await.outcome,
        Outcome::Allow
    );
    store.put(
        &format!("REVOKED#{ISSUER}#sub#alice-1"),
        Revocation::Subject {
            revoked_before: NOW,
            expires_at: NOW + 3600,
        },
    );
    let within = decide(&a, Kind::RestToken, &token, "alice-1").await;
    assert!(within.cached && within.outcome == Outcome::Allow);
    clock.advance(10);
    for _ in 0..2 {
        let refused = decide(&a, Kind::RestToken, &token, "alice-1").await;
        assert!(refused.cached, "the verified token is still cached");
        assert_eq!(
            (refused.outcome, refused.reason.as_str()),
            (Outcome::Unauthorized, "revoked")
        );
    }
    assert_eq!(
        store.lookups(),
        2,
        "one lookup per REVOCATION_CACHE_SECONDS"
    );
}

/// With `REVOCATION` unset, a cache hit does no revocation work at all.
#[tokio::test]
async fn without_revocation_a_cache_hit_looks_nothing_up() {
    use jwt_authorizer::metrics::Counter;

    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (a, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    assert!(a.verifier().revocations().is_none());
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    for _ in 0..3 {
        decide(&a, Kind::RestToken, &token, "alice-1").await;
    }
    assert_eq!(a.counters().get(Counter::RevocationLookups), 0);
}
