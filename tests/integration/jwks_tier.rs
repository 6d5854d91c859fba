//! The JWKS tier against a real HTTP endpoint on 127.0.0.1: prefetch at init, rotation,
//! cooldown-bounded reload on unknown kids, one shared in-flight fetch, and outages.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::http::{Response, Server};
use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::Outcome;
use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_ROTATED, mint, mint_with_header};
use serde_json::json;

fn token_with_kid(kid: &str) -> String {
    mint_with_header(
        FixtureKey::Rsa,
        "RS256",
        &json!({"alg": "RS256", "kid": kid}),
        &claims("alice-1"),
    )
}

#[tokio::test]
async fn keys_are_fetched_once_at_init_and_served_from_memory() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    assert_eq!(jwks.hits(), 1);
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    for _ in 0..20 {
        assert_eq!(
            authorizer
                .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
                .await
                .outcome,
            Outcome::Allow
        );
    }
    assert_eq!(jwks.hits(), 1);
}

#[tokio::test]
async fn rotation_new_kid_costs_one_fetch() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    jwks.set(Behavior::Serve(JWKS_ROTATED.into()));
    clock.advance(31);
    let rotated = mint(FixtureKey::RsaRotated, &claims("alice-1"));
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &rotated, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &rotated, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn a_flood_of_random_kids_costs_at_most_one_fetch_per_window() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    clock.advance(31);
    for i in 0..100 {
        let decision = authorizer
            .decide(
                &(event(
                    Kind::RestToken,
                    &token_with_kid(&format!("random-{i}")),
                    "alice-1",
                ))
                .to_string(),
            )
            .await;
        assert_eq!(decision.reason.as_str(), "unknown_kid");
    }
    assert_eq!(jwks.hits(), 2, "init + one reload for the whole flood");
    clock.advance(31);
    authorizer
        .decide(&(event(Kind::RestToken, &token_with_kid("random-again"), "alice-1")).to_string())
        .await;
    assert_eq!(jwks.hits(), 3, "the next window allows one more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_in_flight_fetch() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    jwks.set(Behavior::Delay(
        Duration::from_millis(300),
        JWKS_ROTATED.into(),
    ));
    clock.advance(31);
    let authorizer = Arc::new(authorizer);
    let rotated = mint(FixtureKey::RsaRotated, &claims("alice-1"));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (authorizer, token) = (Arc::clone(&authorizer), rotated.clone());
        tasks.spawn(async move {
            authorizer
                .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
                .await
                .outcome
        });
    }
    while let Some(outcome) = tasks.join_next().await {
        assert_eq!(outcome.unwrap(), Outcome::Allow);
    }
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn a_failed_reload_keeps_the_keys_it_had() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    for broken in [
        Behavior::Status(500),
        Behavior::Serve("garbage".into()),
        Behavior::Serve(r#"{"keys":[]}"#.into()),
    ] {
        jwks.set(broken.clone());
        clock.advance(31);
        let unknown = authorizer
            .decide(&(event(Kind::RestToken, &token_with_kid("rsa-2"), "alice-1")).to_string())
            .await;
        assert_eq!(unknown.reason.as_str(), "unknown_kid", "{broken:?}");
        assert_eq!(
            authorizer
                .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
                .await
                .outcome,
            Outcome::Allow,
            "{broken:?}"
        );
    }
    assert_eq!(jwks.hits(), 4);
}

#[tokio::test]
async fn issuer_down_at_init_denies_then_recovers_after_the_cooldown() {
    let jwks = JwksServer::start(Behavior::Status(503));
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    let decision = authorizer
        .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
        .await;
    assert_eq!(
        (decision.outcome, decision.reason.as_str()),
        (Outcome::Unauthorized, "keys_unavailable")
    );
    jwks.set(Behavior::Serve(JWKS.into()));
    let decision = authorizer
        .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
        .await;
    assert_eq!(
        decision.reason.as_str(),
        "keys_unavailable",
        "still inside the cooldown window"
    );
    clock.advance(31);
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    assert_eq!(jwks.hits(), 2);
}

#[tokio::test]
async fn a_hanging_endpoint_is_bounded_by_the_timeout() {
    let jwks = JwksServer::start(Behavior::Delay(Duration::from_secs(20), JWKS.into()));
    let started = Instant::now();
    let (authorizer, _) =
        build_authorizer(&config(&jwks.url(), &[("JWKS_TIMEOUT_MS", "300")])).await;
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    let decision = authorizer
        .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
        .await;
    assert_eq!(decision.reason.as_str(), "keys_unavailable");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn redirects_are_not_followed_and_big_bodies_are_refused() {
    let good = JwksServer::start(Behavior::Serve(JWKS.into()));
    let redirecting = JwksServer::start(Behavior::Redirect(good.url()));
    let (authorizer, _) = build_authorizer(&config(&redirecting.url(), &[])).await;
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
            .await
            .reason
            .as_str(),
        "keys_unavailable"
    );
    assert_eq!(good.hits(), 0);

    let mut padded: serde_json::Value = serde_json::from_str(JWKS).unwrap();
    padded["padding"] = json!("x".repeat(jwt_authorizer::keys::MAX_DOCUMENT_BYTES));
    let big = JwksServer::start(Behavior::Serve(padded.to_string()));
    let (authorizer, _) = build_authorizer(&config(&big.url(), &[])).await;
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &valid, "alice-1")).to_string())
            .await
            .reason
            .as_str(),
        "keys_unavailable"
    );
}

#[tokio::test]
async fn discovery_finds_the_jwks_uri_and_checks_the_issuer() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let jwks_url = jwks.url();
    let advertised = Arc::new(std::sync::Mutex::new(String::new()));
    let adv = Arc::clone(&advertised);
    let oidc = Server::start(move |request| {
        let issuer = adv.lock().unwrap().clone();
        Some(if request.path == "/.well-known/openid-configuration" {
            Response::new(
                200,
                json!({"issuer": issuer, "jwks_uri": jwks_url}).to_string(),
            )
        } else {
            Response::new(404, "")
        })
    });
    let issuer = oidc.url("");
    *advertised.lock().unwrap() = issuer.clone();
    let config = config_only(&[
        ("JWT_ISSUER", &issuer),
        ("JWT_AUDIENCE", AUDIENCE),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ]);
    let (authorizer, _) = build_authorizer(&config).await;
    let mut c = claims("alice-1");
    c["iss"] = json!(issuer);
    let token = mint(FixtureKey::Rsa, &c);
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    assert_eq!(jwks.hits(), 1);

    *advertised.lock().unwrap() = "https://someone-else.test".into();
    let (mismatched, _) = build_authorizer(&config).await;
    assert_eq!(
        mismatched
            .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
            .await
            .reason
            .as_str(),
        "keys_unavailable"
    );
    assert_eq!(
        jwks.hits(),
        1,
        "a discovery document for another issuer is not followed"
    );
}

#[tokio::test]
async fn failing_discovery_obeys_the_cooldown() {
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    let oidc = Server::start(move |_| {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Some(Response::new(500, ""))
    });
    let issuer = oidc.url("");
    let config = config_only(&[("JWT_ISSUER", &issuer), ("JWT_AUDIENCE", AUDIENCE)]);
    let (authorizer, clock) = build_authorizer(&config).await;
    let mut c = claims("alice-1");
    c["iss"] = json!(issuer);
    let token = mint(FixtureKey::Rsa, &c);
    for _ in 0..20 {
        let decision = authorizer
            .decide(&event(Kind::RestToken, &token, "alice-1").to_string())
            .await;
        assert_eq!(decision.reason.as_str(), "keys_unavailable");
    }
    assert_eq!(
        hits.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "one discovery attempt per cooldown window"
    );
    clock.advance(31);
    authorizer
        .decide(&event(Kind::RestToken, &token, "alice-1").to_string())
        .await;
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);
}
