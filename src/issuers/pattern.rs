//! `TENANT_ISSUER_PATTERN`: the glob patterns a registered issuer must match, so a token
//! naming any other `iss` is refused without a table read. `*` stands for any run of
//! characters other than `/` (so `https://cognito-idp.*.amazonaws.com/*` covers every
//! Region and pool, and never a path below a pool); every other character is literal.

use std::fmt;

/// One glob pattern, split at its `*`s.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuerPattern {
    raw: String,
    /// The literal runs between the `*`s (one more than the number of `*`s).
    literals: Vec<String>,
}

/// The longest accepted pattern (an issuer is a URL; a pattern is one too).
pub const MAX_PATTERN_LEN: usize = 512;

impl IssuerPattern {
    /// A pattern such as `https://*.okta.com/oauth2/*`. It must be an `https://` URL
    /// (or `http://` to a loopback host, for local runs) whose host is not a bare `*`
    /// and which holds no `#`, white space or `**`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > MAX_PATTERN_LEN {
            return Err(format!(
                "expected a pattern of 1 to {MAX_PATTERN_LEN} characters, got {} characters",
                raw.len()
            ));
        }
        if raw.contains('#') || raw.contains(char::is_whitespace) || raw.contains("**") {
            return Err(format!("{raw:?} holds #, white space or **"));
        }
        let rest = if let Some(rest) = raw.strip_prefix("https://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("http://") {
            let host = rest.split('/').next().unwrap_or_default();
            let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if !(host == "localhost" || host == "[::1]" || host.starts_with("127.")) {
                return Err(format!(
                    "{raw:?} must use https (plain http only to a loopback host)"
                ));
            }
            rest
        } else {
            return Err(format!("expected an https URL pattern, got {raw:?}"));
        };
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host == "*" || host.starts_with("*:") {
            return Err(format!(
                "{raw:?} must name its host (a part of it may be *, e.g. *.okta.com)"
            ));
        }
        Ok(Self {
            raw: raw.to_owned(),
            literals: raw.split('*').map(str::to_owned).collect(),
        })
    }

    /// Whether `issuer` matches: the literals in order, each `*` taking a run (possibly
    /// empty) of characters other than `/`.
    pub fn matches(&self, issuer: &str) -> bool {
        let Some((first, rest)) = self.literals.split_first() else {
            return false;
        };
        let Some(mut tail) = issuer.strip_prefix(first.as_str()) else {
            return false;
        };
        let Some((last, middle)) = rest.split_last() else {
            return tail.is_empty();
        };
        for literal in middle {
            // The leftmost match is the right one: a `*` takes no `/`, so any later
            // match would only have needed a longer run.
            let Some(at) = tail.find(literal.as_str()) else {
                return false;
            };
            let (run, after) = tail.split_at(at);
            if run.contains('/') {
                return false;
            }
            tail = after.get(literal.len()..).unwrap_or_default();
        }
        tail.strip_suffix(last.as_str())
            .is_some_and(|run| !run.contains('/'))
    }
}

impl fmt::Display for IssuerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl fmt::Debug for IssuerPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerPattern({:?})", self.raw)
    }
}

/// Whether `issuer` matches any of `patterns`.
pub fn any_matches(patterns: &[IssuerPattern], issuer: &str) -> bool {
    patterns.iter().any(|p| p.matches(issuer))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    fn p(raw: &str) -> IssuerPattern {
        IssuerPattern::parse(raw).unwrap()
    }

    #[test]
    fn a_star_takes_any_run_without_a_slash() {
        let cognito = p("https://cognito-idp.*.amazonaws.com/*");
        assert!(cognito.matches("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1"));
        assert!(cognito.matches("https://cognito-idp..amazonaws.com/"));
        for other in [
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Ab1/x",
            "https://cognito-idp.evil.com/x.amazonaws.com/pool",
            "https://cognito-idp.eu-west-1.amazonaws.com",
            "http://cognito-idp.eu-west-1.amazonaws.com/p",
            "https://issuer-cognito-idp.eu-west-1.amazonaws.com/p",
        ] {
            assert!(!cognito.matches(other), "{other}");
        }
        let okta = p("https://*.okta.com/oauth2/*");
        assert!(okta.matches("https://acme.okta.com/oauth2/default"));
        assert!(!okta.matches("https://acme.evil.com/.okta.com/oauth2/default"));
        assert!(!okta.matches("https://acme.okta.com/oauth2/default/extra"));
    }

    #[test]
    fn a_pattern_without_a_star_matches_itself_only() {
        let exact = p("https://login.example.com/t1");
        assert!(exact.matches("https://login.example.com/t1"));
        assert!(!exact.matches("https://login.example.com/t1x"));
        assert!(!exact.matches("https://login.example.com/t"));
    }

    #[test]
    fn stars_side_by_side_with_literals_backtrack_correctly() {
        let pattern = p("https://idp.example.com/*-*/end");
        assert!(pattern.matches("https://idp.example.com/a-b-c/end"));
        assert!(pattern.matches("https://idp.example.com/-/end"));
        assert!(!pattern.matches("https://idp.example.com/ab/end"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "https://*/x",
            "https://*:443/x",
            "https:///x",
            "http://idp.example.com/*",
            "ftp://idp.example.com/*",
            "https://idp.example.com/**",
            "https://idp.example.com/#*",
            "https://idp.example.com/a b",
        ] {
            assert!(IssuerPattern::parse(bad).is_err(), "{bad}");
        }
        assert!(IssuerPattern::parse("http://127.0.0.1:9000/*").is_ok());
        assert!(IssuerPattern::parse(&format!("https://x/{}", "a".repeat(600))).is_err());
    }
}
