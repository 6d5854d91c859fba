//! How a verified token becomes an answer: the rules (see `rules.rs`), principal, context,
//! token sources, the denial and the HTTP API answer format.

use std::sync::Arc;

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

/// HTTP API (payload 2.0) answer format, as resolved from `HTTP_API_RESPONSE` and
/// `HTTP_API_CACHE` (see [`http_api_response`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `{"isAuthorized": …, "context": …}`.
    Simple,
    /// An IAM policy.
    Iam,
}

/// What `HTTP_API_RESPONSE` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Auto,
    Simple,
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
    pub context_claims: Vec<(Arc<str>, String)>,
    /// `TOKEN_SOURCES` for REQUEST kinds (default `header:Authorization,query:auth`).
    pub token_sources: Vec<TokenSource>,
    /// `DENY_MODE` (default `unauthorized`).
    pub deny_mode: DenyMode,
    /// The HTTP API answer: `HTTP_API_RESPONSE` (default `auto`) resolved against the
    /// rules and `HTTP_API_CACHE`.
    pub http_api_response: HttpApiResponse,
}

/// The HTTP API answer format. API Gateway caches an HTTP API answer by identity source
/// alone, so a simple `isAuthorized: true` for `/hello/alice` would serve `/hello/bob`
/// within the result TTL: `auto` answers simply only when every valid token is granted
/// every route (a `*` template and no rule with a condition), else with IAM; an explicit
/// `simple` with narrower or token-dependent grants is refused unless `HTTP_API_CACHE=off`
/// declares the authorizer's cache off.
fn http_api_response(
    asked: Asked,
    cache_off: bool,
    rules: &Rules,
) -> Result<HttpApiResponse, ConfigError> {
    let uniform = rules.grant_every_route_to_every_token();
    match asked {
        Asked::Iam => Ok(HttpApiResponse::Iam),
        Asked::Auto if uniform => Ok(HttpApiResponse::Simple),
        Asked::Auto => Ok(HttpApiResponse::Iam),
        Asked::Simple if uniform || cache_off => Ok(HttpApiResponse::Simple),
        Asked::Simple => Err(ConfigError::new(
            "HTTP_API_RESPONSE",
            "simple answers with grants narrower than * or that depend on the token need the \
             HTTP API authorizer's result cache off (TTL 0) and HTTP_API_CACHE=off: API Gateway \
             caches an answer by identity source alone, so one route's isAuthorized: true would \
             serve another; or use auto or iam",
        )),
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
            ("sub".into(), "sub".to_owned()),
            ("username".into(), "username".to_owned()),
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
    let asked = env.choice(
        "HTTP_API_RESPONSE",
        Asked::Auto,
        &[
            ("auto", Asked::Auto),
            ("simple", Asked::Simple),
            ("iam", Asked::Iam),
        ],
    )?;
    let cache_off = env.choice("HTTP_API_CACHE", false, &[("on", false), ("off", true)])?;
    let http_api_response = http_api_response(asked, cache_off, &rules)?;
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
        http_api_response,
    })
}

fn context_claims(raw: &str) -> Result<Vec<(Arc<str>, String)>, ConfigError> {
    let mut pairs: Vec<(Arc<str>, String)> = Vec::new();
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
        if pairs.iter().any(|(n, _)| &**n == name) {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                format!("context key {name:?} is listed twice"),
            ));
        }
        pairs.push((name.into(), claim.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;

    fn answer(vars: &[(&str, &str)]) -> Result<HttpApiResponse, String> {
        let mut all = vec![COGNITO[0], COGNITO[1]];
        all.extend_from_slice(vars);
        load(&all)
            .map(|config| config.decision.http_api_response)
            .map_err(|error| error.variable)
    }

    #[test]
    fn auto_answers_simply_only_when_every_token_gets_every_route() {
        use HttpApiResponse::{Iam, Simple};
        assert_eq!(answer(&[]), Ok(Simple), "the default * grants every route");
        assert_eq!(
            answer(&[("POLICY_RESOURCES", "*,GET/hello/{sub}")]),
            Ok(Simple)
        );
        for narrower in [
            [("POLICY_RESOURCES", "GET/hello/{sub}")],
            [("POLICY_RESOURCES", "*/admin/*")],
            [(
                "POLICY_RULES",
                r#"[{"resources":["*"],"groups_any":["ops"]}]"#,
            )],
        ] {
            assert_eq!(answer(&narrower), Ok(Iam), "{narrower:?}");
            let auto = [narrower[0], ("HTTP_API_RESPONSE", "auto")];
            assert_eq!(answer(&auto), Ok(Iam), "{narrower:?}");
        }
        let conditional_beside_star = [
            ("POLICY_RESOURCES", "*"),
            (
                "POLICY_RULES",
                r#"[{"resources":["*"],"scopes_any":["x"]}]"#,
            ),
        ];
        assert_eq!(answer(&conditional_beside_star), Ok(Iam));
    }

    #[test]
    fn explicit_simple_with_narrower_grants_needs_the_cache_declared_off() {
        use HttpApiResponse::{Iam, Simple};
        let per_user = ("POLICY_RESOURCES", "GET/hello/{sub}");
        assert_eq!(
            answer(&[per_user, ("HTTP_API_RESPONSE", "simple")]),
            Err("HTTP_API_RESPONSE".into())
        );
        assert_eq!(
            answer(&[
                per_user,
                ("HTTP_API_RESPONSE", "simple"),
                ("HTTP_API_CACHE", "on")
            ]),
            Err("HTTP_API_RESPONSE".into())
        );
        assert_eq!(
            answer(&[
                per_user,
                ("HTTP_API_RESPONSE", "simple"),
                ("HTTP_API_CACHE", "off")
            ]),
            Ok(Simple)
        );
        assert_eq!(answer(&[("HTTP_API_RESPONSE", "simple")]), Ok(Simple));
        assert_eq!(answer(&[per_user, ("HTTP_API_RESPONSE", "iam")]), Ok(Iam));
        assert_eq!(answer(&[("HTTP_API_RESPONSE", "iam")]), Ok(Iam));
        assert_eq!(
            answer(&[("HTTP_API_CACHE", "maybe")]),
            Err("HTTP_API_CACHE".into())
        );
    }

    #[test]
    fn choices_are_checked() {
        for var in ["DENY_MODE", "HTTP_API_RESPONSE", "HTTP_API_CACHE"] {
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
        assert_eq!(pairs[0], ("userId".into(), "sub".to_owned()));
        assert_eq!(pairs[1], ("scope".into(), "scope".to_owned()));
        assert_eq!(pairs[2], ("groups".into(), "cognito:groups".to_owned()));
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
