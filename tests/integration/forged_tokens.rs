//! The forged-token corpus: every entry is rejected on every event kind, the key endpoint
//! is not flooded, and the authorizer keeps serving valid tokens afterwards.

use crate::common;

use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::Outcome;
use jwt_authorizer::testkit::{FixtureKey, JWKS, b64, hmac256, mint, mint_with_header};
use serde_json::{Value, json};

/// A token from raw header and payload JSON text, with a raw signature.
fn raw(header: &str, payload: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(signature)
    )
}

fn with_claims(change: impl FnOnce(&mut Value)) -> String {
    let mut c = claims("alice-1");
    change(&mut c);
    mint(FixtureKey::Rsa, &c)
}

fn corpus() -> Vec<(&'static str, String)> {
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    let parts: Vec<&str> = valid.split('.').collect();
    let payload = claims("alice-1").to_string();
    let rsa_jwk: Value = serde_json::from_str::<Value>(JWKS).unwrap()["keys"][0].clone();
    let public_n = rsa_jwk["n"].as_str().unwrap().to_owned();
    let foreign_jwk: Value = serde_json::from_str::<Value>(jwt_authorizer::testkit::JWKS_FOREIGN)
        .unwrap()["keys"][0]
        .clone();
    let hs_header = json!({"alg": "HS256", "kid": "rsa-1"});
    let signed = |header: Value, key: FixtureKey, alg: &str| {
        mint_with_header(key, alg, &header, &claims("alice-1"))
    };
    let mut flipped = parts[2].as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };

    vec![
        (
            "alg none, empty signature",
            format!("{}.{}.", b64(br#"{"alg":"none","kid":"rsa-1"}"#), parts[1]),
        ),
        (
            "alg none, some signature",
            raw(r#"{"alg":"none","kid":"rsa-1"}"#, &payload, b"x"),
        ),
        (
            "alg None",
            raw(r#"{"alg":"None","kid":"rsa-1"}"#, &payload, b"x"),
        ),
        ("alg missing", raw(r#"{"kid":"rsa-1"}"#, &payload, b"x")),
        (
            "HS256 keyed with the RSA modulus",
            mint_with_hmac(&hs_header, public_n.as_bytes()),
        ),
        (
            "HS256 keyed with the JWK text",
            mint_with_hmac(&hs_header, rsa_jwk.to_string().as_bytes()),
        ),
        (
            "RS512 not in the allow-list",
            signed(
                json!({"alg": "RS512", "kid": "rsa-1"}),
                FixtureKey::Rsa,
                "RS512",
            ),
        ),
        (
            "foreign key, same kid",
            mint(FixtureKey::RsaForeign, &claims("alice-1")),
        ),
        (
            "EC key's kid with RS256",
            signed(
                json!({"alg": "RS256", "kid": "ec-1"}),
                FixtureKey::Rsa,
                "RS256",
            ),
        ),
        (
            "RSA kid with ES256",
            signed(
                json!({"alg": "ES256", "kid": "rsa-1"}),
                FixtureKey::Ec256,
                "ES256",
            ),
        ),
        (
            "ES384 key's kid with ES256",
            signed(
                json!({"alg": "ES256", "kid": "ec-2"}),
                FixtureKey::Ec256,
                "ES256",
            ),
        ),
        ("expired", with_claims(|c| c["exp"] = json!(NOW - 1))),
        ("expires now", with_claims(|c| c["exp"] = json!(NOW))),
        ("future nbf", with_claims(|c| c["nbf"] = json!(NOW + 60))),
        (
            "aud array holding a non-string",
            with_claims(|c| c["aud"] = json!([AUDIENCE, 5])),
        ),
        (
            "no exp",
            with_claims(|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "string exp",
            with_claims(|c| c["exp"] = json!((NOW + 3600).to_string())),
        ),
        ("string nbf", with_claims(|c| c["nbf"] = json!("0"))),
        (
            "wrong iss",
            with_claims(|c| c["iss"] = json!("https://evil.test")),
        ),
        (
            "iss with trailing slash",
            with_claims(|c| c["iss"] = json!(format!("{ISSUER}/"))),
        ),
        (
            "no iss",
            with_claims(|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
        ),
        (
            "wrong aud",
            with_claims(|c| c["aud"] = json!("other-client")),
        ),
        (
            "aud array without ours",
            with_claims(|c| c["aud"] = json!(["a", "b"])),
        ),
        (
            "no aud",
            with_claims(|c| {
                c.as_object_mut().unwrap().remove("aud");
            }),
        ),
        (
            "unknown kid",
            signed(
                json!({"alg": "RS256", "kid": "no-such-kid"}),
                FixtureKey::Rsa,
                "RS256",
            ),
        ),
        (
            "no kid",
            signed(json!({"alg": "RS256"}), FixtureKey::Rsa, "RS256"),
        ),
        (
            "empty kid",
            signed(json!({"alg": "RS256", "kid": ""}), FixtureKey::Rsa, "RS256"),
        ),
        (
            "jku to an attacker JWKS",
            signed(
                json!({"alg": "RS256", "kid": "evil", "jku": "https://evil.test/jwks.json"}),
                FixtureKey::RsaForeign,
                "RS256",
            ),
        ),
        (
            "x5u to an attacker cert",
            signed(
                json!({"alg": "RS256", "kid": "evil", "x5u": "https://evil.test/cert.pem"}),
                FixtureKey::RsaForeign,
                "RS256",
            ),
        ),
        (
            "embedded jwk, no kid",
            signed(
                json!({"alg": "RS256", "jwk": foreign_jwk}),
                FixtureKey::RsaForeign,
                "RS256",
            ),
        ),
        (
            "embedded jwk with a trusted kid",
            signed(
                json!({"alg": "RS256", "kid": "rsa-1", "jwk": foreign_jwk}),
                FixtureKey::RsaForeign,
                "RS256",
            ),
        ),
        (
            "x5c with a trusted kid",
            signed(
                json!({"alg": "RS256", "kid": "rsa-1", "x5c": ["MIIB"]}),
                FixtureKey::RsaForeign,
                "RS256",
            ),
        ),
        (
            "crit header",
            signed(
                json!({"alg": "RS256", "kid": "rsa-1", "crit": ["exp"]}),
                FixtureKey::Rsa,
                "RS256",
            ),
        ),
        ("two parts", format!("{}.{}", parts[0], parts[1])),
        ("four parts", format!("{valid}.{}", parts[2])),
        ("five parts", format!("{valid}.a.b")),
        ("empty signature", format!("{}.{}.", parts[0], parts[1])),
        (
            "whitespace inside the token",
            format!("{}.{} .{}", parts[0], parts[1], parts[2]),
        ),
        (
            "non-base64 signature",
            format!("{}.{}.***", parts[0], parts[1]),
        ),
        (
            "padded base64",
            format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "standard base64 alphabet",
            format!("{}.{}+/.{}", parts[0], parts[1], parts[2]),
        ),
        (
            "header not JSON",
            format!("{}.{}.{}", b64(b"not json"), parts[1], parts[2]),
        ),
        (
            "header a JSON array",
            format!("{}.{}.{}", b64(br#"["RS256","rsa-1"]"#), parts[1], parts[2]),
        ),
        (
            "payload a JSON array",
            raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, "[1,2]", b"x"),
        ),
        (
            "flipped signature bit",
            format!(
                "{}.{}.{}",
                parts[0],
                parts[1],
                String::from_utf8(flipped).unwrap()
            ),
        ),
        ("payload swapped under a valid signature", {
            let other = mint(FixtureKey::Rsa, &claims("bob-2"));
            format!(
                "{}.{}.{}",
                parts[0],
                other.split('.').nth(1).unwrap(),
                parts[2]
            )
        }),
        (
            "huge token, 16 KiB + 1",
            format!("{}.{}.{}", parts[0], "A".repeat(16 * 1024), parts[2]),
        ),
        ("huge token, 1 MiB", "a".repeat(1024 * 1024)),
        (
            "deeply nested payload",
            raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &"[".repeat(5000), b"x"),
        ),
        (
            "kid of 10 KiB",
            signed(
                json!({"alg": "RS256", "kid": "k".repeat(10 * 1024)}),
                FixtureKey::Rsa,
                "RS256",
            ),
        ),
        (
            "signature over another key's kid",
            signed(
                json!({"alg": "EdDSA", "kid": "ed-1"}),
                FixtureKey::Ec256,
                "ES256",
            ),
        ),
        ("only dots", "..".into()),
        ("empty", String::new()),
    ]
}

fn mint_with_hmac(header: &Value, secret: &[u8]) -> String {
    jwt_authorizer::testkit::compact(header, &claims("alice-1"), |m| hmac256(secret, m))
}

/// Authentic tokens whose claims must not widen the policy.
fn injected_claims() -> Vec<(&'static str, String)> {
    [
        "*",
        "a/b",
        "alice-1/*",
        "..",
        "",
        "alice-1 ",
        "x".repeat(129).leak(),
        "a?b",
        "${sub}",
    ]
    .into_iter()
    .map(|sub| ("claim injection", with_claims(|c| c["sub"] = json!(sub))))
    .chain([
        ("float sub", with_claims(|c| c["sub"] = json!(1.5))),
        ("array sub", with_claims(|c| c["sub"] = json!(["alice-1"]))),
    ])
    .collect()
}

#[tokio::test]
async fn every_forged_token_is_rejected_on_every_kind_and_serving_continues() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (hello_only, _) = build_authorizer(&config(
        &jwks.url(),
        &[("POLICY_RESOURCES", "GET/hello/{sub}")],
    ))
    .await;
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    for kind in ALL_KINDS {
        for (label, token) in corpus() {
            let event = event(kind, &token, "alice-1");
            let decision = authorizer.decide(&(event.clone()).to_string()).await;
            assert_ne!(decision.outcome, Outcome::Allow, "{label} on {kind:?}");
            assert!(!grants(&decision.answer, &event), "{label} on {kind:?}");
        }
        for (label, token) in injected_claims() {
            let decision = hello_only
                .decide(&(event(kind, &token, "alice-1")).to_string())
                .await;
            let answer = as_json(&decision.answer).to_string();
            assert!(
                !answer.contains("Allow") && !answer.contains("\"isAuthorized\":true"),
                "{label} on {kind:?}: {answer}"
            );
        }
    }
    // One fetch per authorizer at init; the unknown kids fall inside the cooldown window
    // that fetch opened (the manual clock stands still), so they cost nothing more.
    assert!(jwks.hits() <= 2, "JWKS hit {} times", jwks.hits());
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    for kind in ALL_KINDS {
        assert_eq!(
            authorizer
                .decide(&(event(kind, &valid, "alice-1")).to_string())
                .await
                .outcome,
            Outcome::Allow,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn forged_tokens_get_a_specific_reason() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &[])).await;
    let expect = [
        ("alg none, empty signature", "malformed"),
        ("alg none, some signature", "alg_not_allowed"),
        ("HS256 keyed with the RSA modulus", "alg_not_allowed"),
        ("foreign key, same kid", "bad_signature"),
        ("EC key's kid with RS256", "key_mismatch"),
        ("expired", "expired"),
        ("future nbf", "not_yet_valid"),
        ("string exp", "time_not_numeric"),
        ("wrong iss", "unknown_issuer"),
        ("wrong aud", "audience"),
        ("unknown kid", "unknown_kid"),
        ("no kid", "missing_kid"),
        ("jku to an attacker JWKS", "unknown_kid"),
        ("embedded jwk, no kid", "missing_kid"),
        ("crit header", "crit_header"),
        ("four parts", "malformed"),
        ("huge token, 16 KiB + 1", "token_too_large"),
    ];
    let corpus = corpus();
    for (label, reason) in expect {
        let token = &corpus.iter().find(|(l, _)| *l == label).unwrap().1;
        let decision = authorizer
            .decide(&(event(jwt_authorizer::events::Kind::RestToken, token, "alice-1")).to_string())
            .await;
        assert_eq!(decision.reason.as_str(), reason, "{label}");
    }
}

#[tokio::test]
async fn cognito_token_use_and_client_id_are_enforced() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let pool = "us-east-1_TestPool1";
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}");
    let config = config_only(&[
        ("COGNITO_USER_POOL_ID", pool),
        ("JWT_AUDIENCE", "app-client"),
        ("JWKS_URL", &jwks.url()),
    ]);
    let (authorizer, _) = build_authorizer(&config).await;
    let access = |token_use: &str, client_id: &str| {
        mint(
            FixtureKey::Rsa,
            &json!({"iss": issuer, "sub": "alice-1", "token_use": token_use, "client_id": client_id, "exp": NOW + 60}),
        )
    };
    let kind = jwt_authorizer::events::Kind::RestToken;
    assert_eq!(
        authorizer
            .decide(&(event(kind, &access("access", "app-client"), "alice-1")).to_string())
            .await
            .outcome,
        Outcome::Allow
    );
    assert_eq!(
        authorizer
            .decide(&(event(kind, &access("id", "app-client"), "alice-1")).to_string())
            .await
            .reason
            .as_str(),
        "token_use"
    );
    assert_eq!(
        authorizer
            .decide(&(event(kind, &access("access", "other"), "alice-1")).to_string())
            .await
            .reason
            .as_str(),
        "audience"
    );
}
