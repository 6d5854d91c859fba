//! How a verified token becomes an answer: the rules (see `rules.rs`), principal, context,
//! token sources, the denial and the HTTP API answer format.

use super::env::{Env, comma_list};
use crate::error::ConfigError;
use crate::policy::Rules;
use crate::token::TokenSource;

/// What a REST or WebSocket caller gets for an absent or invalid token (`DENY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyMode {
    /// Lambda error `Unauthorized`: HTTP 401 (default).
    Unauthorized,
    /// An explicit Deny policy: HTTP 403.
    Deny,
}

/// HTTP API (payload 2.0) answer format (`HTTP_API_RESPONSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `{"isAuthorized": …, "context": …}` (default).
    Simple,
    /// An IAM policy.
    Iam,
}

/// How a verified token becomes an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionConfig {
    /// `POLICY_RESOURCES` and `POLICY_RULES` (default: `*` for any valid token), with
    /// groups from `GROUPS_CLAIM`.
    pub rules: Rules,
    /// `PRINCIPAL_CLAIM` (default `sub`).
    pub principal_claim: String,
    /// `CONTEXT_CLAIMS` as `(context key, claim)` (default `sub`, `username`, where present).
    pub context_claims: Vec<(String, String)>,
    /// `TOKEN_SOURCES` for REQUEST kinds (default `header:Authorization,query:auth`).
    pub token_sources: Vec<TokenSource>,
    /// `DENY_MODE` (default `unauthorized`).
    pub deny_mode: DenyMode,
    /// `HTTP_API_RESPONSE` (default `simple`).
    pub http_api_response: HttpApiResponse,
}

impl DecisionConfig {
    /// Whether HTTP API simple answers meet grants that vary by route or caller: API
    /// Gateway caches an HTTP API answer by identity source alone, so an `isAuthorized:
    /// true` for one route would be reused for another within the result TTL, unless the
    /// authorizer cache is off.
    pub fn simple_answers_may_be_reused_wrongly(&self) -> bool {
        self.http_api_response == HttpApiResponse::Simple && self.rules.vary_by_route_or_caller()
    }
}

pub(crate) fn decision(env: &Env<'_>) -> Result<DecisionConfig, ConfigError> {
    let rules = super::rules::rules(env)?;
    let principal_claim = env
        .get("PRINCIPAL_CLAIM")
        .unwrap_or_else(|| "sub".to_owned());
    let context_claims = match env.get("CONTEXT_CLAIMS") {
        Some(raw) => context_claims(&raw)?,
        None => vec![
            ("sub".to_owned(), "sub".to_owned()),
            ("username".to_owned(), "username".to_owned()),
        ],
    };
    let token_sources = match env.get("TOKEN_SOURCES") {
        Some(raw) => {
            let sources = comma_list(&raw)
                .iter()
                .map(|s| TokenSource::parse(s).map_err(|r| ConfigError::new("TOKEN_SOURCES", r)))
                .collect::<Result<Vec<_>, _>>()?;
            if sources.is_empty() {
                return Err(ConfigError::new("TOKEN_SOURCES", "lists no source"));
            }
            sources
        }
        None => TokenSource::defaults(),
    };
    Ok(DecisionConfig {
        rules,
        principal_claim,
        context_claims,
        token_sources,
        deny_mode: env.choice(
            "DENY_MODE",
            DenyMode::Unauthorized,
            &[
                ("unauthorized", DenyMode::Unauthorized),
                ("deny", DenyMode::Deny),
            ],
        )?,
        http_api_response: env.choice(
            "HTTP_API_RESPONSE",
            HttpApiResponse::Simple,
            &[
                ("simple", HttpApiResponse::Simple),
                ("iam", HttpApiResponse::Iam),
            ],
        )?,
    })
}

fn context_claims(raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for entry in comma_list(raw) {
        let (name, claim) = match entry.split_once('=') {
            Some((name, claim)) => (name.trim(), claim.trim()),
            None => (entry.as_str(), entry.as_str()),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        };
        if !valid(name) || !valid(claim) {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                format!("expected name=claim or claim, got {entry:?}"),
            ));
        }
        if pairs.iter().any(|(n, _)| n == name) {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                format!("context key {name:?} is listed twice"),
            ));
        }
        pairs.push((name.to_owned(), claim.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn simple_answers_with_route_dependent_grants_are_flagged() {
        let flagged = |vars: &[(&str, &str)]| {
            let mut all = vec![COGNITO[0], COGNITO[1]];
            all.extend_from_slice(vars);
            load(&all)
                .unwrap()
                .decision
                .simple_answers_may_be_reused_wrongly()
        };
        assert!(!flagged(&[]), "the default * does not vary");
        assert!(flagged(&[("POLICY_RESOURCES", "GET/hello/{sub}")]));
        assert!(!flagged(&[
            ("POLICY_RESOURCES", "GET/hello/{sub}"),
            ("HTTP_API_RESPONSE", "iam")
        ]));
        assert!(flagged(&[(
            "POLICY_RULES",
            r#"[{"resources":["*"],"groups_any":["ops"]}]"#
        )]));
    }

    #[test]
    fn choices_are_checked() {
        for var in ["DENY_MODE", "HTTP_API_RESPONSE"] {
            let vars = [COGNITO[0], COGNITO[1], (var, "maybe")];
            assert_eq!(error_variable(&vars), var);
        }
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("DENY_MODE", "Deny"),
            ("HTTP_API_RESPONSE", "iam"),
        ];
        let config = load(&vars).unwrap();
        assert_eq!(config.decision.deny_mode, DenyMode::Deny);
        assert_eq!(config.decision.http_api_response, HttpApiResponse::Iam);
    }

    #[test]
    fn context_claims_accept_renames_and_reject_junk() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("CONTEXT_CLAIMS", "userId=sub, scope ,groups=cognito:groups"),
        ];
        let pairs = load(&vars).unwrap().decision.context_claims;
        assert_eq!(pairs[0], ("userId".to_owned(), "sub".to_owned()));
        assert_eq!(pairs[1], ("scope".to_owned(), "scope".to_owned()));
        assert_eq!(pairs[2], ("groups".to_owned(), "cognito:groups".to_owned()));
        for bad in ["a=", "=b", "a b", "x=y,x=z"] {
            let vars = [COGNITO[0], COGNITO[1], ("CONTEXT_CLAIMS", bad)];
            assert_eq!(error_variable(&vars), "CONTEXT_CLAIMS", "{bad}");
        }
    }

    #[test]
    fn bad_templates_and_sources_name_their_variable() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("POLICY_RESOURCES", "GET/hello/{sub"),
        ];
        assert_eq!(error_variable(&vars), "POLICY_RESOURCES");
        let vars = [COGNITO[0], COGNITO[1], ("TOKEN_SOURCES", "cookie:x")];
        assert_eq!(error_variable(&vars), "TOKEN_SOURCES");
    }
}
