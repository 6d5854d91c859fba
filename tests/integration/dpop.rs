//! Sender-constrained tokens end to end through the handler, on the sample events of
//! `events/` (REST REQUEST through a custom domain with a base path, REST REQUEST on the
//! execute-api endpoint, HTTP API, REST with mutual TLS): a fresh proof is allowed; a
//! replayed one, one of another key, method or URL, a bound token sent as Bearer or to a
//! kind that cannot carry a proof are refused with their reasons; token cache hits still
//! check the proof; with `DPOP_REPLAY=table` two containers share one moto_server table,
//! and a table that never answers is decided by `DPOP_REPLAY_ON_ERROR` in bounded time.

use crate::common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use common::dynamo::{self, DeadEndpoint, moto_with_table, raw_item_pk, sdk};
use common::jwks_server::{Behavior, JwksServer};
use common::runtime_api::RuntimeApi;
use common::*;
use jwt_authorizer::binding::replay_key;
use jwt_authorizer::events::Kind;
use jwt_authorizer::metrics::Counter;
use jwt_authorizer::testkit::{FixtureKey, JWKS, dpop_proof, jkt, mint, proof_claims};
use jwt_authorizer::{Authorizer, Decision, Outcome};
use serde_json::{Value, json};

const USER: &str = "alice-1";
/// The custom domain of `events/rest-request-dpop.json` (base path `v1`).
const CUSTOM_URL: &str = "https://api.example.com/v1/hello/alice-1";
/// The execute-api URL of `events/rest-request.json` (stage `prod`).
const REST_URL: &str = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/hello/alice-1";
/// The execute-api URL of `events/http-api-dpop.json` (stage `$default`).
const HTTP_URL: &str = "https://h1t2t3p4a5.execute-api.us-east-1.amazonaws.com/hello/alice-1";

fn jwks() -> JwksServer {
    JwksServer::start(Behavior::Serve(JWKS.into()))
}

/// An RS256 access token for `USER` bound to `key` (`cnf.jkt`).
fn bound_token(key: FixtureKey) -> String {
    let mut claims = claims(USER);
    claims["cnf"] = json!({"jkt": jkt(key)});
    mint(FixtureKey::Rsa, &claims)
}

fn bearer_token() -> String {
    mint(FixtureKey::Rsa, &claims(USER))
}

/// A fresh ES256 proof by `key` for `method` `url`, bound to `token`.
fn proof(key: FixtureKey, method: &str, url: &str, token: &str) -> String {
    dpop_proof(key, &json!({}), &proof_claims(method, url, NOW, token))
}

/// A file of `events/` with its placeholders filled in.
fn sample(file: &str, token: &str, proof: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let pem = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mtls/client.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let pem = serde_json::to_string(&pem).unwrap();
    let text = text
        .replace("${TOKEN}", token)
        .replace("${PROOF}", proof)
        .replace("${USER_ID}", USER)
        .replace("${CLIENT_CERT_PEM}", pem.trim_matches('"'));
    serde_json::from_str(&text).unwrap()
}

fn rest_custom(token: &str, proof: &str) -> Value {
    sample("rest-request-dpop.json", token, proof)
}

fn http_api(token: &str, proof: &str) -> Value {
    sample("http-api-dpop.json", token, proof)
}

/// `events/rest-request.json` (execute-api endpoint) sent with the `DPoP` scheme and proof.
fn rest_execute_api(token: &str, proof: &str) -> Value {
    let mut event = event(Kind::RestRequest, token, USER);
    let auth = format!("DPoP {token}");
    event["headers"]["Authorization"] = json!(auth);
    event["headers"]["DPoP"] = json!(proof);
    event["multiValueHeaders"]["Authorization"] = json!([auth]);
    event["multiValueHeaders"]["DPoP"] = json!([proof]);
    event
}

async fn authorizer(jwks: &JwksServer, vars: &[(&str, &str)]) -> Authorizer {
    let mut all = vec![("DPOP", "on")];
    all.extend_from_slice(vars);
    build_authorizer(&config(&jwks.url(), &all)).await.0
}

async fn decide(a: &Authorizer, event: &Value) -> Decision {
    a.decide(&event.to_string()).await
}

/// `(outcome, reason, detail)` of a decision.
fn verdict(d: &Decision) -> (Outcome, &'static str, Option<&'static str>) {
    (d.outcome, d.reason.as_str(), d.reason.detail())
}

const ALLOWED: (Outcome, &str, Option<&str>) = (Outcome::Allow, "ok", None);

fn refused(
    reason: &'static str,
    detail: Option<&'static str>,
) -> (Outcome, &'static str, Option<&'static str>) {
    (Outcome::Unauthorized, reason, detail)
}

#[tokio::test]
async fn rest_through_a_custom_domain_allows_a_fresh_proof_of_the_url_the_client_called() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let allowed = decide(&a, &rest_custom(&token, &p)).await;
    assert_eq!(verdict(&allowed), ALLOWED);
    assert!(grants(&allowed.answer, &rest_custom(&token, &p)));
    // The same proof again: replayed.
    assert_eq!(
        verdict(&decide(&a, &rest_custom(&token, &p)).await),
        refused("proof_replayed", None)
    );
}

#[tokio::test]
async fn rest_refuses_another_key_method_url_or_a_missing_base_path() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let cases = [
        (
            proof(FixtureKey::Ed25519, "GET", CUSTOM_URL, &token),
            Some("jkt"),
        ),
        (
            proof(FixtureKey::Ec256, "POST", CUSTOM_URL, &token),
            Some("htm"),
        ),
        (
            proof(
                FixtureKey::Ec256,
                "GET",
                "https://api.example.com/hello/alice-1",
                &token,
            ),
            Some("htu"),
        ),
        (
            proof(FixtureKey::Ec256, "GET", REST_URL, &token),
            Some("htu"),
        ),
        (
            proof(
                FixtureKey::Ec256,
                "GET",
                "https://evil.example.com/v1/hello/alice-1",
                &token,
            ),
            Some("htu"),
        ),
        (
            proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &bearer_token()),
            Some("ath"),
        ),
    ];
    for (p, detail) in cases {
        assert_eq!(
            verdict(&decide(&a, &rest_custom(&token, &p)).await),
            refused("bad_proof", detail)
        );
    }
}

#[tokio::test]
async fn rest_on_the_execute_api_endpoint_binds_the_stage_in_the_path() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let p = proof(FixtureKey::Ec256, "GET", REST_URL, &token);
    assert_eq!(
        verdict(&decide(&a, &rest_execute_api(&token, &p)).await),
        ALLOWED
    );
    let without_stage = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/hello/alice-1";
    let p = proof(FixtureKey::Ec256, "GET", without_stage, &token);
    assert_eq!(
        verdict(&decide(&a, &rest_execute_api(&token, &p)).await),
        refused("bad_proof", Some("htu"))
    );
    // Normalization: scheme and host case, default port, query and fragment.
    let spelled =
        "HTTPS://A1B2C3D4E5.execute-api.us-east-1.amazonaws.com:443/prod/hello/alice-1?x=1#f";
    let p = proof(FixtureKey::Ec256, "GET", spelled, &token);
    assert_eq!(
        verdict(&decide(&a, &rest_execute_api(&token, &p)).await),
        ALLOWED
    );
}

#[tokio::test]
async fn two_dpop_headers_or_none_are_a_bad_proof() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let p1 = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let p2 = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    // REST: every value of a repeated header is in multiValueHeaders.
    let mut rest = rest_custom(&token, &p1);
    rest["multiValueHeaders"]["DPoP"] = json!([p1, p2]);
    assert_eq!(
        verdict(&decide(&a, &rest).await),
        refused("bad_proof", Some("header_count"))
    );
    // HTTP API: repeated headers arrive joined with a comma.
    let p3 = proof(FixtureKey::Ec256, "GET", HTTP_URL, &token);
    let mut http = http_api(&token, &p3);
    http["headers"]["dpop"] = json!(format!("{p3},{p2}"));
    let d = decide(&a, &http).await;
    assert_eq!((d.outcome, d.reason.as_str()), (Outcome::Deny, "bad_proof"));
    assert_eq!(d.reason.detail(), Some("header_count"));
    // None at all.
    let mut none = rest_custom(&token, &p1);
    none["headers"].as_object_mut().unwrap().remove("DPoP");
    none["multiValueHeaders"]
        .as_object_mut()
        .unwrap()
        .remove("DPoP");
    assert_eq!(
        verdict(&decide(&a, &none).await),
        refused("bad_proof", Some("header_count"))
    );
}

#[tokio::test]
async fn an_oversized_proof_is_a_bad_proof() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let mut claims = proof_claims("GET", CUSTOM_URL, NOW, &token);
    claims["pad"] = json!("x".repeat(8 * 1024));
    let p = dpop_proof(FixtureKey::Ec256, &json!({}), &claims);
    assert_eq!(
        verdict(&decide(&a, &rest_custom(&token, &p)).await),
        refused("bad_proof", Some("too_large"))
    );
}

#[tokio::test]
async fn http_api_allows_its_raw_path_and_ignores_the_query() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    for url in [HTTP_URL.to_owned(), format!("{HTTP_URL}?lang=en")] {
        let p = proof(FixtureKey::Ec256, "GET", &url, &token);
        let event = http_api(&token, &p);
        let d = decide(&a, &event).await;
        assert_eq!(verdict(&d), ALLOWED, "{url}");
        assert!(grants(&d.answer, &event));
    }
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    assert_eq!(
        decide(&a, &http_api(&token, &p)).await.reason.detail(),
        Some("htu")
    );
}

#[tokio::test]
async fn dpop_origins_name_the_origin_instead_of_the_host_header() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[("DPOP_ORIGINS", "https://API.example.com:443")]).await;
    let token = bound_token(FixtureKey::Ec256);
    // The HTTP API event's Host is the execute-api name; the client called the domain.
    let url = "https://api.example.com/hello/alice-1";
    let p = proof(FixtureKey::Ec256, "GET", url, &token);
    assert_eq!(verdict(&decide(&a, &http_api(&token, &p)).await), ALLOWED);
    let p = proof(FixtureKey::Ec256, "GET", HTTP_URL, &token);
    assert_eq!(
        decide(&a, &http_api(&token, &p)).await.reason.detail(),
        Some("htu")
    );
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_or_where_no_proof_can_travel_needs_a_proof() {
    let jwks = jwks();
    for mode in ["off", "on", "required"] {
        let a = authorizer(&jwks, &[("DPOP", mode)]).await;
        let token = bound_token(FixtureKey::Ec256);
        for kind in ALL_KINDS {
            let d = decide(&a, &event(kind, &token, USER)).await;
            assert_eq!(d.reason.as_str(), "proof_required", "{mode} {kind:?}");
            assert_ne!(d.outcome, Outcome::Allow);
        }
    }
}

#[tokio::test]
async fn the_dpop_scheme_on_a_token_authorizer_or_connect_is_refused() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let mut rest_token = event(Kind::RestToken, &token, USER);
    rest_token["authorizationToken"] = json!(format!("DPoP {token}"));
    assert_eq!(
        verdict(&decide(&a, &rest_token).await),
        refused("proof_required", None)
    );
    let mut connect = event(Kind::WebSocket, &token, USER);
    connect["headers"]["DPoP"] = json!(proof(
        FixtureKey::Ec256,
        "GET",
        "https://x.example/prod",
        &token
    ));
    assert_eq!(decide(&a, &connect).await.reason.as_str(), "proof_required");
}

#[tokio::test]
async fn the_dpop_scheme_needs_dpop_on_and_a_bound_token() {
    let jwks = jwks();
    let token = bound_token(FixtureKey::Ec256);
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let off = authorizer(&jwks, &[("DPOP", "off")]).await;
    assert_eq!(
        verdict(&decide(&off, &rest_custom(&token, &p)).await),
        refused("bad_proof", Some("dpop_off"))
    );
    let on = authorizer(&jwks, &[]).await;
    let unbound = bearer_token();
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &unbound);
    assert_eq!(
        verdict(&decide(&on, &rest_custom(&unbound, &p)).await),
        refused("bad_proof", Some("unbound_token"))
    );
}

#[tokio::test]
async fn required_refuses_bearer_tokens_and_on_keeps_them() {
    let jwks = jwks();
    let token = bearer_token();
    let on = authorizer(&jwks, &[]).await;
    let required = authorizer(&jwks, &[("DPOP", "required")]).await;
    for kind in ALL_KINDS {
        assert_eq!(
            decide(&on, &event(kind, &token, USER)).await.outcome,
            Outcome::Allow
        );
        assert_eq!(
            decide(&required, &event(kind, &token, USER))
                .await
                .reason
                .as_str(),
            "proof_required"
        );
    }
    let bound = bound_token(FixtureKey::Ec256);
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &bound);
    assert_eq!(
        verdict(&decide(&required, &rest_custom(&bound, &p)).await),
        ALLOWED
    );
}

#[tokio::test]
async fn a_token_cache_hit_still_checks_the_proof() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let first = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let d = decide(&a, &rest_custom(&token, &first)).await;
    assert_eq!((verdict(&d), d.cached), (ALLOWED, false));
    let second = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let d = decide(&a, &rest_custom(&token, &second)).await;
    assert_eq!((verdict(&d), d.cached), (ALLOWED, true));
    let d = decide(&a, &rest_custom(&token, &second)).await;
    assert_eq!(
        (verdict(&d), d.cached),
        (refused("proof_replayed", None), true)
    );
    let stolen = proof(FixtureKey::Ed25519, "GET", CUSTOM_URL, &token);
    let d = decide(&a, &rest_custom(&token, &stolen)).await;
    assert_eq!(
        (verdict(&d), d.cached),
        (refused("bad_proof", Some("jkt")), true)
    );
    let mut bearer = rest_custom(&token, "");
    bearer["headers"]["Authorization"] = json!(format!("Bearer {token}"));
    bearer["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {token}")]);
    let d = decide(&a, &bearer).await;
    assert_eq!(
        (verdict(&d), d.cached),
        (refused("proof_required", None), true)
    );
}

fn x5t() -> String {
    // Computed by `openssl x509 -outform DER | openssl dgst -sha256` when the fixture
    // was made, not by this project's code.
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/mtls/client.x5t-s256",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .trim()
    .to_owned()
}

fn certificate_bound_token(x5t: &str) -> String {
    let mut claims = claims(USER);
    claims["cnf"] = json!({"x5t#S256": x5t});
    mint(FixtureKey::Rsa, &claims)
}

#[tokio::test]
async fn mtls_binds_the_token_to_the_client_certificate() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[("DPOP", "off")]).await;
    let token = certificate_bound_token(&x5t());
    let event = sample("rest-request-mtls.json", &token, "");
    assert_eq!(verdict(&decide(&a, &event).await), ALLOWED);
    // Another certificate's thumbprint.
    let other = certificate_bound_token("Q5XWly_yp_wBl9iQlgZ7O8Dl4CPCPhS_ATHwAYx0z8l");
    let event = sample("rest-request-mtls.json", &other, "");
    assert_eq!(
        verdict(&decide(&a, &event).await),
        refused("certificate_mismatch", None)
    );
    // No certificate in the event (mutual TLS off on the domain).
    let mut event = sample("rest-request-mtls.json", &token, "");
    event["requestContext"]["identity"]
        .as_object_mut()
        .unwrap()
        .remove("clientCert");
    assert_eq!(
        verdict(&decide(&a, &event).await),
        refused("certificate_mismatch", None)
    );
    // A TOKEN authorizer never sees the certificate.
    let d = decide(&a, &common::event(Kind::RestToken, &token, USER)).await;
    assert_eq!(verdict(&d), refused("certificate_mismatch", None));
}

#[tokio::test]
async fn mtls_on_http_api_reads_the_authentication_block() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = certificate_bound_token(&x5t());
    let pem = std::fs::read_to_string(format!(
        "{}/tests/fixtures/mtls/client.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut event = event(Kind::HttpApi, &token, USER);
    event["requestContext"]["authentication"] = json!({"clientCert": {
        "clientCertPem": pem,
        "subjectDN": "C=US,O=Example,CN=dpop-test-client",
        "issuerDN": "C=US,O=Example,CN=dpop-test-client",
        "serialNumber": "69:1F:60:AD:E0:ED:49:12:2B:74:A4:55:36:59:85:56:32:EF:F1:F4",
        "validity": {"notBefore": "Dec  5 07:58:16 2026 GMT", "notAfter": "Nov 11 07:58:16 2126 GMT"}
    }});
    assert_eq!(verdict(&decide(&a, &event).await), ALLOWED);
    event["requestContext"]
        .as_object_mut()
        .unwrap()
        .remove("authentication");
    let d = decide(&a, &event).await;
    assert_eq!(
        (d.outcome, d.reason.as_str()),
        (Outcome::Deny, "certificate_mismatch")
    );
}

const TABLE: &str = "jwt-keys";

#[tokio::test]
async fn with_a_replay_table_a_proof_accepted_by_one_container_is_refused_by_another() {
    let jwks = jwks();
    let (_moto, sdk) = moto_with_table(TABLE).await;
    let vars = [
        ("DPOP", "on"),
        ("DPOP_MAX_AGE_SECONDS", "60"),
        ("CLOCK_SKEW_SECONDS", "5"),
    ];
    let (first, _) = dynamo::container(&sdk, TABLE, &jwks.url(), NOW, &vars).await;
    let (second, _) = dynamo::container(&sdk, TABLE, &jwks.url(), NOW, &vars).await;
    let token = bound_token(FixtureKey::Ec256);
    let claims = proof_claims("GET", CUSTOM_URL, NOW, &token);
    let jti = claims["jti"].as_str().unwrap().to_owned();
    let p = dpop_proof(FixtureKey::Ec256, &json!({}), &claims);
    assert_eq!(
        verdict(&decide(&first, &rest_custom(&token, &p)).await),
        ALLOWED
    );
    assert_eq!(first.counters().get(Counter::ReplayWrites), 1);
    assert_eq!(
        verdict(&decide(&second, &rest_custom(&token, &p)).await),
        refused("proof_replayed", None)
    );
    // The item: DPOP#{jkt}#{jti}, expiring (TTL) when no proof of that iat can pass.
    let item = raw_item_pk(&sdk, TABLE, &replay_key(&jkt(FixtureKey::Ec256), &jti))
        .await
        .expect("replay item");
    assert_eq!(
        item["expires_at"],
        AttributeValue::N((NOW + 60 + 2 * 5).to_string())
    );
    // A fresh proof goes through either container.
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    assert_eq!(
        verdict(&decide(&second, &rest_custom(&token, &p)).await),
        ALLOWED
    );
}

#[tokio::test]
async fn an_expired_replay_item_ttl_has_not_deleted_yet_is_no_replay() {
    let jwks = jwks();
    let (_moto, sdk) = moto_with_table(TABLE).await;
    let (a, _) = dynamo::container(&sdk, TABLE, &jwks.url(), NOW, &[("DPOP", "on")]).await;
    let token = bound_token(FixtureKey::Ec256);
    let claims = proof_claims("GET", CUSTOM_URL, NOW, &token);
    let pk = replay_key(&jkt(FixtureKey::Ec256), claims["jti"].as_str().unwrap());
    dynamo::put_raw(
        &sdk,
        TABLE,
        &[
            ("PK", AttributeValue::S(pk)),
            ("expires_at", AttributeValue::N((NOW - 1).to_string())),
        ],
    )
    .await;
    let p = dpop_proof(FixtureKey::Ec256, &json!({}), &claims);
    assert_eq!(
        verdict(&decide(&a, &rest_custom(&token, &p)).await),
        ALLOWED
    );
}

#[tokio::test]
async fn a_table_that_never_answers_follows_on_error_in_bounded_time() {
    let jwks = jwks();
    let dead = DeadEndpoint::start();
    let dead_sdk = sdk(&dead.url).await;
    for (on_error, expected) in [
        ("allow", ALLOWED),
        ("deny", refused("replay_unchecked", None)),
    ] {
        let vars = [("DPOP", "on"), ("DPOP_REPLAY_ON_ERROR", on_error)];
        let (a, _) = dynamo::container(&dead_sdk, TABLE, &jwks.url(), NOW, &vars).await;
        let token = bound_token(FixtureKey::Ec256);
        let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
        let started = Instant::now();
        let d = decide(&a, &rest_custom(&token, &p)).await;
        let took = started.elapsed();
        assert_eq!(verdict(&d), expected, "{on_error}");
        assert!(took < Duration::from_millis(1500), "{on_error}: {took:?}");
        assert_eq!(a.counters().get(Counter::ReplayUnchecked), 1);
        // This container's memory still refuses the replay, without the table.
        let started = Instant::now();
        assert_eq!(
            verdict(&decide(&a, &rest_custom(&token, &p)).await),
            refused("proof_replayed", None)
        );
        assert!(started.elapsed() < Duration::from_millis(200));
    }
}

#[tokio::test]
async fn memory_stays_bounded_under_a_flood_of_unique_proofs() {
    let jwks = jwks();
    // 128 MB / 32 / 128 B = 32,768 entries. The proof step itself, without the event's
    // JSON around it (which costs more than the proof in a debug build).
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ed25519);
    let event = rest_custom(&token, "p").to_string();
    let request =
        jwt_authorizer::events::parse(&event, &jwt_authorizer::token::TokenSource::defaults())
            .unwrap();
    let claims =
        jwt_authorizer::claims::Claims::from_json(jwt_authorizer::testkit::compact_claims(&token));
    let binding = a.verifier().binding();
    for _ in 0..33_000 {
        let mut possession = request.possession.clone();
        possession.proofs = vec![proof(FixtureKey::Ed25519, "GET", CUSTOM_URL, &token)];
        let checked = binding
            .check(
                &token,
                &claims,
                request.kind,
                request.scheme,
                &possession,
                NOW,
            )
            .await;
        assert_eq!(checked, Ok(()));
    }
    assert_eq!(binding.remembered(), 32_768);
}

#[tokio::test]
async fn explain_shows_the_binding_step_and_never_the_token_or_the_proof() {
    let jwks = jwks();
    let a = authorizer(&jwks, &[]).await;
    let token = bound_token(FixtureKey::Ec256);
    let p = proof(FixtureKey::Ec256, "GET", CUSTOM_URL, &token);
    let out = jwt_authorizer::explain::explain(&a, &rest_custom(&token, &p).to_string())
        .await
        .render();
    let step = out
        .lines()
        .find(|l| l.starts_with("binding"))
        .unwrap_or_else(|| panic!("no binding step in\n{out}"));
    for part in [
        "DPOP=on",
        "scheme dpop",
        "one DPoP proof",
        "htm \"GET\"",
        &format!("htu \"{CUSTOM_URL}\""),
        &format!("proof valid for key {}", jkt(FixtureKey::Ec256)),
    ] {
        assert!(step.contains(part), "missing {part:?} in {step}");
    }
    assert!(out.contains("decision   allow (ok)"), "{out}");
    for secret in token.split('.').chain(p.split('.')) {
        assert!(
            !out.contains(secret),
            "a token or proof part is shown:\n{out}"
        );
    }
    // The same proof again: the decision says replayed, the binding step names the check.
    let p = proof(FixtureKey::Ed25519, "GET", CUSTOM_URL, &token);
    let out = jwt_authorizer::explain::explain(&a, &rest_custom(&token, &p).to_string())
        .await
        .render();
    assert!(out.contains("rejected (bad_proof, jkt)"), "{out}");
    assert!(out.contains("decision   unauthorized (bad_proof)"), "{out}");
}

/// Stops a function process and returns everything it wrote.
fn stop(mut child: std::process::Child) -> String {
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Two built `authorizer` binaries under their own Runtime API, one moto_server table:
/// a proof the first process accepted is refused by the second; neither logs the token
/// or the proof. (Their output is read when they stop: at the default log level it fits
/// the pipe.)
#[test]
fn two_authorizer_processes_share_one_replay_table() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (moto, sdk) = runtime.block_on(moto_with_table(TABLE));
    // Close the set-up client's keep-alive connection: moto_server would wait on it.
    drop(sdk);
    drop(runtime);
    let jwks = jwks();
    let env = [
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        ("JWKS_URL", jwks.url()),
        ("POLICY_RESOURCES", "GET/hello/{sub}".to_owned()),
        ("KEYS_TABLE_NAME", TABLE.to_owned()),
        ("AWS_ENDPOINT_URL_DYNAMODB", moto.endpoint.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("DPOP", "on".to_owned()),
    ];
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_authorizer"));
    let (first_api, second_api) = (RuntimeApi::start(), RuntimeApi::start());
    let first = first_api.spawn(binary, &env);
    let second = second_api.spawn(binary, &env);
    // The processes run on the real clock: the proof is dated now (the token's exp is
    // far enough ahead, and its iat is never compared with the clock).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = bound_token(FixtureKey::Ec256);
    let p = dpop_proof(
        FixtureKey::Ec256,
        &json!({}),
        &proof_claims("GET", CUSTOM_URL, now, &token),
    );
    let event = rest_custom(&token, &p);
    let allowed = first_api.invoke(&event).expect("the first process allows");
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    let refused = second_api.invoke(&event).expect_err("the second refuses");
    assert_eq!(refused["errorMessage"], "Unauthorized");
    let logs = format!("{}{}", stop(first), stop(second));
    let reasons: Vec<String> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "decision")
        .map(|v| v["reason"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(reasons, ["ok", "proof_replayed"], "{logs}");
    for secret in token.split('.').chain(p.split('.')) {
        assert!(!logs.contains(secret), "a token or proof part is logged");
    }
}
