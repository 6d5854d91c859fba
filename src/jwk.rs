//! Signing algorithms and JSON Web Keys: parses a JWKS document into verification keys,
//! checking each JWK's `kty`, `crv`, `use` and `alg` against the algorithms it may serve.
//! Keys are parsed once (aws-lc-rs `ParsedPublicKey`), so a verify never rebuilds a key.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::signature::{self as lc, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use crate::error::UpstreamError;

/// The fixed allow-list of JWS algorithms this verifier implements. `none` is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC SHA-256 with a shared secret (secret issuers only, never JWKS issuers).
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RSA keys of 2048 to 8192 bits).
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// Every algorithm a JWKS issuer may use.
    pub const ASYMMETRIC: [Self; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The JOSE name, as it appears in a header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The JWK `kty` (and `crv`, where the family has curves) this algorithm needs.
    fn key_type(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::HS256 => ("oct", None),
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                ("RSA", None)
            }
            Self::ES256 => ("EC", Some("P-256")),
            Self::ES384 => ("EC", Some("P-384")),
            Self::EdDSA => ("OKP", Some("Ed25519")),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Algorithm {
    type Err = ();

    /// Exact, case-sensitive JOSE names; anything else (including `none`) is an error.
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "RS384" => Self::RS384,
            "RS512" => Self::RS512,
            "PS256" => Self::PS256,
            "PS384" => Self::PS384,
            "PS512" => Self::PS512,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            _ => return Err(()),
        })
    }
}

/// One usable public key: the `kid`, and the key parsed once per algorithm it may serve.
pub struct PublicKey {
    by_alg: Vec<(Algorithm, ParsedPublicKey)>,
}

impl PublicKey {
    /// The parsed key for `alg`, or `None` when the JWK does not fit that algorithm.
    pub fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.by_alg.iter().find(|(a, _)| *a == alg).map(|(_, k)| k)
    }
}

/// The usable keys of one JWKS document, by `kid`: sorted by it and found by binary
/// search (a JWKS holds a handful; no hashing of the kid on every decision).
#[derive(Default)]
pub struct KeySet {
    keys: Vec<(String, PublicKey)>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.kids())
            .finish()
    }
}

/// The JWK members this verifier reads. Private-key members, `x5c` and `x5u` are ignored.
#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct JwksDocument {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document, keeping the keys that can serve at least one of `allowed`.
    ///
    /// A JWK is skipped (not an error) when it has no `kid`, a `use` other than `sig`, an
    /// `alg` outside `allowed` or not fitting its `kty`/`crv`, or malformed key material.
    /// Fails when the document is not `{"keys":[...]}` or when no key is usable.
    pub fn from_jwks(document: &[u8], allowed: &[Algorithm]) -> Result<Self, UpstreamError> {
        let doc: JwksDocument = serde_json::from_slice(document)
            .map_err(|e| UpstreamError::InvalidDocument(format!("not a JWKS: {e}")))?;
        let mut keys = Vec::new();
        for value in doc.keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
                continue;
            };
            let Some(kid) = jwk.kid.clone() else { continue };
            if let Some(key) = public_key(&jwk, allowed) {
                keys.push((kid, key));
            }
        }
        // Of a repeated kid the last key counts: reversed, then a stable sort puts it
        // first among its equals, which is the one dedup keeps.
        keys.reverse();
        keys.sort_by(|(a, _), (b, _)| a.cmp(b));
        keys.dedup_by(|(later, _), (kept, _)| later == kept);
        if keys.is_empty() {
            return Err(UpstreamError::NoUsableKeys);
        }
        Ok(Self { keys })
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        let at = self
            .keys
            .binary_search_by(|(have, _)| have.as_str().cmp(kid))
            .ok()?;
        self.keys.get(at).map(|(_, key)| key)
    }

    /// Whether a key with this `kid` is present.
    pub fn contains(&self, kid: &str) -> bool {
        self.get(kid).is_some()
    }

    /// The kids, sorted.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|(kid, _)| kid.as_str()).collect()
    }

    /// Number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The members that make a JWK private (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2): a
/// DPoP proof's `jwk` must hold none (RFC 9449 §4.3, item 7).
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The key of a single JWK (a DPoP proof's `jwk` header) for `alg`, checked as a JWKS key
/// is (`kty`/`crv` fit `alg`; `use`, when present, is `sig`; `alg`, when present, is
/// `alg`); `None` when it does not fit or its material does not parse. `HS256` never.
pub fn single_key(jwk: &serde_json::Value, alg: Algorithm) -> Option<ParsedPublicKey> {
    let jwk = Jwk::deserialize(jwk).ok()?;
    public_key(&jwk, &[alg])?
        .by_alg
        .into_iter()
        .find(|(a, _)| *a == alg)
        .map(|(_, key)| key)
}

/// Builds the parsed keys of one JWK for every allowed algorithm it fits.
fn public_key(jwk: &Jwk, allowed: &[Algorithm]) -> Option<PublicKey> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    let declared = match jwk.alg.as_deref() {
        Some(name) => Some(name.parse::<Algorithm>().ok()?),
        None => None,
    };
    let by_alg: Vec<(Algorithm, ParsedPublicKey)> = allowed
        .iter()
        .copied()
        .filter(|alg| *alg != Algorithm::HS256)
        .filter(|alg| declared.is_none_or(|d| d == *alg))
        .filter(|alg| {
            let (kty, crv) = alg.key_type();
            jwk.kty.as_deref() == Some(kty) && crv.is_none_or(|c| jwk.crv.as_deref() == Some(c))
        })
        .filter_map(|alg| parse_for(jwk, alg).map(|key| (alg, key)))
        .collect();
    (!by_alg.is_empty()).then_some(PublicKey { by_alg })
}

fn b64(field: Option<&String>) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(field?).ok()
}

/// Parses the key material of a JWK that already fits `alg` by `kty`/`crv`.
fn parse_for(jwk: &Jwk, alg: Algorithm) -> Option<ParsedPublicKey> {
    let rsa = |params: &'static lc::RsaParameters| {
        let (n, e) = (b64(jwk.n.as_ref())?, b64(jwk.e.as_ref())?);
        RsaPublicKeyComponents {
            n: n.as_slice(),
            e: e.as_slice(),
        }
        .to_parsed_public_key(params)
        .ok()
    };
    let ec = |params: &'static lc::EcdsaVerificationAlgorithm, size: usize| {
        let (x, y) = (b64(jwk.x.as_ref())?, b64(jwk.y.as_ref())?);
        if x.len() != size || y.len() != size {
            return None;
        }
        let mut point = Vec::with_capacity(1 + 2 * size);
        point.push(0x04);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        ParsedPublicKey::new(params, point).ok()
    };
    match alg {
        Algorithm::HS256 => None,
        Algorithm::RS256 => rsa(&lc::RSA_PKCS1_2048_8192_SHA256),
        Algorithm::RS384 => rsa(&lc::RSA_PKCS1_2048_8192_SHA384),
        Algorithm::RS512 => rsa(&lc::RSA_PKCS1_2048_8192_SHA512),
        Algorithm::PS256 => rsa(&lc::RSA_PSS_2048_8192_SHA256),
        Algorithm::PS384 => rsa(&lc::RSA_PSS_2048_8192_SHA384),
        Algorithm::PS512 => rsa(&lc::RSA_PSS_2048_8192_SHA512),
        Algorithm::ES256 => ec(&lc::ECDSA_P256_SHA256_FIXED, 32),
        Algorithm::ES384 => ec(&lc::ECDSA_P384_SHA384_FIXED, 48),
        Algorithm::EdDSA => {
            let x = b64(jwk.x.as_ref())?;
            (x.len() == 32)
                .then(|| ParsedPublicKey::new(&lc::ED25519, x).ok())
                .flatten()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use crate::testkit::{FixtureKey, public_jwk};
    use serde_json::json;

    fn with_kid(key: FixtureKey, kid: &str) -> serde_json::Value {
        let mut jwk = public_jwk(key);
        jwk["kid"] = json!(kid);
        jwk
    }

    #[test]
    fn keys_are_found_by_kid_and_a_repeated_kid_keeps_its_last_key() {
        let allowed = [Algorithm::RS256, Algorithm::ES256];
        let document = json!({"keys": [
            with_kid(FixtureKey::Ec256, "b"),
            with_kid(FixtureKey::Ec256, "same"),
            with_kid(FixtureKey::Rsa, "a"),
            with_kid(FixtureKey::Rsa, "same"),
        ]});
        let set = KeySet::from_jwks(document.to_string().as_bytes(), &allowed).unwrap();
        assert_eq!(set.kids(), ["a", "b", "same"]);
        assert!(set.get("a").unwrap().for_alg(Algorithm::RS256).is_some());
        assert!(set.get("b").unwrap().for_alg(Algorithm::ES256).is_some());
        let same = set.get("same").unwrap();
        assert!(same.for_alg(Algorithm::RS256).is_some());
        assert!(same.for_alg(Algorithm::ES256).is_none());
        assert!(set.get("c").is_none() && !set.contains("sam") && set.contains("same"));
    }
}
