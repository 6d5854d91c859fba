//! Error kinds of the library, grouped by where they arise: configuration, the token,
//! its key, its claims, and the upstream key sources. Every kind has a short stable
//! name (`as_str()`) for logs and metrics; none of them ever carries token text.

use thiserror::Error;

pub use crate::binding::ProofError;

/// A configuration variable that is missing or malformed. Its `Display` is the one line
/// that fails Lambda init, and always starts with the variable's name.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{variable}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault, e.g. `JWT_AUDIENCE`.
    pub variable: String,
    /// What is wrong with it, and what would be accepted.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(variable: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            variable: one_line(variable.into()),
            reason: one_line(reason.into()),
        }
    }
}

/// `text` with control characters escaped (`\n`): a reason may quote the input (a JSON
/// parser's "unknown field" does), and the message must stay one line.
fn one_line(text: String) -> String {
    if !text.contains(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Why a token was rejected. Each variant maps to the configured denial; none to an Allow.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// No token in any of the configured token sources.
    #[error("no token in the request")]
    Missing,
    /// A header source used a scheme other than `Bearer` or `DPoP`.
    #[error("authorization scheme is not Bearer or DPoP")]
    NotBearer,
    /// The token is longer than the 16 KiB cap.
    #[error("token larger than the size cap")]
    TooLarge,
    /// Not three base64url segments, or a header/payload that is not a JSON object.
    #[error("token is not a well-formed JWS compact serialization")]
    Malformed,
    /// The header carries `crit`, whose extensions this verifier does not implement.
    #[error("token header has a crit parameter")]
    CriticalHeader,
    /// The `iss` claim is absent or matches no configured issuer exactly (nor, with the
    /// tenant registry, an active registered one; or the registry's lookup budget is spent).
    #[error("issuer is not configured")]
    UnknownIssuer,
    /// The `iss` names a registered issuer that is disabled (`issuers disable`).
    #[error("issuer is disabled")]
    IssuerDisabled,
    /// The `iss` is not configured, and the tenant registry could not be read.
    #[error("issuer registry unavailable")]
    RegistryUnavailable,
    /// The header `alg` is not in the issuer's allow-list.
    #[error("algorithm not allowed for this issuer")]
    AlgorithmNotAllowed,
    /// The header `typ` is not the one the issuer requires (`JWT_TYP`), or is absent.
    #[error("token type (typ) is not the one required")]
    WrongType,
    /// A token for a JWKS issuer without a `kid` header.
    #[error("token has no kid")]
    MissingKid,
    /// Key lookup failed (unknown kid, unusable JWK, keys unavailable).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The signature does not verify with the selected key.
    #[error("signature does not verify")]
    BadSignature,
    /// The signature verified but a claim check failed.
    #[error(transparent)]
    Claims(#[from] ClaimsError),
    /// The system clock reads before 1970: no token can be judged, so none is accepted.
    #[error("the system clock is unusable")]
    ClockUnavailable,
    /// A revocation item covers the token (its subject before its `iat`, its `jti` or
    /// its `origin_jti`).
    #[error("token revoked")]
    Revoked,
    /// The token's revocation items could not be read and `REVOCATION_ON_ERROR=deny`.
    #[error("revocation status unavailable")]
    RevocationUnavailable,
    /// A DPoP-bound token (`cnf.jkt`) without the `DPoP` scheme, on an authorizer kind
    /// that cannot carry a proof (TOKEN, WebSocket `$connect`), or any token without a
    /// proof under `DPOP=required`.
    #[error("a DPoP proof is required")]
    ProofRequired,
    /// The DPoP proof (or its absence under the `DPoP` scheme) fails a check.
    #[error("DPoP proof refused: {}", .0.as_str())]
    BadProof(ProofError),
    /// The proof's `jti` was seen before within its window.
    #[error("DPoP proof replayed")]
    ProofReplayed,
    /// A certificate-bound token (`cnf["x5t#S256"]`) without the client certificate it
    /// names.
    #[error("client certificate does not match the token")]
    CertificateMismatch,
    /// The replay table could not be written and `DPOP_REPLAY_ON_ERROR=deny`.
    #[error("DPoP replay status unavailable")]
    ReplayUnchecked,
}

/// Why no key could be selected for a token.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The `kid` is not among the issuer's keys, even after the allowed reload.
    #[error("kid not found in the issuer's keys")]
    UnknownKid,
    /// The JWK with that `kid` does not fit the token's `alg` (`kty`, `crv`, `use`, `alg`).
    #[error("key does not fit the token's algorithm")]
    KeyMismatch,
    /// No keys are available for the issuer: every key source failed and none is cached.
    #[error("issuer keys unavailable")]
    Unavailable,
}

/// Why the claims of an authentic token are not acceptable.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimsError {
    /// No `exp` claim.
    #[error("exp claim missing")]
    MissingExp,
    /// `exp`, `nbf` or `iat` is present but not a JSON number.
    #[error("time claim is not a number")]
    TimeNotNumeric,
    /// `exp` is in the past beyond the clock skew.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future beyond the clock skew.
    #[error("token not yet valid")]
    NotYetValid,
    /// `aud` is not a string or an array of strings, or it (Cognito access tokens:
    /// `client_id`) holds none of the configured audiences.
    #[error("audience not accepted")]
    Audience,
    /// Cognito `token_use` differs from the configured one.
    #[error("token_use not accepted")]
    TokenUse,
}

/// A failure of an upstream key source (the JWKS endpoint, discovery, later the table).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamError {
    /// No answer within the configured whole-request timeout.
    #[error("request timed out")]
    Timeout,
    /// Connection or protocol failure.
    #[error("request failed: {0}")]
    Transport(String),
    /// An HTTP status other than 200 (redirects are not followed).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// The body exceeded the size cap.
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
    /// The body is not the expected JSON document.
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// A JWKS that parses but holds no usable signing key.
    #[error("JWKS holds no usable signing key")]
    NoUsableKeys,
}

impl TokenError {
    /// Short stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Missing => "missing_token",
            Self::NotBearer => "not_bearer",
            Self::TooLarge => "token_too_large",
            Self::Malformed => "malformed",
            Self::CriticalHeader => "crit_header",
            Self::UnknownIssuer => "unknown_issuer",
            Self::IssuerDisabled => "issuer_disabled",
            Self::RegistryUnavailable => "registry_unavailable",
            Self::AlgorithmNotAllowed => "alg_not_allowed",
            Self::WrongType => "wrong_typ",
            Self::MissingKid => "missing_kid",
            Self::Key(KeyError::UnknownKid) => "unknown_kid",
            Self::Key(KeyError::KeyMismatch) => "key_mismatch",
            Self::Key(KeyError::Unavailable) => "keys_unavailable",
            Self::BadSignature => "bad_signature",
            Self::Claims(c) => c.as_str(),
            Self::ClockUnavailable => "clock_unavailable",
            Self::Revoked => "revoked",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::ProofRequired => "proof_required",
            Self::BadProof(_) => "bad_proof",
            Self::ProofReplayed => "proof_replayed",
            Self::CertificateMismatch => "certificate_mismatch",
            Self::ReplayUnchecked => "replay_unchecked",
        }
    }

    /// The finer kind beside the reason, when there is one (which proof check failed).
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::BadProof(error) => Some(error.as_str()),
            _ => None,
        }
    }
}

impl ClaimsError {
    /// Short stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::MissingExp => "missing_exp",
            Self::TimeNotNumeric => "time_not_numeric",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Audience => "audience",
            Self::TokenUse => "token_use",
        }
    }
}

impl UpstreamError {
    /// Short stable name for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Transport(_) => "transport",
            Self::Status(_) => "status",
            Self::TooLarge(_) => "too_large",
            Self::InvalidDocument(_) => "invalid_document",
            Self::NoUsableKeys => "no_usable_keys",
        }
    }
}
