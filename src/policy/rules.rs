//! Authorization rules (SPEC.md "Authorization rules"): which templates a valid token is
//! granted, as a pure function of its claims. A rule holds when every condition it lists
//! holds (a rule with none always holds; a missing claim fails its condition); the
//! answer carries every template of every rule that holds, each expanded once.
//!
//! The token's scopes are `scope` split on ASCII spaces plus `scp` (an array of strings, or a
//! space-separated string); its groups are `GROUPS_CLAIM` (an array of strings, or one
//! string). `claims` conditions compare JSON values by value and type.

use crate::claims::Claims;
use serde_json::Value;

use super::template::Template;

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `scopes_all`: the token has every one of these scopes.
    ScopesAll(Vec<String>),
    /// `scopes_any`: the token has at least one of these scopes.
    ScopesAny(Vec<String>),
    /// `groups_all`: the token is in every one of these groups.
    GroupsAll(Vec<String>),
    /// `groups_any`: the token is in at least one of these groups.
    GroupsAny(Vec<String>),
    /// `claims.{name}`: the claim equals one of these values (an array claim: one of its
    /// elements does).
    Claim {
        /// The claim's name.
        name: String,
        /// The accepted values: strings, numbers or booleans.
        accepted: Vec<Value>,
    },
}

impl Condition {
    /// The field it came from, e.g. `scopes_any` or `claims.tenant`.
    pub fn field(&self) -> String {
        match self {
            Self::ScopesAll(_) => "scopes_all".into(),
            Self::ScopesAny(_) => "scopes_any".into(),
            Self::GroupsAll(_) => "groups_all".into(),
            Self::GroupsAny(_) => "groups_any".into(),
            Self::Claim { name, .. } => format!("claims.{name}"),
        }
    }

    fn holds(&self, token: &Facts<'_>) -> bool {
        let all =
            |needed: &[String], has: &[&str]| needed.iter().all(|n| has.contains(&n.as_str()));
        let any =
            |needed: &[String], has: &[&str]| needed.iter().any(|n| has.contains(&n.as_str()));
        match self {
            Self::ScopesAll(needed) => all(needed, &token.scopes),
            Self::ScopesAny(needed) => any(needed, &token.scopes),
            Self::GroupsAll(needed) => all(needed, &token.groups),
            Self::GroupsAny(needed) => any(needed, &token.groups),
            Self::Claim { name, accepted } => {
                let is_accepted = |v: &Value| accepted.iter().any(|a| same_json(a, v));
                match token.claims.get(name) {
                    None => false,
                    Some(Value::Array(items)) => items.iter().any(is_accepted),
                    Some(value) => is_accepted(value),
                }
            }
        }
    }

    fn needs_scopes(&self) -> bool {
        matches!(self, Self::ScopesAll(_) | Self::ScopesAny(_))
    }

    fn needs_groups(&self) -> bool {
        matches!(self, Self::GroupsAll(_) | Self::GroupsAny(_))
    }
}

/// One rule: the templates it grants and the conditions under which it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The templates granted when the rule holds (never empty).
    pub resources: Vec<Template>,
    /// Every condition must hold; none: the rule always holds.
    pub conditions: Vec<Condition>,
}

impl Rule {
    /// A rule without conditions (a `POLICY_RESOURCES` template).
    pub fn always(resources: Vec<Template>) -> Self {
        Self {
            resources,
            conditions: Vec::new(),
        }
    }
}

/// Every rule of the configuration, ready to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    rules: Vec<Rule>,
    /// Each distinct template once; `granted` indexes into it.
    templates: Vec<Template>,
    /// Per rule, the indexes of its templates in `templates`.
    granted: Vec<Vec<usize>>,
    groups_claim: String,
    needs_scopes: bool,
    needs_groups: bool,
}

/// What evaluation needs of a token, computed once per decision.
struct Facts<'a> {
    claims: &'a Claims,
    scopes: Vec<&'a str>,
    groups: Vec<&'a str>,
}

/// How one rule fared for one token (for `authorizer-admin explain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleReport<'a> {
    /// The rule.
    pub rule: &'a Rule,
    /// Each condition and whether it held.
    pub conditions: Vec<(&'a Condition, bool)>,
    /// Whether the rule held.
    pub held: bool,
}

impl Rules {
    /// The rules, with groups read from `groups_claim`.
    pub fn new(rules: Vec<Rule>, groups_claim: impl Into<String>) -> Self {
        let mut templates: Vec<Template> = Vec::new();
        let granted = rules
            .iter()
            .map(|rule| {
                rule.resources
                    .iter()
                    .map(|t| match templates.iter().position(|known| known == t) {
                        Some(at) => at,
                        None => {
                            templates.push(t.clone());
                            templates.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        let conditions = || rules.iter().flat_map(|r| &r.conditions);
        Self {
            needs_scopes: conditions().any(Condition::needs_scopes),
            needs_groups: conditions().any(Condition::needs_groups),
            rules,
            templates,
            granted,
            groups_claim: groups_claim.into(),
        }
    }

    /// The rules, in configuration order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The claim groups are read from (`GROUPS_CLAIM`).
    pub fn groups_claim(&self) -> &str {
        &self.groups_claim
    }

    /// The resources granted to a token with these claims, each `prefix` (the caller's
    /// `arn:…:{apiId}/{stage}/`) followed by a path: every template of every rule that
    /// holds, each expanded once; a template whose placeholder cannot be filled safely
    /// grants nothing.
    pub fn grant(&self, claims: &Claims, tenant: Option<&str>, prefix: &str) -> Vec<String> {
        let facts = self.facts(claims);
        let mut chosen = vec![false; self.templates.len()];
        for (rule, granted) in self.rules.iter().zip(&self.granted) {
            if rule.conditions.iter().all(|c| c.holds(&facts)) {
                for &t in granted {
                    if let Some(slot) = chosen.get_mut(t) {
                        *slot = true;
                    }
                }
            }
        }
        let mut resources: Vec<String> = Vec::new();
        for (template, _) in self.templates.iter().zip(&chosen).filter(|(_, c)| **c) {
            let mut resource = String::with_capacity(prefix.len() + 48);
            resource.push_str(prefix);
            if template.expand_onto(claims, tenant, &mut resource) && !resources.contains(&resource)
            {
                resources.push(resource);
            }
        }
        resources
    }

    /// Each rule, each of its conditions, and whether they held for these claims.
    pub fn explain<'a>(&'a self, claims: &Claims) -> Vec<RuleReport<'a>> {
        let facts = self.facts(claims);
        self.rules
            .iter()
            .map(|rule| {
                let conditions: Vec<(&Condition, bool)> = rule
                    .conditions
                    .iter()
                    .map(|c| (c, c.holds(&facts)))
                    .collect();
                RuleReport {
                    rule,
                    held: conditions.iter().all(|(_, held)| *held),
                    conditions,
                }
            })
            .collect()
    }

    /// Whether every valid token is granted every route of the stage: some rule grants
    /// `*` and no rule has a condition. Only then is an HTTP API simple answer, which API
    /// Gateway caches by identity source alone, the same for every route.
    pub fn grant_every_route_to_every_token(&self) -> bool {
        self.rules.iter().all(|r| r.conditions.is_empty())
            && self.templates.iter().any(Template::is_everything)
    }

    /// The token's scopes and groups (only when some rule asks for them).
    fn facts<'a>(&self, claims: &'a Claims) -> Facts<'a> {
        Facts {
            claims,
            scopes: if self.needs_scopes {
                scopes(claims)
            } else {
                Vec::new()
            },
            groups: if self.needs_groups {
                groups(claims, &self.groups_claim)
            } else {
                Vec::new()
            },
        }
    }
}

/// `scope` split on ASCII spaces (U+0020, RFC 6749 §3.3: a no-break space is part of a
/// scope, not a separator), plus `scp` (an array of strings, or a space-separated string).
pub fn scopes<'a>(claims: &'a Claims) -> Vec<&'a str> {
    let split = |text: &'a str| text.split(' ').filter(|scope| !scope.is_empty());
    let mut out: Vec<&str> = Vec::new();
    if let Some(Value::String(scope)) = claims.get("scope") {
        out.extend(split(scope));
    }
    match claims.get("scp") {
        Some(Value::String(scp)) => out.extend(split(scp)),
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str)),
        _ => {}
    }
    out
}

/// The groups claim: an array of strings (other elements ignored), or one string.
pub fn groups<'a>(claims: &'a Claims, claim: &str) -> Vec<&'a str> {
    match claims.get(claim) {
        Some(Value::String(group)) => vec![group.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// JSON equality by value and type: strings with strings, booleans with booleans,
/// numbers with numbers by value (`1` equals `1.0`).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64().zip(y.as_f64()).is_some_and(|(x, y)| x == y),
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        Claims::from_json(value)
    }

    impl Rules {
        /// The granted paths alone (no API prefix).
        fn paths(&self, claims: &Claims) -> Vec<String> {
            self.grant(claims, None, "")
        }
    }

    fn t(raw: &str) -> Template {
        Template::parse(raw).unwrap()
    }

    fn rule(resources: &[&str], conditions: Vec<Condition>) -> Rule {
        Rule {
            resources: resources.iter().map(|r| t(r)).collect(),
            conditions,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    /// SPEC.md's example.
    fn example() -> Rules {
        Rules::new(
            vec![
                rule(&["GET/hello/{sub}"], vec![]),
                rule(
                    &["GET/reports/*"],
                    vec![Condition::ScopesAny(strings(&["reports:read", "admin"]))],
                ),
                rule(
                    &["DELETE/users/*"],
                    vec![
                        Condition::ScopesAll(strings(&["users:write"])),
                        Condition::GroupsAny(strings(&["ops"])),
                    ],
                ),
            ],
            "cognito:groups",
        )
    }

    #[test]
    fn a_rule_without_conditions_always_holds() {
        assert_eq!(
            example().paths(&claims(json!({"sub": "u1"}))),
            ["GET/hello/u1"]
        );
    }

    #[test]
    fn scopes_split_on_ascii_spaces_only() {
        let token = claims(json!({"scope": " a  b\u{a0}c\td ", "scp": "e\u{2003}f g"}));
        assert_eq!(scopes(&token), ["a", "b\u{a0}c\td", "e\u{2003}f", "g"]);
    }

    #[test]
    fn scopes_come_from_scope_and_scp() {
        let r = example();
        for token in [
            json!({"sub": "u1", "scope": "openid reports:read"}),
            json!({"sub": "u1", "scp": ["admin"]}),
            json!({"sub": "u1", "scp": "email admin"}),
            json!({"sub": "u1", "scope": "openid", "scp": ["reports:read"]}),
        ] {
            assert_eq!(
                r.paths(&claims(token.clone())),
                ["GET/hello/u1", "GET/reports/*"],
                "{token}"
            );
        }
        for token in [
            json!({"sub": "u1", "scope": "reports:readx"}),
            json!({"sub": "u1", "scope": ["reports:read"]}),
            json!({"sub": "u1", "scp": [1, {"a": "admin"}]}),
            json!({"sub": "u1"}),
            json!({"sub": "u1", "scope": "openid\u{a0}reports:read"}),
            json!({"sub": "u1", "scope": "openid\treports:read"}),
            json!({"sub": "u1", "scp": "email\u{2003}admin"}),
        ] {
            assert_eq!(r.paths(&claims(token.clone())), ["GET/hello/u1"], "{token}");
        }
    }

    #[test]
    fn all_of_needs_every_condition_and_every_item() {
        let r = example();
        let granted = |token: Value| r.paths(&claims(token)).contains(&"DELETE/users/*".into());
        assert!(granted(
            json!({"sub": "u", "scope": "users:write", "cognito:groups": ["x", "ops"]})
        ));
        assert!(granted(
            json!({"sub": "u", "scope": "users:write", "cognito:groups": "ops"})
        ));
        assert!(
            !granted(json!({"sub": "u", "scope": "users:write"})),
            "group missing"
        );
        assert!(
            !granted(json!({"sub": "u", "cognito:groups": ["ops"]})),
            "scope missing"
        );
        let two = Rules::new(
            vec![rule(
                &["*"],
                vec![Condition::GroupsAll(strings(&["a", "b"]))],
            )],
            "groups",
        );
        assert_eq!(two.paths(&claims(json!({"groups": ["b", "a"]}))), ["*"]);
        assert!(two.paths(&claims(json!({"groups": ["a"]}))).is_empty());
        assert!(
            two.paths(&claims(json!({"groups": "a b"}))).is_empty(),
            "one string is one group"
        );
    }

    #[test]
    fn groups_come_from_the_configured_claim() {
        let okta = Rules::new(
            vec![rule(
                &["GET/admin/*"],
                vec![Condition::GroupsAny(strings(&["Admins"]))],
            )],
            "groups",
        );
        assert_eq!(
            okta.paths(&claims(json!({"groups": ["Everyone", "Admins"]}))),
            ["GET/admin/*"]
        );
        assert!(
            okta.paths(&claims(json!({"cognito:groups": ["Admins"]})))
                .is_empty()
        );
        assert!(
            okta.paths(&claims(json!({"groups": [["Admins"]]})))
                .is_empty()
        );
    }

    #[test]
    fn claim_conditions_compare_json_values_by_type() {
        let r = |accepted: Value| {
            Rules::new(
                vec![rule(
                    &["*"],
                    vec![Condition::Claim {
                        name: "tenant".into(),
                        accepted: accepted.as_array().unwrap().clone(),
                    }],
                )],
                "groups",
            )
        };
        let holds = |rules: &Rules, tenant: Value| {
            !rules.paths(&claims(json!({"tenant": tenant}))).is_empty()
        };
        let strings = r(json!(["acme", "7"]));
        assert!(holds(&strings, json!("acme")));
        assert!(holds(&strings, json!("7")));
        assert!(
            !holds(&strings, json!(7)),
            "the number 7 is not the string \"7\""
        );
        assert!(
            holds(&strings, json!(["other", "acme"])),
            "an array claim: one element"
        );
        assert!(!holds(&strings, json!({"acme": true})));
        let numbers = r(json!([7, true]));
        assert!(holds(&numbers, json!(7)));
        assert!(holds(&numbers, json!(7.0)));
        assert!(!holds(&numbers, json!("7")));
        assert!(holds(&numbers, json!(true)));
        assert!(!holds(&numbers, json!("true")));
        assert!(
            !strings
                .paths(&claims(json!({"other": "acme"})))
                .iter()
                .any(|_| true),
            "missing claim"
        );
    }

    #[test]
    fn an_issuer_pin_is_a_claim_condition() {
        let r = Rules::new(
            vec![rule(
                &["GET/hello/{sub}"],
                vec![Condition::Claim {
                    name: "iss".into(),
                    accepted: vec![json!("https://a.example")],
                }],
            )],
            "groups",
        );
        assert_eq!(
            r.paths(&claims(json!({"iss": "https://a.example", "sub": "u"}))),
            ["GET/hello/u"]
        );
        assert!(
            r.paths(&claims(json!({"iss": "https://b.example", "sub": "u"})))
                .is_empty()
        );
    }

    #[test]
    fn every_granted_resource_is_listed_once() {
        let r = Rules::new(
            vec![
                rule(&["GET/hello/{sub}", "GET/a"], vec![]),
                rule(&["GET/a", "GET/hello/{uid}"], vec![]),
                rule(
                    &["GET/hello/{sub}"],
                    vec![Condition::ScopesAny(strings(&["x"]))],
                ),
            ],
            "groups",
        );
        assert_eq!(
            r.paths(&claims(json!({"sub": "u1", "uid": "u1", "scope": "x"}))),
            ["GET/hello/u1", "GET/a"]
        );
    }

    #[test]
    fn a_placeholder_that_cannot_be_filled_grants_nothing() {
        let r = example();
        assert!(
            r.paths(&claims(json!({"sub": "*", "scope": "users:write"})))
                .is_empty()
        );
        assert!(
            r.paths(&claims(json!({"scope": "admin"})))
                .contains(&"GET/reports/*".into())
        );
    }

    #[test]
    fn explain_reports_each_condition() {
        let r = example();
        let token = claims(json!({"sub": "u", "scope": "users:write", "cognito:groups": ["dev"]}));
        let report = r.explain(&token);
        assert_eq!(
            report.iter().map(|r| r.held).collect::<Vec<_>>(),
            [true, false, false]
        );
        assert_eq!(
            report[2]
                .conditions
                .iter()
                .map(|(c, held)| (c.field(), *held))
                .collect::<Vec<_>>(),
            [
                ("scopes_all".to_owned(), true),
                ("groups_any".to_owned(), false)
            ]
        );
    }

    #[test]
    fn every_route_for_every_token_needs_a_star_and_no_condition() {
        let uniform =
            |rules: Vec<Rule>| Rules::new(rules, "groups").grant_every_route_to_every_token();
        assert!(uniform(vec![Rule::always(vec![Template::everything()])]));
        assert!(uniform(vec![
            Rule::always(vec![t("GET/hello/{sub}")]),
            Rule::always(vec![Template::everything()])
        ]));
        assert!(!uniform(vec![Rule::always(vec![t("GET/hello/{sub}")])]));
        assert!(!uniform(vec![Rule::always(vec![t("GET/*")])]));
        assert!(!uniform(vec![rule(
            &["*"],
            vec![Condition::ScopesAny(strings(&["a"]))]
        )]));
        assert!(!uniform(vec![
            Rule::always(vec![Template::everything()]),
            rule(&["GET/x"], vec![Condition::GroupsAny(strings(&["ops"]))])
        ]));
    }
}
