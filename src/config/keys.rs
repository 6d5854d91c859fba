//! How keys are fetched and cached: the JWKS request bounds and the DynamoDB tier's
//! variables (`KEYS_*`, `JWKS_TIMEOUT_MS`, `JWKS_COOLDOWN_SECONDS`).

use std::time::Duration;

use super::env::Env;
use super::issuer::checked_url;
use crate::error::ConfigError;

/// How keys are fetched and cached: the JWKS bounds and the DynamoDB tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySettings {
    /// Whole-request bound of one fetch, body included (`JWKS_TIMEOUT_MS`, default 1500).
    pub jwks_timeout: Duration,
    /// At most one fetch per issuer per window on unknown kids (`JWKS_COOLDOWN_SECONDS`,
    /// default 30, at least 1: without a window every random `kid` would cost a fetch).
    pub cooldown_seconds: u64,
    /// The DynamoDB table of the key tier (`KEYS_TABLE_NAME`); `None`: memory, then JWKS.
    pub table_name: Option<String>,
    /// Lifetime written into an item's `expires_at` (`KEYS_TTL_SECONDS`, 15 days).
    pub ttl_seconds: u64,
    /// How long a container trusts its in-memory keys before re-reading the table
    /// (`KEYS_MEMORY_SECONDS`, 900).
    pub memory_seconds: u64,
    /// How long past `expires_at` keys may still serve while the issuer is unreachable
    /// (`KEYS_MAX_STALE_SECONDS`, 7 days).
    pub max_stale_seconds: u64,
}

/// The AWS SDK's endpoint variables, checked though the SDK reads them itself: answers
/// from the keys table are not authenticated by SigV4, and whoever answers for the table
/// can mint identities, so only `https://`, or `http://` to a loopback host.
const ENDPOINT_VARIABLES: [&str; 2] = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"];

pub(crate) fn key_settings(env: &Env<'_>) -> Result<KeySettings, ConfigError> {
    for var in ENDPOINT_VARIABLES {
        if let Some(url) = env.get(var) {
            checked_url(&url).map_err(|reason| {
                ConfigError::new(
                    var,
                    format!("{reason}: the keys table is a trust anchor and SigV4 does not authenticate its answers"),
                )
            })?;
        }
    }
    let table_name = env.get("KEYS_TABLE_NAME");
    if let Some(name) = &table_name {
        let valid = (3..=255).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(ConfigError::new(
                "KEYS_TABLE_NAME",
                format!(
                    "expected a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -), got {name:?}"
                ),
            ));
        }
    }
    Ok(KeySettings {
        jwks_timeout: Duration::from_millis(env.number("JWKS_TIMEOUT_MS", 1500, 50..=10_000)?),
        cooldown_seconds: env.number("JWKS_COOLDOWN_SECONDS", 30, 1..=86_400)?,
        table_name,
        ttl_seconds: env.number("KEYS_TTL_SECONDS", 1_296_000, 60..=31_536_000)?,
        memory_seconds: env.number("KEYS_MEMORY_SECONDS", 900, 0..=86_400)?,
        max_stale_seconds: env.number("KEYS_MAX_STALE_SECONDS", 604_800, 0..=2_592_000)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use crate::config::test_support::*;

    #[test]
    fn key_tier_variables_are_read_and_checked() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("KEYS_TABLE_NAME", "jwt-keys"),
            ("KEYS_TTL_SECONDS", "3600"),
            ("KEYS_MEMORY_SECONDS", "60"),
            ("KEYS_MAX_STALE_SECONDS", "0"),
        ];
        let keys = load(&vars).unwrap().keys;
        assert_eq!(
            (
                keys.table_name.as_deref(),
                keys.ttl_seconds,
                keys.memory_seconds,
                keys.max_stale_seconds
            ),
            (Some("jwt-keys"), 3600, 60, 0)
        );
        for (var, value) in [
            ("KEYS_TABLE_NAME", "a b"),
            ("KEYS_TABLE_NAME", "ab"),
            ("KEYS_TTL_SECONDS", "10"),
            ("KEYS_MEMORY_SECONDS", "x"),
            ("KEYS_MAX_STALE_SECONDS", "99999999"),
        ] {
            let vars = [COGNITO[0], COGNITO[1], (var, value)];
            assert_eq!(error_variable(&vars), var, "{var}={value}");
        }
    }

    #[test]
    fn sdk_endpoints_are_https_or_loopback_http_with_or_without_a_table() {
        for var in ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"] {
            for bad in [
                "http://dynamodb.internal:8000",
                "http://10.0.0.5:8000",
                "http://127.0.0.1@evil.example",
                "http://localhost.evil.example",
                "ftp://127.0.0.1",
            ] {
                let vars = [COGNITO[0], COGNITO[1], (var, bad)];
                assert_eq!(error_variable(&vars), var, "{var}={bad}");
                let with_table = [vars[0], vars[1], vars[2], ("KEYS_TABLE_NAME", "jwt-keys")];
                assert_eq!(error_variable(&with_table), var, "{var}={bad}");
            }
            for good in [
                "https://dynamodb.eu-west-1.amazonaws.com",
                "http://127.0.0.1:8000",
                "http://127.1.2.3:8000/",
                "http://localhost:4566",
                "http://[::1]:8000",
            ] {
                let vars = [COGNITO[0], COGNITO[1], (var, good)];
                assert!(load(&vars).is_ok(), "{var}={good}");
            }
        }
    }
}
