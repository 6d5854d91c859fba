//! Resource templates: `policy::Template::parse` on any text, and `expand` with fuzzed
//! claims.
//!
//! Input, as text: the template on the first line, then `claim=JSON` lines (a value that
//! is not JSON is taken as a string).
//!
//! Invariants (SPEC.md "Configuration", placeholders): a parsed template prints back to
//! itself; a claim fills a placeholder only when it is a safe segment (1 to 128 of
//! `[A-Za-z0-9._~@+=:-]`, not only dots, or an integer), and then the expansion is
//! exactly the template with each `{claim}` replaced by it, so no claim value adds a `*`
//! or a `/`; `{tenant}` is filled by a registered issuer's tenant (here the `tenant`
//! line's text), never by the claim of that name; `claim_segment` agrees with that rule;
//! a rule of that template grants exactly the prefixed expansion. And the claims reader
//! (`claims::Claims`, lazy) refuses exactly what a whole `serde_json::Map` parse refuses
//! and reads the same values, on the whole input as JSON text and on the claims lines.
#![no_main]

use jwt_authorizer::claims::Claims;
use jwt_authorizer::policy::{Rule, Rules, Template, claim_segment};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    same_as_map(text);
    let mut lines = text.split('\n');
    let raw = lines.next().unwrap_or_default();
    let mut claims = Map::new();
    for line in lines {
        if let Some((name, value)) = line.split_once('=') {
            let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
            claims.insert(name.to_owned(), value);
        }
    }
    let object = Value::Object(claims.clone()).to_string();
    same_as_map(&object);
    let Ok(claims_read) = Claims::parse(object) else {
        panic!("claims that serialize do not parse back");
    };
    for value in claims.values() {
        assert_eq!(
            claim_segment(value).map(|s| s.into_owned()),
            fuzz_support::segment(value),
            "claim_segment({value})"
        );
    }

    let Ok(template) = Template::parse(raw) else {
        return;
    };
    let printed = template.to_string();
    assert_eq!(
        Template::parse(&printed).as_ref(),
        Ok(&template),
        "{printed}"
    );
    assert!(
        printed
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._~@+=:$*/-{}".contains(c)),
        "{printed}"
    );

    let tenant = claims
        .get("tenant")
        .and_then(Value::as_str)
        .map(str::to_owned);
    assert_eq!(
        template.expand(&claims_read, None),
        fuzz_support::expand(&printed, &claims, None),
        "{printed} with {claims:?} and no tenant"
    );
    let expanded = template.expand(&claims_read, tenant.as_deref());
    let model = fuzz_support::expand(&printed, &claims, tenant.as_deref());
    assert_eq!(
        expanded, model,
        "{printed} with {claims:?}, tenant {tenant:?}"
    );
    if let Some(path) = &expanded {
        let literal: String = {
            let mut out = String::new();
            let mut depth = false;
            for c in printed.chars() {
                match c {
                    '{' => depth = true,
                    '}' => depth = false,
                    c if !depth => out.push(c),
                    _ => {}
                }
            }
            out
        };
        for c in ['*', '/'] {
            assert_eq!(
                path.matches(c).count(),
                literal.matches(c).count(),
                "a claim brought a {c:?} into {path}"
            );
        }
    }
    let rules = Rules::new(vec![Rule::always(vec![template])], "cognito:groups");
    let granted = rules.grant(&claims_read, tenant.as_deref(), PREFIX);
    let want: Vec<String> = expanded.iter().map(|p| format!("{PREFIX}{p}")).collect();
    assert_eq!(granted, want);
});

/// `Claims::parse` and a `serde_json::Map` parse agree on `text`: both refuse it, or both
/// read the same members and values.
fn same_as_map(text: &str) {
    let map = serde_json::from_str::<Map<String, Value>>(text);
    match (map, Claims::parse(text.to_owned())) {
        (Ok(map), Ok(claims)) => {
            assert_eq!(claims.to_map(), map, "{text}");
            for (name, value) in &map {
                assert_eq!(claims.get(name), Some(value), "{text}: {name}");
            }
        }
        (Err(_), Err(_)) => {}
        (map, claims) => panic!("{text}: map {map:?}, claims {claims:?}"),
    }
}
