//! What an authentic token's claims must hold (SPEC.md "What makes a token invalid"),
//! as named checks run in order: `exp` (required, a number, not past), `nbf` (a number,
//! not ahead), `iat` (a number; never compared with the clock), the audience (`aud`, or
//! `client_id` for Cognito access tokens) and Cognito `token_use`. The verifier stops at
//! the first failure; `authorizer-admin explain` runs and shows every one.

use serde_json::Value;

use crate::config::{IssuerConfig, TokenUse};
use crate::error::ClaimsError;

mod set;

pub use set::Claims;

/// One check of the claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimCheck {
    /// `exp` is present, a number, and not past (with the skew).
    Exp,
    /// `nbf`, when present, is a number and not ahead (with the skew).
    Nbf,
    /// `iat`, when present, is a number (never compared with the clock: an issuer whose
    /// clock runs a second ahead must not fail its fresh tokens).
    Iat,
    /// `aud`, when present, is a string or an array of strings, and it (Cognito access
    /// tokens: `client_id`) holds a configured audience.
    Audience,
    /// Cognito issuers: `token_use` equals `JWT_TOKEN_USE`.
    TokenUse,
}

impl ClaimCheck {
    /// Every check, in the order they run.
    pub const ALL: [Self; 5] = [
        Self::Exp,
        Self::Nbf,
        Self::Iat,
        Self::Audience,
        Self::TokenUse,
    ];

    /// Short stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Iat => "iat",
            Self::Audience => "audience",
            Self::TokenUse => "token_use",
        }
    }

    /// Runs this check on `claims` for `issuer`, at wall time `now` with `skew` seconds of
    /// leeway.
    pub fn run(
        self,
        claims: &Claims,
        issuer: &IssuerConfig,
        now: u64,
        skew: u64,
    ) -> Result<(), ClaimsError> {
        let (now, skew) = (now as f64, skew as f64);
        match self {
            Self::Exp => {
                let exp = time(claims, "exp")?.ok_or(ClaimsError::MissingExp)?;
                if exp + skew <= now {
                    return Err(ClaimsError::Expired);
                }
            }
            Self::Nbf => {
                if time(claims, "nbf")?.is_some_and(|nbf| nbf > now + skew) {
                    return Err(ClaimsError::NotYetValid);
                }
            }
            Self::Iat => {
                time(claims, "iat")?;
            }
            Self::Audience => {
                if !audience_accepted(claims, issuer)? {
                    return Err(ClaimsError::Audience);
                }
            }
            Self::TokenUse => {
                if let Some(token_use) = issuer.token_use {
                    if claims.str("token_use") != Some(token_use.as_str()) {
                        return Err(ClaimsError::TokenUse);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Every check for an authentic token at wall time `now`, stopping at the first failure;
/// returns its `exp`.
pub fn check_claims(
    claims: &Claims,
    issuer: &IssuerConfig,
    now: u64,
    skew: u64,
) -> Result<f64, ClaimsError> {
    for check in ClaimCheck::ALL {
        check.run(claims, issuer, now, skew)?;
    }
    time(claims, "exp")?.ok_or(ClaimsError::MissingExp)
}

/// A time claim: absent, or a JSON number.
fn time(claims: &Claims, name: &str) -> Result<Option<f64>, ClaimsError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_f64().map(Some).ok_or(ClaimsError::TimeNotNumeric),
        Some(_) => Err(ClaimsError::TimeNotNumeric),
    }
}

/// Whether the audience holds a configured one; an `aud` of the wrong type is an error
/// whatever the token's kind.
fn audience_accepted(claims: &Claims, issuer: &IssuerConfig) -> Result<bool, ClaimsError> {
    let accepted = |s: &str| issuer.audience.iter().any(|a| a == s);
    let aud_ok = match claims.str("aud") {
        Some(single) => accepted(single),
        None => match claims.get("aud") {
            None => false,
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                items.iter().filter_map(Value::as_str).any(accepted)
            }
            Some(_) => return Err(ClaimsError::Audience),
        },
    };
    Ok(match issuer.token_use {
        Some(TokenUse::Access) => claims.str("client_id").is_some_and(accepted),
        _ => aud_ok,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::KeySourceConfig;
    use crate::jwk::Algorithm;
    use serde_json::json;

    fn issuer(token_use: Option<TokenUse>) -> IssuerConfig {
        IssuerConfig {
            issuer: "https://issuer.example".into(),
            keys: KeySourceConfig::Secret(vec![0; 32]),
            audience: vec!["client-a".into(), "client-b".into()],
            token_use,
            algorithms: vec![Algorithm::RS256],
            typ: None,
            cognito_user_pool_id: None,
        }
    }

    fn check(claims: Value, issuer: &IssuerConfig, skew: u64) -> Result<(), ClaimsError> {
        check_claims(
            &Claims::from(claims.as_object().cloned().unwrap()),
            issuer,
            1_000,
            skew,
        )
        .map(|_exp| ())
    }

    #[test]
    fn exp_in_past_fails_and_within_leeway_passes() {
        let i = issuer(None);
        assert_eq!(
            check(json!({"exp": 1000, "aud": "client-a"}), &i, 0),
            Err(ClaimsError::Expired)
        );
        assert_eq!(
            check(json!({"exp": 999, "aud": "client-a"}), &i, 0),
            Err(ClaimsError::Expired)
        );
        assert_eq!(check(json!({"exp": 999, "aud": "client-a"}), &i, 5), Ok(()));
        assert_eq!(
            check(json!({"exp": 1001, "aud": "client-a"}), &i, 0),
            Ok(())
        );
        assert_eq!(
            check(json!({"exp": 1001.5, "aud": "client-a"}), &i, 0),
            Ok(())
        );
    }

    #[test]
    fn exp_is_required_and_times_must_be_numbers() {
        let i = issuer(None);
        assert_eq!(
            check(json!({"aud": "client-a"}), &i, 0),
            Err(ClaimsError::MissingExp)
        );
        assert_eq!(
            check(json!({"exp": "2000", "aud": "client-a"}), &i, 0),
            Err(ClaimsError::TimeNotNumeric)
        );
        assert_eq!(
            check(json!({"exp": null, "aud": "client-a"}), &i, 0),
            Err(ClaimsError::TimeNotNumeric)
        );
        assert_eq!(
            check(json!({"exp": 2000, "nbf": "1", "aud": "client-a"}), &i, 0),
            Err(ClaimsError::TimeNotNumeric)
        );
        assert_eq!(
            check(json!({"exp": 2000, "iat": [1], "aud": "client-a"}), &i, 0),
            Err(ClaimsError::TimeNotNumeric)
        );
    }

    #[test]
    fn nbf_in_future_fails_beyond_leeway() {
        let i = issuer(None);
        assert_eq!(
            check(json!({"exp": 2000, "nbf": 1010, "aud": "client-a"}), &i, 0),
            Err(ClaimsError::NotYetValid)
        );
        assert_eq!(
            check(json!({"exp": 2000, "nbf": 1010, "aud": "client-a"}), &i, 10),
            Ok(())
        );
        assert_eq!(
            check(
                json!({"exp": 2000, "iat": 1000, "nbf": 1000, "aud": "client-a"}),
                &i,
                0
            ),
            Ok(())
        );
    }

    /// Defect 5: a token whose issuer's clock runs ahead was refused at the default skew.
    #[test]
    fn iat_in_future_is_accepted_whatever_the_skew() {
        let i = issuer(None);
        for iat in [1002, 1_000_000] {
            assert_eq!(
                check(json!({"exp": 2000, "iat": iat, "aud": "client-a"}), &i, 0),
                Ok(()),
                "iat {iat}"
            );
        }
    }

    #[test]
    fn aud_string_or_array_must_hold_a_configured_audience() {
        let i = issuer(None);
        assert_eq!(
            check(json!({"exp": 2000, "aud": ["x", "client-b"]}), &i, 0),
            Ok(())
        );
        assert_eq!(
            check(json!({"exp": 2000, "aud": ["x", "y"]}), &i, 0),
            Err(ClaimsError::Audience)
        );
        assert_eq!(
            check(json!({"exp": 2000, "aud": "client-c"}), &i, 0),
            Err(ClaimsError::Audience)
        );
        assert_eq!(
            check(json!({"exp": 2000, "aud": 5}), &i, 0),
            Err(ClaimsError::Audience)
        );
        for bad in [
            json!(["client-a", 5]),
            json!(["client-a", null]),
            json!([["client-a"]]),
        ] {
            assert_eq!(
                check(json!({"exp": 2000, "aud": bad.clone()}), &i, 0),
                Err(ClaimsError::Audience),
                "an aud array holding a non-string is invalid: {bad}"
            );
        }
        assert_eq!(
            check(json!({"exp": 2000}), &i, 0),
            Err(ClaimsError::Audience)
        );
    }

    #[test]
    fn cognito_access_tokens_check_client_id_and_token_use() {
        let i = issuer(Some(TokenUse::Access));
        assert_eq!(
            check(
                json!({"exp": 2000, "client_id": "client-a", "token_use": "access"}),
                &i,
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                json!({"exp": 2000, "client_id": "nope", "token_use": "access"}),
                &i,
                0
            ),
            Err(ClaimsError::Audience)
        );
        assert_eq!(
            check(
                json!({"exp": 2000, "aud": "client-a", "token_use": "access"}),
                &i,
                0
            ),
            Err(ClaimsError::Audience)
        );
        assert_eq!(
            check(
                json!({"exp": 2000, "client_id": "client-a", "token_use": "id"}),
                &i,
                0
            ),
            Err(ClaimsError::TokenUse)
        );
        assert_eq!(
            check(json!({"exp": 2000, "client_id": "client-a"}), &i, 0),
            Err(ClaimsError::TokenUse)
        );
    }

    #[test]
    fn cognito_id_tokens_check_aud_and_token_use() {
        let i = issuer(Some(TokenUse::Id));
        assert_eq!(
            check(
                json!({"exp": 2000, "aud": "client-a", "token_use": "id"}),
                &i,
                0
            ),
            Ok(())
        );
        assert_eq!(
            check(
                json!({"exp": 2000, "aud": "client-a", "token_use": "access"}),
                &i,
                0
            ),
            Err(ClaimsError::TokenUse)
        );
    }

    #[test]
    fn the_checks_run_in_order_and_name_themselves() {
        let names: Vec<&str> = ClaimCheck::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["exp", "nbf", "iat", "audience", "token_use"]);
        let i = issuer(Some(TokenUse::Access));
        let claims = json!({"exp": 2000, "client_id": "client-a", "token_use": "id", "aud": 5});
        let results: Vec<_> = ClaimCheck::ALL
            .iter()
            .map(|c| c.run(&Claims::from_json(claims.clone()), &i, 1_000, 0))
            .collect();
        assert_eq!(
            results,
            [
                Ok(()),
                Ok(()),
                Ok(()),
                Err(ClaimsError::Audience),
                Err(ClaimsError::TokenUse)
            ],
            "an aud of the wrong type fails even where client_id is the audience"
        );
    }
}
