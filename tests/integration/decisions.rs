//! Each event kind of `events/`, end to end through the handler: Allow on the caller's own
//! `/hello/{id}`, nothing on someone else's, and the configured denial for bad tokens.

use crate::common;

use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::Outcome;
use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use serde_json::{Value, json};

fn server() -> JwksServer {
    JwksServer::start(Behavior::Serve(JWKS.into()))
}

#[tokio::test]
async fn each_kind_allows_the_callers_own_path_only() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    for kind in ALL_KINDS {
        let own = event(kind, &token, "alice-1");
        let decision = authorizer.decide(&(own.clone()).to_string()).await;
        assert_eq!(decision.outcome, Outcome::Allow, "{kind:?}");
        assert!(grants(&decision.answer, &own), "{kind:?}");

        let other = event(kind, &token, "bob-2");
        let decision = authorizer.decide(&(other.clone()).to_string()).await;
        assert!(
            !as_json(&decision.answer)
                .to_string()
                .contains("hello/bob-2"),
            "{kind:?} must not grant bob's path"
        );
        if kind != Kind::WebSocket {
            assert!(
                !grants(&decision.answer, &other),
                "{kind:?} must not reach bob's path"
            );
        }
    }
}

#[tokio::test]
async fn rest_policy_carries_every_template_principal_and_context() {
    let jwks = server();
    let vars = [
        (
            "POLICY_RESOURCES",
            "GET/hello/{sub},PUT/profile/{sub},GET/public/*",
        ),
        ("CONTEXT_CLAIMS", "userId=sub,username,scope"),
    ];
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &vars)).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let answer = as_json(
        &authorizer
            .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
            .await
            .answer,
    );
    let prefix = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/";
    assert_eq!(answer["principalId"], "alice-1");
    assert_eq!(
        answer["policyDocument"],
        json!({"Version": "2012-10-17", "Statement": [{
            "Action": ["execute-api:Invoke"], "Effect": "Allow",
            "Resource": [format!("{prefix}GET/hello/alice-1"), format!("{prefix}PUT/profile/alice-1"), format!("{prefix}GET/public/*")]
        }]})
    );
    assert_eq!(
        answer["context"],
        json!({"userId": "alice-1", "username": "user-alice-1", "scope": "read,write"})
    );
}

#[tokio::test]
async fn default_policy_is_the_whole_stage() {
    let jwks = server();
    let url = jwks.url();
    let config = config_only(&[
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWKS_URL", &url),
    ]);
    let (authorizer, _) = build_authorizer(&config).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let answer = as_json(
        &authorizer
            .decide(&(event(Kind::WebSocket, &token, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:w1x2y3z4v5/prod/*"])
    );
    assert_eq!(
        answer["context"],
        json!({"sub": "alice-1", "username": "user-alice-1"})
    );
}

#[tokio::test]
async fn absent_and_invalid_tokens_get_401_on_rest_and_websocket_by_default() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let forged = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    for kind in [Kind::RestToken, Kind::RestRequest, Kind::WebSocket] {
        for event in [
            event(kind, &forged, "alice-1"),
            event_without_token(kind, "alice-1"),
        ] {
            let decision = authorizer.decide(&(event).to_string()).await;
            assert_eq!(as_json(&decision.answer), json!("Unauthorized"), "{kind:?}");
            assert_eq!(decision.outcome, Outcome::Unauthorized);
        }
    }
}

#[tokio::test]
async fn deny_mode_deny_answers_an_explicit_deny_on_the_stage() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[("DENY_MODE", "deny")])).await;
    let forged = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    let answer = as_json(
        &authorizer
            .decide(&(event(Kind::RestRequest, &forged, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer["principalId"], "anonymous");
    assert_eq!(
        answer["policyDocument"]["Statement"],
        json!([{"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/*"]}])
    );
    assert_eq!(answer["context"], json!({}));
}

/// Simple HTTP API answers for the per-user test templates: allowed only with the
/// authorizer's result cache declared off.
const SIMPLE_WITHOUT_CACHE: [(&str, &str); 2] =
    [("HTTP_API_RESPONSE", "simple"), ("HTTP_API_CACHE", "off")];

/// Finding 3 of the security review: with per-user templates and simple answers, API
/// Gateway's cache (keyed by identity source alone) let alice's `isAuthorized: true` for
/// `/hello/alice` serve `/hello/bob`. The default is `auto` now: IAM answers here, which
/// carry alice's own resources only, and simple answers where every token gets every route.
#[tokio::test]
async fn http_api_answers_default_to_iam_for_per_user_grants_and_simple_for_star() {
    let jwks = server();
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let (per_user, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let answer = as_json(
        &per_user
            .decide(&(event(Kind::HttpApi, &token, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer.get("isAuthorized"), None, "{answer}");
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        json!([
            "arn:aws:execute-api:us-east-1:123456789012:h1t2t3p4a5/$default/GET/hello/alice-1",
            "arn:aws:execute-api:us-east-1:123456789012:h1t2t3p4a5/$default/$connect"
        ])
    );
    let (everything, _) =
        build_authorizer(&config(&jwks.url(), &[("POLICY_RESOURCES", "*")])).await;
    let answer = as_json(
        &everything
            .decide(&(event(Kind::HttpApi, &token, "bob-2")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer["isAuthorized"], true, "{answer}");
}

#[tokio::test]
async fn http_api_never_uses_deny_mode() {
    let jwks = server();
    let forged = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    let (simple, _) = build_authorizer(&config(&jwks.url(), &SIMPLE_WITHOUT_CACHE)).await;
    let answer = as_json(
        &simple
            .decide(&(event(Kind::HttpApi, &forged, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer, json!({"isAuthorized": false, "context": {}}));
    let answer = as_json(
        &simple
            .decide(&(event_without_token(Kind::HttpApi, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer, json!({"isAuthorized": false, "context": {}}));

    let (iam, _) = build_authorizer(&config(&jwks.url(), &[("HTTP_API_RESPONSE", "iam")])).await;
    let answer = as_json(
        &iam.decide(&(event(Kind::HttpApi, &forged, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

#[tokio::test]
async fn http_api_simple_answer_matches_the_route_and_iam_lists_resources() {
    let jwks = server();
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let (simple, _) = build_authorizer(&config(&jwks.url(), &SIMPLE_WITHOUT_CACHE)).await;
    let answer = as_json(
        &simple
            .decide(&(event(Kind::HttpApi, &token, "alice-1")).to_string())
            .await
            .answer,
    );
    assert_eq!(
        answer,
        json!({"isAuthorized": true, "context": {"sub": "alice-1", "username": "user-alice-1"}})
    );
    let answer = as_json(
        &simple
            .decide(&(event(Kind::HttpApi, &token, "bob-2")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer["isAuthorized"], false);

    let vars = [
        ("HTTP_API_RESPONSE", "iam"),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ];
    let (iam, _) = build_authorizer(&config(&jwks.url(), &vars)).await;
    let answer = as_json(
        &iam.decide(&(event(Kind::HttpApi, &token, "bob-2")).to_string())
            .await
            .answer,
    );
    assert_eq!(answer["principalId"], "alice-1");
    assert_eq!(
        answer["policyDocument"]["Statement"][0]["Resource"],
        json!(["arn:aws:execute-api:us-east-1:123456789012:h1t2t3p4a5/$default/GET/hello/alice-1"])
    );
}

#[tokio::test]
async fn valid_token_that_fills_no_template_or_lacks_principal_gets_deny() {
    let jwks = server();
    let (by_uid, _) = build_authorizer(&config(&jwks.url(), &[("PRINCIPAL_CLAIM", "uid")])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let decision = by_uid
        .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
        .await;
    assert_eq!(decision.outcome, Outcome::Deny);
    assert_eq!(decision.reason.as_str(), "no_principal");
    assert_eq!(
        as_json(&decision.answer)["policyDocument"]["Statement"][0]["Effect"],
        "Deny"
    );

    let (plain, _) = build_authorizer(&config(
        &jwks.url(),
        &[("POLICY_RESOURCES", "GET/hello/{sub}")],
    ))
    .await;
    let mut c = claims("alice-1");
    c["sub"] = json!("a/b");
    let token = mint(FixtureKey::Rsa, &c);
    let decision = plain
        .decide(&(event(Kind::RestToken, &token, "a")).to_string())
        .await;
    assert_eq!(
        (decision.outcome, decision.reason.as_str()),
        (Outcome::Deny, "no_grant")
    );
}

#[tokio::test]
async fn every_supported_algorithm_verifies() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    for key in [
        FixtureKey::Rsa,
        FixtureKey::Ec256,
        FixtureKey::Ec384,
        FixtureKey::Ed25519,
    ] {
        let token = mint(key, &claims("alice-1"));
        let decision = authorizer
            .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
            .await;
        assert_eq!(decision.outcome, Outcome::Allow, "{key:?}");
        assert_eq!(decision.kid.as_deref(), Some(key.kid()));
    }
}

#[tokio::test]
async fn ps256_verifies_with_an_rsa_key_without_alg() {
    let no_alg: Value = {
        let mut jwks: Value = serde_json::from_str(JWKS).unwrap();
        jwks["keys"][0].as_object_mut().unwrap().remove("alg");
        jwks
    };
    let jwks = JwksServer::start(Behavior::Serve(no_alg.to_string()));
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let header = json!({"alg": "PS256", "kid": "rsa-1"});
    let token = jwt_authorizer::testkit::mint_with_header(
        FixtureKey::Rsa,
        "PS256",
        &header,
        &claims("alice-1"),
    );
    let decision = authorizer
        .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
        .await;
    assert_eq!(decision.outcome, Outcome::Allow);
}

#[tokio::test]
async fn hs256_secret_issuer_verifies_without_jwks() {
    let secret = "0123456789abcdef0123456789abcdef";
    let config = config_only(&[
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
        ("JWT_HS256_SECRET", secret),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ]);
    let (authorizer, _) = build_authorizer(&config).await;
    let header = json!({"alg": "HS256", "typ": "JWT"});
    let good = jwt_authorizer::testkit::mint_hs256(secret.as_bytes(), &header, &claims("alice-1"));
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &good, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    let bad = jwt_authorizer::testkit::mint_hs256(
        b"another-secret-another-secret-xx",
        &header,
        &claims("alice-1"),
    );
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &bad, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Unauthorized
    );
}

#[tokio::test]
async fn multi_issuer_picks_the_issuer_by_iss() {
    let jwks_a = server();
    let jwks_b = JwksServer::start(Behavior::Serve(
        jwt_authorizer::testkit::JWKS_FOREIGN.into(),
    ));
    let issuers = json!([
        {"issuer": ISSUER, "jwks_url": jwks_a.url(), "audience": [AUDIENCE]},
        {"issuer": "https://other.test", "jwks_url": jwks_b.url(), "audience": ["other-client"]}
    ]);
    let config = config_only(&[
        ("JWT_ISSUERS", &issuers.to_string()),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ]);
    let (authorizer, _) = build_authorizer(&config).await;

    let mut other = claims("bob-2");
    other["iss"] = json!("https://other.test");
    other["aud"] = json!("other-client");
    // The foreign key is trusted only for the other issuer, under the same kid.
    let token = mint(FixtureKey::RsaForeign, &other);
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &token, "bob-2")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    let token = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &token, "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Unauthorized
    );
    let token = mint(FixtureKey::Rsa, &other);
    assert_eq!(
        authorizer
            .decide(&(event(Kind::RestToken, &token, "bob-2")).to_string())
            .await
            .outcome,
        Outcome::Unauthorized
    );
}

#[tokio::test]
async fn decisions_report_kind_kid_issuer_and_request_id() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let decision = authorizer
        .decide(&(event(Kind::RestRequest, &token, "alice-1")).to_string())
        .await;
    assert_eq!(decision.kind, Some(Kind::RestRequest));
    assert_eq!(decision.kid.as_deref(), Some("rsa-1"));
    assert_eq!(decision.issuer.as_deref(), Some(ISSUER));
    assert_eq!(
        decision.api_request_id.as_deref(),
        Some("7d1e5a42-5c9a-4a5e-9b0e-2f3c4d5e6f70")
    );
    assert_eq!(decision.reason.as_str(), "ok");
}

#[tokio::test]
async fn unrecognized_events_get_401() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    for event in [
        json!({}),
        json!([1, 2]),
        json!(null),
        json!({"type": "TOKEN", "authorizationToken": "Bearer x", "methodArn": "not-an-arn"}),
    ] {
        let decision = authorizer.decide(&(event.clone()).to_string()).await;
        assert_eq!(decision.outcome, Outcome::Unauthorized, "{event}");
    }
}

/// Defect 5: the issuer's clock a couple of seconds ahead made its fresh tokens fail.
#[tokio::test]
async fn a_token_issued_by_a_clock_running_ahead_is_accepted() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let mut c = claims("alice-1");
    c["iat"] = json!(NOW + 2);
    let token = mint(FixtureKey::Rsa, &c);
    for kind in ALL_KINDS {
        let decision = authorizer
            .decide(&event(kind, &token, "alice-1").to_string())
            .await;
        assert_eq!(decision.outcome, Outcome::Allow, "{kind:?}");
    }
}

/// Defect 6: a clock before 1970 read as "now = 0", which expires nothing.
#[tokio::test]
async fn a_clock_before_1970_refuses_every_token() {
    let jwks = server();
    let (authorizer, clock) = build_authorizer(&config(&jwks.url(), &[])).await;
    let token = mint(FixtureKey::Rsa, &claims("alice-1"));
    let ok = authorizer
        .decide(&event(Kind::RestToken, &token, "alice-1").to_string())
        .await;
    assert_eq!(ok.outcome, Outcome::Allow, "the cache now holds the token");
    clock.set_before_epoch();
    for kind in ALL_KINDS {
        let decision = authorizer
            .decide(&event(kind, &token, "alice-1").to_string())
            .await;
        assert!(
            !grants(&decision.answer, &event(kind, &token, "alice-1")),
            "{kind:?}"
        );
        assert_eq!(decision.reason.as_str(), "clock_unavailable", "{kind:?}");
    }
}

/// `JWT_TYP` (RFC 9068): an issuer without Cognito's `token_use` tells its access tokens
/// from its ID tokens by the header `typ`; every kind refuses the other with `wrong_typ`.
#[tokio::test]
async fn jwt_typ_tells_access_tokens_from_id_tokens() {
    use jwt_authorizer::testkit::mint_with_header;
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[("JWT_TYP", "at+jwt")])).await;
    let with_typ = |typ: Value| {
        let mut header = json!({"alg": "RS256", "kid": FixtureKey::Rsa.kid()});
        if !typ.is_null() {
            header["typ"] = typ;
        }
        mint_with_header(FixtureKey::Rsa, "RS256", &header, &claims("alice-1"))
    };
    for accepted in [
        json!("at+jwt"),
        json!("application/at+jwt"),
        json!("AT+JWT"),
    ] {
        let token = with_typ(accepted.clone());
        for kind in ALL_KINDS {
            let decision = authorizer
                .decide(&event(kind, &token, "alice-1").to_string())
                .await;
            assert_eq!(decision.outcome, Outcome::Allow, "{kind:?} {accepted}");
        }
    }
    for refused in [json!("JWT"), json!(null), json!(7), json!("at+jwt; x")] {
        let token = with_typ(refused.clone());
        for kind in ALL_KINDS {
            let decision = authorizer
                .decide(&event(kind, &token, "alice-1").to_string())
                .await;
            assert_ne!(decision.outcome, Outcome::Allow, "{kind:?} {refused}");
            assert_eq!(decision.reason.as_str(), "wrong_typ", "{kind:?} {refused}");
        }
    }
    // Without JWT_TYP nothing is checked: a typ of another kind passes.
    let (unchecked, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let decision = unchecked
        .decide(&event(Kind::RestToken, &with_typ(json!(7)), "alice-1").to_string())
        .await;
    assert_eq!(decision.outcome, Outcome::Allow);
}

/// A decision's future holds what is live across its awaits; the table, issuer,
/// registry and revocation reads are boxed where they start, so the warm path does not
/// carry (and move, as the runtime polls it) the kilobytes of an AWS SDK call. Before
/// that, this future was almost 10 KiB.
#[tokio::test]
async fn a_decisions_future_stays_small() {
    let jwks = server();
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let future = authorizer.decide("{}");
    let bytes = std::mem::size_of_val(&future);
    assert!(bytes <= 2048, "a decision's future is {bytes} bytes");
    assert_eq!(future.await.outcome, Outcome::Unauthorized);
}
