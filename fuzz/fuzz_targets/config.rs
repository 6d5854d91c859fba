//! The configuration from an environment map: `Config::from_lookup` (and the refresher's
//! `RefresherConfig::from_lookup`) over every variable the input sets, `JWT_ISSUERS` and
//! `POLICY_RULES` JSON included.
//!
//! Input, as text: lines `NAME=value` (the first `=` splits; a later line for the same
//! name wins). The seeds are configurations from SPEC.md and docs/configuration.md.
//!
//! Invariants: never a panic; a refusal is one line that starts with the variable at
//! fault, and that variable (or the one whose entry it names, `POLICY_RULES[2].scopes_all`) is one
//! the configuration read;
//! an accepted configuration holds what SPEC.md promises (at least one issuer, each with
//! an audience, distinct `iss`; HS256 only with a secret of 32 bytes or more and never
//! with a JWKS; skew at most 300 s; every template prints back to itself; no issuer with
//! `#` or white space; simple HTTP API answers only for grants of every route to every
//! token, or with `HTTP_API_CACHE=off`); reading the same environment twice gives the
//! same result.
#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;

use jwt_authorizer::config::{
    HttpApiResponse, KeySourceConfig, MIN_HS256_SECRET_BYTES, RefresherConfig,
};
use jwt_authorizer::jwk::Algorithm;
use jwt_authorizer::policy::Template;
use jwt_authorizer::{Config, ConfigError};
use libfuzzer_sys::fuzz_target;

fn check_error(error: &ConfigError, read: &[String]) {
    let line = error.to_string();
    assert!(!line.contains('\n'), "a config error is one line: {line:?}");
    assert!(
        line.starts_with(&format!("{}: ", error.variable)),
        "the line starts with the variable: {line:?}"
    );
    // `JWT_ISSUERS[1].audience`, `POLICY_RULES[2].scopes_all`: an entry of a variable.
    let variable = error.variable.split('[').next().unwrap_or_default();
    assert!(
        read.iter().any(|r| r == variable),
        "{} is blamed but was never read (read: {read:?})",
        error.variable
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    let read = RefCell::new(Vec::<String>::new());
    let lookup = |name: &str| {
        read.borrow_mut().push(name.to_owned());
        env.get(name).map(|v| (*v).to_owned())
    };

    let first = Config::from_lookup(lookup);
    let second = Config::from_lookup(lookup);
    assert_eq!(format!("{first:?}"), format!("{second:?}"), "deterministic");
    let read_names = read.borrow().clone();
    match &first {
        Err(error) => check_error(error, &read_names),
        Ok(config) => {
            assert!(!config.issuers.is_empty());
            assert!(config.clock_skew_seconds <= 300);
            assert!(config.keys.cooldown_seconds >= 1);
            for (i, issuer) in config.issuers.iter().enumerate() {
                assert!(
                    !issuer.audience.is_empty(),
                    "issuer {i} without an audience"
                );
                assert!(!issuer.algorithms.is_empty());
                assert!(
                    config.issuers[..i]
                        .iter()
                        .all(|o| o.issuer != issuer.issuer),
                    "issuer {} listed twice",
                    issuer.issuer
                );
                match &issuer.keys {
                    KeySourceConfig::Secret(secret) => {
                        assert!(secret.len() >= MIN_HS256_SECRET_BYTES);
                        assert_eq!(issuer.algorithms, [Algorithm::HS256]);
                    }
                    KeySourceConfig::Jwks(_) => {
                        assert!(!issuer.algorithms.contains(&Algorithm::HS256));
                    }
                }
            }
            let decision = &config.decision;
            assert!(!decision.principal_claim.is_empty());
            assert!(!decision.token_sources.is_empty());
            for rule in decision.rules.rules() {
                assert!(!rule.resources.is_empty());
                for t in &rule.resources {
                    assert_eq!(Template::parse(&t.to_string()).as_ref(), Ok(t), "{t}");
                }
            }
            // Simple HTTP API answers only where API Gateway's cache, keyed by identity
            // source alone, cannot carry one route's answer to another.
            if decision.http_api_response == HttpApiResponse::Simple
                && !decision.rules.grant_every_route_to_every_token()
            {
                let cache = env
                    .get("HTTP_API_CACHE")
                    .map(|v| v.trim().to_ascii_lowercase());
                assert_eq!(
                    cache.as_deref(),
                    Some("off"),
                    "simple answers with narrower grants"
                );
            }
            for issuer in &config.issuers {
                assert!(
                    !issuer.issuer.contains('#') && !issuer.issuer.contains(char::is_whitespace),
                    "an issuer is part of item keys: {:?}",
                    issuer.issuer
                );
            }
        }
    }

    read.borrow_mut().clear();
    match RefresherConfig::from_lookup(lookup) {
        Err(error) => check_error(&error, &read.borrow()),
        Ok(refresher) => {
            assert!(refresher.keys.table_name.is_some());
            assert!(!refresher.issuers.is_empty());
        }
    }
});
