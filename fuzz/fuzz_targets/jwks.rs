//! JWKS documents: `KeySet::from_jwks` on any bytes, under any allow-list.
//!
//! Input: 2 bytes whose low 10 bits pick the allowed algorithms (HS256 and the nine
//! asymmetric ones), then the document. The seeds are the fixture JWKS files.
//!
//! Invariants: never a panic; a set is never empty; its kids are sorted, unique and each
//! found; a key serves an algorithm only if that algorithm is allowed, is not HS256, and a
//! JWK with that `kid` in the document fits it (SPEC.md: `kty`/`crv` of the algorithm,
//! `use` absent or `sig`, `alg` absent or equal); parsing is deterministic.
#![no_main]

use jwt_authorizer::jwk::{Algorithm, KeySet};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const ALL: [Algorithm; 10] = [
    Algorithm::HS256,
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// SPEC.md: the JWK members an algorithm needs.
fn fits(jwk: &Value, alg: Algorithm) -> bool {
    let text = |name: &str| match jwk.get(name) {
        None | Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.as_str())),
        Some(_) => None,
    };
    let (Some(kty), Some(crv), Some(use_), Some(declared)) =
        (text("kty"), text("crv"), text("use"), text("alg"))
    else {
        return false;
    };
    let shape = match alg {
        Algorithm::HS256 => false,
        Algorithm::ES256 => kty == Some("EC") && crv == Some("P-256"),
        Algorithm::ES384 => kty == Some("EC") && crv == Some("P-384"),
        Algorithm::EdDSA => kty == Some("OKP") && crv == Some("Ed25519"),
        _ => kty == Some("RSA"),
    };
    shape && use_.is_none_or(|u| u == "sig") && declared.is_none_or(|d| d == alg.as_str())
}

fuzz_target!(|data: &[u8]| {
    let Some((mask, document)) = data.split_first_chunk::<2>() else {
        return;
    };
    let mask = u16::from_le_bytes(*mask);
    let allowed: Vec<Algorithm> = ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, a)| *a)
        .collect();
    let Ok(set) = KeySet::from_jwks(document, &allowed) else {
        return;
    };
    assert!(!set.is_empty());
    let kids = set.kids();
    assert_eq!(kids.len(), set.len());
    assert!(
        kids.windows(2).all(|w| w[0] < w[1]),
        "kids sorted and unique"
    );
    let again = KeySet::from_jwks(document, &allowed).expect("deterministic");
    assert_eq!(again.kids(), kids);

    // `from_jwks` reads `keys` and skips the other members unchecked, so they may hold
    // bytes that are not UTF-8 (the fetch path refuses such a body: `keys::fetch_keys`);
    // replacing them leaves `keys` as it was.
    let text = String::from_utf8_lossy(document);
    let doc: Value = serde_json::from_str(&text).expect("a parsed JWKS is JSON");
    let jwks = doc["keys"].as_array().expect("keys is an array");
    for kid in kids {
        assert!(set.contains(kid));
        let key = set.get(kid).expect("a listed kid is found");
        let candidates: Vec<&Value> = jwks.iter().filter(|k| k["kid"] == kid).collect();
        assert!(!candidates.is_empty(), "kid {kid:?} is not in the document");
        let mut serves = 0;
        for alg in ALL {
            if key.for_alg(alg).is_some() {
                serves += 1;
                assert!(allowed.contains(&alg), "{kid} serves {alg}, not allowed");
                assert!(
                    candidates.iter().any(|jwk| fits(jwk, alg)),
                    "{kid} serves {alg} but no JWK with that kid fits it"
                );
            }
        }
        assert!(serves > 0, "{kid} serves no algorithm");
    }
});
