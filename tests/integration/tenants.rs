//! The tenant registry through the real AWS SDK against moto_server's DynamoDB on
//! 127.0.0.1 (SPEC.md "Tenants"): a registered issuer on every event kind with its
//! `tenant` context value and `{tenant}` template; a flood of random issuers (reads and
//! memory bounded, never an Allow); items that do not parse, have wrong types or name an
//! issuer outside the patterns; `issuers disable` within `TENANT_CACHE_SECONDS` (cached
//! tokens included) with the other tenants unaffected; the table down (known issuers
//! keep serving, unknown ones are refused and tried again); a configured issuer winning
//! over a registry item with the same `iss`; the refresher covering active registered
//! issuers.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::dynamo::{moto_with_table, put_raw};
use common::jwks_server::{Behavior, JwksServer};
use common::moto::Moto;
use common::*;
use jwt_authorizer::config::RefresherConfig;
use jwt_authorizer::events::Kind;
use jwt_authorizer::issuers::{Registration, Status, TableRegistry};
use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::metrics::Counter;
use jwt_authorizer::refresh::Refresher;
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use jwt_authorizer::{Authorizer, Decision, ManualClock, Outcome};
use serde_json::{Value, json};

const TABLE: &str = "jwt-keys";
const PATTERN: &str = "https://tenants.test/*";
const ACME: &str = "https://tenants.test/acme";
const GLOBEX: &str = "https://tenants.test/globex";

struct World {
    moto: Option<Moto>,
    sdk: aws_config::SdkConfig,
    jwks: JwksServer,
}

async fn world() -> World {
    let (moto, sdk) = moto_with_table(TABLE).await;
    World {
        moto: Some(moto),
        sdk,
        jwks: JwksServer::start(Behavior::Serve(JWKS.into())),
    }
}

impl World {
    fn registry(&self) -> TableRegistry {
        TableRegistry::new(&KeyTable::new(&self.sdk, TABLE))
    }

    /// Registers `issuer` (audience `{tenant}-client`, keys at the loopback JWKS).
    async fn register(&self, issuer: &str, tenant: &str) {
        self.registry()
            .put(&Registration {
                issuer: issuer.into(),
                audience: vec![format!("{tenant}-client")],
                status: Status::Active,
                updated_at: NOW,
                tenant: Some(tenant.into()),
                cognito_user_pool_id: None,
                token_use: None,
                jwks_url: Some(self.jwks.url()),
                algorithms: None,
            })
            .await
            .unwrap();
    }

    /// A container with the registry on (cache 60 s, 5 lookups a second) plus `vars`.
    async fn container(&self, vars: &[(&str, &str)]) -> (Authorizer, Arc<ManualClock>) {
        let mut all = vec![
            ("TENANT_REGISTRY", "on"),
            ("TENANT_ISSUER_PATTERN", PATTERN),
            (
                "POLICY_RESOURCES",
                "GET/hello/{sub},GET/tenants/{tenant}/*,$connect",
            ),
        ];
        all.extend_from_slice(vars);
        common::dynamo::container(&self.sdk, TABLE, &self.jwks.url(), NOW, &all).await
    }
}

/// A token of `issuer`'s tenant for `sub`.
fn tenant_token(issuer: &str, tenant: &str, sub: &str) -> String {
    let mut claims = claims(sub);
    claims["iss"] = json!(issuer);
    claims["aud"] = json!(format!("{tenant}-client"));
    mint(FixtureKey::Rsa, &claims)
}

async fn decide(authorizer: &Authorizer, kind: Kind, token: &str) -> Decision {
    authorizer
        .decide(&event(kind, token, "alice").to_string())
        .await
}

fn resources(decision: &Decision) -> Vec<String> {
    let answer = as_json(&decision.answer);
    answer["policyDocument"]["Statement"][0]["Resource"]
        .as_array()
        .map(|r| r.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_registered_issuer_is_accepted_on_every_kind_with_its_tenant() {
    let world = world().await;
    world.register(ACME, "acme").await;
    let (authorizer, _) = world.container(&[]).await;
    let token = tenant_token(ACME, "acme", "alice");
    for kind in ALL_KINDS {
        let decision = decide(&authorizer, kind, &token).await;
        assert_eq!(decision.outcome, Outcome::Allow, "{kind:?}");
        assert_eq!(decision.tenant.as_deref(), Some("acme"));
        assert_eq!(decision.issuer.as_deref(), Some(ACME));
        let answer = as_json(&decision.answer);
        assert_eq!(answer["context"]["tenant"], "acme", "{kind:?}");
        assert!(
            resources(&decision)
                .iter()
                .any(|r| r.ends_with("/GET/tenants/acme/*")),
            "{kind:?}: {answer}"
        );
    }
    assert_eq!(
        authorizer.counters().get(Counter::RegistryLookups),
        1,
        "one read serves every later decision within TENANT_CACHE_SECONDS"
    );
    // A configured issuer's token has no tenant: `{tenant}` grants it nothing, and a
    // `tenant` claim neither fills it nor reaches the context.
    let mut configured = claims("alice");
    configured["tenant"] = json!("acme");
    let decision = decide(
        &authorizer,
        Kind::RestRequest,
        &mint(FixtureKey::Rsa, &configured),
    )
    .await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert!(
        !resources(&decision).iter().any(|r| r.contains("/tenants/")),
        "{:?}",
        resources(&decision)
    );
    assert_eq!(as_json(&decision.answer)["context"].get("tenant"), None);
}

#[tokio::test]
async fn a_registered_issuers_tokens_get_every_check_of_a_configured_one() {
    let world = world().await;
    world.register(ACME, "acme").await;
    let (authorizer, _) = world.container(&[]).await;
    let mut wrong_audience = claims("alice");
    wrong_audience["iss"] = json!(ACME);
    let forged = {
        let mut c = claims("alice");
        c["iss"] = json!(ACME);
        c["aud"] = json!("acme-client");
        mint(FixtureKey::RsaForeign, &c)
    };
    for (token, reason) in [
        (mint(FixtureKey::Rsa, &wrong_audience), "audience"),
        (forged, "bad_signature"),
    ] {
        let decision = decide(&authorizer, Kind::RestRequest, &token).await;
        assert_eq!(decision.outcome, Outcome::Unauthorized);
        assert_eq!(decision.reason.as_str(), reason);
    }
}

#[tokio::test]
async fn a_flood_of_random_issuers_costs_bounded_reads_and_memory_and_never_allows() {
    let world = world().await;
    world.register(ACME, "acme").await;
    let (authorizer, clock) = world.container(&[]).await;
    let started = Instant::now();
    for second in 0..3u64 {
        for i in 0..300 {
            let inside = format!("https://tenants.test/random-{second}-{i}");
            let outside = format!("https://evil.test/{second}/{i}");
            for issuer in [inside, outside] {
                let token = tenant_token(&issuer, "acme", "alice");
                let decision = decide(&authorizer, Kind::HttpApi, &token).await;
                assert_ne!(decision.outcome, Outcome::Allow, "{issuer}");
                assert_eq!(decision.reason.as_str(), "unknown_issuer", "{issuer}");
                assert_eq!(decision.issuer, None, "an unknown iss is never logged");
            }
        }
        clock.advance(1);
    }
    let counters = authorizer.counters();
    let lookups = counters.get(Counter::RegistryLookups);
    // A full bucket (5) then 5 a second for the two seconds that passed.
    assert!(lookups <= 15, "{lookups} reads for 1800 random issuers");
    assert!(counters.get(Counter::RegistryOverBudget) >= 885);
    let registry = authorizer.verifier().issuers().registry().unwrap();
    assert!(
        registry.remembered() <= 15,
        "{} remembered",
        registry.remembered()
    );
    // The registered tenant still gets in: its first read had budget left.
    clock.advance(1);
    let decision = decide(&authorizer, Kind::HttpApi, &tenant_token(ACME, "acme", "a")).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    eprintln!(
        "flood: 1800 random issuers in {:?}, {lookups} registry reads",
        started.elapsed()
    );
}

#[tokio::test]
async fn items_that_do_not_parse_or_name_another_issuer_are_ignored() {
    let world = world().await;
    let pk = |iss: &str| ("PK", AttributeValue::S(format!("ISSUER#{iss}")));
    let s = |v: &str| AttributeValue::S(v.into());
    let audience = AttributeValue::L(vec![s("acme-client")]);
    let jwks_url = world.jwks.url();
    let bad: Vec<(&str, Vec<(&str, AttributeValue)>)> = vec![
        // audience as a string, not a list
        (
            "https://tenants.test/t1",
            vec![
                pk("https://tenants.test/t1"),
                ("issuer", s("https://tenants.test/t1")),
                ("audience", s("acme-client")),
                ("status", s("active")),
                ("updated_at", AttributeValue::N(NOW.to_string())),
                ("jwks_url", s(&jwks_url)),
            ],
        ),
        // status of another type
        (
            "https://tenants.test/t2",
            vec![
                pk("https://tenants.test/t2"),
                ("issuer", s("https://tenants.test/t2")),
                ("audience", audience.clone()),
                ("status", AttributeValue::Bool(true)),
                ("updated_at", AttributeValue::N(NOW.to_string())),
                ("jwks_url", s(&jwks_url)),
            ],
        ),
        // the item's issuer is another one (outside the patterns)
        (
            "https://tenants.test/t3",
            vec![
                pk("https://tenants.test/t3"),
                ("issuer", s("https://evil.test/t3")),
                ("audience", audience.clone()),
                ("status", s("active")),
                ("updated_at", AttributeValue::N(NOW.to_string())),
                ("jwks_url", s(&jwks_url)),
            ],
        ),
        // HS256 for a registered issuer, and a tenant that would widen a template
        (
            "https://tenants.test/t4",
            vec![
                pk("https://tenants.test/t4"),
                ("issuer", s("https://tenants.test/t4")),
                ("audience", audience.clone()),
                ("status", s("active")),
                ("updated_at", AttributeValue::N(NOW.to_string())),
                ("jwks_url", s(&jwks_url)),
                ("algorithms", AttributeValue::L(vec![s("HS256")])),
            ],
        ),
        (
            "https://tenants.test/t5",
            vec![
                pk("https://tenants.test/t5"),
                ("issuer", s("https://tenants.test/t5")),
                ("audience", audience.clone()),
                ("status", s("active")),
                ("updated_at", AttributeValue::N(NOW.to_string())),
                ("jwks_url", s(&jwks_url)),
                ("tenant", s("*")),
            ],
        ),
    ];
    for (_, item) in &bad {
        put_raw(&world.sdk, TABLE, item).await;
    }
    // An item outside the patterns is never even read.
    put_raw(
        &world.sdk,
        TABLE,
        &[
            pk("https://evil.test/t6"),
            ("issuer", s("https://evil.test/t6")),
            ("audience", audience.clone()),
            ("status", s("active")),
            ("updated_at", AttributeValue::N(NOW.to_string())),
            ("jwks_url", s(&jwks_url)),
        ],
    )
    .await;
    let (authorizer, _) = world.container(&[]).await;
    for iss in bad
        .iter()
        .map(|(iss, _)| *iss)
        .chain(["https://evil.test/t6"])
    {
        for kind in ALL_KINDS {
            let decision = decide(&authorizer, kind, &tenant_token(iss, "acme", "alice")).await;
            assert_ne!(decision.outcome, Outcome::Allow, "{iss} {kind:?}");
            assert_eq!(decision.reason.as_str(), "unknown_issuer", "{iss}");
        }
    }
    assert_eq!(
        authorizer.counters().get(Counter::RegistryLookups),
        5,
        "one read per item within the patterns, none for the one outside"
    );
}

#[tokio::test]
async fn disable_refuses_a_tenant_within_the_cache_seconds_and_leaves_the_others() {
    let world = world().await;
    world.register(ACME, "acme").await;
    world.register(GLOBEX, "globex").await;
    let (authorizer, clock) = world.container(&[("TENANT_CACHE_SECONDS", "30")]).await;
    let acme = tenant_token(ACME, "acme", "alice");
    let globex = tenant_token(GLOBEX, "globex", "bob");
    for token in [&acme, &globex] {
        assert_eq!(
            decide(&authorizer, Kind::RestRequest, token).await.outcome,
            Outcome::Allow
        );
    }
    assert!(
        decide(&authorizer, Kind::RestRequest, &acme).await.cached,
        "the token cache holds it"
    );
    assert!(
        world
            .registry()
            .set_status(ACME, Status::Disabled, NOW)
            .await
            .unwrap()
    );
    clock.advance(29);
    assert_eq!(
        decide(&authorizer, Kind::RestRequest, &acme).await.outcome,
        Outcome::Allow,
        "within TENANT_CACHE_SECONDS the last read stands"
    );
    clock.advance(1);
    for kind in ALL_KINDS {
        let decision = decide(&authorizer, kind, &acme).await;
        assert_ne!(decision.outcome, Outcome::Allow, "{kind:?}");
        assert_eq!(decision.reason.as_str(), "issuer_disabled", "{kind:?}");
        let decision = decide(&authorizer, kind, &globex).await;
        assert_eq!(decision.outcome, Outcome::Allow, "{kind:?}");
    }
    // A fresh container refuses it from its first decision.
    let (fresh, _) = world.container(&[]).await;
    assert_eq!(
        decide(&fresh, Kind::HttpApi, &acme).await.reason.as_str(),
        "issuer_disabled"
    );
    // enable brings it back after the next read.
    world
        .registry()
        .set_status(ACME, Status::Active, NOW)
        .await
        .unwrap();
    clock.advance(30);
    assert_eq!(
        decide(&authorizer, Kind::RestRequest, &acme).await.outcome,
        Outcome::Allow
    );
}

#[tokio::test]
async fn with_the_table_down_known_issuers_serve_and_unknown_ones_are_refused_then_retried() {
    let mut world = world().await;
    world.register(ACME, "acme").await;
    world.register(GLOBEX, "globex").await;
    let (authorizer, clock) = world.container(&[("TENANT_CACHE_SECONDS", "30")]).await;
    let acme = tenant_token(ACME, "acme", "alice");
    let globex = tenant_token(GLOBEX, "globex", "bob");
    assert_eq!(
        decide(&authorizer, Kind::RestRequest, &acme).await.outcome,
        Outcome::Allow
    );
    drop(world.moto.take());
    clock.advance(31);
    let started = Instant::now();
    let decision = decide(&authorizer, Kind::RestRequest, &acme).await;
    assert_eq!(decision.outcome, Outcome::Allow, "stale beats down");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let counters = authorizer.counters();
    assert_eq!(counters.get(Counter::RegistryErrors), 1);
    // Within a second of the failure the container does not read again.
    assert_eq!(
        decide(&authorizer, Kind::RestRequest, &acme).await.outcome,
        Outcome::Allow
    );
    assert_eq!(counters.get(Counter::RegistryErrors), 1);
    // An issuer never read is refused, and the next invocation tries again.
    for attempt in 1..=2 {
        let started = Instant::now();
        let decision = decide(&authorizer, Kind::HttpApi, &globex).await;
        assert_ne!(decision.outcome, Outcome::Allow);
        assert_eq!(decision.reason.as_str(), "registry_unavailable");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(counters.get(Counter::RegistryErrors), 1 + attempt);
    }
}

#[tokio::test]
async fn a_configured_issuer_wins_over_a_registry_item_with_the_same_iss() {
    let world = world().await;
    // An item naming the configured issuer with another audience and a tenant.
    world
        .registry()
        .put(&Registration {
            issuer: ISSUER.into(),
            audience: vec!["someone-else".into()],
            status: Status::Disabled,
            updated_at: NOW,
            tenant: Some("evil".into()),
            cognito_user_pool_id: None,
            token_use: None,
            jwks_url: Some(world.jwks.url()),
            algorithms: None,
        })
        .await
        .unwrap();
    let (authorizer, _) = world
        .container(&[(
            "TENANT_ISSUER_PATTERN",
            "https://issuer.test,https://tenants.test/*",
        )])
        .await;
    let decision = decide(
        &authorizer,
        Kind::RestRequest,
        &mint(FixtureKey::Rsa, &claims("alice")),
    )
    .await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(decision.tenant, None);
    assert_eq!(as_json(&decision.answer)["context"].get("tenant"), None);
    assert_eq!(authorizer.counters().get(Counter::RegistryLookups), 0);
}

#[tokio::test]
async fn the_refresher_refreshes_every_active_registered_issuer() {
    let world = world().await;
    world.register(ACME, "acme").await;
    let globex_jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    world
        .registry()
        .put(&Registration {
            issuer: GLOBEX.into(),
            audience: vec!["globex-client".into()],
            status: Status::Disabled,
            updated_at: NOW,
            tenant: None,
            cognito_user_pool_id: None,
            token_use: None,
            jwks_url: Some(globex_jwks.url()),
            algorithms: None,
        })
        .await
        .unwrap();
    let vars: HashMap<&str, String> = HashMap::from([
        ("KEYS_TABLE_NAME", TABLE.to_owned()),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWKS_URL", "http://127.0.0.1:9/configured.json".to_owned()),
        ("TENANT_REGISTRY", "on".to_owned()),
        ("TENANT_ISSUER_PATTERN", PATTERN.to_owned()),
        ("JWKS_TIMEOUT_MS", "300".to_owned()),
    ]);
    let config = RefresherConfig::from_lookup(|n| vars.get(n).cloned()).unwrap();
    let refresher = Refresher::new(
        &config,
        KeyTable::new(&world.sdk, TABLE),
        Arc::new(ManualClock::new(NOW)),
    )
    .unwrap();
    let summary = refresher.run().await;
    assert!(
        summary.refreshed.contains_key(&world.jwks.url()),
        "{summary:?}"
    );
    assert!(!summary.refreshed.contains_key(&globex_jwks.url()));
    assert_eq!(globex_jwks.hits(), 0, "a disabled issuer is not refreshed");
    assert!(
        summary
            .failed
            .contains_key("http://127.0.0.1:9/configured.json"),
        "{summary:?}"
    );
    let stored =
        common::dynamo::raw_item_pk(&world.sdk, TABLE, &format!("JWKS#{}", world.jwks.url()))
            .await
            .expect("the registered issuer's keys item");
    assert!(stored["jwks"].as_s().unwrap().contains("rsa-1"));
    let _ = Value::Null;
}
