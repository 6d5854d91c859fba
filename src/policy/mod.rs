//! Turns a verified token into API Gateway's answer: the [`rules`] that hold grant their
//! [`template`]s, expanded against the caller's API and stage; `principalId`, the
//! authorizer context, and the IAM policy or HTTP API simple response that carries them.

pub mod rules;
pub mod template;

pub use rules::{Condition, Rule, Rules};
pub use template::{MAX_CLAIM_SEGMENT, Template, claim_segment};

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde::Serialize;
use serde_json::{Map, Value};

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
