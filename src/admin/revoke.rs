//! `authorizer-admin revoke`: the item is planned by pure functions (which issuer, the
//! defaults, nothing already past, nothing implausibly far ahead), written with the
//! conditional write of [`DynamoStore::revoke`] (which never narrows a revocation already
//! stored) and reported in one line saying what was stored; or, with `--dry-run`, printed
//! as the DynamoDB item it would write, and not written.

use std::io::Write;

use super::AdminError;
use super::args::{RevokeArgs, Target};
use super::format::{dynamodb_json, epoch};
use crate::config::Config;
use crate::issuers::pattern::any_matches;
use crate::keys::KeyTable;
use crate::revocation::{DynamoStore, Key, Revocation, Revoked, Scope, record};
use serde_json::Value;

/// How long a subject item lasts past its `revoked_before` by default: a day, longer
/// than any Cognito or Okta access or ID token lives.
pub const DEFAULT_TTL_SECONDS: u64 = 86_400;
/// How far ahead of now a `--before` may lie: a day. Further would refuse the subject's
/// fresh sign-ins for that long, which is a lock-out, not a sign-out.
pub const MAX_BEFORE_AHEAD_SECONDS: u64 = 86_400;

/// The item a revoke writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Where.
    pub key: Key,
    /// What.
    pub item: Revocation,
}

/// The issuers a revoke writes for: `asked`, which must be configured or (with the tenant
/// registry) match `TENANT_ISSUER_PATTERN`; or,
/// without it, the only configured issuer, or every `iss` of the only configured Cognito
/// pool (with `COGNITO_ISSUER_FORMAT=both` or replica Regions its users' tokens carry any
/// of them, and a sign-out must cover them all).
pub fn issuers<'a>(config: &'a Config, asked: Option<&'a str>) -> Result<Vec<&'a str>, AdminError> {
    let configured: Vec<&str> = config.issuers.iter().map(|i| i.issuer.as_str()).collect();
    let pools: Vec<Option<&str>> = config
        .issuers
        .iter()
        .map(|i| i.cognito_user_pool_id.as_deref())
        .collect();
    let one_pool =
        matches!(pools.first(), Some(Some(first)) if pools.iter().all(|p| *p == Some(*first)));
    match (asked, configured.as_slice()) {
        (Some(asked), _) if configured.contains(&asked) => Ok(vec![asked]),
        (Some(asked), _)
            if config
                .tenants
                .as_ref()
                .is_some_and(|t| any_matches(&t.patterns, asked)) =>
        {
            Ok(vec![asked])
        }
        (Some(asked), _) => Err(AdminError::Invalid(format!(
            "--issuer {asked} is not a configured issuer (configured: {}) nor within TENANT_ISSUER_PATTERN",
            configured.join(", ")
        ))),
        (None, [only]) => Ok(vec![only]),
        (None, _) if one_pool => Ok(configured),
        (None, _) => Err(AdminError::Invalid(format!(
            "several issuers are configured: pass --issuer (one of: {})",
            configured.join(", ")
        ))),
    }
}

/// The item for `args` of `issuer` at wall time `now`, `skew` being
/// `CLOCK_SKEW_SECONDS`: a subject item revokes tokens issued before `--before` (default
/// now + 1 + skew, so a token issued this second, or by an issuer whose clock runs ahead
/// within the skew, is covered; at most a day ahead) until `--before` + `--ttl` (default a
/// day); a token item lasts until `--until`. An item that would already be past is
/// refused: it would revoke nothing.
pub fn plan(args: &RevokeArgs, issuer: &str, now: u64, skew: u64) -> Result<Plan, AdminError> {
    let too_long = |option: &str| {
        AdminError::Invalid(format!(
            "--{option} is too long for a DynamoDB key (2048 bytes with the REVOKED#{{iss}} prefix)"
        ))
    };
    match &args.target {
        Target::Subject {
            subject,
            before,
            ttl,
        } => {
            let revoked_before = before.unwrap_or(now.saturating_add(1).saturating_add(skew));
            if revoked_before > now.saturating_add(MAX_BEFORE_AHEAD_SECONDS) {
                return Err(AdminError::Invalid(format!(
                    "--before {} is more than a day ahead: it would refuse the subject's new sign-ins until then",
                    epoch(revoked_before)
                )));
            }
            let expires_at = revoked_before.saturating_add(ttl.unwrap_or(DEFAULT_TTL_SECONDS));
            if expires_at <= now {
                return Err(AdminError::Invalid(format!(
                    "--before {revoked_before} with --ttl {} ends at {}, already past: it would revoke nothing",
                    ttl.unwrap_or(DEFAULT_TTL_SECONDS),
                    epoch(expires_at)
                )));
            }
            Ok(Plan {
                key: Key::new(issuer, Scope::Subject, subject)
                    .ok_or_else(|| too_long("subject"))?,
                item: Revocation::Subject {
                    revoked_before,
                    expires_at,
                },
            })
        }
        Target::Token { jti, until } => {
            if *until <= now {
                return Err(AdminError::Invalid(format!(
                    "--until {} is already past: that token has expired, nothing to revoke",
                    epoch(*until)
                )));
            }
            Ok(Plan {
                key: Key::new(issuer, Scope::Token, jti).ok_or_else(|| too_long("jti"))?,
                item: Revocation::Token { expires_at: *until },
            })
        }
    }
}

/// What an item refuses, in words.
fn refuses(item: &Revocation) -> String {
    match *item {
        Revocation::Subject {
            revoked_before,
            expires_at,
        } => format!(
            "tokens issued before {} are refused until {}",
            epoch(revoked_before),
            epoch(expires_at)
        ),
        Revocation::Token { expires_at } => {
            format!(
                "the token and its sign-in are refused until {}",
                epoch(expires_at)
            )
        }
        Revocation::Unreadable { .. } => {
            "an unreadable item refused every token at this key".to_owned()
        }
    }
}

/// The one line reporting a revoke.
pub fn report(plan: &Plan, outcome: &Revoked) -> String {
    match outcome {
        Revoked::Stored(item) => format!("revoked: {}: {}", plan.key.pk, refuses(item)),
        Revoked::Replaced(item) => format!(
            "revoked: {}: {} (replacing an unreadable item, which refused every token at this key)",
            plan.key.pk,
            refuses(item)
        ),
        Revoked::Widened { was, now } => format!(
            "widened: {}: {} (it held: {}; a revoke never narrows one)",
            plan.key.pk,
            refuses(now),
            refuses(was)
        ),
        Revoked::Unchanged(item) => format!(
            "unchanged: {}: already {}, which covers this request (a revoke never narrows one)",
            plan.key.pk,
            refuses(item)
        ),
    }
}

/// The item a revoke would write, as DynamoDB JSON (what `aws dynamodb put-item --item`
/// takes).
pub fn dry_run_item(plan: &Plan) -> Value {
    dynamodb_json(record::attributes(&plan.key.pk, &plan.item))
}

/// Runs `revoke` against `table` at wall time `now`, reporting to `out`.
pub async fn run(
    args: &RevokeArgs,
    config: &Config,
    table: &KeyTable,
    now: u64,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let plans = issuers(config, args.issuer.as_deref())?
        .into_iter()
        .map(|issuer| plan(args, issuer, now, config.clock_skew_seconds))
        .collect::<Result<Vec<_>, _>>()?;
    if args.dry_run {
        for plan in &plans {
            writeln!(
                out,
                "dry run, nothing written: {}: {}\n{}",
                plan.key.pk,
                refuses(&plan.item),
                dry_run_item(plan)
            )
            .map_err(AdminError::output)?;
        }
        return Ok(());
    }
    let store = DynamoStore::new(table);
    let bound = match &config.revocation {
        Some(settings) => format!(
            "; authorizers enforce it within {} s (REVOCATION_CACHE_SECONDS) plus the API's authorizer result TTL",
            settings.cache.as_secs()
        ),
        None => {
            "; REVOCATION is off in this environment: only authorizers with REVOCATION=on read it"
                .to_owned()
        }
    };
    for plan in &plans {
        let outcome =
            store
                .revoke(&plan.key, plan.item)
                .await
                .map_err(|error| AdminError::Table {
                    table: table.name().to_owned(),
                    error,
                })?;
        writeln!(out, "{}{bound}", report(plan, &outcome)).map_err(AdminError::output)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::test_support::{COGNITO, load};

    const NOW: u64 = 1_800_000_000;

    fn subject(before: Option<u64>, ttl: Option<u64>) -> RevokeArgs {
        RevokeArgs {
            target: Target::Subject {
                subject: "alice".into(),
                before,
                ttl,
            },
            issuer: None,
            dry_run: false,
        }
    }

    #[test]
    fn a_subject_item_defaults_to_the_next_second_plus_the_skew_and_a_day() {
        let plan = plan(&subject(None, None), "https://i", NOW, 0).unwrap();
        assert_eq!(plan.key.pk, "REVOKED#https://i#sub#alice");
        assert_eq!(
            plan.item,
            Revocation::Subject {
                revoked_before: NOW + 1,
                expires_at: NOW + 1 + 86_400
            },
            "a token issued in this very second is covered"
        );
        let skewed = super::plan(&subject(None, None), "https://i", NOW, 30).unwrap();
        assert_eq!(
            skewed.item,
            Revocation::Subject {
                revoked_before: NOW + 31,
                expires_at: NOW + 31 + 86_400
            },
            "a token from an issuer whose clock runs ahead within the skew is covered"
        );
        let plan = super::plan(&subject(Some(NOW - 100), Some(3600)), "https://i", NOW, 0).unwrap();
        assert_eq!(plan.item.expires_at(), NOW + 3500);
    }

    #[test]
    fn a_before_more_than_a_day_ahead_is_refused() {
        assert!(plan(&subject(Some(NOW + 86_400), None), "i", NOW, 0).is_ok());
        let err = plan(&subject(Some(NOW + 86_401), None), "i", NOW, 0).unwrap_err();
        assert!(err.to_string().contains("more than a day ahead"), "{err}");
    }

    #[test]
    fn a_dry_run_prints_the_dynamodb_item() {
        let plan = plan(&subject(None, None), "https://i", NOW, 0).unwrap();
        assert_eq!(
            dry_run_item(&plan),
            serde_json::json!({
                "PK": {"S": "REVOKED#https://i#sub#alice"},
                "expires_at": {"N": "1800086401"},
                "revoked_before": {"N": "1800000001"}
            })
        );
    }

    #[test]
    fn an_item_already_past_is_refused() {
        let err = plan(&subject(Some(NOW - 100), Some(100)), "i", NOW, 0).unwrap_err();
        assert!(err.to_string().contains("already past"), "{err}");
        let token = |until| RevokeArgs {
            target: Target::Token {
                jti: "j".into(),
                until,
            },
            issuer: None,
            dry_run: false,
        };
        assert!(plan(&token(NOW), "i", NOW, 0).is_err());
        assert_eq!(
            plan(&token(NOW + 1), "i", NOW, 0).unwrap().item,
            Revocation::Token {
                expires_at: NOW + 1
            }
        );
        let long = RevokeArgs {
            target: Target::Subject {
                subject: "x".repeat(3000),
                before: None,
                ttl: None,
            },
            issuer: None,
            dry_run: false,
        };
        assert!(
            plan(&long, "i", NOW, 0)
                .unwrap_err()
                .to_string()
                .contains("too long")
        );
    }

    #[test]
    fn the_issuer_defaults_to_the_only_one_and_must_be_configured() {
        let config = load(&COGNITO).unwrap();
        let only = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123";
        assert_eq!(issuers(&config, None).unwrap(), [only]);
        assert_eq!(issuers(&config, Some(only)).unwrap(), [only]);
        let err = issuers(&config, Some("https://evil.example")).unwrap_err();
        assert!(err.to_string().contains("not a configured issuer"), "{err}");
        let two = load(&[(
            "JWT_ISSUERS",
            r#"[{"issuer":"https://a","jwks_url":"https://a/k","audience":["x"]},
                {"issuer":"https://b","jwks_url":"https://b/k","audience":["x"]}]"#,
        )])
        .unwrap();
        let err = issuers(&two, None).unwrap_err();
        assert!(
            err.to_string()
                .contains("pass --issuer (one of: https://a, https://b)"),
            "{err}"
        );
    }

    #[test]
    fn without_issuer_a_pool_with_several_iss_is_revoked_under_each() {
        let both = load(&[
            COGNITO[0],
            COGNITO[1],
            ("COGNITO_ISSUER_FORMAT", "both"),
            ("COGNITO_REPLICA_REGIONS", "us-east-1"),
        ])
        .unwrap();
        assert_eq!(
            issuers(&both, None).unwrap(),
            [
                "https://issuer-cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123",
                "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123"
            ]
        );
        let one = "https://cognito-idp.us-east-1.amazonaws.com/eu-west-1_AbC123";
        assert_eq!(issuers(&both, Some(one)).unwrap(), [one]);
    }

    #[test]
    fn the_report_says_what_was_stored() {
        let plan = plan(&subject(Some(NOW), None), "https://i", NOW, 0).unwrap();
        let stored = report(&plan, &Revoked::Stored(plan.item));
        assert_eq!(
            stored,
            "revoked: REVOKED#https://i#sub#alice: tokens issued before 1800000000 \
             (2027-01-15T08:00:00Z) are refused until 1800086400 (2027-01-16T08:00:00Z)"
        );
        let replaced = report(&plan, &Revoked::Replaced(plan.item));
        assert!(
            replaced.contains("replacing an unreadable item"),
            "{replaced}"
        );
        let older = Revocation::Subject {
            revoked_before: NOW + 10,
            expires_at: NOW + 999_999,
        };
        let kept = report(&plan, &Revoked::Unchanged(older));
        assert!(
            kept.starts_with(
                "unchanged: REVOKED#https://i#sub#alice: already tokens issued before 1800000010"
            ),
            "{kept}"
        );
        let widened = report(
            &plan,
            &Revoked::Widened {
                was: older,
                now: plan.item,
            },
        );
        assert!(widened.starts_with("widened: "), "{widened}");
        assert!(widened.contains("never narrows"));
    }
}
