//! Sender-constrained tokens (SPEC.md "Sender-constrained tokens: DPoP and mTLS"):
//! `DPOP`, `DPOP_ALGORITHMS`, `DPOP_MAX_AGE_SECONDS`, `DPOP_REPLAY`,
//! `DPOP_REPLAY_ON_ERROR`, `DPOP_ORIGINS`, and the memory share of the replay memory.
//! Every variable is checked even with `DPOP=off`, so a typo never waits for the day
//! DPoP is switched on.

use super::env::{Env, comma_list};
use super::revocation::OnError;
use crate::binding::{MEMORY_ENTRY_BYTES, origin};
use crate::error::ConfigError;
use crate::jwk::Algorithm;

/// Longest accepted `DPOP_MAX_AGE_SECONDS`: a proof is meant for one request, now.
pub const MAX_DPOP_MAX_AGE_SECONDS: u64 = 300;

/// The share of the function's memory the replay memory may hold: one part in this many.
pub const REPLAY_MEMORY_SHARE: usize = 32;

/// `DPOP`: whether the `DPoP` scheme is accepted, and whether it is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopMode {
    /// The `DPoP` scheme is refused (`bad_proof`); bound tokens are refused as Bearer.
    Off,
    /// `Authorization: DPoP` with a proof is accepted beside Bearer tokens.
    On,
    /// Only DPoP-bound tokens with a valid proof are accepted.
    Required,
}

impl DpopMode {
    /// The variable's value, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Required => "required",
        }
    }
}

/// `DPOP_REPLAY`: where proof `jti`s are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayMode {
    /// A conditional write to the keys table (every container), and this container's memory.
    Table,
    /// This container's memory only.
    Memory,
}

/// How sender-constrained tokens are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopSettings {
    /// `DPOP` (default `off`).
    pub mode: DpopMode,
    /// `DPOP_ALGORITHMS` (default `ES256,EdDSA,RS256,PS256`; asymmetric only).
    pub algorithms: Vec<Algorithm>,
    /// `DPOP_MAX_AGE_SECONDS` (default 60, 1 to 300).
    pub max_age: u64,
    /// `DPOP_REPLAY` (default `table` with `KEYS_TABLE_NAME`, else `memory`).
    pub replay: ReplayMode,
    /// `DPOP_REPLAY_ON_ERROR` (default `allow`).
    pub on_error: OnError,
    /// `DPOP_ORIGINS`, normalized; empty: the request's `Host`, over `https`.
    pub origins: Vec<String>,
    /// Entries of the replay memory: a thirty-second of the function's memory.
    pub memory_entries: usize,
}

impl DpopSettings {
    /// `DPOP=off` with the defaults (no table, 128 MB).
    pub fn off() -> Self {
        Self {
            mode: DpopMode::Off,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            max_age: 60,
            replay: ReplayMode::Memory,
            on_error: OnError::Allow,
            origins: Vec::new(),
            memory_entries: (128 << 20) / REPLAY_MEMORY_SHARE / MEMORY_ENTRY_BYTES,
        }
    }
}

const DEFAULT_ALGORITHMS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];

pub(crate) fn dpop(env: &Env<'_>) -> Result<DpopSettings, ConfigError> {
    let mode = env.choice(
        "DPOP",
        DpopMode::Off,
        &[
            ("off", DpopMode::Off),
            ("on", DpopMode::On),
            ("required", DpopMode::Required),
        ],
    )?;
    let algorithms = match env.get("DPOP_ALGORITHMS") {
        None => DEFAULT_ALGORITHMS.to_vec(),
        Some(raw) => algorithms(&raw)?,
    };
    let max_age = env.number("DPOP_MAX_AGE_SECONDS", 60, 1..=MAX_DPOP_MAX_AGE_SECONDS)?;
    let table = env.get("KEYS_TABLE_NAME").is_some();
    let replay = env.choice(
        "DPOP_REPLAY",
        if table {
            ReplayMode::Table
        } else {
            ReplayMode::Memory
        },
        &[("table", ReplayMode::Table), ("memory", ReplayMode::Memory)],
    )?;
    if replay == ReplayMode::Table && !table {
        return Err(ConfigError::new(
            "DPOP_REPLAY",
            "table needs KEYS_TABLE_NAME: the replay items live in the keys table (or set memory)",
        ));
    }
    let on_error = env.choice(
        "DPOP_REPLAY_ON_ERROR",
        OnError::Allow,
        &[("allow", OnError::Allow), ("deny", OnError::Deny)],
    )?;
    let origins = match env.get("DPOP_ORIGINS") {
        None => Vec::new(),
        Some(raw) => origins(&raw)?,
    };
    let memory_entries = super::memory_share(env, REPLAY_MEMORY_SHARE)? / MEMORY_ENTRY_BYTES;
    Ok(DpopSettings {
        mode,
        algorithms,
        max_age,
        replay,
        on_error,
        origins,
        memory_entries,
    })
}

fn algorithms(raw: &str) -> Result<Vec<Algorithm>, ConfigError> {
    let mut out = Vec::new();
    for name in comma_list(raw) {
        let alg = name
            .parse::<Algorithm>()
            .ok()
            .filter(|alg| Algorithm::ASYMMETRIC.contains(alg))
            .ok_or_else(|| {
                ConfigError::new(
                    "DPOP_ALGORITHMS",
                    format!(
                        "{name:?} is not an asymmetric JWS algorithm (one of {}); a proof is signed with the client's private key",
                        Algorithm::ASYMMETRIC.map(Algorithm::as_str).join(", ")
                    ),
                )
            })?;
        if !out.contains(&alg) {
            out.push(alg);
        }
    }
    if out.is_empty() {
        return Err(ConfigError::new("DPOP_ALGORITHMS", "no algorithm listed"));
    }
    Ok(out)
}

fn origins(raw: &str) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for entry in comma_list(raw) {
        let normalized = origin(&entry).ok_or_else(|| {
            ConfigError::new(
                "DPOP_ORIGINS",
                format!("{entry:?} is not an origin like https://api.example.com (scheme, host, optional port; no path)"),
            )
        })?;
        if !out.contains(&normalized) {
            out.push(normalized);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use crate::config::test_support::*;

    const TABLE: (&str, &str) = ("KEYS_TABLE_NAME", "jwt-keys");

    #[test]
    fn dpop_is_off_by_default_with_memory_replay_without_a_table() {
        let settings = load(&COGNITO).unwrap().dpop;
        assert_eq!(settings, DpopSettings::off());
        assert_eq!(settings.memory_entries, 32_768);
    }

    #[test]
    fn the_replay_defaults_to_the_table_when_there_is_one() {
        let vars = [COGNITO[0], COGNITO[1], TABLE, ("DPOP", "on")];
        let settings = load(&vars).unwrap().dpop;
        assert_eq!(settings.replay, ReplayMode::Table);
        assert_eq!(settings.mode, DpopMode::On);
        let vars = [COGNITO[0], COGNITO[1], TABLE, ("DPOP_REPLAY", "memory")];
        assert_eq!(load(&vars).unwrap().dpop.replay, ReplayMode::Memory);
    }

    #[test]
    fn a_table_replay_without_the_table_names_dpop_replay() {
        let vars = [COGNITO[0], COGNITO[1], ("DPOP_REPLAY", "table")];
        let err = load(&vars).unwrap_err();
        assert_eq!(err.variable, "DPOP_REPLAY");
        assert!(err.to_string().contains("KEYS_TABLE_NAME"), "{err}");
    }

    #[test]
    fn every_setting_is_read() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            TABLE,
            ("DPOP", "Required"),
            ("DPOP_ALGORITHMS", "ES256, ES384,ES256"),
            ("DPOP_MAX_AGE_SECONDS", "30"),
            ("DPOP_REPLAY_ON_ERROR", "deny"),
            (
                "DPOP_ORIGINS",
                "HTTPS://API.example.com:443, https://b.example:8443/",
            ),
        ];
        let settings = load(&vars).unwrap().dpop;
        assert_eq!(settings.mode, DpopMode::Required);
        assert_eq!(settings.algorithms, [Algorithm::ES256, Algorithm::ES384]);
        assert_eq!(settings.max_age, 30);
        assert_eq!(settings.on_error, OnError::Deny);
        assert_eq!(
            settings.origins,
            ["https://api.example.com", "https://b.example:8443"]
        );
    }

    #[test]
    fn symmetric_or_unknown_algorithms_fail_init() {
        for algs in ["HS256", "ES256,HS256", "none", "ES257", ","] {
            let vars = [COGNITO[0], COGNITO[1], ("DPOP_ALGORITHMS", algs)];
            assert_eq!(error_variable(&vars), "DPOP_ALGORITHMS", "{algs}");
        }
    }

    #[test]
    fn bad_values_name_their_variable_even_when_off() {
        for (var, value) in [
            ("DPOP", "yes"),
            ("DPOP_MAX_AGE_SECONDS", "0"),
            ("DPOP_MAX_AGE_SECONDS", "301"),
            ("DPOP_REPLAY", "redis"),
            ("DPOP_REPLAY_ON_ERROR", "ignore"),
            ("DPOP_ORIGINS", "https://api.example.com/v1"),
            ("DPOP_ORIGINS", "api.example.com"),
            ("DPOP_ORIGINS", "https://user@api.example.com"),
        ] {
            let vars = [COGNITO[0], COGNITO[1], TABLE, (var, value)];
            assert_eq!(error_variable(&vars), var, "{var}={value}");
        }
    }
}
