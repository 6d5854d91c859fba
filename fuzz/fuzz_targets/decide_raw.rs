//! The whole decision on raw event bytes: any JSON (or not) the fuzzer makes.
//!
//! Input: the event. The configuration is chosen by the input's length. Placeholders
//! stand for tokens minted once per process with the fixture keys, so the fuzzer can
//! reach the signed paths without ever learning a signature: `${TOKEN}` (valid for the OIDC
//! configurations), `${EXPIRED}`, `${FORGED}` (a foreign key under a trusted `kid`);
//! `${USER_ID}` is the valid token's `sub`. The seeds are the files in `events/`.
//!
//! Invariants: no Allow unless the event carries the valid token (nothing else the
//! fuzzer can write is signed by a trusted key); every answer holds
//! `fuzz_support::check_answer` (shape, resources within the event's own API and stage,
//! exactly the rules' grant for the valid token's claims).
#![no_main]

use std::sync::OnceLock;

use jwt_authorizer::Outcome;
use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, mint};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

/// Claims valid under every OIDC setup of `fuzz_support::setups`.
fn claims(exp: u64) -> Value {
    json!({
        "iss": fuzz_support::OIDC, "aud": fuzz_support::AUDIENCE, "sub": "alice-1", "uid": 7,
        "username": "alice", "email": "alice@example.test", "exp": exp, "iat": fuzz_support::NOW - 10,
        "scope": "reports:read users:write orders", "cognito:groups": ["ops", "dev"],
        "groups": ["ops", "dev"], "custom:tenant": "acme", "tier": "gold",
    })
}

struct Tokens {
    valid: String,
    expired: String,
    forged: String,
}

fn tokens() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| Tokens {
        valid: mint(FixtureKey::Ec256, &claims(fuzz_support::NOW + 3600)),
        expired: mint(FixtureKey::Ec256, &claims(fuzz_support::NOW - 3600)),
        forged: mint(FixtureKey::RsaForeign, &claims(fuzz_support::NOW + 3600)),
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let harnesses = fuzz_support::harnesses();
    let harness = &harnesses[data.len() % harnesses.len()];
    let t = tokens();
    let carries_valid = text.contains("${TOKEN}");
    let event = text
        .replace("${TOKEN}", &t.valid)
        .replace("${EXPIRED}", &t.expired)
        .replace("${FORGED}", &t.forged)
        .replace("${USER_ID}", "alice-1");

    let decision = fuzz_support::decide(harness, &event);
    if decision.outcome == Outcome::Allow {
        assert!(carries_valid, "Allow without the valid token");
    }
    let Some(kind) = decision.kind else {
        assert!(
            decision.answer.is_err(),
            "an unrecognised event answered {:?}",
            decision.answer
        );
        return;
    };
    // (serde_json's Value refuses a few things its skipping parser lets by, e.g. 1e400
    // in a member nobody reads: then the shape checks are skipped, not the Allow one.)
    let Ok(value) = serde_json::from_str::<Value>(&event) else {
        return;
    };
    let field = if kind == Kind::HttpApi {
        "routeArn"
    } else {
        "methodArn"
    };
    let arn = value.get(field).and_then(Value::as_str).unwrap_or_default();
    // Which token the decision judged is not known here; a valid one can only be ours.
    let valid_claims: Option<Map<String, Value>> = (!matches!(
        decision.reason,
        jwt_authorizer::Reason::Token(_) | jwt_authorizer::Reason::Event(_)
    ))
    .then(|| {
        assert!(
            carries_valid,
            "a token accepted without the valid token in the event"
        );
        claims(fuzz_support::NOW + 3600)
            .as_object()
            .cloned()
            .unwrap()
    });
    fuzz_support::check_answer(&harness.setup, &decision, kind, arn, valid_claims.as_ref());
});
