//! Turns a verified token into API Gateway's answer: `POLICY_RESOURCES` templates expanded
//! against the caller's API and stage, `principalId`, the authorizer context, and the IAM
//! policy or HTTP API simple response that carries them.

use std::borrow::Cow;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde::Serialize;
use serde_json::{Map, Value};

/// Longest claim value a placeholder accepts.
pub const MAX_CLAIM_SEGMENT: usize = 128;

/// Route prefixes a template may start with: an HTTP method, `*`, or the WebSocket `$connect`.
const ROUTE_STARTS: [&str; 9] = [
    "*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "$connect",
];

/// One `POLICY_RESOURCES` entry, e.g. `GET/hello/{sub}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Claim(String),
}

impl Template {
    /// `*`: every route of the calling API's stage.
    pub fn everything() -> Self {
        Self {
            parts: vec![Part::Literal("*".into())],
        }
    }

    /// Parses `METHOD/path` with `{claim}` placeholders (a leading `/` is ignored).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().trim_start_matches('/');
        let route = text.split('/').next().unwrap_or_default();
        if !ROUTE_STARTS.contains(&route) {
            return Err(format!(
                "{raw:?} must start with an HTTP method, * or $connect (e.g. GET/hello/{{sub}})"
            ));
        }
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            let (literal, after) = rest.split_at(open);
            let close = after
                .find('}')
                .ok_or_else(|| format!("{raw:?} has an unclosed {{"))?;
            let name = after.get(1..close).unwrap_or_default();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
            {
                return Err(format!("{raw:?} has an invalid placeholder {{{name}}}"));
            }
            push_literal(&mut parts, literal, raw)?;
            parts.push(Part::Claim(name.to_owned()));
            rest = after.get(close + 1..).unwrap_or_default();
        }
        push_literal(&mut parts, rest, raw)?;
        Ok(Self { parts })
    }

    /// The resource path for these claims, or `None` when a placeholder's claim is missing
    /// or not a safe segment (see [`claim_segment`]).
    pub fn expand(&self, claims: &Map<String, Value>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Claim(name) => out.push_str(&claim_segment(claims.get(name)?)?),
            }
        }
        Some(out)
    }
}

fn push_literal(parts: &mut Vec<Part>, literal: &str, raw: &str) -> Result<(), String> {
    if literal.contains('}')
        || !literal
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~@+=:$*/-".contains(c))
    {
        return Err(format!(
            "{raw:?} has characters outside A-Z a-z 0-9 . _ ~ @ + = : $ * / -"
        ));
    }
    if !literal.is_empty() {
        parts.push(Part::Literal(literal.to_owned()));
    }
    Ok(())
}

/// A claim value that may stand in a resource: a string of 1 to 128 characters from
/// `[A-Za-z0-9._~@+=:-]` that is not only dots, or an integer. Anything else (`*`, `a/b`,
/// floats, arrays…) is `None`, so a claim can never widen a policy.
pub fn claim_segment(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => {
            let safe = (1..=MAX_CLAIM_SEGMENT).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._~@+=:-".contains(&b))
                && !s.bytes().all(|b| b == b'.');
            safe.then_some(Cow::Borrowed(s.as_str()))
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// The `principalId`: the claim as a string (strings and numbers only).
pub fn principal(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The authorizer context: primitives as they are, arrays joined with `,`, objects as JSON
/// text, nulls and missing claims left out.
pub fn context(claims: &Map<String, Value>, pairs: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, claim) in pairs {
        let value = match claims.get(claim) {
            None | Some(Value::Null) => continue,
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => v.clone(),
            Some(Value::Array(items)) => Value::String(
                items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            Some(object @ Value::Object(_)) => Value::String(object.to_string()),
        };
        out.insert(name.clone(), value);
    }
    out
}

/// What the authorizer returns to API Gateway.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// REST (TOKEN, REQUEST) and WebSocket: an IAM policy.
    Policy(ApiGatewayCustomAuthorizerResponse<Map<String, Value>>),
    /// HTTP API payload 2.0 with `HTTP_API_RESPONSE=iam`.
    HttpIam(ApiGatewayV2CustomAuthorizerIamPolicyResponse<Map<String, Value>>),
    /// HTTP API payload 2.0 simple response.
    Simple(ApiGatewayV2CustomAuthorizerSimpleResponse<Map<String, Value>>),
}

/// Policy document with one `execute-api:Invoke` statement.
pub fn policy_document(
    effect: IamPolicyEffect,
    resources: Vec<String>,
) -> ApiGatewayCustomAuthorizerPolicy {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = resources;
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    document
}

impl Answer {
    /// A REST/WebSocket IAM policy answer.
    pub fn policy(
        principal: String,
        document: ApiGatewayCustomAuthorizerPolicy,
        context: Map<String, Value>,
    ) -> Self {
        let mut answer = ApiGatewayCustomAuthorizerResponse::default();
        answer.principal_id = Some(principal);
        answer.policy_document = document;
        answer.context = context;
        Self::Policy(answer)
    }

    /// An HTTP API IAM policy answer.
    pub fn http_iam(
        principal: String,
        document: ApiGatewayCustomAuthorizerPolicy,
        context: Map<String, Value>,
    ) -> Self {
        let mut answer = ApiGatewayV2CustomAuthorizerIamPolicyResponse::default();
        answer.principal_id = Some(principal);
        answer.policy_document = document;
        answer.context = context;
        Self::HttpIam(answer)
    }

    /// An HTTP API simple answer.
    pub fn simple(authorized: bool, context: Map<String, Value>) -> Self {
        let mut answer = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
        answer.is_authorized = authorized;
        answer.context = context;
        Self::Simple(answer)
    }

    /// Whether this answer lets the caller in on at least one resource.
    pub fn allows(&self) -> bool {
        let allows = |doc: &ApiGatewayCustomAuthorizerPolicy| {
            doc.statement
                .iter()
                .any(|s| s.effect == IamPolicyEffect::Allow && !s.resource.is_empty())
        };
        match self {
            Self::Policy(a) => allows(&a.policy_document),
            Self::HttpIam(a) => allows(&a.policy_document),
            Self::Simple(a) => a.is_authorized,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    #[test]
    fn template_expands_string_and_integer_claims() {
        let t = Template::parse("GET/hello/{sub}").unwrap();
        assert_eq!(
            t.expand(&claims(json!({"sub": "abc-123"}))),
            Some("GET/hello/abc-123".into())
        );
        assert_eq!(
            t.expand(&claims(json!({"sub": 42}))),
            Some("GET/hello/42".into())
        );
        let t = Template::parse("/PUT/users/{uid}/files/*").unwrap();
        assert_eq!(
            t.expand(&claims(json!({"uid": "u@x.com"}))),
            Some("PUT/users/u@x.com/files/*".into())
        );
    }

    #[test]
    fn claim_injection_makes_no_resource() {
        let t = Template::parse("GET/hello/{sub}").unwrap();
        for bad in [
            json!("*"),
            json!("a/b"),
            json!(""),
            json!(".."),
            json!("."),
            json!("a b"),
            json!("a?b"),
            json!("x".repeat(129)),
            json!(1.5),
            json!(["a"]),
            json!({"a": 1}),
            json!(null),
            json!(true),
            json!("é"),
            json!("a\nb"),
            json!("${x}"),
        ] {
            assert_eq!(
                t.expand(&claims(json!({"sub": bad.clone()}))),
                None,
                "{bad}"
            );
        }
        assert_eq!(t.expand(&claims(json!({"other": "x"}))), None);
        assert_eq!(
            t.expand(&claims(json!({"sub": "x".repeat(128)})))
                .map(|s| s.len()),
            Some(10 + 128)
        );
    }

    #[test]
    fn template_parse_rejects_bad_templates() {
        for bad in [
            "hello/{sub}",
            "GET/hello/{sub",
            "GET/hello/{}",
            "GET/a b",
            "GET/{a/b}",
            "GET/x}",
            "FETCH/x",
            "",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "*",
            "GET/hello/{sub}",
            "$connect",
            "*/admin/*",
            "DELETE/items/{custom:tenant}/{sub}",
        ] {
            assert!(Template::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn context_flattens_values() {
        let c = claims(
            json!({"sub": "s", "n": 3, "b": true, "groups": ["a", "b", 1], "obj": {"k": "v"}, "nul": null}),
        );
        let pairs: Vec<(String, String)> = ["sub", "n", "b", "groups", "obj", "nul", "missing"]
            .iter()
            .map(|s| ((*s).to_owned(), (*s).to_owned()))
            .collect();
        let ctx = context(&c, &pairs);
        assert_eq!(
            Value::Object(ctx),
            json!({"sub": "s", "n": 3, "b": true, "groups": "a,b,1", "obj": "{\"k\":\"v\"}"})
        );
    }

    #[test]
    fn principal_from_string_or_number_only() {
        assert_eq!(
            principal(&claims(json!({"sub": "s"})), "sub"),
            Some("s".into())
        );
        assert_eq!(
            principal(&claims(json!({"uid": 7})), "uid"),
            Some("7".into())
        );
        assert_eq!(principal(&claims(json!({"sub": ["s"]})), "sub"), None);
        assert_eq!(principal(&claims(json!({"sub": ""})), "sub"), None);
    }

    #[test]
    fn answers_serialize_to_api_gateway_shapes() {
        let doc = policy_document(IamPolicyEffect::Allow, vec!["arn:x/GET/a".into()]);
        let answer = Answer::policy("p".into(), doc, claims(json!({"sub": "s"})));
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["principalId"], "p");
        assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
        assert_eq!(
            json["policyDocument"]["Statement"][0],
            json!({"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:x/GET/a"]})
        );
        assert_eq!(json["context"]["sub"], "s");
        assert!(answer.allows());
        let simple = serde_json::to_value(Answer::simple(false, Map::new())).unwrap();
        assert_eq!(simple, json!({"isAuthorized": false, "context": {}}));
    }
}
