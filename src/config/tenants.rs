//! The tenant registry (SPEC.md "Tenants"): `TENANT_REGISTRY`, `TENANT_ISSUER_PATTERN`,
//! `TENANT_CACHE_SECONDS` and `TENANT_LOOKUPS_PER_SECOND`.

use std::time::Duration;

use super::env::{Env, comma_list};
use crate::error::ConfigError;
use crate::issuers::IssuerPattern;

/// Longest accepted `TENANT_CACHE_SECONDS`: it bounds how late `issuers disable` takes
/// effect.
pub const MAX_TENANT_CACHE_SECONDS: u64 = 3_600;

/// Largest accepted `TENANT_LOOKUPS_PER_SECOND`.
pub const MAX_TENANT_LOOKUPS_PER_SECOND: u64 = 1_000;

/// How issuers registered at runtime are found, when `TENANT_REGISTRY=on`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    /// The patterns a registered issuer must match (`TENANT_ISSUER_PATTERN`, required).
    pub patterns: Vec<IssuerPattern>,
    /// How long one lookup, found or not, is reused (`TENANT_CACHE_SECONDS`, default 60,
    /// 1 to 3600).
    pub cache: Duration,
    /// Reads a container makes per second for issuers it has not cached
    /// (`TENANT_LOOKUPS_PER_SECOND`, default 5, 1 to 1000).
    pub lookups_per_second: u32,
}

/// `None` when `TENANT_REGISTRY` is off (the default). `on` needs `KEYS_TABLE_NAME` and
/// `TENANT_ISSUER_PATTERN`. The other variables are checked even when it is off, so a
/// typo never waits for the day it is switched on.
pub(crate) fn tenants(env: &Env<'_>) -> Result<Option<TenantSettings>, ConfigError> {
    let on = registry_on(env)?;
    let cache = env.number("TENANT_CACHE_SECONDS", 60, 1..=MAX_TENANT_CACHE_SECONDS)?;
    let lookups = env.number(
        "TENANT_LOOKUPS_PER_SECOND",
        5,
        1..=MAX_TENANT_LOOKUPS_PER_SECOND,
    )?;
    let patterns = env
        .get("TENANT_ISSUER_PATTERN")
        .map(|raw| {
            comma_list(&raw)
                .iter()
                .map(|p| IssuerPattern::parse(p))
                .collect::<Result<Vec<_>, _>>()
        })
        .transpose()
        .map_err(|reason| ConfigError::new("TENANT_ISSUER_PATTERN", reason))?
        .unwrap_or_default();
    if !on {
        return Ok(None);
    }
    if env.get("KEYS_TABLE_NAME").is_none() {
        return Err(ConfigError::new(
            "KEYS_TABLE_NAME",
            "required with TENANT_REGISTRY=on: the registry's ISSUER# items live in the keys table",
        ));
    }
    if patterns.is_empty() {
        return Err(ConfigError::new(
            "TENANT_ISSUER_PATTERN",
            "required with TENANT_REGISTRY=on, e.g. https://cognito-idp.*.amazonaws.com/*",
        ));
    }
    Ok(Some(TenantSettings {
        patterns,
        cache: Duration::from_secs(cache),
        lookups_per_second: u32::try_from(lookups).unwrap_or(u32::MAX),
    }))
}

/// Whether `TENANT_REGISTRY` is `on`.
pub(crate) fn registry_on(env: &Env<'_>) -> Result<bool, ConfigError> {
    env.choice("TENANT_REGISTRY", false, &[("on", true), ("off", false)])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use crate::config::test_support::*;

    #[test]
    fn a_tenant_template_without_the_registry_is_refused() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("POLICY_RESOURCES", "GET/t/{tenant}/*"),
        ];
        assert_eq!(error_variable(&vars), "POLICY_RESOURCES");
        let rules = r#"[{"resources":["GET/a"]},{"resources":["GET/b","GET/t/{tenant}"]}]"#;
        let vars = [COGNITO[0], COGNITO[1], ("POLICY_RULES", rules)];
        assert_eq!(error_variable(&vars), "POLICY_RULES[1].resources[1]");
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("POLICY_RESOURCES", "GET/t/{custom:tenant}/*"),
        ];
        assert!(
            load(&vars).is_ok(),
            "a claim named otherwise fills a template"
        );
    }

    const ON: [(&str, &str); 3] = [COGNITO[0], COGNITO[1], ("TENANT_REGISTRY", "on")];

    #[test]
    fn the_registry_is_off_by_default_and_checks_its_variables_anyway() {
        assert_eq!(load(&COGNITO).unwrap().tenants, None);
        for (var, value) in [
            ("TENANT_CACHE_SECONDS", "0"),
            ("TENANT_CACHE_SECONDS", "3601"),
            ("TENANT_LOOKUPS_PER_SECOND", "0"),
            ("TENANT_ISSUER_PATTERN", "https://*/x"),
            ("TENANT_REGISTRY", "yes"),
        ] {
            let vars = [COGNITO[0], COGNITO[1], (var, value)];
            assert_eq!(error_variable(&vars), var, "{var}={value}");
        }
    }

    #[test]
    fn the_registry_needs_the_table_and_a_pattern() {
        assert_eq!(error_variable(&ON), "KEYS_TABLE_NAME");
        let vars = [ON[0], ON[1], ON[2], ("KEYS_TABLE_NAME", "keys")];
        assert_eq!(error_variable(&vars), "TENANT_ISSUER_PATTERN");
        let vars = [
            ON[0],
            ON[1],
            ON[2],
            ("KEYS_TABLE_NAME", "keys"),
            (
                "TENANT_ISSUER_PATTERN",
                "https://cognito-idp.*.amazonaws.com/*, https://*.okta.com/oauth2/*",
            ),
            ("TENANT_CACHE_SECONDS", "5"),
        ];
        let settings = load(&vars).unwrap().tenants.unwrap();
        assert_eq!(settings.patterns.len(), 2);
        let mut reserved = vars.to_vec();
        reserved.push(("CONTEXT_CLAIMS", "sub,tenant=custom:tenant"));
        assert_eq!(error_variable(&reserved), "CONTEXT_CLAIMS");
        assert_eq!(settings.cache.as_secs(), 5);
        assert_eq!(settings.lookups_per_second, 5);
    }
}
