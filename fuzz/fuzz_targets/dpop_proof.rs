//! DPoP proofs: `binding::proof::check` (RFC 9449 §4.3) on any proof, and the `htu`
//! normalization and PEM reading it relies on.
//!
//! Input: one mode byte, then text. Mode even: the text is the proof, raw (the parser,
//! every encoding and size path). Mode odd: the text is `header JSON`, a newline, `claims
//! JSON`, signed here with the fixture P-256 key (ES256) or, when the mode's bit 1 is
//! set, the Ed25519 one (EdDSA), so every claim check past the signature is reachable.
//! The request is always `GET https://api.example.com/v1/hello/alice-1` at
//! 1800000000 with a 60 s window and 5 s skew, token `a.b.c`, `cnf.jkt` of the P-256 key.
//! The seeds are valid proofs' members and their variants (fuzz/make_seeds.py).
//!
//! Invariants: never a panic; an accepted proof is at most 8 KiB, its header's `typ` is
//! `dpop+jwt`, its `alg` ES256 or EdDSA and signed by the P-256 key (the token is bound to
//! it), its `jti` 1 to 256 bytes, `htm` `GET`, `htu` normalizes to the request's URL,
//! `iat` is within the window, `ath` is the token's hash, and its `jkt` is the token's;
//! `htu` normalization is idempotent; reading a PEM never panics.
#![no_main]

use jwt_authorizer::binding::proof::{self, Expected, Rules};
use jwt_authorizer::binding::{certificate, htu, sha256_b64url};
use jwt_authorizer::jwk::Algorithm;
use jwt_authorizer::testkit::{FixtureKey, b64, jkt, public_jwk, sign};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const NOW: u64 = 1_800_000_000;
const TOKEN: &str = "a.b.c";
const ALGS: [Algorithm; 2] = [Algorithm::ES256, Algorithm::EdDSA];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let _ = certificate::der(&text);
    let proof = if mode & 1 == 0 {
        text.into_owned()
    } else {
        let (header, claims) = text.split_once('\n').unwrap_or((&text, "{}"));
        let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
        let (key, alg) = if mode & 2 == 0 {
            (FixtureKey::Ec256, "ES256")
        } else {
            (FixtureKey::Ed25519, "EdDSA")
        };
        format!("{input}.{}", b64(&sign(key, alg, input.as_bytes())))
    };
    let bound = json!(jkt(FixtureKey::Ec256));
    let origins = vec!["https://api.example.com".to_owned()];
    let rules = Rules {
        algorithms: &ALGS,
        max_age: 60,
        skew: 5,
    };
    let expected = Expected {
        method: Some("GET"),
        origins: &origins,
        path: Some("/v1/hello/alice-1"),
        token: TOKEN,
        jkt: &bound,
        now: NOW,
    };
    let checked = proof::check(&proof, &rules, &expected);
    if let Ok((_, claims)) = proof::parse(&proof)
        && let Some(Some(target)) = claims.get("htu").and_then(Value::as_str).map(htu::parse)
    {
        let again = htu::parse(&format!("{}{}", target.origin, target.path));
        assert_eq!(
            again.as_ref(),
            Some(&target),
            "htu normalization is not idempotent"
        );
    }
    let Ok(proven) = checked else {
        return;
    };
    assert!(proof.len() <= proof::MAX_PROOF_BYTES);
    let (header, claims) = proof::parse(&proof).expect("an accepted proof parses");
    // A media type: case-insensitive, `application/` optional (RFC 7515 §4.1.9).
    let typ = header
        .get("typ")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    assert!(
        matches!(typ.as_deref(), Some("dpop+jwt" | "application/dpop+jwt")),
        "{typ:?}"
    );
    let alg = header.get("alg").and_then(Value::as_str);
    assert!(matches!(alg, Some("ES256" | "EdDSA")), "{alg:?}");
    assert!(
        mode & 1 == 1 && mode & 2 == 0,
        "only the P-256 key's proofs are bound"
    );
    let mut jwk: Map<String, Value> = header["jwk"].as_object().expect("jwk").clone();
    jwk.retain(|k, _| ["kty", "crv", "x", "y"].contains(&k.as_str()));
    assert_eq!(Value::Object(jwk), public_jwk(FixtureKey::Ec256));
    assert_eq!(proven.jkt, jkt(FixtureKey::Ec256));
    assert!(!proven.jti.is_empty() && proven.jti.len() <= 256);
    assert_eq!(
        claims.get("jti").and_then(Value::as_str),
        Some(proven.jti.as_str())
    );
    assert_eq!(claims.get("htm"), Some(&json!("GET")));
    let target = htu::parse(claims["htu"].as_str().expect("htu")).expect("htu parses");
    assert_eq!(
        (target.origin.as_str(), target.path.as_str()),
        ("https://api.example.com", "/v1/hello/alice-1")
    );
    let iat = claims["iat"].as_f64().expect("iat");
    assert!(iat >= (NOW - 65) as f64 && iat <= (NOW + 5) as f64, "{iat}");
    assert_eq!(
        claims.get("ath").and_then(Value::as_str),
        Some(sha256_b64url(TOKEN.as_bytes()).as_str())
    );
});
