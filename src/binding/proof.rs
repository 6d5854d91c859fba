//! The checks of one DPoP proof (RFC 9449 §4.3), as a pure function of the proof, the
//! request, the access token and the time: no I/O, no clock of its own. The `jti` replay
//! check (item 12) is the replay store's ([`super::replay`]); server nonces (items 10
//! and 11) are not supported: an authorizer cannot answer with a `DPoP-Nonce` header.
//!
//! Order: size → JWS compact form → header (`typ`, `alg`, `jwk` public and fitting `alg`,
//! no `crit`) → signature → claims (`htm`, `htu`, `iat`, `jti`, `ath`) → the token's
//! `cnf.jkt` against the key's thumbprint.

use serde_json::{Map, Value};

use super::htu::{self, Target};
use super::thumbprint::{sha256_b64url, thumbprint};
use crate::jwk::{Algorithm, PRIVATE_MEMBERS, single_key};
use crate::verify::{base64url, compact_parts, typ_matches};

/// Largest accepted proof, in bytes (its header value).
pub const MAX_PROOF_BYTES: usize = 8 * 1024;
/// Longest accepted `jti`, in bytes: it becomes part of a DynamoDB key.
pub const MAX_JTI_BYTES: usize = 256;
/// The proof's required `typ` (RFC 9449 §4.2).
pub const PROOF_TYP: &str = "dpop+jwt";

/// Why a proof (or its absence) is refused. Every kind is logged as `bad_proof`, with
/// [`ProofError::as_str`] beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// The `DPoP` scheme while `DPOP=off`.
    DpopOff,
    /// The `DPoP` scheme with a token that names no key (`cnf.jkt`), RFC 9449 §7.1.
    Unbound,
    /// No `DPoP` header, or more than one.
    HeaderCount,
    /// Over [`MAX_PROOF_BYTES`].
    TooLarge,
    /// Not a JWS compact serialization with JSON object header and payload.
    Malformed,
    /// A `crit` header.
    Critical,
    /// `typ` is not `dpop+jwt` (compared as a media type: case-insensitively, with an
    /// optional `application/` prefix).
    Typ,
    /// `alg` absent, symmetric, or not in `DPOP_ALGORITHMS`.
    Alg,
    /// `jwk` absent, not fitting `alg`, or not a usable public key.
    Jwk,
    /// `jwk` holds private key members.
    PrivateKey,
    /// The signature does not verify with `jwk`.
    Signature,
    /// `htm` absent or not the request's method.
    Htm,
    /// `htu` absent or not the request's URL.
    Htu,
    /// `iat` absent or not a number.
    Iat,
    /// `iat` older than `DPOP_MAX_AGE_SECONDS` + `CLOCK_SKEW_SECONDS`.
    Stale,
    /// `iat` more than `CLOCK_SKEW_SECONDS` ahead.
    Future,
    /// `jti` absent, empty, not a string or longer than [`MAX_JTI_BYTES`].
    Jti,
    /// `ath` absent or not the hash of the access token.
    Ath,
    /// The token's `cnf.jkt` is not the proof key's thumbprint (or not a string).
    KeyMismatch,
}

impl ProofError {
    /// Short stable name for logs (beside the reason `bad_proof`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DpopOff => "dpop_off",
            Self::Unbound => "unbound_token",
            Self::HeaderCount => "header_count",
            Self::TooLarge => "too_large",
            Self::Malformed => "malformed",
            Self::Critical => "crit",
            Self::Typ => "typ",
            Self::Alg => "alg",
            Self::Jwk => "jwk",
            Self::PrivateKey => "private_key",
            Self::Signature => "signature",
            Self::Htm => "htm",
            Self::Htu => "htu",
            Self::Iat => "iat",
            Self::Stale => "iat_too_old",
            Self::Future => "iat_in_future",
            Self::Jti => "jti",
            Self::Ath => "ath",
            Self::KeyMismatch => "jkt",
        }
    }
}

/// The settings a proof is judged by.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// `DPOP_ALGORITHMS`.
    pub algorithms: &'a [Algorithm],
    /// `DPOP_MAX_AGE_SECONDS`.
    pub max_age: u64,
    /// `CLOCK_SKEW_SECONDS`.
    pub skew: u64,
}

/// What the proof must match in the request.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The request's method.
    pub method: Option<&'a str>,
    /// The origins the request may have been sent to (`DPOP_ORIGINS`, or the `Host`'s).
    pub origins: &'a [String],
    /// The request's path, normalized.
    pub path: Option<&'a str>,
    /// The access token presented with the proof.
    pub token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a Value,
    /// Wall-clock seconds since the epoch.
    pub now: u64,
}

/// A proof that passed every check: what the replay store remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    /// The proof key's thumbprint (= the token's `cnf.jkt`).
    pub jkt: String,
    /// The proof's `jti`.
    pub jti: String,
    /// The proof's `iat`.
    pub iat: i64,
}

struct Parts<'a> {
    header: Map<String, Value>,
    claims: Map<String, Value>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

fn object(segment: &str) -> Result<Map<String, Value>, ProofError> {
    let bytes = base64url(segment).ok_or(ProofError::Malformed)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| ProofError::Malformed)?;
    serde_json::from_str(text).map_err(|_| ProofError::Malformed)
}

fn split(proof: &str) -> Result<Parts<'_>, ProofError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(ProofError::TooLarge);
    }
    let (header, payload, signature) = compact_parts(proof).ok_or(ProofError::Malformed)?;
    let signing_input = proof
        .get(..header.len() + 1 + payload.len())
        .ok_or(ProofError::Malformed)?;
    let signature = base64url(signature).ok_or(ProofError::Malformed)?;
    if signature.is_empty() {
        return Err(ProofError::Malformed);
    }
    Ok(Parts {
        header: object(header)?,
        claims: object(payload)?,
        signing_input,
        signature,
    })
}

/// A proof's header and claims, read but not checked.
pub type Members = (Map<String, Value>, Map<String, Value>);

/// Parses a proof's header and claims without checking anything but their form (for
/// `authorizer-admin explain` and the fuzz target).
pub fn parse(proof: &str) -> Result<Members, ProofError> {
    split(proof).map(|parts| (parts.header, parts.claims))
}

/// Checks `proof` against RFC 9449 §4.3 (items 1 to 9 and 12's `ath`, plus the token's
/// `cnf.jkt`, §6.1); the caller checks `jti` replay with [`Proven`].
pub fn check(
    proof: &str,
    rules: &Rules<'_>,
    expected: &Expected<'_>,
) -> Result<Proven, ProofError> {
    let parts = split(proof)?;
    let header = &parts.header;
    if header.contains_key("crit") {
        return Err(ProofError::Critical);
    }
    // RFC 7515 §4.1.9: media types compare case-insensitively, `application/` optional.
    if !typ_matches(PROOF_TYP, header.get("typ").and_then(Value::as_str)) {
        return Err(ProofError::Typ);
    }
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(|alg| alg.parse::<Algorithm>().ok())
        .filter(|alg| *alg != Algorithm::HS256 && rules.algorithms.contains(alg))
        .ok_or(ProofError::Alg)?;
    let jwk = header.get("jwk").ok_or(ProofError::Jwk)?;
    let jwk_members = jwk.as_object().ok_or(ProofError::Jwk)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_members.contains_key(*m)) {
        return Err(ProofError::PrivateKey);
    }
    let key = single_key(jwk, alg).ok_or(ProofError::Jwk)?;
    key.verify_sig(parts.signing_input.as_bytes(), &parts.signature)
        .map_err(|_| ProofError::Signature)?;
    let claims = &parts.claims;
    let htm = claims.get("htm").and_then(Value::as_str);
    if htm.is_none() || htm != expected.method {
        return Err(ProofError::Htm);
    }
    let target = claims
        .get("htu")
        .and_then(Value::as_str)
        .and_then(htu::parse)
        .ok_or(ProofError::Htu)?;
    if !htu_matches(&target, expected) {
        return Err(ProofError::Htu);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .filter(|iat| iat.is_finite())
        .ok_or(ProofError::Iat)?;
    check_iat(iat, rules, expected.now)?;
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty() && jti.len() <= MAX_JTI_BYTES)
        .ok_or(ProofError::Jti)?;
    let ath = claims.get("ath").and_then(Value::as_str);
    if ath != Some(sha256_b64url(expected.token.as_bytes()).as_str()) {
        return Err(ProofError::Ath);
    }
    let jkt = thumbprint(jwk_members).ok_or(ProofError::Jwk)?;
    if expected.jkt.as_str() != Some(jkt.as_str()) {
        return Err(ProofError::KeyMismatch);
    }
    Ok(Proven {
        jkt,
        jti: jti.to_owned(),
        // Within the window just checked, so well inside i64.
        #[allow(clippy::cast_possible_truncation)]
        iat: iat.floor() as i64,
    })
}

fn htu_matches(target: &Target, expected: &Expected<'_>) -> bool {
    expected.path == Some(target.path.as_str()) && expected.origins.contains(&target.origin)
}

/// `iat` within `[now - max_age - skew, now + skew]` (RFC 9449 §4.3, item 11).
fn check_iat(iat: f64, rules: &Rules<'_>, now: u64) -> Result<(), ProofError> {
    // Seconds fit f64 exactly far beyond any real clock.
    #[allow(clippy::cast_precision_loss)]
    let now = now as f64;
    #[allow(clippy::cast_precision_loss)]
    let oldest = now - (rules.max_age + rules.skew) as f64;
    #[allow(clippy::cast_precision_loss)]
    let newest = now + rules.skew as f64;
    if iat < oldest {
        Err(ProofError::Stale)
    } else if iat > newest {
        Err(ProofError::Future)
    } else {
        Ok(())
    }
}

/// How long a proof's `jti` must be remembered from `now`: as long as a proof issued now
/// (or `skew` ahead) can still pass the `iat` check.
pub fn replay_window(rules: &Rules<'_>) -> u64 {
    rules.max_age.saturating_add(rules.skew.saturating_mul(2))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::testkit::{FixtureKey, b64, dpop_proof, jkt, proof_claims, public_jwk, sign};
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;
    const URL: &str = "https://api.example.com/prod/hello";
    const TOKEN: &str = "eyJ0eXAiOiJhdCtqd3QifQ.eyJzdWIiOiJ1MSJ9.c2ln";
    const ALGS: [Algorithm; 4] = [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
    ];

    fn rules() -> Rules<'static> {
        Rules {
            algorithms: &ALGS,
            max_age: 60,
            skew: 5,
        }
    }

    fn origins() -> Vec<String> {
        vec!["https://api.example.com".to_owned()]
    }

    fn run(proof: &str, key: FixtureKey) -> Result<Proven, ProofError> {
        run_with(proof, "GET", &json!(jkt(key)), NOW)
    }

    fn run_with(proof: &str, method: &str, jkt: &Value, now: u64) -> Result<Proven, ProofError> {
        let origins = origins();
        check(
            proof,
            &rules(),
            &Expected {
                method: Some(method),
                origins: &origins,
                path: Some("/prod/hello"),
                token: TOKEN,
                jkt,
                now,
            },
        )
    }

    fn fresh(key: FixtureKey) -> String {
        dpop_proof(key, &json!({}), &proof_claims("GET", URL, NOW, TOKEN))
    }

    fn with_claim(key: FixtureKey, name: &str, value: Value) -> String {
        let mut claims = proof_claims("GET", URL, NOW, TOKEN);
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value;
        }
        dpop_proof(key, &json!({}), &claims)
    }

    #[test]
    fn a_fresh_proof_of_each_default_algorithm_passes() {
        for key in [FixtureKey::Ec256, FixtureKey::Ed25519, FixtureKey::Rsa] {
            let proven = run(&fresh(key), key).unwrap();
            assert_eq!(proven.jkt, jkt(key));
            assert_eq!(proven.iat, NOW as i64);
            assert!(proven.jti.starts_with("jti-"));
        }
    }

    #[test]
    fn a_ps256_proof_passes() {
        let claims = proof_claims("GET", URL, NOW, TOKEN);
        let proof = dpop_proof(FixtureKey::Rsa, &json!({"alg": "PS256"}), &claims);
        assert!(run(&proof, FixtureKey::Rsa).is_ok());
    }

    /// §4.3 item 2: a well-formed JWT.
    #[test]
    fn a_proof_that_is_not_a_jws_fails() {
        for bad in [
            "",
            "a.b",
            "a.b.c.d",
            "e30.e30.",
            "!!.e30.c2ln",
            "W10.e30.c2ln",
        ] {
            assert_eq!(
                run(bad, FixtureKey::Ec256),
                Err(ProofError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_oversized_proof_fails() {
        let big = with_claim(FixtureKey::Ec256, "pad", json!("x".repeat(MAX_PROOF_BYTES)));
        assert_eq!(run(&big, FixtureKey::Ec256), Err(ProofError::TooLarge));
    }

    /// §4.3 item 4: `typ` is `dpop+jwt`, a media type (RFC 7515 §4.1.9).
    #[test]
    fn a_wrong_or_missing_typ_fails() {
        for typ in [json!("DPOP+JWT"), json!("application/dpop+jwt")] {
            let claims = proof_claims("GET", URL, NOW, TOKEN);
            let proof = dpop_proof(FixtureKey::Ec256, &json!({"typ": typ}), &claims);
            assert!(run(&proof, FixtureKey::Ec256).is_ok(), "{typ}");
        }
        for typ in [json!("JWT"), json!("at+jwt"), json!("dpop+jwt "), json!(5)] {
            let claims = proof_claims("GET", URL, NOW, TOKEN);
            let proof = dpop_proof(FixtureKey::Ec256, &json!({"typ": typ}), &claims);
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Typ),
                "{typ}"
            );
        }
        let claims = proof_claims("GET", URL, NOW, TOKEN);
        let proof = dpop_proof(FixtureKey::Ec256, &json!({"typ": null}), &claims);
        assert_eq!(run(&proof, FixtureKey::Ec256), Err(ProofError::Typ));
    }

    /// §4.3 item 5: an asymmetric `alg` the server supports, never `none` nor a MAC.
    #[test]
    fn a_symmetric_unlisted_or_none_alg_fails() {
        for alg in ["HS256", "none", "RS384", "ES384", "es256", ""] {
            let claims = proof_claims("GET", URL, NOW, TOKEN);
            let proof = dpop_proof(FixtureKey::Ec256, &json!({"alg": alg}), &claims);
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Alg),
                "{alg}"
            );
        }
    }

    /// §4.3 item 7: the `jwk` holds no private key.
    #[test]
    fn a_jwk_with_private_members_fails() {
        for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            let mut jwk = public_jwk(FixtureKey::Ec256);
            jwk[member] = json!("AAAA");
            let claims = proof_claims("GET", URL, NOW, TOKEN);
            let proof = dpop_proof(FixtureKey::Ec256, &json!({"jwk": jwk}), &claims);
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::PrivateKey),
                "{member}"
            );
        }
    }

    #[test]
    fn a_missing_or_unfitting_jwk_fails() {
        let claims = proof_claims("GET", URL, NOW, TOKEN);
        for jwk in [
            Value::Null,
            json!("key"),
            public_jwk(FixtureKey::Rsa),
            json!({"kty": "oct"}),
            json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        ] {
            let proof = dpop_proof(FixtureKey::Ec256, &json!({"jwk": jwk}), &claims);
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Jwk),
                "{jwk}"
            );
        }
    }

    #[test]
    fn a_crit_header_fails() {
        let claims = proof_claims("GET", URL, NOW, TOKEN);
        let proof = dpop_proof(FixtureKey::Ec256, &json!({"crit": ["exp"]}), &claims);
        assert_eq!(run(&proof, FixtureKey::Ec256), Err(ProofError::Critical));
    }

    /// §4.3 item 6: the signature verifies with the `jwk`.
    #[test]
    fn a_bad_signature_fails() {
        let proof = fresh(FixtureKey::Ec256);
        let (input, _) = proof.rsplit_once('.').unwrap();
        let forged = format!(
            "{input}.{}",
            b64(&sign(FixtureKey::Ec256, "ES256", b"other"))
        );
        assert_eq!(run(&forged, FixtureKey::Ec256), Err(ProofError::Signature));
        // Another key's signature under this proof's jwk.
        let mut header =
            json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(FixtureKey::Ec256)});
        header["x"] = json!(1);
        let other = crate::testkit::compact(&header, &proof_claims("GET", URL, NOW, TOKEN), |m| {
            sign(FixtureKey::Rsa, "RS256", m)
        });
        assert_eq!(run(&other, FixtureKey::Ec256), Err(ProofError::Signature));
    }

    /// §4.3 item 8: `htm` is the request's method.
    #[test]
    fn a_wrong_or_missing_htm_fails() {
        for htm in [json!("POST"), json!("get"), json!(null), json!(1)] {
            let proof = with_claim(FixtureKey::Ec256, "htm", htm.clone());
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Htm),
                "{htm}"
            );
        }
        let proof = fresh(FixtureKey::Ec256);
        assert_eq!(
            run_with(&proof, "POST", &json!(jkt(FixtureKey::Ec256)), NOW),
            Err(ProofError::Htm)
        );
    }

    /// §4.3 item 9: `htu` is the request's URL, without query and fragment, normalized.
    #[test]
    fn htu_compares_after_normalization() {
        for ok in [
            "https://api.example.com/prod/hello",
            "HTTPS://API.EXAMPLE.COM/prod/hello",
            "https://api.example.com:443/prod/hello",
            "https://api.example.com/prod/hello?x=1",
            "https://api.example.com/prod/hello#f",
            "https://api.example.com/prod/./hello",
        ] {
            let proof = with_claim(FixtureKey::Ec256, "htu", json!(ok));
            assert!(run(&proof, FixtureKey::Ec256).is_ok(), "{ok}");
        }
    }

    #[test]
    fn another_host_path_port_or_scheme_fails_htu() {
        for bad in [
            json!("https://evil.example.com/prod/hello"),
            json!("https://api.example.com/prod/other"),
            json!("https://api.example.com/hello"),
            json!("https://api.example.com/prod/HELLO"),
            json!("https://api.example.com:8443/prod/hello"),
            json!("http://api.example.com/prod/hello"),
            json!("/prod/hello"),
            json!(null),
        ] {
            let proof = with_claim(FixtureKey::Ec256, "htu", bad.clone());
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Htu),
                "{bad}"
            );
        }
    }

    /// §4.3 item 11: `iat` within the acceptable window.
    #[test]
    fn iat_too_old_or_too_far_ahead_fails() {
        let at = |iat: Value| {
            run(
                &with_claim(FixtureKey::Ec256, "iat", iat),
                FixtureKey::Ec256,
            )
        };
        assert!(at(json!(NOW - 65)).is_ok());
        assert!(at(json!(NOW + 5)).is_ok());
        assert!(at(json!(NOW as f64 + 0.5)).is_ok());
        assert_eq!(at(json!(NOW - 66)), Err(ProofError::Stale));
        assert_eq!(at(json!(NOW + 6)), Err(ProofError::Future));
        assert_eq!(at(json!("1700000000")), Err(ProofError::Iat));
        assert_eq!(at(json!(null)), Err(ProofError::Iat));
    }

    #[test]
    fn a_missing_empty_or_oversized_jti_fails() {
        for jti in [
            json!(null),
            json!(""),
            json!(5),
            json!("j".repeat(MAX_JTI_BYTES + 1)),
        ] {
            let proof = with_claim(FixtureKey::Ec256, "jti", jti);
            assert_eq!(run(&proof, FixtureKey::Ec256), Err(ProofError::Jti));
        }
    }

    /// §4.3 item 12: `ath` is the hash of the access token.
    #[test]
    fn a_wrong_or_missing_ath_fails() {
        for ath in [
            json!(null),
            json!(sha256_b64url(b"another.token.here")),
            json!(sha256_b64url(TOKEN.as_bytes()) + "="),
            json!(TOKEN),
        ] {
            let proof = with_claim(FixtureKey::Ec256, "ath", ath.clone());
            assert_eq!(
                run(&proof, FixtureKey::Ec256),
                Err(ProofError::Ath),
                "{ath}"
            );
        }
    }

    /// §4.3 item 12 / §6.1: the token is bound to the proof's key.
    #[test]
    fn a_cnf_jkt_of_another_key_fails() {
        let proof = fresh(FixtureKey::Ec256);
        for jkt in [
            json!(jkt(FixtureKey::Ed25519)),
            json!(5),
            json!(null),
            json!(""),
        ] {
            assert_eq!(
                run_with(&proof, "GET", &jkt, NOW),
                Err(ProofError::KeyMismatch),
                "{jkt}"
            );
        }
    }

    #[test]
    fn the_replay_window_covers_every_acceptable_iat() {
        assert_eq!(replay_window(&rules()), 70);
    }

    #[test]
    fn parse_reads_header_and_claims_only() {
        let (header, claims) = parse(&fresh(FixtureKey::Ec256)).unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(claims["htm"], "GET");
    }
}
