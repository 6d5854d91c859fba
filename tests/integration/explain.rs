//! `explain`: one decision step by step, through the authorizer's own functions, for valid,
//! expired, forged and foreign tokens; never showing the token.

use crate::common;

use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::events::Kind;
use jwt_authorizer::explain::explain;
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use serde_json::json;

const RULES: &str = r#"[
    {"resources": ["GET/reports/*"], "groups_any": ["reports"]},
    {"resources": ["DELETE/users/*"], "scopes_all": ["users:write"], "claims": {"tenant": ["acme"]}}
]"#;

async fn setup() -> (jwt_authorizer::Authorizer, JwksServer) {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let simple_without_cache = [("HTTP_API_RESPONSE", "simple"), ("HTTP_API_CACHE", "off")];
    let config = config(
        &jwks.url(),
        &[
            ("POLICY_RULES", RULES),
            simple_without_cache[0],
            simple_without_cache[1],
        ],
    );
    let (authorizer, _) = build_authorizer(&config).await;
    (authorizer, jwks)
}

fn text(steps: &jwt_authorizer::explain::Explanation) -> String {
    steps.render()
}

#[tokio::test]
async fn a_granted_call_shows_every_step_and_never_the_token() {
    let (a, _jwks) = setup().await;
    let mut c = claims("alice-1");
    c["cognito:groups"] = json!(["reports"]);
    c["scope"] = json!("openid");
    let token = mint(FixtureKey::Rsa, &c);
    let mut event = event(Kind::RestRequest, &token, "alice-1");
    event["methodArn"] = json!(
        event["methodArn"]
            .as_str()
            .unwrap()
            .replace("GET/hello/alice-1", "GET/reports/q3")
    );
    let out = text(&explain(&a, &event.to_string()).await);
    assert_explained(
        &out,
        &[
            "event      rest_request for GET/reports/q3",
            "from header authorization (Bearer), TOKEN_SOURCES entry 0",
            "header     alg RS256, kid rsa-1",
            "issuer     https://issuer.test (configured)",
            "algorithm  RS256 allowed",
            "kid rsa-1 fits RS256, from memory, loaded from the issuer's JWKS endpoint",
            "signature  valid",
            "check      exp ",
            "check      audience   aud \"test-client\"",
            "rule       [0] GET/hello/{sub} holds — always",
            "template   GET/hello/{sub} → arn:aws:execute-api:",
            "rule       [2] GET/reports/* holds — groups_any [reports] held (token groups (cognito:groups): reports)",
            "rule       [3] DELETE/users/* does not hold — ",
            "scopes_all [users:write] failed (token scopes: openid)",
            "claims.tenant in [\"acme\"] failed (token has no tenant)",
            "principal  alice-1 (claim sub)",
            "decision   allow (ok)",
            "route      GET/reports/q3 is granted",
        ],
        &token,
    );
}

#[tokio::test]
async fn a_refused_call_says_where_it_stopped() {
    let (a, _jwks) = setup().await;
    let mut expired = claims("alice-1");
    expired["exp"] = json!(NOW - 10);
    let cases = [
        (
            mint(FixtureKey::Rsa, &expired),
            "failed: token expired (expired)",
            "unauthorized (expired)",
        ),
        (
            mint(FixtureKey::RsaForeign, &claims("alice-1")),
            "signature  signature does not verify: rejected (bad_signature)",
            "unauthorized (bad_signature)",
        ),
        (
            mint(FixtureKey::Rsa, &{
                let mut c = claims("alice-1");
                c["iss"] = json!("https://elsewhere.test");
                c
            }),
            "\"https://elsewhere.test\" is not a configured issuer",
            "unauthorized (unknown_issuer)",
        ),
        (
            "not.a.token".to_owned(),
            "rejected: token is not a well-formed",
            "unauthorized (malformed)",
        ),
    ];
    for (token, step, decision) in cases {
        let out = text(&explain(&a, &event(Kind::RestToken, &token, "alice-1").to_string()).await);
        assert!(out.contains(step), "missing {step:?} in\n{out}");
        assert!(out.contains(&format!("decision   {decision}")), "{out}");
        assert!(
            out.contains("Lambda error Unauthorized: API Gateway answers 401"),
            "{out}"
        );
    }
}

#[tokio::test]
async fn a_valid_token_outside_its_grants_is_explained_as_403() {
    let (a, _jwks) = setup().await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let out = text(&explain(&a, &event(Kind::HttpApi, &token, "bob-2").to_string()).await);
    assert!(
        out.contains("event      http_api for GET/hello/bob-2"),
        "{out}"
    );
    assert!(out.contains("decision   deny (route_not_granted)"), "{out}");
    assert!(
        out.contains("route      GET/hello/bob-2 is not granted: API Gateway answers 403"),
        "{out}"
    );
}

#[tokio::test]
async fn an_event_without_a_token_or_of_no_known_shape_is_explained() {
    let (a, _jwks) = setup().await;
    let out = text(
        &explain(
            &a,
            &event_without_token(Kind::RestRequest, "alice-1").to_string(),
        )
        .await,
    );
    assert!(
        out.contains("token      none usable: no token in the request (missing_token)"),
        "{out}"
    );
    let out = text(&explain(&a, r#"{"hello": 1}"#).await);
    assert!(
        out.contains("event      not answered: not an API Gateway authorizer event"),
        "{out}"
    );
    assert!(
        out.contains("decision   unauthorized (unrecognized_event)"),
        "{out}"
    );
}
