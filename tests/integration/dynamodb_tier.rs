//! The DynamoDB tier through the real AWS SDK against moto_server on 127.0.0.1, with a
//! JWKS endpoint on loopback whose requests are counted: write-through, cold starts served
//! by the table, rotation, floods, outages of either side, and the conditional write.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dynamo::{self, DeadEndpoint, moto_with_table, n, raw_item, s, sdk};
use common::jwks_server::{Behavior, JwksServer};
use common::moto::Moto;
use common::*;
use jwt_authorizer::events::Kind;
use jwt_authorizer::keys::record::Stored;
use jwt_authorizer::keys::{KeyRecord, KeyTable};
use jwt_authorizer::metrics::Counter;
use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_ROTATED, mint, mint_with_header};
use jwt_authorizer::{Authorizer, ManualClock, Outcome};
use serde_json::json;

const TABLE: &str = "jwt-keys";

struct World {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    jwks: JwksServer,
}

async fn world(behavior: Behavior) -> World {
    let (moto, sdk) = moto_with_table(TABLE).await;
    World {
        moto,
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
    dynamo::container(sdk, TABLE, jwks_url, now, vars).await
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
        (Outcome::Allow, Some(jwt_authorizer::keys::Tier::Memory))
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
        (Outcome::Allow, Some(jwt_authorizer::keys::Tier::Jwks))
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
        .put(
            &KeyRecord::fetched(&w.jwks.url(), JWKS_ROTATED.into(), NOW + 10, 1_296_000),
            NOW,
            None,
        )
        .await
        .unwrap();
    clock.advance(31);
    let decision = decide(&old, &mint(FixtureKey::RsaRotated, &claims("alice-1"))).await;
    assert_eq!(
        (decision.outcome, decision.key_tier),
        (Outcome::Allow, Some(jwt_authorizer::keys::Tier::Table))
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
        assert_eq!(decide(&a, &token).await.reason.as_str(), "unknown_kid");
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
    // No moto: the table is the dead endpoint.
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let started = Instant::now();
    let (a, _) = container(&dead_sdk, &jwks.url(), NOW, &[]).await;
    let decision = decide(&a, &valid()).await;
    let elapsed = started.elapsed();
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(jwks.hits(), 1);
    assert!(a.counters().get(Counter::TableErrors) >= 1);
    assert!(
        elapsed < Duration::from_millis(2500),
        "a dead table cost {elapsed:?}"
    );
}

/// A slow CPU is not an outage: at Lambda init the read waits out a table that answers
/// slower than a request's attempt allows (what a 128 MB CPU share does to a TLS
/// handshake), so the cold start is served by the table, not the issuer; on a request the
/// same slowness is cut short by the request's budget, and the keys in memory serve.
#[tokio::test]
async fn a_slow_table_is_waited_out_at_init_and_cut_short_on_a_request() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let _filler = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    assert_eq!(w.jwks.hits(), 1);
    let slow = common::dynamo::SlowEndpoint::start(&w.moto.endpoint, Duration::from_millis(500));
    let slow_sdk = sdk(&slow.url).await;
    let started = Instant::now();
    let (a, clock) = container(&slow_sdk, &w.jwks.url(), NOW + 5, &[]).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the read went through the slow proxy"
    );
    assert_eq!(
        w.jwks.hits(),
        1,
        "served by the slow table: the issuer was not asked"
    );
    assert_eq!(a.counters().get(Counter::TableErrors), 0);

    clock.advance(901);
    let started = Instant::now();
    let decision = decide(&a, &valid()).await;
    let elapsed = started.elapsed();
    assert_eq!(decision.outcome, Outcome::Allow, "memory's live keys serve");
    assert!(
        a.counters().get(Counter::TableErrors) >= 1,
        "the request's re-read timed out"
    );
    assert!(
        elapsed < Duration::from_millis(1000),
        "a request's read is cut short: {elapsed:?}"
    );
}

/// The other side: at init, a table that accepts the connection and never answers still
/// costs under a second before the issuer is asked.
#[tokio::test]
async fn a_hanging_table_at_init_costs_under_a_second() {
    // No moto: the table is the dead endpoint.
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let started = Instant::now();
    let (a, _) = container(&dead_sdk, &jwks.url(), NOW, &[]).await;
    let elapsed = started.elapsed();
    assert_eq!(jwks.hits(), 1);
    assert_eq!(
        a.counters().get(Counter::TableErrors),
        1,
        "one bounded read, no retry"
    );
    assert!(
        elapsed >= Duration::from_millis(850) && elapsed < Duration::from_millis(1500),
        "the init read is bounded at 0.9 s: {elapsed:?}"
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
            decide(&live, &rotated).await.reason.as_str(),
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
            decide(&expired, &valid()).await.reason.as_str(),
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
            (decision.outcome, decision.reason.as_str()),
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
        .put(
            &KeyRecord {
                jwks_url: w.jwks.url(),
                jwks: JWKS.into(),
                fetched_at: NOW - 100,
                expires_at: NOW - 1,
            },
            NOW,
            None,
        )
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
async fn a_write_never_replaces_a_newer_item_but_replaces_one_of_the_same_second() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let table = KeyTable::new(&w.sdk, TABLE);
    let url = "https://issuer.test/jwks";
    assert!(
        table
            .put(&KeyRecord::fetched(url, JWKS.into(), 2_000, 60), NOW, None)
            .await
            .unwrap()
    );
    let newer = raw_item(&w.sdk, TABLE, url).await.unwrap();
    assert!(
        !table
            .put(
                &KeyRecord::fetched(url, JWKS_ROTATED.into(), 1_000, 60),
                NOW,
                None
            )
            .await
            .unwrap()
    );
    assert_eq!(raw_item(&w.sdk, TABLE, url).await.unwrap(), newer);
    // Finding 9: a rotation fetched in the same second as the last write is stored (a
    // strict "older" condition lost the new kid until the next fetch).
    assert!(
        table
            .put(
                &KeyRecord::fetched(url, JWKS_ROTATED.into(), 2_000, 60),
                NOW,
                None
            )
            .await
            .unwrap(),
        "equal fetched_at replaces"
    );
    assert_eq!(
        s(&raw_item(&w.sdk, TABLE, url).await.unwrap(), "jwks"),
        JWKS_ROTATED
    );
    assert!(
        table
            .put(
                &KeyRecord::fetched(url, JWKS_ROTATED.into(), 3_000, 60),
                NOW,
                None
            )
            .await
            .unwrap()
    );
    assert_eq!(
        s(&raw_item(&w.sdk, TABLE, url).await.unwrap(), "jwks"),
        JWKS_ROTATED
    );
    let Some(Stored::Usable(stored)) = table
        .get::<KeyRecord>(url, NOW, jwt_authorizer::keys::Budget::Request)
        .await
        .unwrap()
    else {
        panic!("the item should read back");
    };
    assert_eq!((stored.fetched_at, stored.expires_at), (3_000, 3_060));
}

/// Defect 1: a cold start from the table spent the JWKS cooldown without a request, so a
/// key rotated right after it was refused with no JWKS request at all.
#[tokio::test]
async fn a_key_rotated_right_after_a_cold_start_from_the_table_is_fetched_at_once() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let _filler = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    let (from_table, clock) = container(&w.sdk, &w.jwks.url(), NOW + 60, &[]).await;
    assert_eq!(
        w.jwks.hits(),
        1,
        "the second cold start read the table only"
    );
    w.jwks.set(Behavior::Serve(JWKS_ROTATED.into()));
    clock.advance(1);
    let decision = decide(
        &from_table,
        &mint(FixtureKey::RsaRotated, &claims("alice-1")),
    )
    .await;
    assert_eq!(
        (decision.outcome, decision.key_tier),
        (Outcome::Allow, Some(jwt_authorizer::keys::Tier::Jwks))
    );
    assert_eq!(w.jwks.hits(), 2, "one JWKS request, right away");
    let item = raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap();
    assert_eq!(
        (s(&item, "jwks"), n(&item, "fetched_at")),
        (JWKS_ROTATED, NOW + 61),
        "and the write-through went through"
    );
}

/// An OIDC issuer on loopback: discovery and its JWKS, both switchable off.
struct OidcIssuer {
    server: common::http::Server,
    up: Arc<std::sync::atomic::AtomicBool>,
    hits: Arc<std::sync::atomic::AtomicUsize>,
}

impl OidcIssuer {
    fn start() -> Self {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        let up = Arc::new(AtomicBool::new(true));
        let hits = Arc::new(AtomicUsize::new(0));
        let issuer = Arc::new(std::sync::Mutex::new(String::new()));
        let (u, h, i) = (Arc::clone(&up), Arc::clone(&hits), Arc::clone(&issuer));
        let server = common::http::Server::start(move |request| {
            h.fetch_add(1, Ordering::SeqCst);
            let issuer = i.lock().unwrap().clone();
            Some(match (u.load(Ordering::SeqCst), request.path.as_str()) {
                (false, _) => common::http::Response::new(503, "down"),
                (true, "/.well-known/openid-configuration") => common::http::Response::new(
                    200,
                    json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")}).to_string(),
                ),
                (true, "/keys") => common::http::Response::new(200, JWKS),
                (true, _) => common::http::Response::new(404, ""),
            })
        });
        *issuer.lock().unwrap() = server.url("");
        Self { server, up, hits }
    }

    fn issuer(&self) -> String {
        self.server.url("")
    }

    fn hits(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Defect 2: with `JWKS_URL` unset, a cold start returned before reading the table when
/// discovery failed, although the table held live keys.
#[tokio::test]
async fn a_discovery_issuer_cold_starts_from_the_table_while_it_is_down() {
    let (_moto, sdk) = moto_with_table(TABLE).await;
    let oidc = OidcIssuer::start();
    let issuer = oidc.issuer();
    let vars = |now| {
        let config = config_only(&[
            ("JWT_ISSUER", issuer.as_str()),
            ("JWT_AUDIENCE", AUDIENCE),
            ("POLICY_RESOURCES", "GET/hello/{sub}"),
            ("KEYS_TABLE_NAME", TABLE),
        ]);
        (config, Arc::new(ManualClock::new(now)))
    };
    let (config, clock) = vars(NOW);
    let first = Authorizer::new(&config, clock, Some(KeyTable::new(&sdk, TABLE))).unwrap();
    first.warm_up().await;
    assert_eq!(oidc.hits(), 2, "discovery, then the JWKS");
    let discovery = common::dynamo::raw_item_pk(&sdk, TABLE, &format!("DISCOVERY#{issuer}"))
        .await
        .expect("the discovery item is written with the keys");
    assert_eq!(s(&discovery, "jwks_uri"), format!("{issuer}/keys"));
    assert_eq!(n(&discovery, "fetched_at"), NOW);

    oidc.up.store(false, std::sync::atomic::Ordering::SeqCst);
    let (config, clock) = vars(NOW + 600);
    let second = Authorizer::new(&config, clock, Some(KeyTable::new(&sdk, TABLE))).unwrap();
    second.warm_up().await;
    assert_eq!(oidc.hits(), 2, "the issuer was not asked");
    assert_eq!(second.counters().get(Counter::TableReads), 2);
    let mut c = claims("alice-1");
    c["iss"] = json!(issuer);
    let decision = decide(&second, &mint(FixtureKey::Rsa, &c)).await;
    assert_eq!(decision.outcome, Outcome::Allow);
}

/// Defect 3: an item whose `fetched_at` lies far ahead blocked every write forever and
/// was re-installed over freshly fetched keys; one whose attributes don't parse made the
/// table count as down and stopped write-through. Each now counts as absent and the next
/// fetch replaces it.
#[tokio::test]
async fn a_poisoned_item_counts_as_absent_and_the_next_fetch_replaces_it() {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let far = (NOW + 10 * 365 * 86_400).to_string();
    let soon = (NOW + 100).to_string();
    let cases: Vec<(&str, Vec<(&str, aws_sdk_dynamodb::types::AttributeValue)>)> = vec![
        (
            "fetched_at years ahead, holding other keys",
            vec![
                ("jwks", S(JWKS_ROTATED.into())),
                ("fetched_at", N(far.clone())),
                ("expires_at", N(far.clone())),
            ],
        ),
        (
            "fetched_at a string",
            vec![
                ("jwks", S(JWKS.into())),
                ("fetched_at", S(soon.clone())),
                ("expires_at", N(far.clone())),
            ],
        ),
        (
            "jwks that parses into no key, fetched_at a little ahead",
            vec![
                ("jwks", S("garbage".into())),
                ("fetched_at", N(soon.clone())),
                ("expires_at", N(far.clone())),
            ],
        ),
        (
            "no expires_at",
            vec![("jwks", S(JWKS.into())), ("fetched_at", N(soon.clone()))],
        ),
        (
            "jwks a number",
            vec![
                ("jwks", N("5".into())),
                ("fetched_at", N(soon)),
                ("expires_at", N(far)),
            ],
        ),
    ];
    for (label, attributes) in cases {
        let w = world(Behavior::Serve(JWKS.into())).await;
        let pk = S(format!("JWKS#{}", w.jwks.url()));
        let mut item = vec![("PK", pk)];
        item.extend(attributes);
        common::dynamo::put_raw(&w.sdk, TABLE, &item).await;
        let (a, clock) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
        assert_eq!(w.jwks.hits(), 1, "{label}: the issuer was asked");
        assert_eq!(
            a.counters().get(Counter::TableErrors),
            0,
            "{label}: the table is not down"
        );
        assert_eq!(
            a.counters().get(Counter::TableWrites),
            1,
            "{label}: written through"
        );
        let stored = raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap();
        assert_eq!(
            (s(&stored, "jwks"), n(&stored, "fetched_at")),
            (JWKS, NOW),
            "{label}"
        );
        // Once the memory window passes, the re-read finds the good item, not the poison.
        clock.advance(901);
        assert_eq!(
            decide(&a, &valid()).await.outcome,
            Outcome::Allow,
            "{label}"
        );
        assert_eq!(w.jwks.hits(), 1, "{label}");
    }
}

#[tokio::test]
async fn the_refresher_replaces_a_poisoned_item_instead_of_failing() {
    use aws_sdk_dynamodb::types::AttributeValue::{N, S};
    let w = world(Behavior::Serve(JWKS.into())).await;
    let far = (NOW + 10 * 365 * 86_400).to_string();
    for poison in [
        vec![
            ("jwks", S("{\"keys\":[]}".into())),
            ("fetched_at", N((NOW + 10).to_string())),
            ("expires_at", N(far.clone())),
        ],
        vec![
            ("jwks", S(JWKS.into())),
            ("fetched_at", N(far.clone())),
            ("expires_at", N(far.clone())),
        ],
        vec![
            ("jwks", S(JWKS.into())),
            ("fetched_at", N("1.5".into())),
            ("expires_at", S("x".into())),
        ],
    ] {
        let mut item = vec![("PK", S(format!("JWKS#{}", w.jwks.url())))];
        item.extend(poison);
        common::dynamo::put_raw(&w.sdk, TABLE, &item).await;
        let map: std::collections::HashMap<String, String> = [
            ("JWT_ISSUER", ISSUER),
            ("JWKS_URL", w.jwks.url().as_str()),
            ("KEYS_TABLE_NAME", TABLE),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let config =
            jwt_authorizer::config::RefresherConfig::from_lookup(|n| map.get(n).cloned()).unwrap();
        let summary = jwt_authorizer::refresh::Refresher::new(
            &config,
            KeyTable::new(&w.sdk, TABLE),
            Arc::new(ManualClock::new(NOW)),
        )
        .unwrap()
        .run()
        .await;
        assert!(summary.failed.is_empty(), "{summary:?}");
        let refreshed = &summary.refreshed[&w.jwks.url()];
        assert!(refreshed.changed && refreshed.written, "{summary:?}");
        let stored = raw_item(&w.sdk, TABLE, &w.jwks.url()).await.unwrap();
        assert_eq!((s(&stored, "jwks"), n(&stored, "fetched_at")), (JWKS, NOW));
    }
}

/// Defect 6: cooldowns and windows ran on the wall clock, so a clock stepping back froze
/// them.
#[tokio::test]
async fn a_wall_clock_stepping_back_does_not_freeze_the_cooldown() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let (a, clock) = container(&w.sdk, &w.jwks.url(), NOW, &[]).await;
    w.jwks.set(Behavior::Serve(JWKS_ROTATED.into()));
    let rotated = mint(FixtureKey::RsaRotated, &claims("alice-1"));
    clock.advance(1);
    assert_eq!(decide(&a, &rotated).await.outcome, Outcome::Unauthorized);
    assert_eq!(
        w.jwks.hits(),
        1,
        "inside the cooldown of the cold start's fetch"
    );
    clock.advance(31);
    clock.set(NOW - 3_600);
    let mut c = claims("alice-1");
    c["iat"] = json!(NOW - 4_000);
    c["exp"] = json!(NOW);
    let decision = decide(&a, &mint(FixtureKey::RsaRotated, &c)).await;
    assert_eq!(decision.outcome, Outcome::Allow);
    assert_eq!(
        w.jwks.hits(),
        2,
        "31 s passed, whatever the wall clock says"
    );
}

/// Found by the soak (docs/reliability.md): the JWKS cooldown started when the reload
/// began, not when its request went out. Behind a table read that hangs (about 0.6 s),
/// the window closed that much early, and two JWKS requests could go out less than
/// JWKS_COOLDOWN_SECONDS apart. Real clocks: the table read takes real time.
#[tokio::test]
async fn the_cooldown_runs_from_the_request_sent_not_from_the_start_of_the_reload() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let config = config(
        &jwks.url(),
        &[("KEYS_TABLE_NAME", TABLE), ("JWKS_COOLDOWN_SECONDS", "1")],
    );
    let began = Instant::now();
    let clock = Arc::new(jwt_authorizer::SystemClock::new());
    let a = Authorizer::new(&config, clock, Some(KeyTable::new(&dead_sdk, TABLE))).unwrap();
    a.warm_up().await; // the table read hangs, then the JWKS request goes out
    let answered = began.elapsed();
    assert_eq!(jwks.hits(), 1);
    assert!(answered >= Duration::from_millis(300), "{answered:?}");
    drop(dead); // from now on the table refuses at once: a reload reaches the issuer at once
    let random_kid = |n: u32| {
        mint_with_header(
            FixtureKey::Rsa,
            "RS256",
            &json!({"alg": "RS256", "kid": format!("random-{n}")}),
            &claims("alice-1"),
        )
    };
    // Past a cooldown since the reload began, inside one since the request went out.
    tokio::time::sleep_until((began + Duration::from_millis(1050)).into()).await;
    assert_eq!(
        decide(&a, &random_kid(1)).await.reason.as_str(),
        "unknown_kid"
    );
    assert_eq!(
        jwks.hits(),
        1,
        "the window runs from the request, sent late in the reload"
    );
    // Past a cooldown since the request went out (before `answered`).
    tokio::time::sleep_until((began + answered + Duration::from_millis(1050)).into()).await;
    assert_eq!(
        decide(&a, &random_kid(2)).await.reason.as_str(),
        "unknown_kid"
    );
    assert_eq!(jwks.hits(), 2, "the window is over");
}

/// Three issuers whose keys items are live: the cold start makes one table round trip
/// (one BatchGetItem, not three GetItems in a row) and no JWKS request, and each issuer's
/// tokens are served from its own item.
#[tokio::test]
async fn a_cold_start_with_three_issuers_makes_one_table_round_trip() {
    let w = world(Behavior::Serve(JWKS.into())).await;
    let issuers: Vec<String> = (1..=3)
        .map(|i| format!("https://issuer-{i}.test"))
        .collect();
    let urls: Vec<String> = (1..=3)
        .map(|i| format!("{}?issuer={i}", w.jwks.url()))
        .collect();
    let table = KeyTable::new(&w.sdk, TABLE);
    for url in &urls {
        let record = KeyRecord::fetched(url, JWKS.into(), NOW - 60, 86_400);
        assert!(table.put(&record, NOW, None).await.unwrap());
    }
    let entries: Vec<serde_json::Value> = issuers
        .iter()
        .zip(&urls)
        .map(|(issuer, url)| json!({"issuer": issuer, "jwks_url": url, "audience": [AUDIENCE]}))
        .collect();
    let container = |entries: String| {
        let sdk = w.sdk.clone();
        async move {
            let config = config_only(&[
                ("JWT_ISSUERS", entries.as_str()),
                ("KEYS_TABLE_NAME", TABLE),
            ]);
            let clock = Arc::new(ManualClock::new(NOW));
            let authorizer =
                Authorizer::new(&config, clock, Some(KeyTable::new(&sdk, TABLE))).unwrap();
            authorizer.warm_up().await;
            authorizer
        }
    };
    let a = container(json!(entries).to_string()).await;
    assert_eq!(
        (
            a.counters().get(Counter::TableReads),
            a.counters().get(Counter::JwksFetches),
            a.counters().get(Counter::InitKeysFromTable)
        ),
        (1, 0, 3),
        "one round trip, no JWKS request, three issuers loaded from the table"
    );
    assert_eq!(w.jwks.hits(), 0);
    for issuer in &issuers {
        let mut c = claims("alice-1");
        c["iss"] = json!(issuer);
        let d = decide(&a, &mint(FixtureKey::Rsa, &c)).await;
        assert_eq!(d.outcome, Outcome::Allow, "{issuer}");
    }

    // One item missing: the batch still answers for it (absent), and only that issuer
    // goes to its JWKS endpoint, writing its item through.
    let mut four = entries.clone();
    let fourth_url = format!("{}?issuer=4", w.jwks.url());
    four.push(
        json!({"issuer": "https://issuer-4.test", "jwks_url": fourth_url, "audience": [AUDIENCE]}),
    );
    let a = container(json!(four).to_string()).await;
    assert_eq!(
        (
            a.counters().get(Counter::TableReads),
            a.counters().get(Counter::JwksFetches),
            a.counters().get(Counter::InitKeysFromJwks)
        ),
        (1, 1, 1)
    );
    assert!(
        raw_item(&w.sdk, TABLE, &fourth_url).await.is_some(),
        "written through"
    );
}

/// The table down at a cold start with several issuers: one bounded call fails, not one
/// per issuer, and every issuer falls back to its JWKS endpoint without a write.
#[tokio::test]
async fn a_dead_table_at_a_multi_issuer_cold_start_costs_one_call() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    let entries: Vec<serde_json::Value> = (1..=3)
        .map(|i| {
            json!({"issuer": format!("https://issuer-{i}.test"),
                   "jwks_url": format!("{}?issuer={i}", jwks.url()), "audience": [AUDIENCE]})
        })
        .collect();
    let config = config_only(&[
        ("JWT_ISSUERS", json!(entries).to_string().as_str()),
        ("KEYS_TABLE_NAME", TABLE),
    ]);
    let started = Instant::now();
    let a = Authorizer::new(
        &config,
        Arc::new(ManualClock::new(NOW)),
        Some(KeyTable::new(&dead_sdk, TABLE)),
    )
    .unwrap();
    a.warm_up().await;
    assert_eq!(
        (
            a.counters().get(Counter::TableReads),
            a.counters().get(Counter::TableErrors),
            a.counters().get(Counter::JwksFetches),
            a.counters().get(Counter::TableWrites)
        ),
        (1, 1, 3, 0)
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}
