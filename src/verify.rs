//! Verifies a token in the order security needs: size → three base64url parts → header
//! (`crit` rejected; `jku`/`x5u`/`jwk`/`x5c` never read) → issuer chosen by `iss` (a
//! configured one, else with `TENANT_REGISTRY=on` an active registered one) → `alg` in
//! that issuer's allow-list → `typ` when the issuer requires one (`JWT_TYP`) → key by `kid`
//! from that issuer's keys only → signature → claims → proof of possession (`cnf`: a DPoP
//! proof, the client certificate) → (with `REVOCATION=on`) revocation, last; the last two
//! for verified and cached tokens alike.

use std::borrow::Cow;
use std::sync::{Arc, Weak};

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use crate::binding::{Binding, ReplayStore};
use crate::claims::{Claims, check_claims};
use crate::clock::{Clock, Now};
use crate::config::Config;
use crate::error::TokenError;
use crate::events::{AuthRequest, Borrowed};
use crate::issuers::{Issuer, Issuers, Registry};
use crate::jwk::Algorithm;
use crate::keys::{IssuerKeys, MAX_KID_LEN, Snapshot, Tier, TierDeps};
use crate::revocation::Revocations;
use crate::token::MAX_TOKEN_BYTES;
use crate::token_cache::{TokenCache, Verified};

/// A token split and decoded, nothing trusted yet.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// The header `alg`, as written (a known name without a copy).
    pub alg: Cow<'static, str>,
    /// The header `kid`, if any.
    pub kid: Option<String>,
    /// The header `typ`: `None` when absent, `Some(None)` when not a string.
    pub typ: Option<Option<String>>,
    /// The payload's claims.
    pub claims: Claims,
    pub(crate) signing_input: &'a str,
    pub(crate) signature: Vec<u8>,
}

/// The header as read: its strings borrowed from the decoded text when they have no
/// escapes.
#[derive(Deserialize)]
struct Header<'h> {
    #[serde(borrow)]
    alg: Cow<'h, str>,
    #[serde(borrow)]
    kid: Option<Borrowed<'h>>,
    #[serde(default, deserialize_with = "string_or_other")]
    typ: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

/// A decoded header up to this size is decoded on the stack (a token's is some 40 to
/// 100 bytes; one that carries a certificate chain goes to the heap).
const STACK_HEADER: usize = 512;

/// A present member as `Some`: its text when it is a string, `None` otherwise (a `typ`
/// that is not a string matches no required type, but is no reason to refuse a token
/// of an issuer that requires none).
fn string_or_other<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        _ => None,
    }))
}

/// Whether a header `typ` is the `required` one (`JWT_TYP`, stored lower case without
/// the `application/` prefix): compared case-insensitively, with an optional
/// `application/` prefix (RFC 7515 §4.1.9, RFC 9068 §2.1).
pub fn typ_matches(required: &str, typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        let prefix = "application/";
        let bare = match typ.get(..prefix.len()) {
            Some(head) if head.eq_ignore_ascii_case(prefix) => typ.get(prefix.len()..),
            _ => Some(typ),
        };
        bare.is_some_and(|bare| bare.eq_ignore_ascii_case(required))
    })
}

/// `true` whenever the member is present, whatever its value (even `null`).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer).map(|_| true)
}

/// The three dot-separated parts of a compact JWS, if it has exactly three (SIMD search:
/// the signature part alone is hundreds of bytes).
pub(crate) fn compact_parts(jws: &str) -> Option<(&str, &str, &str)> {
    let (header, rest) = jws.split_at_checked(memchr::memchr(b'.', jws.as_bytes())?)?;
    let rest = rest.get(1..)?;
    let (payload, signature) = rest.split_at_checked(memchr::memchr(b'.', rest.as_bytes())?)?;
    let signature = signature.get(1..)?;
    match memchr::memchr(b'.', signature.as_bytes()) {
        Some(_) => None,
        None => Some((header, payload, signature)),
    }
}

/// One part of a compact JWS (a token, a DPoP proof) decoded: base64url without padding,
/// strictly (RFC 7515 §2: no `=`, no white space, no set bits after the last whole byte).
/// SIMD: a token's base64url is about a kilobyte, decoded on every full verification.
pub(crate) fn base64url(part: &str) -> Option<Vec<u8>> {
    base64_simd::URL_SAFE_NO_PAD.decode_to_vec(part).ok()
}

fn is_json_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// Size cap, compact serialization, header and payload JSON objects, no `crit`.
pub fn decode(token: &str) -> Result<Decoded<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLarge);
    }
    let (header, payload, signature) = compact_parts(token).ok_or(TokenError::Malformed)?;
    let signing_input = token
        .get(..header.len() + 1 + payload.len())
        .ok_or(TokenError::Malformed)?;
    let mut stack = [0u8; STACK_HEADER];
    let heap;
    let header_bytes: &[u8] = match base64_simd::URL_SAFE_NO_PAD.decoded_length(header.as_bytes()) {
        Ok(length) if length <= STACK_HEADER => base64_simd::URL_SAFE_NO_PAD
            .decode(header.as_bytes(), base64_simd::Out::from_slice(&mut stack))
            .map_err(|_| TokenError::Malformed)?,
        _ => {
            heap = base64url(header).ok_or(TokenError::Malformed)?;
            &heap
        }
    };
    if !is_json_object(header_bytes) {
        return Err(TokenError::Malformed);
    }
    // From text, not bytes: serde_json skips an unknown member's bytes without checking
    // they are UTF-8, and RFC 7515 §7.1 wants the whole header to be.
    let header_text = std::str::from_utf8(header_bytes).map_err(|_| TokenError::Malformed)?;
    let header: Header<'_> =
        serde_json::from_str(header_text).map_err(|_| TokenError::Malformed)?;
    if header.crit {
        return Err(TokenError::CriticalHeader);
    }
    let payload_bytes = base64url(payload).ok_or(TokenError::Malformed)?;
    let payload_text = String::from_utf8(payload_bytes).map_err(|_| TokenError::Malformed)?;
    let claims = Claims::parse(payload_text).map_err(|_| TokenError::Malformed)?;
    let signature = base64url(signature).ok_or(TokenError::Malformed)?;
    if signature.is_empty() {
        return Err(TokenError::Malformed);
    }
    let alg = match header.alg.parse::<Algorithm>() {
        Ok(known) => Cow::Borrowed(known.as_str()),
        Err(()) => Cow::Owned(header.alg.into_owned()),
    };
    Ok(Decoded {
        alg,
        kid: header.kid.map(|kid| kid.0.into_owned()),
        typ: header.typ,
        claims,
        signing_input,
        signature,
    })
}

/// The result of a verification, with what may be logged about the token.
#[derive(Debug)]
pub struct Verification {
    /// The issuer the token claimed, once found (configured or registered: an `iss`
    /// that names neither is never reported).
    pub issuer: Option<Arc<str>>,
    /// The registered issuer's tenant, for the context and `{tenant}` templates.
    pub tenant: Option<Arc<str>>,
    /// The header `kid`, if any (bounded length).
    pub kid: Option<String>,
    /// The tier that provided the key, when one was looked up.
    pub tier: Option<Tier>,
    /// Whether the token was found in the cache of verified tokens.
    pub cached: bool,
    /// The claims of a valid token, or why it is invalid.
    pub result: Result<Arc<Claims>, TokenError>,
}

impl Verification {
    /// A verification that ended before the token was read.
    pub fn failed(error: TokenError) -> Self {
        Self {
            issuer: None,
            tenant: None,
            kid: None,
            tier: None,
            cached: false,
            result: Err(error),
        }
    }
}

/// A `kid` as logged: at most [`MAX_KID_LEN`] characters (a longer one is unknown by
/// definition), copied once.
fn loggable_kid(kid: &str) -> String {
    if kid.len() <= MAX_KID_LEN {
        return kid.to_owned();
    }
    match kid.char_indices().nth(MAX_KID_LEN) {
        Some((end, _)) => kid.get(..end).unwrap_or_default().to_owned(),
        None => kid.to_owned(),
    }
}

/// Verifies tokens against every configured issuer (and registered ones).
pub struct Verifier {
    issuers: Issuers,
    clock: Arc<dyn Clock>,
    skew: u64,
    cache: TokenCache,
    binding: Binding,
    revocations: Option<Revocations>,
}

impl Verifier {
    /// Builds the key sources (no network yet; see [`Verifier::warm_up`]); `registry`
    /// finds the issuers registered at runtime (`TENANT_REGISTRY=on`).
    pub fn new(
        config: &Config,
        deps: &TierDeps,
        clock: Arc<dyn Clock>,
        registry: Option<Registry>,
    ) -> Self {
        Self {
            issuers: Issuers::new(&config.issuers, deps, registry),
            clock,
            skew: config.clock_skew_seconds,
            cache: TokenCache::new(config.token_cache.entries, config.token_cache.bytes),
            binding: Binding::new(
                config.dpop.clone(),
                config.clock_skew_seconds,
                None,
                Arc::clone(&deps.counters),
            ),
            revocations: None,
        }
    }

    /// Remembers DPoP proof `jti`s in `table` too (`DPOP_REPLAY=table`), beside this
    /// container's memory.
    pub fn with_replay_table(mut self, table: Option<Arc<dyn ReplayStore>>) -> Self {
        self.binding.set_table(table);
        self
    }

    /// The sender-constrained token checks.
    pub fn binding(&self) -> &Binding {
        &self.binding
    }

    /// Checks every valid token against `revocations` too (`REVOCATION=on`).
    pub fn with_revocations(mut self, revocations: Option<Revocations>) -> Self {
        self.revocations = revocations;
        self
    }

    /// The revocation checks, when `REVOCATION=on`.
    pub fn revocations(&self) -> Option<&Revocations> {
        self.revocations.as_ref()
    }

    /// Loads every JWKS issuer's keys (Lambda init), so the first request finds them warm.
    /// Failures are logged and leave the issuer to load on its first request.
    pub async fn warm_up(&self) {
        let Some(now) = self.clock.now() else {
            tracing::error!("the system clock reads before 1970: keys not loaded, tokens refused");
            return;
        };
        let stores: Vec<&IssuerKeys> = self.key_stores().collect();
        crate::keys::warm_up_together(&stores, now).await;
    }

    /// Puts the keys of a JWKS document in every JWKS issuer's memory as if just fetched
    /// (key material that arrives another way, e.g. a benchmark fixture).
    pub fn load_document(&self, document: &[u8]) -> Result<(), crate::error::UpstreamError> {
        let now = self.clock.now().ok_or_else(|| {
            crate::error::UpstreamError::InvalidDocument(
                "the system clock reads before 1970".into(),
            )
        })?;
        self.key_stores()
            .try_for_each(|keys| keys.load_document(document, now))
    }

    /// Where issuers come from (the configured ones, and the registry).
    pub fn issuers(&self) -> &Issuers {
        &self.issuers
    }

    /// Both clocks, as the verifier reads them (`None` before 1970).
    pub fn now(&self) -> Option<Now> {
        self.clock.now()
    }

    /// The leeway for `exp` and `nbf` (`CLOCK_SKEW_SECONDS`).
    pub fn skew(&self) -> u64 {
        self.skew
    }

    /// The JWKS key stores, one per JWKS issuer.
    pub fn key_stores(&self) -> impl Iterator<Item = &IssuerKeys> {
        self.issuers
            .configured()
            .iter()
            .filter_map(|i| i.keys.jwks())
    }

    /// Verifies `token` (found in `request`) completely, or finds it in the cache of
    /// verified tokens; then checks what it is bound to (`cnf`: a DPoP proof of this
    /// request, the client certificate; a cached token too: every proof is new), and with
    /// `REVOCATION=on` that no revocation item covers it (a cached token too: the cache
    /// never outlives a revocation). Never panics; every failure is a [`TokenError`].
    pub async fn verify(&self, token: &str, request: &AuthRequest<'_>) -> Verification {
        let mut verification = self.authenticate(token).await;
        if let Ok(claims) = &verification.result {
            let bound = match self.clock.now() {
                Some(now) => {
                    self.binding
                        .check(
                            token,
                            claims,
                            request.kind,
                            request.scheme,
                            &request.possession,
                            now.wall,
                        )
                        .await
                }
                None => Err(TokenError::ClockUnavailable),
            };
            if let Err(error) = bound {
                verification.result = Err(error);
            }
        }
        let Some(revocations) = &self.revocations else {
            return verification;
        };
        if let (Ok(claims), Some(issuer)) = (&verification.result, &verification.issuer) {
            let checked = match self.clock.now() {
                // Boxed: its state is a kilobyte, which the future of every decision
                // would otherwise carry (and move), revocation on or off.
                Some(now) => Box::pin(revocations.check(issuer, claims, now)).await,
                None => Err(TokenError::ClockUnavailable),
            };
            if let Err(error) = checked {
                verification.result = Err(error);
            }
        }
        verification
    }

    /// Verifies `token` completely, or finds it in the cache of verified tokens.
    async fn authenticate(&self, token: &str) -> Verification {
        if token.len() > MAX_TOKEN_BYTES {
            return Verification::failed(TokenError::TooLarge);
        }
        let Some(now) = self.clock.now() else {
            return Verification::failed(TokenError::ClockUnavailable);
        };
        if let Some(hit) = self.cached(token, now).await {
            return hit;
        }
        let mut seen = Verification::failed(TokenError::Malformed);
        seen.result = match self.verify_into(token, now, &mut seen).await {
            Ok(Authentic { claims, exp, ties }) => {
                let claims = Arc::new(claims);
                if let Some((issuer, keys)) = ties {
                    let verified = Verified {
                        claims: Arc::clone(&claims),
                        exp,
                        issuer,
                        kid: seen.kid.clone(),
                        keys,
                    };
                    self.cache.insert(token, verified, now.wall, self.skew);
                }
                Ok(claims)
            }
            Err(error) => Err(error),
        };
        seen
    }

    /// A cached verification, if the token was verified before, has not expired, its
    /// issuer is still the one that verified it (a registered issuer disabled or changed
    /// since is not), and that issuer still holds the same key set, leased in memory (so
    /// the cache never skips a registry or table re-read or a reload the uncached path
    /// would make).
    async fn cached(&self, token: &str, now: Now) -> Option<Verification> {
        let hit = self.cache.get(token, now.wall, self.skew)?;
        let iss = hit.claims.str("iss")?;
        let issuer = self.issuers.find(iss, now).await.ok()?;
        if !std::ptr::eq(Arc::as_ptr(&issuer), hit.issuer.as_ptr()) {
            return None;
        }
        if let Some(issuer_keys) = issuer.keys.jwks() {
            let current = issuer_keys.leased(now)?;
            let same = hit
                .keys
                .as_ref()
                .and_then(std::sync::Weak::upgrade)
                .is_some_and(|k| Arc::ptr_eq(&k, &current));
            if !same {
                return None;
            }
        }
        Some(Verification {
            issuer: Some(Arc::clone(&issuer.iss)),
            tenant: issuer.tenant.clone(),
            kid: hit.kid,
            tier: issuer.keys.jwks().map(|_| Tier::Memory),
            cached: true,
            result: Ok(hit.claims),
        })
    }

    /// The verification steps; fills in what may be logged as it learns it.
    async fn verify_into(
        &self,
        token: &str,
        now: Now,
        seen: &mut Verification,
    ) -> Result<Authentic, TokenError> {
        let decoded = decode(token)?;
        seen.kid = decoded.kid.as_deref().map(loggable_kid);
        let iss = decoded.claims.str("iss").ok_or(TokenError::UnknownIssuer)?;
        let issuer = self.issuers.find(iss, now).await?;
        seen.issuer = Some(Arc::clone(&issuer.iss));
        seen.tenant.clone_from(&issuer.tenant);
        let alg = decoded
            .alg
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| issuer.config.algorithms.contains(alg))
            .ok_or(TokenError::AlgorithmNotAllowed)?;
        if let Some(required) = &issuer.config.typ {
            if !typ_matches(required, decoded.typ.as_ref().and_then(Option::as_deref)) {
                return Err(TokenError::WrongType);
            }
        }
        let key = issuer.keys.select(decoded.kid.as_deref(), alg, now).await?;
        seen.tier = key.tier;
        key.verify(decoded.signing_input.as_bytes(), &decoded.signature)?;
        let exp = check_claims(&decoded.claims, &issuer.config, now.wall, self.skew)?;
        let ties = self
            .cache
            .is_enabled()
            .then(|| (Arc::downgrade(&issuer), key.key_set().map(Arc::downgrade)));
        Ok(Authentic {
            claims: decoded.claims,
            exp,
            ties,
        })
    }
}

/// A token verified in full: its claims and `exp`, and (when the cache of verified
/// tokens is on) the issuer and key set a cached entry stays tied to.
struct Authentic {
    claims: Claims,
    exp: f64,
    ties: Option<(Weak<Issuer>, Option<Weak<Snapshot>>)>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::testkit::{FixtureKey, b64, mint};
    use serde_json::json;

    #[test]
    fn decode_reads_header_and_claims() {
        let token = mint(FixtureKey::Rsa, &json!({"iss": "x", "exp": 5}));
        let d = decode(&token).unwrap();
        assert_eq!(d.alg, "RS256");
        assert_eq!(d.kid.as_deref(), Some("rsa-1"));
        assert_eq!(d.claims.get("exp"), Some(&json!(5)));
    }

    #[test]
    fn decode_rejects_wrong_part_counts() {
        let token = mint(FixtureKey::Rsa, &json!({"exp": 5}));
        let parts: Vec<&str> = token.split('.').collect();
        for bad in [
            parts[..2].join("."),
            format!("{token}.x"),
            format!("{token}.x.y"),
            parts[0].to_owned(),
            String::new(),
            format!("{}..{}", parts[0], parts[2]),
        ] {
            assert_eq!(decode(&bad).unwrap_err(), TokenError::Malformed, "{bad}");
        }
    }

    #[test]
    fn decode_rejects_non_base64url_and_padding() {
        let token = mint(FixtureKey::Rsa, &json!({"exp": 5}));
        let (h, rest) = token.split_once('.').unwrap();
        assert_eq!(
            decode(&format!("{h}=.{rest}")).unwrap_err(),
            TokenError::Malformed
        );
        assert_eq!(
            decode(&format!("{h}+/.{rest}")).unwrap_err(),
            TokenError::Malformed
        );
        assert_eq!(
            decode(&format!("{h}.!!!.sig")).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn decode_rejects_non_object_header_or_payload() {
        let sig = b64(b"sig");
        for (header, payload) in [
            (json!(["RS256", "k"]), json!({})),
            (json!("RS256"), json!({})),
            (json!({"alg": "RS256"}), json!(["exp", 1])),
            (json!({"alg": "RS256"}), json!(5)),
            (json!({"alg": 5}), json!({})),
            (json!({"kid": "k"}), json!({})),
        ] {
            let token = format!(
                "{}.{}.{sig}",
                b64(header.to_string().as_bytes()),
                b64(payload.to_string().as_bytes())
            );
            assert_eq!(
                decode(&token).unwrap_err(),
                TokenError::Malformed,
                "{header} {payload}"
            );
        }
    }

    /// The JWS base64url of RFC 7515 §2, exactly: the decoder is strict where a lenient
    /// one would let two spellings of one token through.
    #[test]
    fn base64url_is_strict() {
        assert_eq!(base64url("aGk").as_deref(), Some(&b"hi"[..]));
        assert_eq!(base64url("-_-_").as_deref(), Some(&[0xfb, 0xff, 0xbf][..]));
        assert_eq!(base64url("").as_deref(), Some(&b""[..]));
        for bad in [
            "aGk=", "aGl", "aGk ", " aGk", "aG\nk", "a", "aGk+", "aGk/", "aGk.", "aGkx=", "é",
        ] {
            assert_eq!(base64url(bad), None, "{bad:?}");
        }
    }

    /// Found by the differential corpus: an unknown header member whose bytes were not
    /// UTF-8 was skipped unchecked.
    #[test]
    fn decode_rejects_a_header_that_is_not_utf8() {
        let token = mint(FixtureKey::Rsa, &json!({"exp": 5}));
        let (_, rest) = token.split_once('.').unwrap();
        let header = b"{\"alg\":\"RS256\",\"kid\":\"rsa-1\",\"x\":\"\xFF\"}";
        assert_eq!(
            decode(&format!("{}.{rest}", b64(header))).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn decode_rejects_any_crit_header() {
        for crit in [json!(["exp"]), json!([]), json!(null)] {
            let header = json!({"alg": "RS256", "kid": "rsa-1", "crit": crit});
            let token = format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(b"{}"),
                b64(b"s")
            );
            assert_eq!(decode(&token).unwrap_err(), TokenError::CriticalHeader);
        }
    }

    #[test]
    fn typ_matches_case_insensitively_with_an_optional_application_prefix() {
        for typ in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+JWT",
        ] {
            assert!(typ_matches("at+jwt", Some(typ)), "{typ}");
        }
        for typ in [
            None,
            Some("JWT"),
            Some("at+jwt "),
            Some("application/"),
            Some("xapplication/at+jwt"),
            Some("at+jwt/application"),
        ] {
            assert!(!typ_matches("at+jwt", typ), "{typ:?}");
        }
    }

    #[test]
    fn decode_reads_typ_whatever_its_type() {
        let token = |header: Value| {
            format!(
                "{}.{}.{}",
                b64(header.to_string().as_bytes()),
                b64(b"{}"),
                b64(b"s")
            )
        };
        let typ = |header: Value| decode(&token(header)).unwrap().typ;
        assert_eq!(typ(json!({"alg": "RS256"})), None);
        assert_eq!(
            typ(json!({"alg": "RS256", "typ": "at+jwt"})),
            Some(Some("at+jwt".into()))
        );
        assert_eq!(typ(json!({"alg": "RS256", "typ": 5})), Some(None));
        assert_eq!(typ(json!({"alg": "RS256", "typ": null})), Some(None));
    }

    #[test]
    fn decode_caps_size() {
        let big = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"RS256"}"#),
            "a".repeat(MAX_TOKEN_BYTES),
            b64(b"s")
        );
        assert_eq!(decode(&big).unwrap_err(), TokenError::TooLarge);
    }
}
