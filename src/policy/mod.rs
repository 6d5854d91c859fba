//! Turns a verified token into API Gateway's answer: the [`rules`] that hold grant their
//! [`template`]s, expanded against the caller's API and stage; `principalId`, the
//! authorizer context, and the IAM policy or HTTP API simple response that carries them.

pub mod rules;
pub mod template;

pub use rules::{Condition, Rule, Rules};
pub use template::{MAX_CLAIM_SEGMENT, Template, claim_segment};

use crate::claims::Claims;
use crate::events::wildcard_match;
use serde::{Serialize, Serializer};
use std::sync::Arc;

use serde_json::Value;

/// The `principalId`: the claim as a string (strings and numbers only).
pub fn principal(claims: &Claims, claim: &str) -> Option<String> {
    if let Some(text) = claims.str(claim) {
        return (!text.is_empty()).then(|| text.to_owned());
    }
    match claims.get(claim)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The authorizer context: primitives as they are, arrays joined with `,`, objects as JSON
/// text, nulls and missing claims left out.
pub fn context(claims: &Claims, pairs: &[(Arc<str>, String)]) -> Context {
    let mut out = Context::with_capacity(pairs.len() + 1);
    for (name, claim) in pairs {
        if let Some(text) = claims.str(claim) {
            out.insert(Arc::clone(name), Value::String(text.to_owned()));
            continue;
        }
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
        out.insert(Arc::clone(name), value);
    }
    out
}

/// The authorizer context of an answer: names (unique, in order) and their values, a
/// JSON object to API Gateway. A handful of entries, so a sorted list rather than a
/// map, and names shared with the configuration rather than copied per decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Context(Vec<(Arc<str>, Value)>);

impl Context {
    /// An empty context with room for `entries`.
    pub fn with_capacity(entries: usize) -> Self {
        Self(Vec::with_capacity(entries))
    }

    /// Sets `name` to `value` (replacing a value it had).
    pub fn insert(&mut self, name: Arc<str>, value: Value) {
        match self.0.binary_search_by(|(have, _)| (**have).cmp(&*name)) {
            Ok(at) => {
                if let Some(entry) = self.0.get_mut(at) {
                    entry.1 = value;
                }
            }
            Err(at) => self.0.insert(at, (name, value)),
        }
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let at = self
            .0
            .binary_search_by(|(have, _)| (**have).cmp(name))
            .ok()?;
        self.0.get(at).map(|(_, value)| value)
    }

    /// The entries, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(name, value)| (&**name, value))
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: Into<Arc<str>>> FromIterator<(N, Value)> for Context {
    fn from_iter<I: IntoIterator<Item = (N, Value)>>(entries: I) -> Self {
        let mut context = Self::default();
        for (name, value) in entries {
            context.insert(name.into(), value);
        }
        context
    }
}

impl Serialize for Context {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// What the authorizer returns to API Gateway: the shapes of API Gateway's documentation
/// (and `aws_lambda_events`' response types, which the tests hold these to), built
/// without copies of the constant parts.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// REST (TOKEN, REQUEST) and WebSocket: an IAM policy.
    Policy(PolicyAnswer),
    /// HTTP API payload 2.0 with `HTTP_API_RESPONSE=iam`.
    HttpIam(PolicyAnswer),
    /// HTTP API payload 2.0 simple response.
    Simple(SimpleAnswer),
}

/// An IAM policy answer: one `execute-api:Invoke` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyAnswer {
    /// `principalId`.
    pub principal_id: String,
    /// The statement's effect.
    pub effect: Effect,
    /// The statement's resources.
    pub resources: Vec<String>,
    /// The authorizer context.
    pub context: Context,
}

/// An HTTP API simple answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SimpleAnswer {
    /// `isAuthorized`.
    pub is_authorized: bool,
    /// The authorizer context.
    pub context: Context,
}

/// A policy statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
        }
    }
}

impl Answer {
    /// A REST/WebSocket IAM policy answer.
    pub fn policy(
        principal_id: String,
        effect: Effect,
        resources: Vec<String>,
        context: Context,
    ) -> Self {
        Self::Policy(PolicyAnswer {
            principal_id,
            effect,
            resources,
            context,
        })
    }

    /// An HTTP API IAM policy answer.
    pub fn http_iam(
        principal_id: String,
        effect: Effect,
        resources: Vec<String>,
        context: Context,
    ) -> Self {
        Self::HttpIam(PolicyAnswer {
            principal_id,
            effect,
            resources,
            context,
        })
    }

    /// An HTTP API simple answer.
    pub fn simple(is_authorized: bool, context: Context) -> Self {
        Self::Simple(SimpleAnswer {
            is_authorized,
            context,
        })
    }

    /// Whether this answer lets the caller in on at least one resource.
    pub fn allows(&self) -> bool {
        match self {
            Self::Policy(p) | Self::HttpIam(p) => {
                p.effect == Effect::Allow && !p.resources.is_empty()
            }
            Self::Simple(a) => a.is_authorized,
        }
    }
}

impl PolicyAnswer {
    /// Whether the policy lets a call to `arn` through (an Allow resource matches it).
    pub fn grants(&self, arn: &str) -> bool {
        self.effect == Effect::Allow && self.resources.iter().any(|r| wildcard_match(r, arn))
    }

    fn json(&self, usage_identifier_key: Option<Option<&'static str>>) -> PolicyJson<'_> {
        PolicyJson {
            principal_id: &self.principal_id,
            policy_document: self.document(),
            context: &self.context,
            usage_identifier_key,
        }
    }

    fn document(&self) -> Document<'_> {
        Document {
            version: "2012-10-17",
            statement: [Statement {
                action: ["execute-api:Invoke"],
                effect: self.effect.as_str(),
                resource: &self.resources,
            }],
        }
    }
}

impl Serialize for Answer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Policy(p) => p.json(Some(None)).serialize(serializer),
            Self::HttpIam(p) => p.json(None).serialize(serializer),
            Self::Simple(a) => SimpleJson {
                is_authorized: a.is_authorized,
                context: &a.context,
            }
            .serialize(serializer),
        }
    }
}

/// A policy answer's JSON: REST's carries `usageIdentifierKey` (`null`), HTTP API's has
/// no such member.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PolicyJson<'a> {
    principal_id: &'a str,
    policy_document: Document<'a>,
    context: &'a Context,
    #[serde(skip_serializing_if = "Option::is_none")]
    usage_identifier_key: Option<Option<&'a str>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SimpleJson<'a> {
    is_authorized: bool,
    context: &'a Context,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Document<'a> {
    version: &'static str,
    statement: [Statement<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement<'a> {
    action: [&'static str; 1],
    effect: &'static str,
    resource: &'a [String],
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        Claims::from_json(value)
    }

    #[test]
    fn context_flattens_values() {
        let c = claims(
            json!({"sub": "s", "n": 3, "b": true, "groups": ["a", "b", 1], "obj": {"k": "v"}, "nul": null}),
        );
        let pairs: Vec<(Arc<str>, String)> = ["sub", "n", "b", "groups", "obj", "nul", "missing"]
            .iter()
            .map(|s| ((*s).into(), (*s).to_owned()))
            .collect();
        let ctx = context(&c, &pairs);
        assert_eq!(
            serde_json::to_value(&ctx).unwrap(),
            json!({"sub": "s", "n": 3, "b": true, "groups": "a,b,1", "obj": "{\"k\":\"v\"}"})
        );
    }

    #[test]
    fn a_context_keeps_its_names_sorted_and_unique() {
        let mut context: Context = [("sub", json!("s")), ("b", json!(1))].into_iter().collect();
        context.insert("a".into(), json!(true));
        context.insert("b".into(), json!(2));
        assert_eq!(context.len(), 3);
        assert!(!context.is_empty() && Context::default().is_empty());
        assert_eq!(context.get("b"), Some(&json!(2)));
        assert_eq!(context.get("c"), None);
        let names: Vec<&str> = context.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["a", "b", "sub"]);
        assert_eq!(
            serde_json::to_string(&context).unwrap(),
            r#"{"a":true,"b":2,"sub":"s"}"#
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
        let context: Context = json!({"sub": "s"})
            .as_object()
            .cloned()
            .unwrap()
            .into_iter()
            .collect();
        let answer = Answer::policy(
            "p".into(),
            Effect::Allow,
            vec!["arn:x/GET/a".into()],
            context,
        );
        let json = serde_json::to_value(&answer).unwrap();
        assert_eq!(json["principalId"], "p");
        assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
        assert_eq!(
            json["policyDocument"]["Statement"][0],
            json!({"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:x/GET/a"]})
        );
        assert_eq!(json["context"]["sub"], "s");
        assert!(answer.allows());
        let simple = serde_json::to_value(Answer::simple(false, Context::default())).unwrap();
        assert_eq!(simple, json!({"isAuthorized": false, "context": {}}));
    }

    /// Every answer is, byte for byte, what `aws_lambda_events`' response types write.
    #[test]
    fn answers_are_what_aws_lambda_events_writes() {
        use aws_lambda_events::apigw::{
            ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
            ApiGatewayV2CustomAuthorizerIamPolicyResponse,
            ApiGatewayV2CustomAuthorizerSimpleResponse,
        };
        use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
        let document = |effect: IamPolicyEffect, resources: &[String]| {
            let mut statement = IamPolicyStatement::default();
            statement.action = vec!["execute-api:Invoke".to_owned()];
            statement.effect = effect;
            statement.resource = resources.to_vec();
            let mut document = ApiGatewayCustomAuthorizerPolicy::default();
            document.version = Some("2012-10-17".to_owned());
            document.statement = vec![statement];
            document
        };
        let contexts = [
            serde_json::Map::new(),
            json!({"sub": "s\"q", "n": 7, "b": true, "é": "ü\u{1}"})
                .as_object()
                .cloned()
                .unwrap(),
        ];
        let resources = [
            vec!["arn:x/GET/a".to_owned()],
            vec!["arn:x/GET/a".to_owned(), "arn:x/PUT/b/*".to_owned()],
        ];
        for context in &contexts {
            let ours_context: Context = context.clone().into_iter().collect();
            for resources in &resources {
                for (effect, theirs) in [
                    (Effect::Allow, IamPolicyEffect::Allow),
                    (Effect::Deny, IamPolicyEffect::Deny),
                ] {
                    let mut rest = ApiGatewayCustomAuthorizerResponse::default();
                    rest.principal_id = Some("p\"1".to_owned());
                    rest.policy_document = document(theirs.clone(), resources);
                    rest.context = context.clone();
                    let ours = Answer::policy(
                        "p\"1".into(),
                        effect,
                        resources.clone(),
                        ours_context.clone(),
                    );
                    assert_eq!(
                        serde_json::to_string(&ours).unwrap(),
                        serde_json::to_string(&rest).unwrap()
                    );
                    let mut http = ApiGatewayV2CustomAuthorizerIamPolicyResponse::default();
                    http.principal_id = Some("p\"1".to_owned());
                    http.policy_document = document(theirs, resources);
                    http.context = context.clone();
                    let ours = Answer::http_iam(
                        "p\"1".into(),
                        effect,
                        resources.clone(),
                        ours_context.clone(),
                    );
                    assert_eq!(
                        serde_json::to_string(&ours).unwrap(),
                        serde_json::to_string(&http).unwrap()
                    );
                }
            }
            for authorized in [true, false] {
                let mut simple = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
                simple.is_authorized = authorized;
                simple.context = context.clone();
                assert_eq!(
                    serde_json::to_string(&Answer::simple(authorized, ours_context.clone()))
                        .unwrap(),
                    serde_json::to_string(&simple).unwrap()
                );
            }
        }
    }

    #[test]
    fn a_policy_grants_what_its_allow_resources_match() {
        let allow = PolicyAnswer {
            principal_id: "p".into(),
            effect: Effect::Allow,
            resources: vec!["arn:x/GET/a/*".into()],
            context: Context::default(),
        };
        assert!(allow.grants("arn:x/GET/a/b"));
        assert!(!allow.grants("arn:x/PUT/a/b"));
        let deny = PolicyAnswer {
            effect: Effect::Deny,
            ..allow
        };
        assert!(!deny.grants("arn:x/GET/a/b"));
    }
}
