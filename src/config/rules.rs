//! The authorization rules: `POLICY_RESOURCES` (templates granted to any valid token),
//! `POLICY_RULES` (JSON rules granting templates under conditions) and `GROUPS_CLAIM`.
//! Each error names where it is, e.g. `POLICY_RULES[2].scopes_any: must be a non-empty
//! array of non-empty strings`.

use serde_json::{Map, Value};

use super::env::{Env, comma_list};
use crate::error::ConfigError;
use crate::policy::{Condition, Rule, Rules, Template};

/// The default `GROUPS_CLAIM`: Cognito's.
pub const DEFAULT_GROUPS_CLAIM: &str = "cognito:groups";

/// The fields a rule may have.
const FIELDS: &str = "resources, scopes_all, scopes_any, groups_all, groups_any, claims";

pub(crate) fn rules(env: &Env<'_>) -> Result<Rules, ConfigError> {
    let groups_claim = env
        .get("GROUPS_CLAIM")
        .unwrap_or_else(|| DEFAULT_GROUPS_CLAIM.to_owned());
    if !is_claim_name(&groups_claim) {
        return Err(ConfigError::new(
            "GROUPS_CLAIM",
            format!("expected a claim name (A-Z a-z 0-9 _ - . :), got {groups_claim:?}"),
        ));
    }
    let mut rules = Vec::new();
    if let Some(raw) = env.get("POLICY_RESOURCES") {
        let templates = comma_list(&raw)
            .iter()
            .map(|t| Template::parse(t).map_err(|r| ConfigError::new("POLICY_RESOURCES", r)))
            .collect::<Result<Vec<_>, _>>()?;
        if templates.is_empty() {
            return Err(ConfigError::new("POLICY_RESOURCES", "lists no template"));
        }
        rules.extend(templates.into_iter().map(|t| Rule::always(vec![t])));
    }
    let from_resources = rules.len();
    if let Some(json) = env.get("POLICY_RULES") {
        rules.extend(parse_rules(&json)?);
    }
    if !super::tenants::registry_on(env)? {
        no_tenant_templates(&rules, from_resources)?;
    }
    if rules.is_empty() {
        rules.push(Rule::always(vec![Template::everything()]));
    }
    Ok(Rules::new(rules, groups_claim))
}

/// Without the tenant registry no token has a tenant, so a `{tenant}` template could
/// never grant anything: a configuration error (a claim named `tenant` never fills it),
/// naming the template's variable. The first `from_resources` rules are
/// `POLICY_RESOURCES`'.
fn no_tenant_templates(rules: &[Rule], from_resources: usize) -> Result<(), ConfigError> {
    for (i, rule) in rules.iter().enumerate() {
        if let Some(j) = rule.resources.iter().position(Template::uses_tenant) {
            let var = match i.checked_sub(from_resources) {
                None => "POLICY_RESOURCES".to_owned(),
                Some(k) => format!("POLICY_RULES[{k}].resources[{j}]"),
            };
            return Err(ConfigError::new(
                var,
                "{tenant} is a registered issuer's tenant (TENANT_REGISTRY=on), never a claim: \
                 without the registry it grants nothing; name a tenant claim another way, \
                 e.g. {custom:tenant}",
            ));
        }
    }
    Ok(())
}

/// Parses the `POLICY_RULES` JSON.
pub fn parse_rules(json: &str) -> Result<Vec<Rule>, ConfigError> {
    const VAR: &str = "POLICY_RULES";
    let value: Value = super::strict_json::parse(json).map_err(|e| {
        ConfigError::new(VAR, format!("expected a JSON array of rule objects: {e}"))
    })?;
    let Value::Array(items) = value else {
        return Err(ConfigError::new(
            VAR,
            "expected a JSON array of rule objects",
        ));
    };
    if items.is_empty() {
        return Err(ConfigError::new(VAR, "holds no rule"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{VAR}[{i}]");
            match item {
                Value::Object(fields) => rule(&at, fields),
                _ => Err(ConfigError::new(
                    at,
                    format!("must be an object with {FIELDS}"),
                )),
            }
        })
        .collect()
}

fn rule(at: &str, fields: &Map<String, Value>) -> Result<Rule, ConfigError> {
    let mut resources = None;
    let mut conditions = Vec::new();
    for (name, value) in fields {
        let here = format!("{at}.{name}");
        match name.as_str() {
            "resources" => {
                let raw = strings(&here, value, "templates")?;
                let templates = raw
                    .iter()
                    .enumerate()
                    .map(|(j, t)| {
                        Template::parse(t).map_err(|r| ConfigError::new(format!("{here}[{j}]"), r))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                resources = Some(templates);
            }
            "scopes_all" => {
                conditions.push(Condition::ScopesAll(strings(&here, value, "strings")?))
            }
            "scopes_any" => {
                conditions.push(Condition::ScopesAny(strings(&here, value, "strings")?))
            }
            "groups_all" => {
                conditions.push(Condition::GroupsAll(strings(&here, value, "strings")?))
            }
            "groups_any" => {
                conditions.push(Condition::GroupsAny(strings(&here, value, "strings")?))
            }
            "claims" => conditions.extend(claims(&here, value)?),
            _ => {
                return Err(ConfigError::new(
                    here,
                    format!("unknown field; a rule has {FIELDS}"),
                ));
            }
        }
    }
    let resources = resources.ok_or_else(|| {
        ConfigError::new(
            format!("{at}.resources"),
            "required: a non-empty array of templates",
        )
    })?;
    Ok(Rule {
        resources,
        conditions,
    })
}

/// A non-empty array of non-empty strings.
fn strings(at: &str, value: &Value, what: &str) -> Result<Vec<String>, ConfigError> {
    let wrong = || ConfigError::new(at, format!("must be a non-empty array of non-empty {what}"));
    let Value::Array(items) = value else {
        return Err(wrong());
    };
    if items.is_empty() {
        return Err(wrong());
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            _ => Err(wrong()),
        })
        .collect()
}

/// `claims`: a non-empty object of claim name → non-empty array of strings, numbers or
/// booleans.
fn claims(at: &str, value: &Value) -> Result<Vec<Condition>, ConfigError> {
    let Value::Object(claims) = value else {
        return Err(ConfigError::new(
            at,
            "must be an object of claim name to accepted values",
        ));
    };
    if claims.is_empty() {
        return Err(ConfigError::new(at, "must name at least one claim"));
    }
    claims
        .iter()
        .map(|(name, accepted)| {
            let here = format!("{at}.{name}");
            if !is_claim_name(name) {
                return Err(ConfigError::new(
                    here,
                    "is not a claim name (A-Z a-z 0-9 _ - . :)",
                ));
            }
            let wrong = || {
                ConfigError::new(
                    &here,
                    "must be a non-empty array of strings, numbers or booleans",
                )
            };
            let Value::Array(values) = accepted else {
                return Err(wrong());
            };
            let scalar =
                |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
            if values.is_empty() || !values.iter().all(scalar) {
                return Err(wrong());
            }
            Ok(Condition::Claim {
                name: name.clone(),
                accepted: values.clone(),
            })
        })
        .collect()
}

fn is_claim_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;
    use serde_json::json;

    fn rules_of(vars: &[(&str, &str)]) -> Rules {
        let mut all = vec![COGNITO[0], COGNITO[1]];
        all.extend_from_slice(vars);
        load(&all).unwrap().decision.rules
    }

    fn error_of(json: &str) -> String {
        let vars = [COGNITO[0], COGNITO[1], ("POLICY_RULES", json)];
        load(&vars).unwrap_err().to_string()
    }

    #[test]
    fn spec_example_parses_into_three_rules() {
        let json = r#"[{"resources":["GET/hello/{sub}"]},
            {"resources":["GET/reports/*"],"scopes_any":["reports:read","admin"]},
            {"resources":["DELETE/users/*"],"scopes_all":["users:write"],"groups_any":["ops"]}]"#;
        let rules = rules_of(&[("POLICY_RULES", json)]);
        assert_eq!(
            rules.rules().len(),
            3,
            "POLICY_RESOURCES unset: no default *"
        );
        assert_eq!(rules.rules()[2].conditions.len(), 2);
        assert_eq!(rules.groups_claim(), "cognito:groups");
    }

    #[test]
    fn policy_resources_are_rules_without_conditions_and_apply_with_policy_rules() {
        let rules = rules_of(&[
            ("POLICY_RESOURCES", "GET/hello/{sub},PUT/profile/{sub}"),
            (
                "POLICY_RULES",
                r#"[{"resources":["*"],"groups_any":["admins"]}]"#,
            ),
            ("GROUPS_CLAIM", "groups"),
        ]);
        assert_eq!(rules.rules().len(), 3);
        assert!(rules.rules()[..2].iter().all(|r| r.conditions.is_empty()));
        assert_eq!(rules.groups_claim(), "groups");
        let claims = json!({"sub": "u", "groups": ["admins"]});
        assert_eq!(
            rules.grant(&crate::claims::Claims::from_json(claims), None, ""),
            ["GET/hello/u", "PUT/profile/u", "*"]
        );
    }

    #[test]
    fn neither_variable_grants_the_whole_stage() {
        let rules = rules_of(&[]);
        assert_eq!(rules.rules(), [Rule::always(vec![Template::everything()])]);
    }

    #[test]
    fn claims_conditions_keep_their_json_types() {
        let rules = rules_of(&[(
            "POLICY_RULES",
            r#"[{"resources":["*"],"claims":{"iss":["https://a.example"],"tier":[1,2],"beta":[true]}}]"#,
        )]);
        let conditions = &rules.rules()[0].conditions;
        assert!(conditions.contains(&Condition::Claim {
            name: "tier".into(),
            accepted: vec![json!(1), json!(2)]
        }));
        assert!(conditions.contains(&Condition::Claim {
            name: "beta".into(),
            accepted: vec![json!(true)]
        }));
    }

    #[test]
    fn every_error_says_what_and_where() {
        for (json, expected) in [
            ("{", "POLICY_RULES: expected a JSON array of rule objects"),
            (
                r#"{"resources":["*"]}"#,
                "POLICY_RULES: expected a JSON array",
            ),
            ("[]", "POLICY_RULES: holds no rule"),
            (
                r#"[{"resources":["*"]}, 5]"#,
                "POLICY_RULES[1]: must be an object",
            ),
            (
                r#"[{"scopes_any":["a"]}]"#,
                "POLICY_RULES[0].resources: required",
            ),
            (
                r#"[{"resources":[]}]"#,
                "POLICY_RULES[0].resources: must be a non-empty array of non-empty templates",
            ),
            (
                r#"[{"resources":"GET/x"}]"#,
                "POLICY_RULES[0].resources: must be a non-empty array",
            ),
            (
                r#"[{"resources":["GET/x", "nope"]}]"#,
                "POLICY_RULES[0].resources[1]: \"nope\" must start with",
            ),
            (
                r#"[{"resources":["GET/files/{uid}*"]}]"#,
                "POLICY_RULES[0].resources[0]: \"GET/files/{uid}*\": segment \"{uid}*\" holds a placeholder beside *",
            ),
            (
                r#"[{"resources":["GET/files/{uid}-*"]}]"#,
                "POLICY_RULES[0].resources[0]: \"GET/files/{uid}-*\": segment",
            ),
            (
                r#"[{"resources":["*"]},{"resources":["*"]},{"resources":["*"],"scopes_any":"a"}]"#,
                "POLICY_RULES[2].scopes_any: must be a non-empty array of non-empty strings",
            ),
            (
                r#"[{"resources":["*"],"scopes_all":[]}]"#,
                "POLICY_RULES[0].scopes_all: must be a non-empty array",
            ),
            (
                r#"[{"resources":["*"],"groups_any":["ok", ""]}]"#,
                "POLICY_RULES[0].groups_any: must be a non-empty array of non-empty strings",
            ),
            (
                r#"[{"resources":["*"],"groups_all":[1]}]"#,
                "POLICY_RULES[0].groups_all: must be a non-empty array",
            ),
            (
                r#"[{"resources":["*"],"claims":[]}]"#,
                "POLICY_RULES[0].claims: must be an object",
            ),
            (
                r#"[{"resources":["*"],"claims":{}}]"#,
                "POLICY_RULES[0].claims: must name at least one claim",
            ),
            (
                r#"[{"resources":["*"],"claims":{"tenant":"acme"}}]"#,
                "POLICY_RULES[0].claims.tenant: must be a non-empty array of strings, numbers or booleans",
            ),
            (
                r#"[{"resources":["*"],"claims":{"tenant":[]}}]"#,
                "POLICY_RULES[0].claims.tenant: must be a non-empty array",
            ),
            (
                r#"[{"resources":["*"],"claims":{"tenant":[null]}}]"#,
                "POLICY_RULES[0].claims.tenant: must be a non-empty array",
            ),
            (
                r#"[{"resources":["*"],"claims":{"tenant":[["a"]]}}]"#,
                "POLICY_RULES[0].claims.tenant: must be a non-empty array",
            ),
            (
                r#"[{"resources":["*"],"claims":{"a b":["x"]}}]"#,
                "POLICY_RULES[0].claims.a b: is not a claim name",
            ),
            (
                r#"[{"resources":["*"],"scope_any":["a"]}]"#,
                "POLICY_RULES[0].scope_any: unknown field; a rule has resources, scopes_all",
            ),
        ] {
            let error = error_of(json);
            assert!(
                error.starts_with(expected),
                "{json}\n  got:  {error}\n  want: {expected}"
            );
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn templates_and_groups_claim_are_checked() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("POLICY_RESOURCES", "GET/files/{a}{b}"),
        ];
        assert_eq!(error_variable(&vars), "POLICY_RESOURCES");
        for widening in [
            "GET/files/{uid}-*",
            "GET/files/{a}-{b}",
            "GET/x,GET/f/*.{uid}",
        ] {
            let vars = [COGNITO[0], COGNITO[1], ("POLICY_RESOURCES", widening)];
            assert_eq!(error_variable(&vars), "POLICY_RESOURCES", "{widening}");
        }
        let vars = [COGNITO[0], COGNITO[1], ("GROUPS_CLAIM", "my groups")];
        assert_eq!(error_variable(&vars), "GROUPS_CLAIM");
    }
}
