//! The differential corpus (docs/reliability.md, "An independent verifier, side by side").
//!
//! `cargo run --example differential -- OUT_DIR [--seed N]` generates, from a seed and the
//! fixture keys in `tests/fixtures/keys/`, tokens that are valid or mutated in header,
//! claims, encoding and signature, each labelled with the verdict SPEC.md asks for
//! ("expected", decided here from how the token was built, never by running a verifier).
//! It judges every token with this authorizer's `Verifier` and writes:
//!
//! - `OUT_DIR/setup.json`: what every verifier is configured with (the clock, the issuers,
//!   audiences, algorithms and the JWKS document itself);
//! - `OUT_DIR/corpus.jsonl`: one case a line, `{"id", "label", "token", "expected", "clock"}`;
//!   `clock: true` marks the few cases whose verdict depends on the clock (they need a
//!   verifier whose clock can be set);
//! - `OUT_DIR/authorizer.jsonl`: `{"id", "verdict", "reason"}`;
//! - `OUT_DIR/dpop-corpus.jsonl`: DPoP proofs, valid and mutated (RFC 9449 §4.3), each
//!   with the request, token and `cnf.jkt` it is judged against and the expected verdict,
//!   `{"id", "label", "proof", "token", "method", "url", "now", "max_age", "jkt",
//!   "algorithms", "expected"}`; `OUT_DIR/dpop-authorizer.jsonl`: this authorizer's
//!   verdicts (`binding::proof::check`). jose judges the same proofs
//!   (`tests/differential/jose-dpop.mjs`).
//!
//! The cases, their labels and their expected verdicts are a function of the seed alone.
//! The token bytes are too, except where a signature is randomised by its algorithm
//! (ECDSA, RSA-PSS): those differ from run to run, their verdicts do not.
//! `scripts/differential.sh` runs the other verifiers on the same corpus and compares.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // a test tool: any failure here is a broken fixture, not a request path

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_FOREIGN, b64, hmac256, sign};
use jwt_authorizer::{Authorizer, Config, ManualClock};
use serde_json::{Value, json};

/// The clock every verifier that takes one judges at (2027-01-15).
const NOW: u64 = 1_800_000_000;
/// An `exp` valid under any clock from 2001 to 2099: cases built on it judge the same
/// whether a verifier reads `NOW` or the system clock.
const EXP: u64 = 4_102_444_800;
/// Long past under any clock this corpus meets.
const PAST: u64 = 1_000_000_000;
/// Far ahead under any clock this corpus meets (2096).
const FUTURE: u64 = 4_000_000_000;
const SEED: u64 = 12;

const OIDC_ISSUER: &str = "https://issuer.test";
const POOL: &str = "us-east-1_TEST";
const COGNITO_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST";
const AUDIENCE: &str = "test-client";
/// Every asymmetric algorithm this verifier implements: the JWK's `alg`, not this list,
/// is what pins each key to one algorithm.
const ALGORITHMS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];
/// The largest token the authorizer accepts (SPEC.md: over 16 KiB is invalid).
const MAX_TOKEN: usize = 16 * 1024;

/// P-256 and P-384 group orders, big-endian.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
/// The Ed25519 group order L, big-endian.
const ED25519_L: &str = "1000000000000000000000000000000014def9dea2f79cd65812631a5cf5d3ed";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Profile {
    /// A generic OIDC issuer: `aud` is the audience.
    Oidc,
    /// A Cognito user pool's access tokens: `client_id` is the audience, `token_use`.
    Cognito,
}

/// One valid token shape: a fixture key and an issuer profile; every mutation starts
/// from one.
#[derive(Clone, Copy)]
struct Base {
    key: FixtureKey,
    profile: Profile,
}

impl Base {
    fn name(self) -> String {
        let key = match self.key {
            FixtureKey::Rsa => "rsa",
            FixtureKey::Ec256 => "ec256",
            FixtureKey::Ec384 => "ec384",
            FixtureKey::Ed25519 => "ed25519",
            other => panic!("no base for {other:?}"),
        };
        let profile = match self.profile {
            Profile::Oidc => "oidc",
            Profile::Cognito => "cognito",
        };
        format!("{key}-{profile}")
    }

    fn alg(self) -> &'static str {
        self.key.alg()
    }

    fn header(self) -> Value {
        json!({"alg": self.alg(), "kid": self.key.kid()})
    }

    fn issuer(self) -> &'static str {
        match self.profile {
            Profile::Oidc => OIDC_ISSUER,
            Profile::Cognito => COGNITO_ISSUER,
        }
    }

    /// The claims of a valid token; `n` makes each one distinct.
    fn claims(self, n: u64) -> Value {
        match self.profile {
            Profile::Oidc => json!({
                "iss": OIDC_ISSUER,
                "sub": format!("user-{n}"),
                "aud": AUDIENCE,
                "iat": NOW - 60,
                "exp": EXP,
                "scope": "read write",
                "username": "alice",
                "jti": format!("jti-{n}"),
            }),
            Profile::Cognito => json!({
                "iss": COGNITO_ISSUER,
                "sub": format!("0f1e2d3c-{n}"),
                "client_id": AUDIENCE,
                "token_use": "access",
                "scope": "aws.cognito.signin.user.admin",
                "auth_time": NOW - 60,
                "iat": NOW - 60,
                "exp": EXP,
                "username": "alice",
                "jti": format!("jti-{n}"),
                "origin_jti": format!("origin-{n}"),
            }),
        }
    }

    /// The public JWK of this base's key, from the fixture JWKS.
    fn jwk(self) -> Value {
        let jwks: Value = serde_json::from_str(JWKS).unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == self.key.kid())
            .cloned()
            .unwrap()
    }
}

/// SplitMix64: small, seedable, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Case {
    label: String,
    token: String,
    expected: bool,
    clock: bool,
}

const ACCEPT: bool = true;
const REJECT: bool = false;

/// Builds the corpus.
struct Corpus {
    rng: Rng,
    cases: Vec<Case>,
    serial: u64,
}

impl Corpus {
    fn push(&mut self, base: Base, label: &str, expected: bool, token: String) {
        self.cases.push(Case {
            label: format!("{}/{label}", base.name()),
            token,
            expected,
            clock: false,
        });
    }

    fn push_clock(&mut self, base: Base, label: &str, expected: bool, token: String) {
        self.push(base, label, expected, token);
        self.cases.last_mut().unwrap().clock = true;
    }

    fn serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn claims(&mut self, base: Base) -> Value {
        let n = self.serial();
        base.claims(n)
    }

    /// A valid token of `base` with its claims changed by `edit`.
    fn with_claims(&mut self, base: Base, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims(base);
        edit(&mut claims);
        signed(base, &base.header(), &claims)
    }

    /// A valid token of `base` with its header changed by `edit`.
    fn with_header(&mut self, base: Base, edit: impl FnOnce(&mut Value)) -> String {
        let mut header = base.header();
        edit(&mut header);
        let claims = self.claims(base);
        signed(base, &header, &claims)
    }
}

fn set(value: &mut Value, name: &str, to: Value) {
    value.as_object_mut().unwrap().insert(name.to_owned(), to);
}

fn remove(value: &mut Value, name: &str) {
    value.as_object_mut().unwrap().remove(name);
}

/// `b64(header).b64(payload)` signed over exactly that text by `signer`.
fn jws(header: &[u8], payload: &[u8], signer: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    signed_text(format!("{}.{}", b64(header), b64(payload)), signer)
}

/// `input.b64(signature over input)`: whatever `input` is, the signature is valid for it.
fn signed_text(input: String, signer: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    let signature = signer(input.as_bytes());
    format!("{input}.{}", b64(&signature))
}

fn signed(base: Base, header: &Value, claims: &Value) -> String {
    signed_raw(
        base,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

fn signed_raw(base: Base, header: &[u8], payload: &[u8]) -> String {
    jws(header, payload, |m| sign(base.key, base.alg(), m))
}

/// The three segments of a compact token.
fn parts(token: &str) -> (String, String, String) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3, "{token}");
    (p[0].to_owned(), p[1].to_owned(), p[2].to_owned())
}

fn signature_bytes(token: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts(token).2)
        .unwrap()
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (h, p, _) = parts(token);
    format!("{h}.{p}.{}", b64(signature))
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// `a - b` for big-endian numbers of the same length, `a >= b`.
fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// `a + b` for little-endian numbers of the same length (no overflow here).
fn add_le(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut carry = 0u16;
    for i in 0..a.len() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_integer(n: &[u8]) -> Vec<u8> {
    let mut n: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if n.first().is_none_or(|b| b & 0x80 != 0) {
        n.insert(0, 0);
    }
    let mut out = vec![0x02, n.len() as u8];
    out.extend(n);
    out
}

/// The ECDSA signature `r || s` as the DER `SEQUENCE { r, s }` JOSE does not use.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [der_integer(r), der_integer(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

/// The base64url padding a segment of this length would carry.
fn padding(segment: &str) -> &'static str {
    match segment.len() % 4 {
        2 => "==",
        3 => "=",
        _ => "",
    }
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The same last character with its unused low bits set: the same bytes under a lenient
/// decoder, a different string under a strict one. `None` when there are no unused bits.
fn non_canonical_tail(segment: &str) -> Option<String> {
    let unused = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        _ => return None,
    };
    let last = *segment.as_bytes().last()?;
    let value = B64URL.iter().position(|c| *c == last)?;
    let bumped = value | ((1 << unused) - 1);
    (bumped != value).then(|| {
        let mut s = segment[..segment.len() - 1].to_owned();
        s.push(B64URL[bumped] as char);
        s
    })
}

fn valid_cases(c: &mut Corpus, base: Base) {
    let token = c.with_claims(base, |_| {});
    c.push(base, "valid/as-minted", ACCEPT, token);
    for (label, name, value) in [
        ("valid/typ-jwt", "typ", json!("JWT")),
        ("valid/typ-at+jwt", "typ", json!("at+jwt")),
        ("valid/typ-not-a-string", "typ", json!(1)),
        ("valid/cty-present", "cty", json!("JWT")),
        (
            "valid/jku-ignored",
            "jku",
            json!("https://attacker.test/jwks.json"),
        ),
        (
            "valid/x5u-ignored",
            "x5u",
            json!("https://attacker.test/cert.pem"),
        ),
        (
            "valid/x5c-ignored",
            "x5c",
            json!(["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ),
        ("valid/x5c-not-strings", "x5c", json!(5)),
        ("valid/unknown-header-member", "ext", json!({"a": [1, 2]})),
        ("valid/jwk-header-not-a-jwk", "jwk", json!("not a key")),
    ] {
        let token = c.with_header(base, |h| set(h, name, value));
        c.push(base, label, ACCEPT, token);
    }
    let foreign: Value = serde_json::from_str::<Value>(JWKS_FOREIGN).unwrap()["keys"][0].clone();
    let token = c.with_header(base, |h| set(h, "jwk", foreign));
    c.push(base, "valid/jwk-header-ignored", ACCEPT, token);
    let header = format!(
        "{{ \"kid\" : \"{}\" ,\n \"alg\" : \"{}\" }}",
        base.key.kid(),
        base.alg()
    );
    let claims = c.claims(base);
    let token = signed_raw(base, header.as_bytes(), claims.to_string().as_bytes());
    c.push(base, "valid/header-whitespace-and-order", ACCEPT, token);
    let claims = c.claims(base);
    let pretty = serde_json::to_string_pretty(&claims).unwrap();
    let token = signed_raw(
        base,
        base.header().to_string().as_bytes(),
        pretty.as_bytes(),
    );
    c.push(base, "valid/payload-pretty-printed", ACCEPT, token);

    for (label, edit) in [
        ("valid/iat-in-future", json!({"iat": FUTURE})),
        ("valid/iat-fractional", json!({"iat": NOW as f64 - 0.5})),
        ("valid/nbf-in-past", json!({"nbf": PAST})),
        ("valid/exp-fractional", json!({"exp": EXP as f64 + 0.5})),
        ("valid/exp-1e15", json!({"exp": 1_000_000_000_000_000u64})),
        ("valid/exp-beyond-u64", json!({"exp": 1e20})),
        (
            "valid/unicode-claims",
            json!({"name": "Zoë Ålund 🚀", "locale": "sv-SE"}),
        ),
        (
            "valid/nested-claims",
            json!({"address": {"country": "SE", "lines": ["a", "b"]}, "cognito:groups": ["ops", "dev"], "n": null}),
        ),
        ("valid/sub-number", json!({"sub": 42})),
        ("valid/scope-array", json!({"scope": ["read", "write"]})),
        ("valid/jti-number", json!({"jti": 7})),
        ("valid/large-claims", json!({"blob": "x".repeat(8_000)})),
    ] {
        let token = c.with_claims(base, |claims| {
            for (k, v) in edit.as_object().unwrap() {
                set(claims, k, v.clone());
            }
        });
        c.push(base, label, ACCEPT, token);
    }
    let token = c.with_claims(base, |claims| remove(claims, "iat"));
    c.push(base, "valid/no-iat", ACCEPT, token);
    match base.profile {
        Profile::Oidc => {
            let token = c.with_claims(base, |claims| {
                set(claims, "aud", json!(["other", AUDIENCE]))
            });
            c.push(base, "valid/aud-array-holding-ours", ACCEPT, token);
        }
        Profile::Cognito => {
            let token = c.with_claims(base, |claims| set(claims, "aud", json!("someone-else")));
            c.push(base, "valid/aud-ignored-on-access-tokens", ACCEPT, token);
        }
    }
    // RFC 7519 §4: a duplicate claim name is either rejected or the last one wins; here the
    // last one wins (it is the one every claim check and policy reads).
    let claims = c.claims(base);
    let text = claims.to_string();
    let dup = format!("{{\"exp\":{PAST},{}", &text[1..]);
    let token = signed_raw(base, base.header().to_string().as_bytes(), dup.as_bytes());
    c.push(base, "valid/duplicate-claim-last-wins", ACCEPT, token);

    // The largest token accepted: a filler claim brings it to exactly 16 KiB.
    let token = sized_token(c, base, MAX_TOKEN);
    c.push(base, "valid/exactly-16-kib", ACCEPT, token);

    match base.key {
        FixtureKey::Ec256 | FixtureKey::Ec384 => {
            // ECDSA is malleable: (r, n - s) verifies as well as (r, s).
            let order = hex(if base.key == FixtureKey::Ec256 {
                P256_N
            } else {
                P384_N
            });
            let token = c.with_claims(base, |_| {});
            let sig = signature_bytes(&token);
            let (r, s) = sig.split_at(sig.len() / 2);
            let high_s = [r, &sub_be(&order, s)].concat();
            c.push(
                base,
                "valid/ecdsa-high-s",
                ACCEPT,
                with_signature(&token, &high_s),
            );
        }
        FixtureKey::Rsa => {
            let token = rsa_signature_with_leading_zero(c, base);
            c.push(base, "valid/rsa-signature-with-leading-zero", ACCEPT, token);
        }
        _ => {}
    }
}

/// A valid token of `base` exactly `len` bytes long: a filler claim sized without
/// signing (every signature of a key has the same length), then one signature.
fn sized_token(c: &mut Corpus, base: Base, len: usize) -> String {
    let claims = c.claims(base);
    let signature_len = b64(&sign(base.key, base.alg(), b"probe")).len();
    let b64_len = |n: usize| (4 * n).div_ceil(3);
    for typ in ["", "J", "JW", "JWT"] {
        let mut header = base.header();
        if !typ.is_empty() {
            set(&mut header, "typ", json!(typ));
        }
        let header_len = b64_len(header.to_string().len());
        let Some(payload_len) = len.checked_sub(header_len + signature_len + 2) else {
            continue;
        };
        let mut claims = claims.clone();
        set(&mut claims, "filler", json!(""));
        let bare = claims.to_string().len();
        let fits = (0..=payload_len).find(|f| b64_len(bare + f) == payload_len);
        if let Some(filler) = fits {
            set(&mut claims, "filler", json!("f".repeat(filler)));
            let token = signed(base, &header, &claims);
            assert_eq!(token.len(), len);
            return token;
        }
    }
    panic!("no token of {len} bytes for {}", base.name());
}

/// An RS256 token whose signature happens to start with a zero byte (about 1 in 256).
fn rsa_signature_with_leading_zero(c: &mut Corpus, base: Base) -> String {
    loop {
        let token = c.with_claims(base, |_| {});
        if signature_bytes(&token)[0] == 0 {
            return token;
        }
    }
}

fn header_cases(c: &mut Corpus, base: Base) {
    let claims = c.claims(base);
    let payload = claims.to_string();
    let kid = base.key.kid();
    let unsigned = |header: Value, signature: &[u8]| {
        format!(
            "{}.{}.{}",
            b64(header.to_string().as_bytes()),
            b64(payload.as_bytes()),
            b64(signature)
        )
    };
    c.push(
        base,
        "header/alg-none-empty-signature",
        REJECT,
        format!(
            "{}.{}.",
            b64(json!({"alg": "none", "kid": kid}).to_string().as_bytes()),
            b64(payload.as_bytes())
        ),
    );
    c.push(
        base,
        "header/alg-none-with-signature",
        REJECT,
        unsigned(json!({"alg": "none", "kid": kid}), b"sig"),
    );
    for (label, alg) in [
        ("header/alg-None", json!("None")),
        ("header/alg-lowercase", json!(base.alg().to_lowercase())),
        ("header/alg-number", json!(256)),
        ("header/alg-null", Value::Null),
        ("header/alg-empty", json!("")),
        ("header/alg-es512", json!("ES512")),
        ("header/alg-fully-specified-ed25519", json!("Ed25519")),
    ] {
        // Signed with the right key under its own algorithm: only the header lies.
        let token = c.with_header(base, |h| set(h, "alg", alg));
        c.push(base, label, REJECT, token);
    }
    let token = c.with_header(base, |h| remove(h, "alg"));
    c.push(base, "header/alg-missing", REJECT, token);

    // HMAC keyed with public key material (algorithm confusion).
    let jwk = base.jwk();
    let material = jwk
        .get("n")
        .or_else(|| jwk.get("x"))
        .and_then(Value::as_str)
        .unwrap()
        .to_owned();
    for (label, secret) in [
        ("header/hs256-keyed-with-public-key", material.into_bytes()),
        (
            "header/hs256-keyed-with-jwk-json",
            jwk.to_string().into_bytes(),
        ),
    ] {
        let header = json!({"alg": "HS256", "kid": kid});
        let token = jws(header.to_string().as_bytes(), payload.as_bytes(), |m| {
            hmac256(&secret, m)
        });
        c.push(base, label, REJECT, token);
    }

    // Validly signed under another algorithm of the key's family that its JWK does not
    // declare.
    let others: &[&str] = match base.key {
        FixtureKey::Rsa => &["RS384", "RS512", "PS256", "PS512"],
        _ => &[],
    };
    for alg in others {
        let header = json!({"alg": alg, "kid": kid});
        let token = jws(header.to_string().as_bytes(), payload.as_bytes(), |m| {
            sign(base.key, alg, m)
        });
        c.push(
            base,
            &format!("header/alg-{alg}-not-the-jwks-alg"),
            REJECT,
            token,
        );
    }

    for (label, value) in [
        ("header/kid-unknown", json!("no-such-kid")),
        ("header/kid-number", json!(1)),
        ("header/kid-null", Value::Null),
        ("header/kid-empty", json!("")),
        ("header/kid-case-changed", json!(kid.to_uppercase())),
    ] {
        let token = c.with_header(base, |h| set(h, "kid", value));
        c.push(base, label, REJECT, token);
    }
    let token = c.with_header(base, |h| remove(h, "kid"));
    c.push(base, "header/kid-missing", REJECT, token);
    let other = if base.key == FixtureKey::Ec256 {
        "ed-1"
    } else {
        "ec-1"
    };
    let token = c.with_header(base, |h| set(h, "kid", json!(other)));
    c.push(base, "header/kid-of-another-key", REJECT, token);
    if base.key == FixtureKey::Rsa {
        let claims = c.claims(base);
        let header = json!({"alg": "RS256", "kid": "rsa-2"});
        let token = jws(
            header.to_string().as_bytes(),
            claims.to_string().as_bytes(),
            |m| sign(FixtureKey::RsaRotated, "RS256", m),
        );
        c.push(base, "header/kid-not-in-the-jwks", REJECT, token);
    }

    for (label, crit) in [
        ("header/crit-exp", json!(["exp"])),
        ("header/crit-b64", json!(["b64"])),
        ("header/crit-empty", json!([])),
        ("header/crit-null", Value::Null),
    ] {
        let token = c.with_header(base, |h| set(h, "crit", crit));
        c.push(base, label, REJECT, token);
    }

    let alg = base.alg();
    for (label, header) in [
        ("header/not-json", "alg=ES256".to_owned()),
        ("header/array", format!("[\"{alg}\",\"{kid}\"]")),
        ("header/string", format!("\"{alg}\"")),
        ("header/empty", String::new()),
        ("header/empty-object", "{}".to_owned()),
        (
            "header/duplicate-alg-none-first",
            format!("{{\"alg\":\"none\",\"alg\":\"{alg}\",\"kid\":\"{kid}\"}}"),
        ),
        (
            "header/duplicate-kid",
            format!("{{\"alg\":\"{alg}\",\"kid\":\"nope\",\"kid\":\"{kid}\"}}"),
        ),
        ("header/trailing-garbage", format!("{}x", base.header())),
    ] {
        let claims = c.claims(base);
        let token = signed_raw(base, header.as_bytes(), claims.to_string().as_bytes());
        c.push(base, label, REJECT, token);
    }
    for (label, prefix, suffix) in [
        ("header/utf8-bom", &b"\xEF\xBB\xBF"[..], &b""[..]),
        ("header/invalid-utf8-in-member", &b""[..], &b"\xFF"[..]),
    ] {
        let mut header = prefix.to_vec();
        if suffix.is_empty() {
            header.extend(base.header().to_string().bytes());
        } else {
            let text = base.header().to_string();
            header.extend(text[..text.len() - 1].bytes());
            header.extend(b",\"x\":\"");
            header.extend(suffix);
            header.extend(b"\"}");
        }
        let claims = c.claims(base);
        let token = signed_raw(base, &header, claims.to_string().as_bytes());
        c.push(base, label, REJECT, token);
    }
}

fn claims_cases(c: &mut Corpus, base: Base) {
    for (label, name, value) in [
        ("claims/expired", "exp", json!(PAST)),
        ("claims/exp-string", "exp", json!(EXP.to_string())),
        ("claims/exp-null", "exp", Value::Null),
        ("claims/exp-bool", "exp", json!(true)),
        ("claims/exp-array", "exp", json!([EXP])),
        ("claims/exp-negative", "exp", json!(-1)),
        ("claims/nbf-in-future", "nbf", json!(FUTURE)),
        ("claims/nbf-string", "nbf", json!("0")),
        ("claims/nbf-null", "nbf", Value::Null),
        ("claims/iat-string", "iat", json!((NOW - 60).to_string())),
        ("claims/iat-null", "iat", Value::Null),
        ("claims/iat-bool", "iat", json!(false)),
        ("claims/iss-wrong", "iss", json!("https://evil.test")),
        (
            "claims/iss-trailing-slash",
            "iss",
            json!(format!("{}/", base.issuer())),
        ),
        (
            "claims/iss-uppercase",
            "iss",
            json!(base.issuer().to_uppercase()),
        ),
        (
            "claims/iss-http",
            "iss",
            json!(base.issuer().replace("https:", "http:")),
        ),
        ("claims/iss-number", "iss", json!(1)),
        ("claims/iss-array", "iss", json!([base.issuer()])),
        ("claims/iss-null", "iss", Value::Null),
    ] {
        let token = c.with_claims(base, |claims| set(claims, name, value));
        c.push(base, label, REJECT, token);
    }
    for (label, name) in [("claims/exp-missing", "exp"), ("claims/iss-missing", "iss")] {
        let token = c.with_claims(base, |claims| remove(claims, name));
        c.push(base, label, REJECT, token);
    }
    // `aud` of the wrong type is invalid whatever the token's kind.
    for (label, value) in [
        ("claims/aud-number", json!(5)),
        ("claims/aud-null", Value::Null),
        ("claims/aud-object", json!({"aud": AUDIENCE})),
        ("claims/aud-array-holding-a-number", json!([AUDIENCE, 5])),
    ] {
        let token = c.with_claims(base, |claims| set(claims, "aud", value));
        c.push(base, label, REJECT, token);
    }
    match base.profile {
        Profile::Oidc => {
            for (label, value) in [
                ("claims/aud-wrong", json!("other-client")),
                ("claims/aud-case-changed", json!(AUDIENCE.to_uppercase())),
                ("claims/aud-array-without-ours", json!(["a", "b"])),
                ("claims/aud-empty-array", json!([])),
            ] {
                let token = c.with_claims(base, |claims| set(claims, "aud", value));
                c.push(base, label, REJECT, token);
            }
            let token = c.with_claims(base, |claims| remove(claims, "aud"));
            c.push(base, "claims/aud-missing", REJECT, token);
            // The Cognito issuer is configured too: its iss puts this token under
            // Cognito's rules, and it has no token_use.
            let token = c.with_claims(base, |claims| set(claims, "iss", json!(COGNITO_ISSUER)));
            c.push(base, "claims/iss-of-the-other-issuer", REJECT, token);
        }
        Profile::Cognito => {
            for (label, name, value) in [
                ("claims/token-use-id", "token_use", json!("id")),
                ("claims/token-use-number", "token_use", json!(1)),
                ("claims/client-id-wrong", "client_id", json!("other-client")),
                ("claims/client-id-array", "client_id", json!([AUDIENCE])),
                (
                    "claims/iss-cognito-global-endpoint",
                    "iss",
                    json!(format!(
                        "https://issuer-cognito-idp.us-east-1.amazonaws.com/{POOL}"
                    )),
                ),
            ] {
                let token = c.with_claims(base, |claims| set(claims, name, value));
                c.push(base, label, REJECT, token);
            }
            for (label, name) in [
                ("claims/token-use-missing", "token_use"),
                ("claims/client-id-missing", "client_id"),
            ] {
                let token = c.with_claims(base, |claims| remove(claims, name));
                c.push(base, label, REJECT, token);
            }
            let token = c.with_claims(base, |claims| {
                remove(claims, "client_id");
                set(claims, "aud", json!(AUDIENCE));
            });
            c.push(base, "claims/client-id-only-in-aud", REJECT, token);
        }
    }
    let header = base.header().to_string();
    let claims = c.claims(base);
    let text = claims.to_string();
    let exp_number = format!("{EXP}");
    let mut invalid_utf8 = text.clone().into_bytes();
    invalid_utf8.insert(find(&invalid_utf8, b"alice").unwrap() + 2, 0xFF);
    for (label, payload) in [
        ("claims/payload-array", b"[1,2]".to_vec()),
        ("claims/payload-string", b"\"claims\"".to_vec()),
        ("claims/payload-number", b"5".to_vec()),
        ("claims/payload-null", b"null".to_vec()),
        ("claims/payload-not-json", b"exp=1".to_vec()),
        (
            "claims/payload-truncated-json",
            text.as_bytes()[..text.len() - 1].to_vec(),
        ),
        ("claims/payload-empty", Vec::new()),
        (
            "claims/payload-utf8-bom",
            [&b"\xEF\xBB\xBF"[..], text.as_bytes()].concat(),
        ),
        ("claims/payload-invalid-utf8-in-a-string", invalid_utf8),
        (
            "claims/exp-out-of-f64-range",
            text.replace(&exp_number, "1e400").into_bytes(),
        ),
        (
            "claims/duplicate-exp-expired-last",
            format!("{},\"exp\":{PAST}}}", &text[..text.len() - 1]).into_bytes(),
        ),
    ] {
        let token = signed_raw(base, header.as_bytes(), &payload);
        c.push(base, label, REJECT, token);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn encoding_cases(c: &mut Corpus, base: Base) {
    let token = c.with_claims(base, |_| {});
    let (h, p, s) = parts(&token);
    let sign_text = |input: String| signed_text(input, |m| sign(base.key, base.alg(), m));
    // Padding, standard alphabet and non-canonical tails, each signed over the text as
    // it stands: only the encoding rule can reject them.
    if !padding(&h).is_empty() {
        c.push(
            base,
            "encoding/padded-header",
            REJECT,
            sign_text(format!("{h}{}.{p}", padding(&h))),
        );
    }
    // A payload whose encoding has a partial last group (the claims decide its length).
    let partial = (0..3)
        .map(|k| {
            let token = c.with_claims(base, |claims| set(claims, "pad", json!("x".repeat(k))));
            parts(&token).1
        })
        .find(|p| !padding(p).is_empty())
        .unwrap();
    c.push(
        base,
        "encoding/padded-payload",
        REJECT,
        sign_text(format!("{h}.{partial}{}", padding(&partial))),
    );
    if !padding(&s).is_empty() {
        c.push(
            base,
            "encoding/padded-signature",
            REJECT,
            format!("{h}.{p}.{s}{}", padding(&s)),
        );
    }
    if let Some(tail) = non_canonical_tail(&s) {
        c.push(
            base,
            "encoding/signature-non-canonical-last-char",
            REJECT,
            format!("{h}.{p}.{tail}"),
        );
    }
    let tail = non_canonical_tail(&partial).unwrap();
    c.push(
        base,
        "encoding/payload-non-canonical-last-char",
        REJECT,
        sign_text(format!("{h}.{tail}")),
    );
    // The standard alphabet: find claims whose payload encoding has a `-` or `_`.
    let standard = |text: &str| text.replace('-', "+").replace('_', "/");
    loop {
        let token = c.with_claims(base, |claims| set(claims, "pad", json!("~~~>>>???")));
        let (h2, p2, _) = parts(&token);
        if p2.contains(['-', '_']) {
            c.push(
                base,
                "encoding/payload-standard-alphabet",
                REJECT,
                sign_text(format!("{h2}.{}", standard(&p2))),
            );
            break;
        }
    }
    if s.contains(['-', '_']) {
        c.push(
            base,
            "encoding/signature-standard-alphabet",
            REJECT,
            format!("{h}.{p}.{}", standard(&s)),
        );
    }
    let mid = s.len() / 2;
    for (label, bad) in [
        (
            "encoding/space-inside-signature",
            format!("{h}.{p}.{} {}", &s[..mid], &s[mid..]),
        ),
        (
            "encoding/newline-inside-signature",
            format!("{h}.{p}.{}\n{}", &s[..mid], &s[mid..]),
        ),
        ("encoding/leading-space", format!(" {token}")),
        ("encoding/trailing-newline", format!("{token}\n")),
        (
            "encoding/non-ascii-in-signature",
            format!("{h}.{p}.{}é{}", &s[..mid], &s[mid..]),
        ),
        ("encoding/percent-encoded-dot", format!("{h}%2E{p}.{s}")),
        ("encoding/two-segments", format!("{h}.{p}")),
        ("encoding/four-segments", format!("{token}.{s}")),
        ("encoding/trailing-dot", format!("{token}.")),
        ("encoding/empty-signature", format!("{h}.{p}.")),
        ("encoding/empty-header", format!(".{p}.{s}")),
        ("encoding/only-dots", "..".to_owned()),
        ("encoding/empty-token", String::new()),
    ] {
        c.push(base, label, REJECT, bad);
    }
    c.push(
        base,
        "encoding/empty-payload",
        REJECT,
        sign_text(format!("{h}.")),
    );
    // One byte over the cap, validly signed.
    let token = sized_token(c, base, MAX_TOKEN + 1);
    c.push(base, "encoding/over-16-kib", REJECT, token);
}

fn signature_cases(c: &mut Corpus, base: Base) {
    let token = c.with_claims(base, |_| {});
    let sig = signature_bytes(&token);
    for i in 0..5 {
        let mut bad = sig.clone();
        let at = c.rng.below(bad.len());
        bad[at] ^= 1 << c.rng.below(8);
        c.push(
            base,
            &format!("signature/bit-flip-{i}"),
            REJECT,
            with_signature(&token, &bad),
        );
    }
    let mut first = sig.clone();
    first[0] ^= 0x80;
    c.push(
        base,
        "signature/first-bit-flipped",
        REJECT,
        with_signature(&token, &first),
    );
    let mut last = sig.clone();
    *last.last_mut().unwrap() ^= 1;
    c.push(
        base,
        "signature/last-bit-flipped",
        REJECT,
        with_signature(&token, &last),
    );
    c.push(
        base,
        "signature/truncated-by-one-byte",
        REJECT,
        with_signature(&token, &sig[..sig.len() - 1]),
    );
    c.push(
        base,
        "signature/extended-by-a-zero-byte",
        REJECT,
        with_signature(&token, &[&sig[..], &[0]].concat()),
    );
    c.push(
        base,
        "signature/all-zero",
        REJECT,
        with_signature(&token, &vec![0; sig.len()]),
    );
    c.push(
        base,
        "signature/single-zero-byte",
        REJECT,
        with_signature(&token, &[0]),
    );
    let other = c.with_claims(base, |_| {});
    c.push(
        base,
        "signature/from-another-token",
        REJECT,
        with_signature(&token, &signature_bytes(&other)),
    );
    let (h, p, _) = parts(&token);
    let (h2, _, s2) = parts(&other);
    c.push(
        base,
        "signature/header-from-another-token",
        REJECT,
        format!("{h2}.{p}.{s2}"),
    );
    let _ = h;
    match base.key {
        FixtureKey::Rsa => {
            let claims = c.claims(base);
            let forged = jws(
                base.header().to_string().as_bytes(),
                claims.to_string().as_bytes(),
                |m| sign(FixtureKey::RsaForeign, "RS256", m),
            );
            c.push(base, "signature/foreign-key-same-kid", REJECT, forged);
            let zero = rsa_signature_with_leading_zero(c, base);
            let zsig = signature_bytes(&zero);
            c.push(
                base,
                "signature/rsa-leading-zero-stripped",
                REJECT,
                with_signature(&zero, &zsig[1..]),
            );
            c.push(
                base,
                "signature/rsa-zero-prepended",
                REJECT,
                with_signature(&token, &[&[0u8][..], &sig[..]].concat()),
            );
        }
        FixtureKey::Ec256 | FixtureKey::Ec384 => {
            c.push(
                base,
                "signature/ecdsa-der-encoded",
                REJECT,
                with_signature(&token, &ecdsa_der(&sig)),
            );
            let (r, s) = sig.split_at(sig.len() / 2);
            c.push(
                base,
                "signature/ecdsa-r-and-s-swapped",
                REJECT,
                with_signature(&token, &[s, r].concat()),
            );
            let other_curve = if base.key == FixtureKey::Ec256 {
                FixtureKey::Ec384
            } else {
                FixtureKey::Ec256
            };
            let claims = c.claims(base);
            let forged = jws(
                base.header().to_string().as_bytes(),
                claims.to_string().as_bytes(),
                |m| sign(other_curve, other_curve.alg(), m),
            );
            c.push(base, "signature/other-curve-same-kid", REJECT, forged);
        }
        FixtureKey::Ed25519 => {
            // RFC 8032 §5.1.7: S must be below L; S + L is the malleable twin.
            let mut l = hex(ED25519_L);
            l.reverse();
            let (r, s) = sig.split_at(32);
            let twin = [r, &add_le(s, &l)].concat();
            c.push(
                base,
                "signature/ed25519-s-plus-l",
                REJECT,
                with_signature(&token, &twin),
            );
        }
        _ => {}
    }
}

/// Random one-character substitutions anywhere but the signature's last character (whose
/// low bits may be unused: `encoding/` covers that one on purpose).
fn random_cases(c: &mut Corpus, base: Base) {
    for i in 0..10 {
        let token = c.with_claims(base, |_| {});
        let mut bytes = token.clone().into_bytes();
        let at = loop {
            let at = c.rng.below(bytes.len() - 1);
            if bytes[at] != b'.' {
                break at;
            }
        };
        let old = bytes[at];
        bytes[at] = loop {
            let new = B64URL[c.rng.below(B64URL.len())];
            if new != old {
                break new;
            }
        };
        let mutated = String::from_utf8(bytes).unwrap();
        c.push(base, &format!("random/substitution-{i}"), REJECT, mutated);
    }
}

/// Cases whose verdict depends on the clock: judged at `NOW` by verifiers that take one.
fn clock_cases(c: &mut Corpus, base: Base) {
    for (label, name, value, expected) in [
        ("clock/exp-equals-now", "exp", NOW, REJECT),
        ("clock/exp-one-second-ahead", "exp", NOW + 1, ACCEPT),
        ("clock/exp-one-second-past", "exp", NOW - 1, REJECT),
        ("clock/nbf-equals-now", "nbf", NOW, ACCEPT),
        ("clock/nbf-one-second-ahead", "nbf", NOW + 1, REJECT),
        ("clock/iat-one-second-ahead", "iat", NOW + 1, ACCEPT),
    ] {
        let token = c.with_claims(base, |claims| set(claims, name, json!(value)));
        c.push_clock(base, label, expected, token);
    }
}

fn bases() -> Vec<Base> {
    let keys = [
        FixtureKey::Rsa,
        FixtureKey::Ec256,
        FixtureKey::Ec384,
        FixtureKey::Ed25519,
    ];
    let mut out = Vec::new();
    for profile in [Profile::Oidc, Profile::Cognito] {
        for key in keys {
            out.push(Base { key, profile });
        }
    }
    out
}

fn generate(seed: u64) -> Vec<Case> {
    let mut c = Corpus {
        rng: Rng(seed),
        cases: Vec::new(),
        serial: 0,
    };
    for base in bases() {
        valid_cases(&mut c, base);
        header_cases(&mut c, base);
        claims_cases(&mut c, base);
        encoding_cases(&mut c, base);
        signature_cases(&mut c, base);
        random_cases(&mut c, base);
        clock_cases(&mut c, base);
    }
    let mut seen = HashMap::new();
    for case in &c.cases {
        if let Some(before) = seen.insert(case.label.clone(), ()) {
            panic!("duplicate label {} {before:?}", case.label);
        }
    }
    c.cases
}

/// What every verifier is configured with.
fn setup() -> Value {
    json!({
        "now": NOW,
        "algorithms": ALGORITHMS,
        "issuers": [
            {"kind": "oidc", "issuer": OIDC_ISSUER, "audience": [AUDIENCE]},
            {"kind": "cognito", "user_pool_id": POOL, "issuer": COGNITO_ISSUER,
             "token_use": "access", "client_id": [AUDIENCE]},
        ],
        "jwks": serde_json::from_str::<Value>(JWKS).unwrap(),
    })
}

/// This authorizer's `Verifier`, configured as `setup()` says, keys preloaded, no cache.
fn authorizer() -> Authorizer {
    let algorithms: Vec<Value> = ALGORITHMS.iter().map(|a| json!(a)).collect();
    let issuers = json!([
        {"issuer": OIDC_ISSUER, "jwks_url": "http://127.0.0.1:9/jwks.json",
         "audience": [AUDIENCE], "algorithms": algorithms},
        {"cognito_user_pool_id": POOL, "jwks_url": "http://127.0.0.1:9/jwks.json",
         "audience": [AUDIENCE], "token_use": "access", "algorithms": algorithms},
    ])
    .to_string();
    let vars: HashMap<&str, &str> = [
        ("JWT_ISSUERS", issuers.as_str()),
        ("TOKEN_CACHE_SIZE", "0"),
        ("JWKS_TIMEOUT_MS", "200"),
    ]
    .into();
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
    let authorizer = Authorizer::new(&config, Arc::new(ManualClock::new(NOW)), None).unwrap();
    authorizer
        .verifier()
        .load_document(JWKS.as_bytes())
        .unwrap();
    authorizer
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut seed = SEED;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).expect("--seed N"),
            other if out.is_none() => out = Some(PathBuf::from(other)),
            other => panic!("usage: differential OUT_DIR [--seed N] (unexpected {other:?})"),
        }
    }
    let out = out.expect("usage: differential OUT_DIR [--seed N]");
    std::fs::create_dir_all(&out).unwrap();

    let cases = generate(seed);
    let authorizer = authorizer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut corpus = String::new();
    let mut verdicts = String::new();
    let mut accepted = 0;
    for (id, case) in cases.iter().enumerate() {
        let line = json!({
            "id": id, "label": case.label, "token": case.token,
            "expected": if case.expected { "accept" } else { "reject" }, "clock": case.clock,
        });
        writeln!(corpus, "{line}").unwrap();
        let request = jwt_authorizer::events::AuthRequest::bearer(&case.token);
        let verification = runtime.block_on(authorizer.verifier().verify(&case.token, &request));
        let (verdict, reason) = match &verification.result {
            Ok(_) => ("accept", "ok"),
            Err(error) => ("reject", error.as_str()),
        };
        accepted += usize::from(verdict == "accept");
        writeln!(
            verdicts,
            "{}",
            json!({"id": id, "verdict": verdict, "reason": reason})
        )
        .unwrap();
    }
    let (dpop_corpus, dpop_verdicts, dpop_count) = dpop_corpus();
    std::fs::write(out.join("dpop-corpus.jsonl"), dpop_corpus).unwrap();
    std::fs::write(out.join("dpop-authorizer.jsonl"), dpop_verdicts).unwrap();
    std::fs::write(out.join("setup.json"), format!("{:#}\n", setup())).unwrap();
    std::fs::write(out.join("corpus.jsonl"), corpus).unwrap();
    std::fs::write(out.join("authorizer.jsonl"), verdicts).unwrap();
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "differential corpus: {} tokens (seed {seed}), authorizer accepted {accepted}; {dpop_count} DPoP proofs; written to {}",
        cases.len(),
        out.display()
    )
    .unwrap();
}

/// The DPoP proofs of the corpus: one valid proof per default algorithm, spellings of
/// the URL every normalizer agrees on (case of scheme and host, default port, query,
/// fragment, dot segments), and one mutation per RFC 9449 §4.3 check; the expected
/// verdict is decided here from how the proof was built. Returns the corpus lines, this
/// authorizer's verdicts and the count.
fn dpop_corpus() -> (String, String, usize) {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jwt_authorizer::binding::proof::{self, Expected, Rules};
    use jwt_authorizer::jwk::Algorithm;
    use jwt_authorizer::testkit::{dpop_proof, jkt, mint, proof_claims, public_jwk};

    const URL: &str = "https://api.example.com/v1/hello/alice-1";
    const MAX_AGE: u64 = 60;
    let algorithms = [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::PS256,
    ];
    let token = mint(
        FixtureKey::Rsa,
        &json!({"iss": OIDC_ISSUER, "sub": "alice-1", "aud": "test-client", "exp": NOW + 3600}),
    );
    let other_token = mint(
        FixtureKey::Rsa,
        &json!({"iss": OIDC_ISSUER, "sub": "bob-2", "aud": "test-client", "exp": NOW + 3600}),
    );
    let claims = |edit: &dyn Fn(&mut Value)| {
        let mut c = proof_claims("GET", URL, NOW, &token);
        edit(&mut c);
        c
    };
    let es = |header: Value, edit: &dyn Fn(&mut Value)| {
        dpop_proof(FixtureKey::Ec256, &header, &claims(edit))
    };
    let valid = es(json!({}), &|_| {});
    let (input, signature) = valid.rsplit_once('.').unwrap();
    let mut flipped = URL_SAFE_NO_PAD.decode(signature).unwrap();
    flipped[0] ^= 1;
    let mut private = public_jwk(FixtureKey::Ec256);
    private["d"] = json!("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE");
    let mut cases: Vec<(&str, String, FixtureKey, bool)> = vec![
        ("valid ES256", valid.clone(), FixtureKey::Ec256, true),
        (
            "valid EdDSA",
            dpop_proof(FixtureKey::Ed25519, &json!({}), &claims(&|_| {})),
            FixtureKey::Ed25519,
            true,
        ),
        (
            "valid RS256",
            dpop_proof(FixtureKey::Rsa, &json!({}), &claims(&|_| {})),
            FixtureKey::Rsa,
            true,
        ),
        (
            "valid PS256",
            dpop_proof(FixtureKey::Rsa, &json!({"alg": "PS256"}), &claims(&|_| {})),
            FixtureKey::Rsa,
            true,
        ),
        (
            "typ upper case (RFC 7515: case-insensitive)",
            es(json!({"typ": "DPOP+JWT"}), &|_| {}),
            FixtureKey::Ec256,
            true,
        ),
        (
            "typ with application/ prefix",
            es(json!({"typ": "application/dpop+jwt"}), &|_| {}),
            FixtureKey::Ec256,
            true,
        ),
        (
            "htu scheme and host upper case",
            es(json!({}), &|c| {
                c["htu"] = json!("HTTPS://API.EXAMPLE.COM/v1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            true,
        ),
        (
            "htu default port",
            es(json!({}), &|c| {
                c["htu"] = json!("https://api.example.com:443/v1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            true,
        ),
        (
            "htu query and fragment",
            es(json!({}), &|c| c["htu"] = json!(format!("{URL}?a=1#f"))),
            FixtureKey::Ec256,
            true,
        ),
        (
            "htu dot segments",
            es(json!({}), &|c| {
                c["htu"] = json!("https://api.example.com/v1/x/../hello/./alice-1")
            }),
            FixtureKey::Ec256,
            true,
        ),
        (
            "iat at the edge of the window",
            es(json!({}), &|c| c["iat"] = json!(NOW - MAX_AGE)),
            FixtureKey::Ec256,
            true,
        ),
        (
            "typ JWT",
            es(json!({"typ": "JWT"}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "typ missing",
            es(json!({"typ": null}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "alg none, no signature",
            format!(
                "{}.{}.",
                b64(br#"{"typ":"dpop+jwt","alg":"none"}"#),
                input.split('.').nth(1).unwrap()
            ),
            FixtureKey::Ec256,
            false,
        ),
        (
            "alg HS256",
            es(json!({"alg": "HS256"}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "alg ES384, not listed",
            dpop_proof(FixtureKey::Ec384, &json!({}), &claims(&|_| {})),
            FixtureKey::Ec384,
            false,
        ),
        (
            "jwk with a private member",
            es(json!({"jwk": private}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "jwk missing",
            es(json!({"jwk": null}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "signature altered",
            format!("{input}.{}", b64(&flipped)),
            FixtureKey::Ec256,
            false,
        ),
        (
            "signed by another key",
            format!(
                "{input}.{}",
                b64(&sign(FixtureKey::Ed25519, "EdDSA", input.as_bytes()))
            ),
            FixtureKey::Ec256,
            false,
        ),
        (
            "crit header",
            es(json!({"crit": ["htm"]}), &|_| {}),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htm POST",
            es(json!({}), &|c| c["htm"] = json!("POST")),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htm lower case",
            es(json!({}), &|c| c["htm"] = json!("get")),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu another host",
            es(json!({}), &|c| {
                c["htu"] = json!("https://evil.example.com/v1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu another path",
            es(json!({}), &|c| {
                c["htu"] = json!("https://api.example.com/v1/hello/bob-2")
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu path case",
            es(json!({}), &|c| {
                c["htu"] = json!("https://api.example.com/V1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu http",
            es(json!({}), &|c| {
                c["htu"] = json!("http://api.example.com/v1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu another port",
            es(json!({}), &|c| {
                c["htu"] = json!("https://api.example.com:8443/v1/hello/alice-1")
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "htu missing",
            es(json!({}), &|c| {
                c.as_object_mut().unwrap().remove("htu");
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "iat too old",
            es(json!({}), &|c| c["iat"] = json!(NOW - MAX_AGE - 1)),
            FixtureKey::Ec256,
            false,
        ),
        (
            "iat ahead",
            es(json!({}), &|c| c["iat"] = json!(NOW + 1)),
            FixtureKey::Ec256,
            false,
        ),
        (
            "iat a string",
            es(json!({}), &|c| c["iat"] = json!(NOW.to_string())),
            FixtureKey::Ec256,
            false,
        ),
        (
            "jti missing",
            es(json!({}), &|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "jti empty",
            es(json!({}), &|c| c["jti"] = json!("")),
            FixtureKey::Ec256,
            false,
        ),
        (
            "ath missing",
            es(json!({}), &|c| {
                c.as_object_mut().unwrap().remove("ath");
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "ath of another token",
            es(json!({}), &|c| {
                c["ath"] = json!(jwt_authorizer::binding::sha256_b64url(
                    other_token.as_bytes()
                ))
            }),
            FixtureKey::Ec256,
            false,
        ),
        (
            "two parts",
            valid.rsplit_once('.').unwrap().0.to_owned(),
            FixtureKey::Ec256,
            false,
        ),
    ];
    // The token is bound to another key than the proof's.
    cases.push(("cnf.jkt of another key", valid, FixtureKey::Ed25519, false));
    let names: Vec<&str> = algorithms.iter().map(|a| a.as_str()).collect();
    let (mut corpus, mut verdicts) = (String::new(), String::new());
    for (id, (label, proof_text, bound_to, expected)) in cases.iter().enumerate() {
        let bound = json!(jkt(*bound_to));
        let origins = vec!["https://api.example.com".to_owned()];
        let verdict = proof::check(
            proof_text,
            &Rules {
                algorithms: &algorithms,
                max_age: MAX_AGE,
                skew: 0,
            },
            &Expected {
                method: Some("GET"),
                origins: &origins,
                path: Some("/v1/hello/alice-1"),
                token: &token,
                jkt: &bound,
                now: NOW,
            },
        );
        let line = json!({
            "id": id, "label": label, "proof": proof_text, "token": token, "method": "GET",
            "url": URL, "now": NOW, "max_age": MAX_AGE, "jkt": bound, "algorithms": names,
            "expected": if *expected { "accept" } else { "reject" },
        });
        writeln!(corpus, "{line}").unwrap();
        let (verdict, reason) = match verdict {
            Ok(_) => ("accept", "ok"),
            Err(error) => ("reject", error.as_str()),
        };
        writeln!(
            verdicts,
            "{}",
            json!({"id": id, "verdict": verdict, "reason": reason})
        )
        .unwrap();
    }
    (corpus, verdicts, cases.len())
}
