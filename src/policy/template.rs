//! Resource templates: `METHOD/path` with `{claim}` placeholders, parsed once at init and
//! expanded per token; a claim can only fill a placeholder with a safe segment, so no claim
//! value can widen a policy. `{tenant}` is the tenant of a registered issuer (SPEC.md
//! "Tenants"), never a claim: a token of a configured issuer cannot fill it.

use crate::claims::Claims;
use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// The placeholder filled by a registered issuer's tenant, never by a claim.
pub const TENANT_PLACEHOLDER: &str = "tenant";

/// Longest claim value a placeholder accepts.
pub const MAX_CLAIM_SEGMENT: usize = 128;

/// Route prefixes a template may start with: an HTTP method, `*`, or the WebSocket `$connect`.
const ROUTE_STARTS: [&str; 9] = [
    "*", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "$connect",
];

/// One resource template, e.g. `GET/hello/{sub}` (a `POLICY_RESOURCES` entry, or one of a
/// rule's `resources`). A path segment holding a placeholder holds no `*` and no other
/// placeholder, so no claim value can reach another caller's resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Claim(String),
    Tenant,
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
            parts.push(if name == TENANT_PLACEHOLDER {
                Part::Tenant
            } else {
                Part::Claim(name.to_owned())
            });
            rest = after.get(close + 1..).unwrap_or_default();
        }
        push_literal(&mut parts, rest, raw)?;
        // A segment holding a placeholder holds nothing else a claim could stretch:
        // `{uid}-*` would let uid=alice reach /files/alice-bob-report (user alice-bob's),
        // and `{a}-{b}` lets two claim pairs fill the same path.
        let widening = text.split('/').find(|segment| {
            let placeholders = segment.matches('{').count();
            placeholders > 1 || (placeholders == 1 && segment.contains('*'))
        });
        if let Some(segment) = widening {
            return Err(format!(
                "{raw:?}: segment {segment:?} holds a placeholder beside * or another placeholder \
                 (a segment with a placeholder holds neither)"
            ));
        }
        Ok(Self { parts })
    }

    /// Whether this is `*`, every route of the stage (a grant that does not vary by route).
    pub fn is_everything(&self) -> bool {
        matches!(self.parts.as_slice(), [Part::Literal(only)] if only == "*")
    }

    /// The claims its placeholders name (`{tenant}` is not a claim).
    pub fn claims(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Claim(name) => Some(name.as_str()),
            Part::Literal(_) | Part::Tenant => None,
        })
    }

    /// Whether it holds `{tenant}`.
    pub fn uses_tenant(&self) -> bool {
        self.parts.contains(&Part::Tenant)
    }

    /// The resource path for these claims and `tenant` (a registered issuer's), or `None`
    /// when a placeholder's claim (or the tenant) is missing or not a safe segment (see
    /// [`claim_segment`]).
    pub fn expand(&self, claims: &Claims, tenant: Option<&str>) -> Option<String> {
        let mut out = String::new();
        self.expand_onto(claims, tenant, &mut out).then_some(out)
    }

    /// Appends the resource path for these claims and `tenant` to `out`; `false` (and
    /// `out` as it was) when a placeholder cannot be filled safely.
    pub fn expand_onto(&self, claims: &Claims, tenant: Option<&str>, out: &mut String) -> bool {
        let start = out.len();
        for part in &self.parts {
            let segment = match part {
                Part::Literal(text) => Some(Cow::Borrowed(text.as_str())),
                Part::Claim(name) => match claims.str(name) {
                    Some(text) => is_safe_segment(text).then_some(Cow::Borrowed(text)),
                    None => claims.get(name).and_then(claim_segment),
                },
                Part::Tenant => tenant.filter(|t| is_safe_segment(t)).map(Cow::Borrowed),
            };
            match segment {
                Some(segment) => out.push_str(&segment),
                None => {
                    out.truncate(start);
                    return false;
                }
            }
        }
        true
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in &self.parts {
            match part {
                Part::Literal(text) => f.write_str(text)?,
                Part::Claim(name) => write!(f, "{{{name}}}")?,
                Part::Tenant => write!(f, "{{{TENANT_PLACEHOLDER}}}")?,
            }
        }
        Ok(())
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
        Value::String(s) => is_safe_segment(s).then_some(Cow::Borrowed(s.as_str())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// 1 to [`MAX_CLAIM_SEGMENT`] characters of `[A-Za-z0-9._~@+=:-]`, not only dots.
fn is_safe_segment(s: &str) -> bool {
    (1..=MAX_CLAIM_SEGMENT).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._~@+=:-".contains(&b))
        && !s.bytes().all(|b| b == b'.')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        Claims::from_json(value)
    }

    #[test]
    fn template_expands_string_and_integer_claims() {
        let t = Template::parse("GET/hello/{sub}").unwrap();
        assert_eq!(
            t.expand(&claims(json!({"sub": "abc-123"})), None),
            Some("GET/hello/abc-123".into())
        );
        assert_eq!(
            t.expand(&claims(json!({"sub": 42})), None),
            Some("GET/hello/42".into())
        );
        let t = Template::parse("/PUT/users/{uid}/files/*").unwrap();
        assert_eq!(
            t.expand(&claims(json!({"uid": "u@x.com"})), None),
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
                t.expand(&claims(json!({"sub": bad.clone()})), None),
                None,
                "{bad}"
            );
        }
        assert_eq!(t.expand(&claims(json!({"other": "x"})), None), None);
        assert_eq!(
            t.expand(&claims(json!({"sub": "x".repeat(128)})), None)
                .map(|s| s.len()),
            Some(10 + 128)
        );
    }

    #[test]
    fn tenant_is_filled_by_the_registry_never_by_a_claim() {
        let t = Template::parse("GET/tenants/{tenant}/users/{sub}").unwrap();
        assert!(t.uses_tenant());
        assert_eq!(t.claims().collect::<Vec<_>>(), ["sub"]);
        assert_eq!(t.to_string(), "GET/tenants/{tenant}/users/{sub}");
        let with_claim = claims(json!({"sub": "alice", "tenant": "acme"}));
        assert_eq!(t.expand(&with_claim, None), None);
        assert_eq!(
            t.expand(&with_claim, Some("globex")).as_deref(),
            Some("GET/tenants/globex/users/alice")
        );
        for bad in ["*", "a/b", "", ".."] {
            assert_eq!(t.expand(&with_claim, Some(bad)), None, "{bad}");
        }
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
            "GET/files/{uid}*",
            "GET/files/*{uid}",
            "GET/files/{a}{b}",
            "*/{uid}*/x",
            "GET/files/{uid}-*",
            "GET/files/*.{uid}",
            "GET/files/*x{uid}",
            "GET/files/{a}-{b}",
            "*/users/{a}.{b}/x",
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
    fn a_placeholder_alone_in_its_segment_with_literals_is_fine() {
        for good in [
            "GET/files/{uid}/*",
            "GET/files/x{uid}.json",
            "GET/files/{uid}.json",
            "*/users/{a}/{b}",
            "GET/*/{uid}/*",
        ] {
            assert!(Template::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn templates_print_as_written_and_know_their_claims() {
        let t = Template::parse("/DELETE/items/{custom:tenant}/{sub}").unwrap();
        assert_eq!(t.to_string(), "DELETE/items/{custom:tenant}/{sub}");
        assert_eq!(t.claims().collect::<Vec<_>>(), ["custom:tenant", "sub"]);
        assert!(!t.is_everything());
        assert!(Template::everything().is_everything());
        assert!(Template::parse("*").unwrap().is_everything());
        assert!(!Template::parse("*/admin/*").unwrap().is_everything());
    }
}
