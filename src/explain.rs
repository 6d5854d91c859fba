//! One decision, step by step, for an operator (`authorizer-admin explain`): the event
//! kind and route, where the token came from, its issuer, algorithm, key and the tier that
//! served it, the signature, each claim check, each rule with each condition and template,
//! the principal, and the answer. Every step calls the authorizer's own functions (no
//! second implementation of any rule), and the answer shown is the real decision's.
//! Nothing shown is the token: only its size, header fields and claims.

use std::fmt::Write as _;

use serde_json::Value;

use crate::authorizer::Authorizer;
use crate::claims::ClaimCheck;
use crate::claims::Claims;
use crate::events::{self, AuthRequest};
use crate::jwk::Algorithm;
use crate::keys::{KeySource, MAX_KID_LEN, Tier};
use crate::policy::rules::{Condition, groups, scopes};
use crate::policy::{self, Answer};
use crate::revocation::decide::{self, TokenIds};
use crate::revocation::record::Key;
use crate::token::{TokenOrigin, TokenSource};
use crate::verify;

/// One line of the explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What was looked at (`event`, `token`, `issuer`, `key`, `claims`, `rule`…).
    pub what: &'static str,
    /// What was found.
    pub text: String,
}

/// The explanation of one decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    /// The steps, in the order the authorizer takes them.
    pub steps: Vec<Step>,
}

impl Explanation {
    fn add(&mut self, what: &'static str, text: impl Into<String>) {
        self.steps.push(Step {
            what,
            text: text.into(),
        });
    }

    /// The steps as aligned text, one per line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for step in &self.steps {
            let _ = writeln!(out, "{:<11}{}", step.what, step.text);
        }
        out
    }
}

/// Explains the decision `authorizer` takes on `event` (raw JSON).
pub async fn explain(authorizer: &Authorizer, event: &str) -> Explanation {
    let mut out = Explanation::default();
    let config = authorizer.decision_config();
    match events::parse(event, &config.token_sources) {
        Ok(request) => {
            out.add(
                "event",
                format!(
                    "{} for {}",
                    request.kind.as_str(),
                    route(&request).unwrap_or(&request.arn)
                ),
            );
            if let Ok(token) = &request.token {
                explain_token(authorizer, &request, token, &mut out).await;
            } else if let Err(error) = &request.token {
                out.add(
                    "token",
                    format!("none usable: {error} ({})", error.as_str()),
                );
            }
        }
        Err(error) => out.add("event", format!("not answered: {error}")),
    }
    let decision = authorizer.decide(event).await;
    out.add(
        "decision",
        format!(
            "{} ({})",
            decision.outcome.as_str(),
            decision.reason.as_str()
        ),
    );
    let answer = match &decision.answer {
        Ok(answer) => serde_json::to_string(answer).unwrap_or_default(),
        Err(unauthorized) => format!("Lambda error {unauthorized:?}: API Gateway answers 401"),
    };
    out.add("answer", answer);
    if let (Ok(answer), Ok(request)) = (
        &decision.answer,
        events::parse(event, &config.token_sources),
    ) {
        let reaches = route_granted(answer, &request.arn);
        out.add(
            "route",
            format!(
                "{} {}",
                route(&request).unwrap_or(&request.arn),
                if reaches {
                    "is granted: API Gateway lets the call through"
                } else {
                    "is not granted: API Gateway answers 403"
                }
            ),
        );
    }
    out
}

async fn explain_token(
    authorizer: &Authorizer,
    request: &AuthRequest<'_>,
    token: &str,
    out: &mut Explanation,
) {
    let config = authorizer.decision_config();
    let verifier = authorizer.verifier();
    out.add(
        "token",
        format!(
            "{} bytes, from {}",
            token.len(),
            origin(request.origin, &config.token_sources)
        ),
    );
    let decoded = match verify::decode(token) {
        Ok(decoded) => decoded,
        Err(error) => {
            out.add("token", format!("rejected: {error} ({})", error.as_str()));
            return;
        }
    };
    let kid: Option<String> = decoded
        .kid
        .as_ref()
        .map(|k| k.chars().take(MAX_KID_LEN).collect());
    out.add(
        "header",
        format!(
            "alg {}, kid {}",
            decoded.alg,
            kid.as_deref().unwrap_or("(none)")
        ),
    );
    out.add("claims", Value::Object(decoded.claims.to_map()).to_string());
    let Some(iss) = decoded.claims.get("iss").and_then(Value::as_str) else {
        out.add("issuer", "no iss claim: rejected (unknown_issuer)");
        return;
    };
    let Some(now) = verifier.now() else {
        out.add(
            "clock",
            "the system clock reads before 1970: rejected (clock_unavailable)",
        );
        return;
    };
    let issuers = verifier.issuers();
    let found = match issuers.find(iss, now).await {
        Ok(found) => found,
        Err(error) => {
            let looked = if issuers.registry().is_some() {
                "neither configured nor an active registered issuer"
            } else {
                "not a configured issuer"
            };
            out.add(
                "issuer",
                format!("{iss:?} is {looked}: rejected ({})", error.as_str()),
            );
            return;
        }
    };
    let (issuer, keys) = (&found.config, &found.keys);
    match &found.tenant {
        _ if issuers.configured_issuer(iss).is_some() => {
            out.add("issuer", format!("{} (configured)", issuer.issuer));
        }
        Some(tenant) => out.add(
            "issuer",
            format!("{} (registered, tenant {tenant})", issuer.issuer),
        ),
        None => out.add(
            "issuer",
            format!("{} (registered, no tenant)", issuer.issuer),
        ),
    }
    let allowed: Vec<&str> = issuer.algorithms.iter().map(|a| a.as_str()).collect();
    let Some(alg) = decoded
        .alg
        .parse::<Algorithm>()
        .ok()
        .filter(|alg| issuer.algorithms.contains(alg))
    else {
        out.add(
            "algorithm",
            format!(
                "{} is not among {}: rejected (alg_not_allowed)",
                decoded.alg,
                allowed.join(", ")
            ),
        );
        return;
    };
    out.add(
        "algorithm",
        format!("{} allowed ({})", alg, allowed.join(", ")),
    );
    if let Some(required) = &issuer.typ {
        let typ = decoded.typ.as_ref().and_then(Option::as_deref);
        if !verify::typ_matches(required, typ) {
            out.add(
                "typ",
                format!(
                    "{} is not {required} (JWT_TYP): rejected (wrong_typ)",
                    typ.map_or("(none)".to_owned(), |t| format!("{t:?}"))
                ),
            );
            return;
        }
        out.add("typ", format!("{required} (JWT_TYP)"));
    }
    let key = match keys.select(decoded.kid.as_deref(), alg, now).await {
        Ok(key) => key,
        Err(error) => {
            out.add("key", format!("{error}: rejected ({})", error.as_str()));
            return;
        }
    };
    out.add(
        "key",
        describe_key(keys, key.tier, kid.as_deref(), alg, now.wall),
    );
    if let Err(error) = key.verify(decoded.signing_input.as_bytes(), &decoded.signature) {
        out.add(
            "signature",
            format!("{error}: rejected ({})", error.as_str()),
        );
        return;
    }
    out.add("signature", "valid");
    let claims = &decoded.claims;
    let mut valid = true;
    for check in ClaimCheck::ALL {
        let verdict = match check.run(claims, issuer, now.wall, verifier.skew()) {
            Ok(()) => "ok".to_owned(),
            Err(error) => {
                valid = false;
                format!("failed: {error} ({})", error.as_str())
            }
        };
        out.add(
            "check",
            format!(
                "{:<10} {} {verdict}",
                check.as_str(),
                claim_detail(check, claims, now.wall)
            ),
        );
    }
    if !valid {
        return;
    }
    if !explain_binding(verifier, request, token, claims, now.wall, out) {
        return;
    }
    if let Some(revocations) = verifier.revocations() {
        let ids = TokenIds::from_claims(claims);
        let items: Vec<String> = decide::items(&issuer.issuer, &ids)
            .as_slice()
            .iter()
            .filter_map(|(via, scope, id)| {
                Key::new(&issuer.issuer, *scope, id)
                    .map(|key| format!("{} ({})", key.pk, via.as_str()))
            })
            .collect();
        let checked = revocations.check(&issuer.issuer, claims, now).await;
        let verdict = match &checked {
            Ok(()) => "not revoked".to_owned(),
            Err(error) => format!("{error}: rejected ({})", error.as_str()),
        };
        let looked_up = if items.is_empty() {
            "none (no sub, jti or origin_jti)".to_owned()
        } else {
            items.join(", ")
        };
        out.add("revocation", format!("{verdict}; items {looked_up}"));
        if checked.is_err() {
            return;
        }
    } else {
        out.add("revocation", "off (REVOCATION unset)");
    }
    explain_rules(authorizer, request, claims, found.tenant.as_deref(), out);
}

/// The proof-of-possession step: what the token is bound to and every check but replay
/// (the decision below checks replay). Returns whether the token passed.
fn explain_binding(
    verifier: &crate::verify::Verifier,
    request: &AuthRequest<'_>,
    token: &str,
    claims: &Claims,
    now: u64,
    out: &mut Explanation,
) -> bool {
    let binding = verifier.binding();
    let cnf = match claims.get("cnf") {
        None => "bearer token (no cnf)".to_owned(),
        Some(cnf) => format!("cnf {cnf}"),
    };
    let scheme = request.scheme.map_or("none", |s| s.as_str());
    let proofs = match request.possession.proofs.as_slice() {
        [] => "no DPoP header".to_owned(),
        [proof] => match crate::binding::proof::parse(proof) {
            Ok((header, claims)) => format!(
                "one DPoP proof ({} bytes, typ {}, alg {}, htm {}, htu {}, iat {})",
                proof.len(),
                header.get("typ").unwrap_or(&Value::Null),
                header.get("alg").unwrap_or(&Value::Null),
                claims.get("htm").unwrap_or(&Value::Null),
                claims.get("htu").unwrap_or(&Value::Null),
                claims.get("iat").unwrap_or(&Value::Null),
            ),
            Err(error) => format!("one DPoP header, unreadable ({})", error.as_str()),
        },
        _ => "several DPoP headers".to_owned(),
    };
    let judged = binding.judge(
        token,
        claims,
        request.kind,
        request.scheme,
        &request.possession,
        now,
    );
    let verdict = match &judged {
        Ok(None) => "nothing to prove".to_owned(),
        Ok(Some(proven)) => format!("proof valid for key {} (replay checked below)", proven.jkt),
        Err(error) => match error.detail() {
            Some(detail) => format!("{error}: rejected ({}, {detail})", error.as_str()),
            None => format!("{error}: rejected ({})", error.as_str()),
        },
    };
    out.add(
        "binding",
        format!(
            "DPOP={}, scheme {scheme}, {cnf}, {proofs}: {verdict}",
            binding.settings().mode.as_str()
        ),
    );
    judged.is_ok()
}

fn explain_rules(
    authorizer: &Authorizer,
    request: &AuthRequest<'_>,
    claims: &Claims,
    tenant: Option<&str>,
    out: &mut Explanation,
) {
    let config = authorizer.decision_config();
    let rules = &config.rules;
    for (index, report) in rules.explain(claims).iter().enumerate() {
        let conditions: Vec<String> = report
            .conditions
            .iter()
            .map(|(condition, held)| {
                format!(
                    "{} {} ({})",
                    describe_condition(condition),
                    if *held { "held" } else { "failed" },
                    token_side(condition, claims, rules.groups_claim())
                )
            })
            .collect();
        let when = if conditions.is_empty() {
            "always".to_owned()
        } else {
            conditions.join("; ")
        };
        let resources: Vec<String> = report
            .rule
            .resources
            .iter()
            .map(ToString::to_string)
            .collect();
        let verdict = if report.held {
            "holds"
        } else {
            "does not hold"
        };
        out.add(
            "rule",
            format!("[{index}] {} {verdict} — {when}", resources.join(", ")),
        );
        if report.held {
            for template in &report.rule.resources {
                let expanded = match template.expand(claims, tenant) {
                    Some(path) => format!("{}{path}", request.api_prefix()),
                    None => {
                        let mut missing: Vec<&str> = template
                            .claims()
                            .filter(|c| claims.get(c).and_then(policy::claim_segment).is_none())
                            .collect();
                        if template.uses_tenant() && tenant.is_none() {
                            missing.push("{tenant} (only a registered issuer has one)");
                        }
                        format!(
                            "grants nothing: claim {} missing or not a safe segment",
                            missing.join(", ")
                        )
                    }
                };
                out.add("template", format!("{template} → {expanded}"));
            }
        }
    }
    match policy::principal(claims, &config.principal_claim) {
        Some(principal) => out.add(
            "principal",
            format!("{principal} (claim {})", config.principal_claim),
        ),
        None => out.add(
            "principal",
            format!(
                "claim {} missing or not a string: explicit Deny (no_principal)",
                config.principal_claim
            ),
        ),
    }
}

/// The route an ARN calls (`GET/hello/u1`), after its API and stage.
fn route<'a>(request: &'a AuthRequest<'_>) -> Option<&'a str> {
    request.arn.strip_prefix(request.api_prefix())
}

fn origin(origin: Option<TokenOrigin>, sources: &[TokenSource]) -> String {
    match origin {
        Some(TokenOrigin::AuthorizationToken) => "authorizationToken (Bearer)".into(),
        Some(TokenOrigin::IdentitySource) => "the first identitySource value".into(),
        Some(TokenOrigin::Source(i)) => match sources.get(i) {
            Some(TokenSource::Header(name)) => {
                format!("header {name} (Bearer), TOKEN_SOURCES entry {i}")
            }
            Some(TokenSource::Query(name)) => {
                format!("query parameter {name}, TOKEN_SOURCES entry {i}")
            }
            None => format!("TOKEN_SOURCES entry {i}"),
        },
        None => "nowhere".into(),
    }
}

fn describe_key(
    keys: &KeySource,
    tier: Option<Tier>,
    kid: Option<&str>,
    alg: Algorithm,
    now: u64,
) -> String {
    match (keys, tier) {
        (KeySource::Secret(_), _) => format!("the issuer's HS256 secret, for {alg}"),
        (KeySource::Jwks(issuer_keys), tier) => {
            let dates = issuer_keys.current().map_or_else(String::new, |s| {
                format!(
                    "; key set fetched_at {} ({} s ago), expires_at {} ({}), kids {}",
                    s.fetched_at,
                    now.saturating_sub(s.fetched_at),
                    s.expires_at,
                    if now < s.expires_at { "live" } else { "stale" },
                    s.keys.kids().join(", ")
                )
            });
            format!(
                "kid {} fits {alg}, from {}{dates}",
                kid.unwrap_or("(none)"),
                match (tier, issuer_keys.current().map(|s| s.source)) {
                    (Some(Tier::Table), _) => "the DynamoDB table, just now",
                    (Some(Tier::Jwks), _) => "the issuer's JWKS endpoint, just now",
                    (_, Some(Tier::Table)) => "memory, loaded from the DynamoDB table",
                    (_, Some(Tier::Jwks)) => "memory, loaded from the issuer's JWKS endpoint",
                    _ => "memory",
                }
            )
        }
    }
}

fn claim_detail(check: ClaimCheck, claims: &Claims, now: u64) -> String {
    let time = |name: &str| match claims.get(name) {
        None => format!("{name} absent"),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(t) if t >= now as f64 => format!("{name} {n} (in {:.0} s)", t - now as f64),
            Some(t) => format!("{name} {n} ({:.0} s ago)", now as f64 - t),
            None => format!("{name} {n}"),
        },
        Some(other) => format!("{name} {other}"),
    };
    let value = |name: &str| {
        claims
            .get(name)
            .map_or_else(|| format!("{name} absent"), |v| format!("{name} {v}"))
    };
    match check {
        ClaimCheck::Exp => time("exp"),
        ClaimCheck::Nbf => time("nbf"),
        ClaimCheck::Iat => time("iat"),
        ClaimCheck::Audience => format!("{}, {}", value("aud"), value("client_id")),
        ClaimCheck::TokenUse => value("token_use"),
    }
}

fn describe_condition(condition: &Condition) -> String {
    let list = |items: &[String]| format!("[{}]", items.join(", "));
    match condition {
        Condition::ScopesAll(s)
        | Condition::ScopesAny(s)
        | Condition::GroupsAll(s)
        | Condition::GroupsAny(s) => {
            format!("{} {}", condition.field(), list(s))
        }
        Condition::Claim { accepted, .. } => format!(
            "{} in [{}]",
            condition.field(),
            accepted
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What the token holds for a condition: its scopes, its groups, or the claim.
fn token_side(condition: &Condition, claims: &Claims, groups_claim: &str) -> String {
    match condition {
        Condition::ScopesAll(_) | Condition::ScopesAny(_) => {
            format!("token scopes: {}", scopes(claims).join(" "))
        }
        Condition::GroupsAll(_) | Condition::GroupsAny(_) => {
            format!(
                "token groups ({groups_claim}): {}",
                groups(claims, groups_claim).join(", ")
            )
        }
        Condition::Claim { name, .. } => match claims.get(name) {
            Some(value) => format!("token {name}: {value}"),
            None => format!("token has no {name}"),
        },
    }
}

/// Whether `answer` lets the call to `arn` through.
fn route_granted(answer: &Answer, arn: &str) -> bool {
    match answer {
        Answer::Simple(simple) => simple.is_authorized,
        Answer::Policy(p) | Answer::HttpIam(p) => p.grants(arn),
    }
}
