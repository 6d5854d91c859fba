//! Revocation (SPEC.md "Revocation"): `REVOCATION`, `REVOCATION_CACHE_SECONDS` and
//! `REVOCATION_ON_ERROR`, and the memory share of the revocation cache.

use std::time::Duration;

use super::env::Env;
use crate::error::ConfigError;

/// Longest accepted `REVOCATION_CACHE_SECONDS`: the cache time is the bound on how late a
/// sign-out takes effect, and an hour is already longer than most access tokens live.
pub const MAX_REVOCATION_CACHE_SECONDS: u64 = 3_600;

/// The share of the function's memory the revocation cache may hold: one part in this
/// many (its entries are small: a key and a few numbers).
pub const REVOCATION_CACHE_MEMORY_SHARE: usize = 16;

/// What a valid token gets when its revocation items can't be read
/// (`REVOCATION_ON_ERROR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Accept it, logged and counted (default): an outage of the table does not become
    /// an outage of the API.
    Allow,
    /// Refuse it as if revoked, with its own reason (`revocation_unavailable`).
    Deny,
}

impl OnError {
    /// The variable's value, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        }
    }
}

/// How revocation is checked, when `REVOCATION=on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RevocationSettings {
    /// How long a container reuses one lookup, found or not
    /// (`REVOCATION_CACHE_SECONDS`, default 30, 0 to 3600; 0 looks up every decision).
    pub cache: Duration,
    /// `REVOCATION_ON_ERROR` (default `allow`).
    pub on_error: OnError,
    /// At most about this many bytes of cached lookups: a sixteenth of the function's
    /// memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`; 128 MB when unset).
    pub cache_bytes: usize,
}

/// `None` when `REVOCATION` is off (the default). `on` needs `KEYS_TABLE_NAME`: the
/// revocation items live in the keys table. The other two variables are checked even
/// when revocation is off, so a typo never waits for the day it is switched on.
pub(crate) fn revocation(env: &Env<'_>) -> Result<Option<RevocationSettings>, ConfigError> {
    let on = env.choice("REVOCATION", false, &[("on", true), ("off", false)])?;
    let cache = env.number(
        "REVOCATION_CACHE_SECONDS",
        30,
        0..=MAX_REVOCATION_CACHE_SECONDS,
    )?;
    let on_error = env.choice(
        "REVOCATION_ON_ERROR",
        OnError::Allow,
        &[("allow", OnError::Allow), ("deny", OnError::Deny)],
    )?;
    let cache_bytes = super::memory_share(env, REVOCATION_CACHE_MEMORY_SHARE)?;
    if !on {
        return Ok(None);
    }
    if env.get("KEYS_TABLE_NAME").is_none() {
        return Err(ConfigError::new(
            "KEYS_TABLE_NAME",
            "required with REVOCATION=on: the revocation items live in the keys table",
        ));
    }
    Ok(Some(RevocationSettings {
        cache: Duration::from_secs(cache),
        on_error,
        cache_bytes,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;

    const TABLE: (&str, &str) = ("KEYS_TABLE_NAME", "jwt-keys");

    #[test]
    fn revocation_is_off_by_default() {
        assert_eq!(load(&COGNITO).unwrap().revocation, None);
        let vars = [COGNITO[0], COGNITO[1], TABLE, ("REVOCATION", "off")];
        assert_eq!(load(&vars).unwrap().revocation, None);
    }

    #[test]
    fn on_reads_its_defaults_and_a_share_of_memory() {
        let vars = [COGNITO[0], COGNITO[1], TABLE, ("REVOCATION", "on")];
        assert_eq!(
            load(&vars).unwrap().revocation,
            Some(RevocationSettings {
                cache: Duration::from_secs(30),
                on_error: OnError::Allow,
                cache_bytes: 8 << 20,
            })
        );
        let vars = [
            COGNITO[0],
            COGNITO[1],
            TABLE,
            ("REVOCATION", "ON"),
            ("REVOCATION_CACHE_SECONDS", "0"),
            ("REVOCATION_ON_ERROR", "deny"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024"),
        ];
        let settings = load(&vars).unwrap().revocation.unwrap();
        assert_eq!(
            (settings.cache, settings.on_error, settings.cache_bytes),
            (Duration::ZERO, OnError::Deny, 64 << 20)
        );
    }

    #[test]
    fn on_without_the_keys_table_names_it() {
        let vars = [COGNITO[0], COGNITO[1], ("REVOCATION", "on")];
        let err = load(&vars).unwrap_err();
        assert_eq!(err.variable, "KEYS_TABLE_NAME");
        assert!(err.to_string().contains("REVOCATION=on"), "{err}");
    }

    #[test]
    fn bad_values_name_their_variable_even_when_off() {
        for (var, value) in [
            ("REVOCATION", "yes"),
            ("REVOCATION", "1"),
            ("REVOCATION_CACHE_SECONDS", "3601"),
            ("REVOCATION_CACHE_SECONDS", "-1"),
            ("REVOCATION_CACHE_SECONDS", "30s"),
            ("REVOCATION_ON_ERROR", "ignore"),
        ] {
            let vars = [COGNITO[0], COGNITO[1], TABLE, (var, value)];
            assert_eq!(error_variable(&vars), var, "{var}={value}");
        }
    }
}
