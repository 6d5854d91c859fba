//! What the fuzz targets share: the configurations they decide under, one authorizer per
//! configuration built once per process (keys preloaded from the fixture JWKS, clock fixed,
//! no network), tokens signed with the fixture keys, and the invariants an answer must
//! hold. The invariants are written here from SPEC.md, independently of the code under
//! test: their own ARN prefix, template expansion, rule evaluation and glob matching.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::{Arc, OnceLock};

use jwt_authorizer::authorizer::Decision;
use jwt_authorizer::events::Kind;
use jwt_authorizer::{Answer, Authorizer, Config, ManualClock, Outcome, Reason};
use serde_json::{Map, Value};

/// The fixed clock every authorizer here reads.
pub const NOW: u64 = 1_800_000_000;
pub const OIDC: &str = "https://issuer.test";
pub const COGNITO: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TEST";
pub const AUDIENCE: &str = "test-client";
/// A loopback port nothing listens on: an unknown `kid` costs one refused connection per
/// process (the cooldown never ends on a clock that does not move).
const JWKS_URL: &str = "http://127.0.0.1:9/jwks.json";
/// SPEC.md: over 16 KiB is invalid.
pub const MAX_TOKEN: usize = 16 * 1024;

/// One accepted issuer, as SPEC.md describes its checks.
#[derive(Debug, Clone)]
pub struct IssuerModel {
    pub iss: &'static str,
    pub audience: &'static [&'static str],
    /// Cognito issuers: the required `token_use`.
    pub token_use: Option<&'static str>,
    pub algorithms: &'static [&'static str],
}

/// One rule: its templates and its conditions (`POLICY_RULES` fields, as JSON).
#[derive(Debug, Clone)]
pub struct RuleModel {
    pub resources: Vec<String>,
    pub conditions: Map<String, Value>,
}

/// A configuration: the environment given to `Config::from_lookup` and what SPEC.md says
/// it means.
#[derive(Debug)]
pub struct Setup {
    pub name: &'static str,
    pub vars: Vec<(&'static str, String)>,
    pub issuers: Vec<IssuerModel>,
    pub skew: u64,
    pub rules: Vec<RuleModel>,
    pub groups_claim: &'static str,
    pub principal_claim: &'static str,
    /// `DENY_MODE=deny`.
    pub deny: bool,
    /// HTTP API answers are IAM policies: `HTTP_API_RESPONSE=iam`, or `auto` with grants
    /// narrower than `*` for every token.
    pub http_iam: bool,
}

const ALL_ASYMMETRIC: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

const RULES_0: &str = r#"[
  {"resources": ["GET/reports/*", "GET/tenants/{custom:tenant}/reports/*"], "scopes_any": ["reports:read", "admin"]},
  {"resources": ["DELETE/users/{sub}", "*/admin/*"], "scopes_all": ["users:write"], "groups_any": ["ops"]},
  {"resources": ["PUT/files/{uid}.json", "GET/hello/{sub}"], "claims": {"tier": ["gold", 1, true]}}
]"#;

const RULES_1: &str = r#"[
  {"resources": ["GET/groups/{uid}/*"], "groups_all": ["ops", "dev"]},
  {"resources": ["POST/orders/{sub}/{uid}", "$connect"], "scopes_any": ["orders"], "claims": {"custom:tenant": ["acme", 7]}},
  {"resources": ["GET/hello/{email}"]}
]"#;

fn rules_from(resources: Option<&str>, rules: Option<&str>) -> Vec<RuleModel> {
    let mut out = Vec::new();
    let (None, None) = (resources, rules) else {
        if let Some(list) = resources {
            for t in list.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                out.push(RuleModel {
                    resources: vec![t.to_owned()],
                    conditions: Map::new(),
                });
            }
        }
        if let Some(json) = rules {
            let parsed: Vec<Map<String, Value>> = serde_json::from_str(json).unwrap();
            for mut rule in parsed {
                let resources = rule.remove("resources").unwrap();
                out.push(RuleModel {
                    resources: resources
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect(),
                    conditions: rule,
                });
            }
        }
        return out;
    };
    vec![RuleModel {
        resources: vec!["*".into()],
        conditions: Map::new(),
    }]
}

/// The configurations the decision targets pick from (the input chooses one).
pub fn setups() -> Vec<Setup> {
    let oidc = IssuerModel {
        iss: OIDC,
        audience: &[AUDIENCE],
        token_use: None,
        algorithms: &["RS256", "PS256", "ES256", "ES384", "EdDSA"],
    };
    let resources_0 = "GET/hello/{sub},$connect";
    let issuers_3 = format!(
        r#"[{{"issuer":"{OIDC}","jwks_url":"{JWKS_URL}","audience":["{AUDIENCE}","second"],"algorithms":["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","EdDSA"]}},
            {{"cognito_user_pool_id":"us-east-1_TEST","jwks_url":"{JWKS_URL}","audience":["{AUDIENCE}"],"token_use":"id","algorithms":["ES256","EdDSA"]}}]"#
    );
    vec![
        Setup {
            name: "oidc, rules, 401",
            vars: vec![
                ("JWT_ISSUER", OIDC.into()),
                ("JWT_AUDIENCE", AUDIENCE.into()),
                ("JWKS_URL", JWKS_URL.into()),
                ("JWT_ALGORITHMS", "RS256,PS256,ES256,ES384,EdDSA".into()),
                ("POLICY_RESOURCES", resources_0.into()),
                ("POLICY_RULES", RULES_0.into()),
                (
                    "CONTEXT_CLAIMS",
                    "sub,username,tier,groups=cognito:groups".into(),
                ),
                // Simple answers for per-user grants: only with the cache declared off.
                ("HTTP_API_RESPONSE", "simple".into()),
                ("HTTP_API_CACHE", "off".into()),
            ],
            issuers: vec![oidc.clone()],
            skew: 0,
            rules: rules_from(Some(resources_0), Some(RULES_0)),
            groups_claim: "cognito:groups",
            principal_claim: "sub",
            deny: false,
            http_iam: false,
        },
        Setup {
            name: "oidc, rules only, deny, iam, skew 60, no cache",
            vars: vec![
                ("JWT_ISSUER", OIDC.into()),
                ("JWT_AUDIENCE", format!("{AUDIENCE},other")),
                ("JWKS_URL", JWKS_URL.into()),
                ("JWT_ALGORITHMS", "RS256,PS256,ES256,ES384,EdDSA".into()),
                ("POLICY_RULES", RULES_1.into()),
                ("DENY_MODE", "deny".into()),
                ("HTTP_API_RESPONSE", "iam".into()),
                ("CLOCK_SKEW_SECONDS", "60".into()),
                ("PRINCIPAL_CLAIM", "uid".into()),
                ("GROUPS_CLAIM", "groups".into()),
                (
                    "CONTEXT_CLAIMS",
                    "sub,username,groups,tenant=custom:tenant,scope,email,n=nested".into(),
                ),
                ("TOKEN_CACHE_SIZE", "0".into()),
            ],
            issuers: vec![IssuerModel {
                audience: &[AUDIENCE, "other"],
                ..oidc.clone()
            }],
            skew: 60,
            rules: rules_from(None, Some(RULES_1)),
            groups_claim: "groups",
            principal_claim: "uid",
            deny: true,
            http_iam: true,
        },
        Setup {
            name: "cognito access",
            vars: vec![
                ("COGNITO_USER_POOL_ID", "us-east-1_TEST".into()),
                ("JWT_AUDIENCE", AUDIENCE.into()),
                ("JWKS_URL", JWKS_URL.into()),
                ("JWT_ALGORITHMS", "RS256,ES256,EdDSA".into()),
                (
                    "POLICY_RESOURCES",
                    "GET/hello/{username},PUT/profile/{sub}/*".into(),
                ),
            ],
            issuers: vec![IssuerModel {
                iss: COGNITO,
                audience: &[AUDIENCE],
                token_use: Some("access"),
                algorithms: &["RS256", "ES256", "EdDSA"],
            }],
            skew: 0,
            rules: rules_from(Some("GET/hello/{username},PUT/profile/{sub}/*"), None),
            groups_claim: "cognito:groups",
            principal_claim: "sub",
            deny: false,
            // HTTP_API_RESPONSE unset: `auto`, IAM for per-user grants.
            http_iam: true,
        },
        Setup {
            name: "two issuers, skew 300, default grant",
            vars: vec![
                ("JWT_ISSUERS", issuers_3),
                ("CLOCK_SKEW_SECONDS", "300".into()),
            ],
            issuers: vec![
                IssuerModel {
                    iss: OIDC,
                    audience: &[AUDIENCE, "second"],
                    token_use: None,
                    algorithms: ALL_ASYMMETRIC,
                },
                IssuerModel {
                    iss: COGNITO,
                    audience: &[AUDIENCE],
                    token_use: Some("id"),
                    algorithms: &["ES256", "EdDSA"],
                },
            ],
            skew: 300,
            rules: rules_from(None, None),
            groups_claim: "cognito:groups",
            principal_claim: "sub",
            deny: false,
            http_iam: false,
        },
    ]
}

/// An authorizer for each of [`setups`], built once per process.
pub struct Harness {
    pub setup: Setup,
    pub authorizer: Authorizer,
}

pub fn harnesses() -> &'static [Harness] {
    static HARNESSES: OnceLock<Vec<Harness>> = OnceLock::new();
    HARNESSES.get_or_init(|| {
        setups()
            .into_iter()
            .map(|setup| {
                let vars = setup.vars.clone();
                let config = Config::from_lookup(|name| {
                    vars.iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.clone())
                })
                .unwrap_or_else(|e| panic!("setup {}: {e}", setup.name));
                let clock = Arc::new(ManualClock::new(NOW));
                let authorizer = Authorizer::new(&config, clock, None).unwrap();
                authorizer
                    .verifier()
                    .load_document(jwt_authorizer::testkit::JWKS.as_bytes())
                    .unwrap();
                Harness { setup, authorizer }
            })
            .collect()
    })
}

/// One decision on `event` (raw JSON), on a runtime kept for the process.
pub fn decide(harness: &Harness, event: &str) -> Decision {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    });
    runtime.block_on(harness.authorizer.decide(event))
}

/// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/`, from SPEC.md's
/// description of a `methodArn`/`routeArn`.
pub fn api_prefix(arn: &str) -> Option<String> {
    let fields: Vec<&str> = arn.splitn(6, ':').collect();
    if fields.len() != 6 || fields[0] != "arn" || fields[2] != "execute-api" {
        return None;
    }
    let path: Vec<&str> = fields[5].splitn(3, '/').collect();
    if path.len() != 3 || path[0].is_empty() || path[1].is_empty() {
        return None;
    }
    Some(format!(
        "{}:{}/{}/",
        fields[..5].join(":"),
        path[0],
        path[1]
    ))
}

/// IAM's `*` glob.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// SPEC.md: a claim fills a placeholder only as a string of 1 to 128 characters from
/// `[A-Za-z0-9._~@+=:-]` (not only dots) or an integer.
pub fn segment(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => {
            let ok = (1..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._~@+=:-".contains(&b))
                && !s.bytes().all(|b| b == b'.');
            ok.then(|| s.clone())
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// A template's path for these claims and a registered issuer's `tenant`: literals
/// copied, `{tenant}` filled by the tenant (never a claim), `{claim}` by [`segment`].
pub fn expand(template: &str, claims: &Map<String, Value>, tenant: Option<&str>) -> Option<String> {
    let mut out = String::new();
    let mut rest = template.trim().trim_start_matches('/');
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        let value = if name == "tenant" {
            Value::String(tenant?.to_owned())
        } else {
            claims.get(name)?.clone()
        };
        out.push_str(&segment(&value)?);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

fn scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(Value::String(s)) = claims.get("scope") {
        out.extend(s.split_whitespace().map(str::to_owned));
    }
    match claims.get("scp") {
        Some(Value::String(s)) => out.extend(s.split_whitespace().map(str::to_owned)),
        Some(Value::Array(a)) => out.extend(a.iter().filter_map(Value::as_str).map(str::to_owned)),
        _ => {}
    }
    out
}

fn groups(claims: &Map<String, Value>, claim: &str) -> Vec<String> {
    match claims.get(claim) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// JSON equality by value and type; numbers by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if let (Some(x), Some(y)) = (x.as_i64(), y.as_i64()) {
                x == y
            } else if let (Some(x), Some(y)) = (x.as_u64(), y.as_u64()) {
                x == y
            } else {
                x.as_f64() == y.as_f64()
            }
        }
        _ => a == b,
    }
}

fn holds(rule: &RuleModel, claims: &Map<String, Value>, groups_claim: &str) -> bool {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    rule.conditions
        .iter()
        .all(|(field, value)| match field.as_str() {
            "scopes_all" => names(value).iter().all(|n| scopes(claims).contains(n)),
            "scopes_any" => names(value).iter().any(|n| scopes(claims).contains(n)),
            "groups_all" => names(value)
                .iter()
                .all(|n| groups(claims, groups_claim).contains(n)),
            "groups_any" => names(value)
                .iter()
                .any(|n| groups(claims, groups_claim).contains(n)),
            "claims" => value.as_object().unwrap().iter().all(|(name, accepted)| {
                let accepted = accepted.as_array().unwrap();
                let ok = |v: &Value| accepted.iter().any(|a| same(a, v));
                match claims.get(name) {
                    None => false,
                    Some(Value::Array(items)) => items.iter().any(ok),
                    Some(v) => ok(v),
                }
            }),
            other => panic!("model: unknown rule field {other}"),
        })
}

/// SPEC.md "Authorization rules": the paths a valid token with these claims is granted.
pub fn granted(setup: &Setup, claims: &Map<String, Value>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for rule in &setup.rules {
        if holds(rule, claims, setup.groups_claim) {
            for t in &rule.resources {
                if let Some(path) = expand(t, claims, None)
                    && !out.contains(&path)
                {
                    out.push(path);
                }
            }
        }
    }
    out
}

fn principal(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// SPEC.md "What makes a token invalid", for an authentic token's claims: `Ok` when
/// valid under one of the setup's issuers, else why not.
pub fn claims_problem(
    setup: &Setup,
    claims: &Map<String, Value>,
    alg: &str,
) -> Result<(), &'static str> {
    let iss = claims.get("iss").and_then(Value::as_str).ok_or("iss")?;
    let issuer = setup.issuers.iter().find(|i| i.iss == iss).ok_or("iss")?;
    if !issuer.algorithms.contains(&alg) {
        return Err("alg");
    }
    let (now, skew) = (NOW as f64, setup.skew as f64);
    let time = |name: &str| -> Result<Option<f64>, &'static str> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_f64()),
            Some(_) => Err("time type"),
        }
    };
    match time("exp") {
        Ok(Some(exp)) if exp + skew > now => {}
        Ok(_) => return Err("exp"),
        Err(e) => return Err(e),
    }
    match time("nbf") {
        Ok(Some(nbf)) if nbf > now + skew => return Err("nbf"),
        Err(e) => return Err(e),
        _ => {}
    }
    time("iat")?;
    let accepted = |v: &Value| v.as_str().is_some_and(|s| issuer.audience.contains(&s));
    let aud_ok = match claims.get("aud") {
        None => false,
        Some(v @ Value::String(_)) => accepted(v),
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().any(accepted)
        }
        Some(_) => return Err("aud type"),
    };
    let audience_ok = match issuer.token_use {
        Some("access") => claims.get("client_id").is_some_and(accepted),
        _ => aud_ok,
    };
    if !audience_ok {
        return Err("audience");
    }
    if let Some(token_use) = issuer.token_use
        && claims.get("token_use").and_then(Value::as_str) != Some(token_use)
    {
        return Err("token_use");
    }
    Ok(())
}

/// Checks every answer invariant of SPEC.md "Events in, answers out" for a decision on an
/// event of `kind` calling `arn`. `valid` says whether the token was valid, with its
/// claims: for a valid token the answer is compared with the rules' grant.
pub fn check_answer(
    setup: &Setup,
    decision: &Decision,
    kind: Kind,
    arn: &str,
    valid: Option<&Map<String, Value>>,
) {
    let prefix = api_prefix(arn);
    let answer = match &decision.answer {
        Err(_) => {
            assert_eq!(decision.outcome, Outcome::Unauthorized);
            assert!(
                kind != Kind::HttpApi,
                "an HTTP API never gets DENY_MODE's 401"
            );
            assert!(
                valid.is_none(),
                "a valid token got 401: {:?}",
                decision.reason
            );
            assert!(!setup.deny, "401 under DENY_MODE=deny");
            return;
        }
        Ok(answer) => answer,
    };
    assert_eq!(
        decision.outcome == Outcome::Allow,
        answer.allows(),
        "outcome {:?} for {answer:?}",
        decision.outcome
    );
    let json = serde_json::to_value(answer).unwrap();
    let object = json.as_object().expect("an answer is a JSON object");
    let context = object
        .get("context")
        .and_then(Value::as_object)
        .expect("context object");
    for (k, v) in context {
        assert!(
            matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)),
            "context {k} = {v}: API Gateway takes strings, numbers and booleans only"
        );
    }
    let mut allowed: Vec<String> = Vec::new();
    match answer {
        Answer::Simple(_) => {
            assert_eq!(kind, Kind::HttpApi);
            assert!(!setup.http_iam);
            assert_eq!(object.len(), 2, "{json}");
            let authorized = object["isAuthorized"]
                .as_bool()
                .expect("isAuthorized is a boolean");
            if !authorized {
                assert!(context.is_empty(), "a refusal carries no context");
            }
        }
        Answer::Policy(_) | Answer::HttpIam(_) => {
            assert_eq!(matches!(answer, Answer::HttpIam(_)), kind == Kind::HttpApi);
            let principal = object["principalId"].as_str().expect("principalId");
            assert!(!principal.is_empty());
            let document = &object["policyDocument"];
            assert_eq!(document["Version"], "2012-10-17");
            let statements = document["Statement"].as_array().expect("Statement array");
            assert!(!statements.is_empty());
            for s in statements {
                assert_eq!(s["Action"], serde_json::json!(["execute-api:Invoke"]));
                let effect = s["Effect"].as_str().expect("Effect");
                assert!(effect == "Allow" || effect == "Deny", "Effect {effect}");
                let resources = s["Resource"].as_array().expect("Resource array");
                assert!(!resources.is_empty());
                let prefix = prefix
                    .as_deref()
                    .expect("a policy for an ARN without a prefix");
                for r in resources {
                    let r = r.as_str().expect("Resource strings");
                    assert!(
                        r.starts_with(prefix),
                        "resource {r} outside the caller's API and stage {prefix}"
                    );
                    if effect == "Allow" {
                        allowed.push(r[prefix.len()..].to_owned());
                    } else {
                        assert_eq!(r, format!("{prefix}*"), "a Deny covers the whole stage");
                    }
                }
            }
        }
    }

    let Some(claims) = valid else {
        assert!(
            matches!(decision.reason, Reason::Token(_) | Reason::Event(_)),
            "an invalid token decided as {:?}",
            decision.reason
        );
        assert_ne!(
            decision.outcome,
            Outcome::Allow,
            "Allow for an invalid token"
        );
        return;
    };
    assert!(
        !matches!(decision.reason, Reason::Token(_) | Reason::Event(_)),
        "a valid token refused: {:?}",
        decision.reason
    );
    let prefix = prefix.expect("a valid decision on an ARN without a prefix");
    let mut expected = granted(setup, claims);
    let has_principal = principal(claims, setup.principal_claim).is_some();
    if expected.is_empty() || !has_principal {
        assert_eq!(decision.outcome, Outcome::Deny, "{:?}", decision.reason);
        return;
    }
    if let Answer::Simple(_) = answer {
        let hit = expected.iter().any(|p| glob(&format!("{prefix}{p}"), arn));
        assert_eq!(
            decision.outcome == Outcome::Allow,
            hit,
            "simple answer for {arn}: {expected:?}"
        );
        return;
    }
    assert_eq!(decision.outcome, Outcome::Allow, "{:?}", decision.reason);
    // No claim widened a template: each resource is one the rules grant, filled by the
    // model's own expansion, so no claim value brought a `*` or `/` of its own.
    allowed.sort();
    expected.sort();
    assert_eq!(allowed, expected, "granted resources for {claims:?}");
}
