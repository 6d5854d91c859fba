//! Where the token comes from: the `Bearer` (or `DPoP`) scheme of a header, a raw query
//! parameter, or the TOKEN authorizer's `authorizationToken`; `TOKEN_SOURCES` order; the
//! 16 KiB size cap. Which scheme carried the token is recorded ([`Scheme`]): whether it
//! may be used that way is the proof-of-possession step's decision (`binding`), not this
//! module's.

use crate::error::TokenError;

/// Tokens longer than this are rejected before any parsing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Where a request's token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOrigin {
    /// The TOKEN authorizer's `authorizationToken` (`Bearer` scheme).
    AuthorizationToken,
    /// The `TOKEN_SOURCES` entry at this index.
    Source(usize),
    /// The HTTP API event's first `identitySource` value.
    IdentitySource,
}

/// How the token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP <token>` (RFC 9449 §7.1): a proof must come with it.
    DPoP,
    /// A raw value: a query parameter, or an HTTP API identity source without a scheme.
    Raw,
}

impl Scheme {
    /// Short stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::DPoP => "dpop",
            Self::Raw => "raw",
        }
    }
}

/// A token found in a request: the token, where, and under which scheme.
pub type Found<'a> = (&'a str, TokenOrigin, Scheme);

/// One entry of `TOKEN_SOURCES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `header:NAME`: a header (name matched case-insensitively) with the Bearer scheme.
    Header(String),
    /// `query:NAME`: a query string parameter holding the raw token.
    Query(String),
}

impl TokenSource {
    /// Parses `header:NAME` or `query:NAME`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (kind, name) = raw
            .split_once(':')
            .ok_or_else(|| format!("expected header:NAME or query:NAME, got {raw:?}"))?;
        let name = name.trim();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        match kind.trim() {
            "header" if valid => Ok(Self::Header(name.to_ascii_lowercase())),
            "query" if valid => Ok(Self::Query(name.to_owned())),
            _ => Err(format!("expected header:NAME or query:NAME, got {raw:?}")),
        }
    }

    /// `header:Authorization,query:auth`.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::Header("authorization".into()),
            Self::Query("auth".into()),
        ]
    }
}

/// The token in an `Authorization`-style value: `Bearer <token>`, scheme case-insensitive.
/// A `DPoP <token>` value is [`TokenError::NotBearer`] here; see [`authorization`].
pub fn bearer(value: &str) -> Result<&str, TokenError> {
    match authorization(value)? {
        (token, Scheme::Bearer) => Ok(token),
        _ => Err(TokenError::NotBearer),
    }
}

/// The token and scheme of an `Authorization`-style value: `Bearer <token>` or
/// `DPoP <token>`, scheme case-insensitive (RFC 9110 §11.1); any other scheme is
/// [`TokenError::NotBearer`].
///
/// Only the scheme is looked at here; a token with anything but base64url and dots in it
/// fails decoding later, so the (up to 16 KiB) token is not scanned twice.
pub fn authorization(value: &str) -> Result<(&str, Scheme), TokenError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(TokenError::Missing);
    }
    let scheme_end = value
        .bytes()
        .take(SCHEME_SCAN)
        .position(|b| b.is_ascii_whitespace())
        .ok_or(TokenError::NotBearer)?;
    let (scheme, rest) = value.split_at(scheme_end);
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::DPoP
    } else {
        return Err(TokenError::NotBearer);
    };
    let token = rest.trim_start();
    if token.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok((token, scheme))
}

/// How far to look for the end of the scheme (`Bearer` plus room for other schemes' names).
const SCHEME_SCAN: usize = 32;

/// The token from the first source that is present (non-empty), in `sources` order,
/// which source it was, and its scheme.
///
/// `header` looks a header up by lower-case name; `query` a query parameter by exact name.
pub fn from_sources<'a>(
    sources: &[TokenSource],
    header: impl Fn(&str) -> Option<&'a str>,
    query: impl Fn(&str) -> Option<&'a str>,
) -> Result<Found<'a>, TokenError> {
    for (index, source) in sources.iter().enumerate() {
        let origin = TokenOrigin::Source(index);
        match source {
            TokenSource::Header(name) => {
                if let Some(value) = header(name).filter(|v| !v.trim().is_empty()) {
                    return authorization(value).map(|(token, scheme)| (token, origin, scheme));
                }
            }
            TokenSource::Query(name) => {
                if let Some(value) = query(name).filter(|v| !v.is_empty()) {
                    return Ok((value, origin, Scheme::Raw));
                }
            }
        }
    }
    Err(TokenError::Missing)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(bearer("bearer   abc"), Ok("abc"));
        assert_eq!(bearer("BEARER abc "), Ok("abc"));
    }

    #[test]
    fn the_dpop_scheme_is_recognised_and_recorded() {
        assert_eq!(authorization("DPoP a.b.c"), Ok(("a.b.c", Scheme::DPoP)));
        assert_eq!(authorization("dpop  a.b.c"), Ok(("a.b.c", Scheme::DPoP)));
        assert_eq!(authorization("Bearer a.b.c"), Ok(("a.b.c", Scheme::Bearer)));
        assert_eq!(bearer("DPoP a.b.c"), Err(TokenError::NotBearer));
        let header = |_: &str| Some("DPoP a.b.c");
        assert_eq!(
            from_sources(&TokenSource::defaults(), header, |_| None),
            Ok(("a.b.c", TokenOrigin::Source(0), Scheme::DPoP))
        );
    }

    #[test]
    fn other_schemes_and_bare_values_fail() {
        assert_eq!(bearer("Basic dXNlcjpwYXNz"), Err(TokenError::NotBearer));
        assert_eq!(bearer("abc.def.ghi"), Err(TokenError::NotBearer));
        assert_eq!(bearer("Bearer "), Err(TokenError::NotBearer));
        assert_eq!(bearer("Bearer \t "), Err(TokenError::NotBearer));
        assert_eq!(bearer("  "), Err(TokenError::Missing));
    }

    #[test]
    fn sources_parse_and_reject_junk() {
        assert_eq!(
            TokenSource::parse("header:X-Token"),
            Ok(TokenSource::Header("x-token".into()))
        );
        assert_eq!(
            TokenSource::parse("query:access_token"),
            Ok(TokenSource::Query("access_token".into()))
        );
        for bad in ["cookie:x", "header:", "header", "query:a b"] {
            assert!(TokenSource::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_present_source_wins() {
        let sources = TokenSource::defaults();
        let header = |name: &str| (name == "authorization").then_some("Bearer from-header");
        let query = |name: &str| (name == "auth").then_some("from-query");
        assert_eq!(
            from_sources(&sources, header, query),
            Ok(("from-header", TokenOrigin::Source(0), Scheme::Bearer))
        );
        assert_eq!(
            from_sources(&sources, |_| None, query),
            Ok(("from-query", TokenOrigin::Source(1), Scheme::Raw))
        );
        assert_eq!(
            from_sources(&sources, |_| Some(""), query),
            Ok(("from-query", TokenOrigin::Source(1), Scheme::Raw))
        );
        assert_eq!(
            from_sources(&sources, |_| None, |_| None),
            Err(TokenError::Missing)
        );
    }

    #[test]
    fn a_present_header_with_a_bad_scheme_does_not_fall_through() {
        let sources = TokenSource::defaults();
        let header = |_: &str| Some("Basic abc");
        assert_eq!(
            from_sources(&sources, header, |_| Some("q")),
            Err(TokenError::NotBearer)
        );
    }
}
