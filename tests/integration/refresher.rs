//! The refresher against moto_server's DynamoDB and loopback JWKS endpoints: success,
//! change detection, and every failure mode leaving the item byte-for-byte unchanged.

use crate::common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::dynamo::{moto_with_table, n, raw_item, s, sdk};
use common::jwks_server::{Behavior, JwksServer};
use common::moto::Moto;
use jwt_authorizer::ManualClock;
use jwt_authorizer::config::RefresherConfig;
use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::refresh::Refresher;
use jwt_authorizer::testkit::{JWKS, JWKS_ROTATED};
use serde_json::json;

const TABLE: &str = "jwt-keys";
const NOW: u64 = 1_800_000_000;

fn refresher(
    sdk: &aws_config::SdkConfig,
    vars: &[(&str, String)],
    clock: Arc<ManualClock>,
) -> Refresher {
    let mut map: HashMap<&str, String> = HashMap::from([
        ("KEYS_TABLE_NAME", TABLE.to_owned()),
        ("JWKS_TIMEOUT_MS", "300".to_owned()),
    ]);
    map.extend(vars.iter().cloned());
    let config = RefresherConfig::from_lookup(|n| map.get(n).cloned()).unwrap();
    Refresher::new(&config, KeyTable::new(sdk, TABLE), clock).unwrap()
}

/// moto with the keys table, a JWKS endpoint serving `behavior`, and a clock at NOW.
async fn setup(behavior: Behavior) -> (Moto, aws_config::SdkConfig, JwksServer, Arc<ManualClock>) {
    let (moto, sdk) = moto_with_table(TABLE).await;
    (
        moto,
        sdk,
        JwksServer::start(behavior),
        Arc::new(ManualClock::new(NOW)),
    )
}

fn single(url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("JWT_ISSUER", "https://issuer.test".into()),
        ("JWKS_URL", url.into()),
        ("JWT_ALGORITHMS", "RS256,ES256,ES384,EdDSA".into()),
    ]
}

#[tokio::test]
async fn refresh_stores_the_keys_and_reports_changes() {
    let (_moto, sdk, jwks, clock) = setup(Behavior::Serve(JWKS.into())).await;
    let r = refresher(&sdk, &single(&jwks.url()), clock.clone());

    let first = serde_json::to_value(r.run().await).unwrap();
    assert_eq!(
        first,
        json!({"refreshed": {jwks.url(): {"kids": ["ec-1", "ec-2", "ed-1", "rsa-1"], "changed": true, "written": true}}, "failed": {}})
    );
    let item = raw_item(&sdk, TABLE, &jwks.url()).await.unwrap();
    assert_eq!(
        (
            s(&item, "jwks"),
            n(&item, "fetched_at"),
            n(&item, "expires_at")
        ),
        (JWKS, NOW, NOW + 1_296_000)
    );

    clock.advance(14 * 86_400);
    let second = r.run().await;
    assert!(!second.refreshed[&jwks.url()].changed);
    assert!(second.refreshed[&jwks.url()].written);
    assert_eq!(
        n(
            &raw_item(&sdk, TABLE, &jwks.url()).await.unwrap(),
            "fetched_at"
        ),
        NOW + 14 * 86_400
    );

    jwks.set(Behavior::Serve(JWKS_ROTATED.into()));
    clock.advance(1);
    let rotated = r.run().await;
    assert!(rotated.refreshed[&jwks.url()].changed);
    assert!(
        rotated.refreshed[&jwks.url()]
            .kids
            .contains(&"rsa-2".to_owned())
    );
}

#[tokio::test]
async fn every_failed_fetch_leaves_the_item_byte_for_byte_unchanged() {
    let (_moto, sdk, jwks, clock) = setup(Behavior::Serve(JWKS.into())).await;
    let r = refresher(&sdk, &single(&jwks.url()), clock.clone());
    assert!(r.run().await.failed.is_empty());
    let before = raw_item(&sdk, TABLE, &jwks.url()).await.unwrap();

    let foreign_alg_only =
        json!({"keys": [{"kty": "RSA", "kid": "x", "alg": "RS512", "n": "AQAB", "e": "AQAB"}]})
            .to_string();
    for (label, broken) in [
        ("HTTP 500", Behavior::Status(500)),
        ("HTTP 404", Behavior::Status(404)),
        (
            "HTTP 403 (the updated-format URL of a pool not on it)",
            Behavior::Status(403),
        ),
        ("garbage", Behavior::Serve("not json at all".into())),
        ("not a JWKS", Behavior::Serve(r#"{"hello":"world"}"#.into())),
        ("empty key set", Behavior::Serve(r#"{"keys":[]}"#.into())),
        ("no usable key", Behavior::Serve(foreign_alg_only.clone())),
        (
            "hanging",
            Behavior::Delay(Duration::from_secs(10), JWKS.into()),
        ),
        (
            "redirect",
            Behavior::Redirect("https://elsewhere.test/jwks".into()),
        ),
    ] {
        jwks.set(broken);
        clock.advance(60);
        let summary = r.run().await;
        assert!(summary.refreshed.is_empty(), "{label}");
        assert!(
            summary.failed.contains_key(&jwks.url()),
            "{label}: {summary:?}"
        );
        assert_eq!(
            raw_item(&sdk, TABLE, &jwks.url()).await.unwrap(),
            before,
            "{label}"
        );
    }
}

#[tokio::test]
async fn one_failed_url_does_not_stop_the_others() {
    let (_moto, sdk) = moto_with_table(TABLE).await;
    let good = JwksServer::start(Behavior::Serve(JWKS.into()));
    let bad = JwksServer::start(Behavior::Status(500));
    let issuers = json!([
        {"issuer": "https://good.test", "jwks_url": good.url()},
        {"issuer": "https://bad.test", "jwks_url": bad.url()},
        {"issuer": "https://internal.test", "hs256_secret_env": "SECRET"}
    ]);
    let vars = [
        ("JWT_ISSUERS", issuers.to_string()),
        ("SECRET", "0123456789abcdef0123456789abcdef".to_owned()),
    ];
    let summary = refresher(&sdk, &vars, Arc::new(ManualClock::new(NOW)))
        .run()
        .await;
    assert_eq!(
        summary.refreshed.keys().collect::<Vec<_>>(),
        vec![&good.url()]
    );
    assert_eq!(summary.failed.keys().collect::<Vec<_>>(), vec![&bad.url()]);
    assert!(raw_item(&sdk, TABLE, &good.url()).await.is_some());
    assert!(raw_item(&sdk, TABLE, &bad.url()).await.is_none());
}

#[tokio::test]
async fn hs256_only_has_nothing_to_do() {
    let moto = Moto::start();
    let sdk = sdk(&moto.endpoint).await;
    let vars = [
        ("JWT_ISSUER", "https://internal.test".to_owned()),
        (
            "JWT_HS256_SECRET",
            "0123456789abcdef0123456789abcdef".to_owned(),
        ),
    ];
    let summary = refresher(&sdk, &vars, Arc::new(ManualClock::new(NOW)))
        .run()
        .await;
    assert!(summary.refreshed.is_empty() && summary.failed.is_empty());
    assert!(summary.message.unwrap().contains("nothing to refresh"));
}
