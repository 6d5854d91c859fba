//! The configuration (SPEC.md "Configuration"): every variable parsed and validated once,
//! at Lambda init, one file per concern. [`env`] is the one place that reads the
//! environment. A bad value is a [`ConfigError`] whose one-line message names the
//! variable.

mod decision;
mod dpop;
mod env;
mod issuer;
mod keys;
mod revocation;
mod rules;
mod strict_json;
mod tenants;

pub use decision::{DecisionConfig, DenyMode, HttpApiResponse};
pub use dpop::{DpopMode, DpopSettings, MAX_DPOP_MAX_AGE_SECONDS, REPLAY_MEMORY_SHARE, ReplayMode};
pub use issuer::{
    CognitoIssuerFormat, IssuerConfig, JwksLocation, KeySourceConfig, MIN_HS256_SECRET_BYTES,
    TokenUse, checked_url,
};
pub(crate) use issuer::{parse_algorithms, pool_region};
pub use keys::KeySettings;
pub use revocation::{
    MAX_REVOCATION_CACHE_SECONDS, OnError, REVOCATION_CACHE_MEMORY_SHARE, RevocationSettings,
};
pub use rules::{DEFAULT_GROUPS_CLAIM, parse_rules};
pub use tenants::{MAX_TENANT_CACHE_SECONDS, MAX_TENANT_LOOKUPS_PER_SECOND, TenantSettings};

use env::Env;
use issuer::{Audience, issuers};
use keys::key_settings;

use crate::error::ConfigError;

/// Largest accepted `CLOCK_SKEW_SECONDS`: skew is a leeway for clock drift, not a lifetime.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;

/// Everything the authorizer needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The accepted issuers; a token's `iss` picks one. Never empty.
    pub issuers: Vec<IssuerConfig>,
    /// Leeway for `exp`/`nbf`/`iat` (`CLOCK_SKEW_SECONDS`, default 0, at most 300).
    pub clock_skew_seconds: u64,
    /// How keys are fetched and cached.
    pub keys: KeySettings,
    /// How a verified token becomes an answer.
    pub decision: DecisionConfig,
    /// Where the per-invocation metrics go.
    pub metrics: MetricsSettings,
    /// How many verified tokens to remember, within how much memory.
    pub token_cache: TokenCacheSettings,
    /// Revocation checks (`REVOCATION=on`); `None` when off.
    pub revocation: Option<RevocationSettings>,
    /// Issuers registered at runtime (`TENANT_REGISTRY=on`); `None` when off.
    pub tenants: Option<TenantSettings>,
    /// Sender-constrained tokens (DPoP, mTLS); bound tokens are checked whatever `DPOP` says.
    pub dpop: DpopSettings,
}

/// The bounds of the cache of verified tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheSettings {
    /// At most this many tokens (`TOKEN_CACHE_SIZE`, default 1024, at most 65,536; 0
    /// disables the cache).
    pub entries: usize,
    /// Holding at most about this many bytes: an eighth of the function's memory
    /// (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, which Lambda sets; 128 MB when unset), so no
    /// setting can exhaust a small function.
    pub bytes: usize,
}

/// The share of the function's memory the token cache may hold: one part in this many.
pub const TOKEN_CACHE_MEMORY_SHARE: usize = 8;

/// CloudWatch Embedded Metric Format settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `METRICS_NAMESPACE` (default `JwtAuthorizer`).
    pub namespace: String,
    /// The `FunctionName` dimension: `AWS_LAMBDA_FUNCTION_NAME` (default `authorizer`).
    pub function_name: String,
}

/// What the refresher needs: the JWKS issuers and the table, not audiences or decisions.
#[derive(Debug, Clone)]
pub struct RefresherConfig {
    /// Every configured issuer (secret issuers have nothing to refresh).
    pub issuers: Vec<IssuerConfig>,
    /// Fetch bounds and the table; `table_name` is always `Some`.
    pub keys: KeySettings,
    /// With `TENANT_REGISTRY=on`, the active registered issuers are refreshed too
    /// (those within `TENANT_ISSUER_PATTERN`).
    pub tenants: Option<TenantSettings>,
}

impl RefresherConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup`. `KEYS_TABLE_NAME` is required; `JWT_AUDIENCE` is not.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let keys = key_settings(&env)?;
        if keys.table_name.is_none() {
            return Err(ConfigError::new(
                "KEYS_TABLE_NAME",
                "required: the refresher writes the keys there",
            ));
        }
        Ok(Self {
            issuers: issuers(&env, Audience::Optional)?,
            keys,
            tenants: tenants::tenants(&env)?,
        })
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        let config = Self {
            issuers: issuers(&env, Audience::Required)?,
            clock_skew_seconds: env.number("CLOCK_SKEW_SECONDS", 0, 0..=MAX_CLOCK_SKEW_SECONDS)?,
            keys: key_settings(&env)?,
            decision: decision::decision(&env)?,
            metrics: MetricsSettings {
                namespace: env
                    .get("METRICS_NAMESPACE")
                    .unwrap_or_else(|| "JwtAuthorizer".to_owned()),
                function_name: env
                    .get("AWS_LAMBDA_FUNCTION_NAME")
                    .unwrap_or_else(|| "authorizer".to_owned()),
            },
            token_cache: token_cache(&env)?,
            revocation: revocation::revocation(&env)?,
            tenants: tenants::tenants(&env)?,
            dpop: dpop::dpop(&env)?,
        };
        let tenant_context = config
            .decision
            .context_claims
            .iter()
            .any(|(name, _)| &**name == "tenant");
        if config.tenants.is_some() && tenant_context {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                "with TENANT_REGISTRY=on the context value tenant comes from the registry; copy the claim under another name",
            ));
        }
        Ok(config)
    }
}

fn token_cache(env: &Env<'_>) -> Result<TokenCacheSettings, ConfigError> {
    let entries = env.number("TOKEN_CACHE_SIZE", 1024, 0..=65_536)?;
    Ok(TokenCacheSettings {
        entries: usize::try_from(entries).unwrap_or(usize::MAX),
        bytes: memory_share(env, TOKEN_CACHE_MEMORY_SHARE)?,
    })
}

/// One `share`-th of the function's memory, in bytes (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`,
/// which Lambda sets; 128 MB when unset): the bound of a cache.
fn memory_share(env: &Env<'_>, share: usize) -> Result<usize, ConfigError> {
    let memory_mb = env.number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128, 128..=10_240)?;
    Ok(usize::try_from(memory_mb * 1024 * 1024).unwrap_or(usize::MAX) / share)
}

#[cfg(test)]
pub(crate) mod test_support {
    #![allow(clippy::expect_used)]
    use super::*;
    use std::collections::HashMap;

    pub(crate) fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    pub(crate) fn error_variable(vars: &[(&str, &str)]) -> String {
        load(vars).expect_err("config should be rejected").variable
    }

    pub(crate) const COGNITO: [(&str, &str); 2] = [
        ("COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
        ("JWT_AUDIENCE", "client1"),
    ];
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;

    #[test]
    fn empty_values_count_as_unset() {
        let config = load(&[
            ("COGNITO_USER_POOL_ID", "us-east-1_X1"),
            ("JWT_AUDIENCE", "c"),
            ("JWT_ISSUER", ""),
            ("JWKS_URL", "  "),
            ("DENY_MODE", ""),
        ])
        .unwrap();
        assert_eq!(config.decision.deny_mode, DenyMode::Unauthorized);
    }

    #[test]
    fn numbers_are_range_checked() {
        for (var, value) in [
            ("CLOCK_SKEW_SECONDS", "301"),
            ("CLOCK_SKEW_SECONDS", "-1"),
            ("JWKS_TIMEOUT_MS", "0"),
            ("JWKS_COOLDOWN_SECONDS", "x"),
            ("JWKS_COOLDOWN_SECONDS", "0"),
            ("TOKEN_CACHE_SIZE", "65537"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "64"),
        ] {
            let vars = [COGNITO[0], COGNITO[1], (var, value)];
            assert_eq!(error_variable(&vars), var, "{var}={value}");
        }
    }

    #[test]
    fn refresher_needs_the_table_but_not_the_audience() {
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = RefresherConfig::from_lookup(lookup(&[
            ("COGNITO_USER_POOL_ID", "us-east-1_X1"),
            ("KEYS_TABLE_NAME", "keys"),
        ]))
        .unwrap();
        assert_eq!(config.issuers.len(), 1);
        assert!(config.issuers[0].audience.is_empty());
        let err = RefresherConfig::from_lookup(lookup(&[("COGNITO_USER_POOL_ID", "us-east-1_X1")]))
            .unwrap_err();
        assert_eq!(err.variable, "KEYS_TABLE_NAME");
    }

    #[test]
    fn error_line_starts_with_the_variable() {
        let err = load(&[("COGNITO_USER_POOL_ID", "us-east-1_X1")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_AUDIENCE: "), "{err}");
        assert!(!err.to_string().contains('\n'));
    }

    /// Found by the `config` fuzz target: serde_json's "unknown field" quotes the field's
    /// name, and a JSON string may hold a newline.
    #[test]
    fn an_error_quoting_the_input_is_still_one_line() {
        let err = load(&[("JWT_ISSUERS", r#"[{"issuer\nx": 1}]"#)]).unwrap_err();
        assert_eq!(err.variable, "JWT_ISSUERS");
        assert!(!err.to_string().contains('\n'), "{err}");
        assert!(err.to_string().contains(r"issuer\nx"), "{err}");
    }

    #[test]
    fn the_token_cache_is_bounded_by_the_functions_memory() {
        let small = load(&COGNITO).unwrap().token_cache;
        assert_eq!(
            small,
            TokenCacheSettings {
                entries: 1024,
                bytes: 16 << 20
            }
        );
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("TOKEN_CACHE_SIZE", "65536"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1769"),
        ];
        let big = load(&vars).unwrap().token_cache;
        assert_eq!((big.entries, big.bytes), (65_536, (1769 << 20) / 8));
    }
}
