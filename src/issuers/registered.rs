//! One `ISSUER#{iss}` item of the tenant registry (SPEC.md "Tenants"): read from and
//! written as DynamoDB attributes with strict types, and turned into the
//! [`IssuerConfig`] a configured issuer would have. Pure: no I/O. An item that does not
//! parse, has a wrong type, or names an issuer the patterns do not allow is refused
//! with a reason (logged by the caller), never half-used.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::pattern::{IssuerPattern, any_matches};
use crate::config::{IssuerConfig, JwksLocation, KeySourceConfig, TokenUse, checked_url};
use crate::config::{parse_algorithms, pool_region};
use crate::jwk::Algorithm;
use crate::keys::record::PK;
use crate::policy::claim_segment;

/// The partition key prefix of registry items.
pub const ISSUER_PREFIX: &str = "ISSUER#";

/// Attribute names of a registry item.
pub mod attr {
    /// `issuer` S: the exact `iss` (the partition key repeats it).
    pub const ISSUER: &str = "issuer";
    /// `audience` L of S.
    pub const AUDIENCE: &str = "audience";
    /// `status` S: `active` or `disabled`.
    pub const STATUS: &str = "status";
    /// `updated_at` N: epoch seconds of the last change.
    pub const UPDATED_AT: &str = "updated_at";
    /// `tenant` S (optional).
    pub const TENANT: &str = "tenant";
    /// `cognito_user_pool_id` S (optional).
    pub const COGNITO_USER_POOL_ID: &str = "cognito_user_pool_id";
    /// `token_use` S (optional, Cognito only).
    pub const TOKEN_USE: &str = "token_use";
    /// `jwks_url` S (optional).
    pub const JWKS_URL: &str = "jwks_url";
    /// `algorithms` L of S (optional).
    pub const ALGORITHMS: &str = "algorithms";
}

/// Whether a registered issuer's tokens are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Accepted.
    Active,
    /// Refused (`issuers disable`), the item kept so `issuers enable` brings it back.
    Disabled,
}

impl Status {
    /// The item's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }
}

/// A registry item, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The exact `iss` this item accepts.
    pub issuer: String,
    /// Accepted audiences (Cognito access tokens: app client ids).
    pub audience: Vec<String>,
    /// Active or disabled.
    pub status: Status,
    /// Epoch seconds of the last change.
    pub updated_at: u64,
    /// The tenant's name: the `tenant` context value and the `{tenant}` placeholder.
    pub tenant: Option<String>,
    /// Marks a Cognito issuer (`token_use` and `client_id` checks).
    pub cognito_user_pool_id: Option<String>,
    /// Cognito only: `access` (default) or `id`.
    pub token_use: Option<String>,
    /// Where the keys are; default: derived (Cognito) or discovered.
    pub jwks_url: Option<String>,
    /// The algorithm allow-list; default `RS256`.
    pub algorithms: Option<Vec<String>>,
}

/// One item's attributes, as the SDK holds them.
pub type Attributes = HashMap<String, AttributeValue>;

/// The partition key of `issuer`'s item.
pub fn partition_key(issuer: &str) -> String {
    format!("{ISSUER_PREFIX}{issuer}")
}

impl Registration {
    /// Reads an item. Every attribute must have its type; unknown attributes are ignored
    /// (an operator may tag items); the partition key must name the same issuer.
    pub fn from_item(item: &Attributes) -> Result<Self, String> {
        let string = |name: &str| -> Result<Option<String>, String> {
            match item.get(name) {
                None => Ok(None),
                Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
                Some(_) => Err(format!("{name} is not a string (S)")),
            }
        };
        let list = |name: &str| -> Result<Option<Vec<String>>, String> {
            match item.get(name) {
                None => Ok(None),
                Some(AttributeValue::L(items)) => items
                    .iter()
                    .map(|v| match v {
                        AttributeValue::S(s) => Ok(s.clone()),
                        _ => Err(format!("{name} holds a value that is not a string")),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                Some(_) => Err(format!("{name} is not a list (L) of strings")),
            }
        };
        let issuer = string(attr::ISSUER)?.ok_or("issuer is missing")?;
        if string(PK)?.as_deref() != Some(partition_key(&issuer).as_str()) {
            return Err("the partition key names another issuer".into());
        }
        let status = match string(attr::STATUS)?.as_deref() {
            Some("active") => Status::Active,
            Some("disabled") => Status::Disabled,
            Some(other) => return Err(format!("status {other:?} is neither active nor disabled")),
            None => return Err("status is missing".into()),
        };
        let updated_at = match item.get(attr::UPDATED_AT) {
            Some(AttributeValue::N(n)) => n
                .parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0)
                // Whole seconds; a fraction is dropped (`updated_at` is informational).
                .map(|n| n as u64)
                .ok_or("updated_at is not an epoch number")?,
            Some(_) => return Err("updated_at is not a number (N)".into()),
            None => return Err("updated_at is missing".into()),
        };
        Ok(Self {
            issuer,
            audience: list(attr::AUDIENCE)?.ok_or("audience is missing")?,
            status,
            updated_at,
            tenant: string(attr::TENANT)?,
            cognito_user_pool_id: string(attr::COGNITO_USER_POOL_ID)?,
            token_use: string(attr::TOKEN_USE)?,
            jwks_url: string(attr::JWKS_URL)?,
            algorithms: list(attr::ALGORITHMS)?,
        })
    }

    /// The item's attributes, partition key included.
    pub fn to_item(&self) -> Attributes {
        let s = |v: &str| AttributeValue::S(v.to_owned());
        let l = |v: &[String]| AttributeValue::L(v.iter().map(|x| s(x)).collect());
        let mut item = HashMap::from([
            (PK.to_owned(), s(&partition_key(&self.issuer))),
            (attr::ISSUER.to_owned(), s(&self.issuer)),
            (attr::AUDIENCE.to_owned(), l(&self.audience)),
            (attr::STATUS.to_owned(), s(self.status.as_str())),
            (
                attr::UPDATED_AT.to_owned(),
                AttributeValue::N(self.updated_at.to_string()),
            ),
        ]);
        let optional = [
            (attr::TENANT, &self.tenant),
            (attr::COGNITO_USER_POOL_ID, &self.cognito_user_pool_id),
            (attr::TOKEN_USE, &self.token_use),
            (attr::JWKS_URL, &self.jwks_url),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                item.insert(name.to_owned(), s(value));
            }
        }
        if let Some(algorithms) = &self.algorithms {
            item.insert(attr::ALGORITHMS.to_owned(), l(algorithms));
        }
        item
    }

    /// The issuer this item describes, checked as strictly as a configured one: within
    /// `patterns`, no `#` or white space, at least one audience, a tenant fit to fill a
    /// template segment, a Cognito pool that the `iss` names, an https JWKS URL, JWKS
    /// algorithms only (never HS256: a registered issuer's keys come from its JWKS).
    pub fn issuer_config(&self, patterns: &[IssuerPattern]) -> Result<IssuerConfig, String> {
        let issuer = &self.issuer;
        if issuer.contains('#') || issuer.contains(char::is_whitespace) {
            return Err("the issuer holds # or white space".into());
        }
        if !any_matches(patterns, issuer) {
            return Err("the issuer matches no TENANT_ISSUER_PATTERN".into());
        }
        let audience: Vec<String> = self
            .audience
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if audience.is_empty() {
            return Err("audience lists no audience".into());
        }
        if let Some(tenant) = &self.tenant {
            check_tenant(tenant)?;
        }
        let token_use = match (&self.cognito_user_pool_id, self.token_use.as_deref()) {
            (Some(_), None | Some("access")) => Some(TokenUse::Access),
            (Some(_), Some("id")) => Some(TokenUse::Id),
            (Some(_), Some(other)) => {
                return Err(format!("token_use {other:?} is neither access nor id"));
            }
            (None, None) => None,
            (None, Some(_)) => return Err("token_use needs cognito_user_pool_id".into()),
        };
        if let Some(pool) = &self.cognito_user_pool_id {
            pool_region(pool)?;
            let named = issuer
                .rsplit_once('/')
                .is_some_and(|(_, last)| last == pool);
            if !named {
                return Err(format!("the issuer does not end with the pool id {pool}"));
            }
        }
        let algorithms = match &self.algorithms {
            Some(names) => parse_algorithms(names)?,
            None => vec![Algorithm::RS256],
        };
        if algorithms.contains(&Algorithm::HS256) {
            return Err("HS256 is never accepted for a registered issuer".into());
        }
        let location = match (&self.jwks_url, &self.cognito_user_pool_id) {
            (Some(url), _) => JwksLocation::Url(checked_url(url)?),
            (None, Some(_)) => {
                JwksLocation::Url(checked_url(&format!("{issuer}/.well-known/jwks.json"))?)
            }
            (None, None) => {
                checked_url(issuer)?;
                JwksLocation::Discover
            }
        };
        Ok(IssuerConfig {
            issuer: issuer.clone(),
            keys: KeySourceConfig::Jwks(location),
            audience,
            token_use,
            algorithms,
            typ: None,
            cognito_user_pool_id: self.cognito_user_pool_id.clone(),
        })
    }
}

/// A tenant name fills template segments, so it is held to the same characters as a
/// claim that does (see [`claim_segment`]).
pub fn check_tenant(tenant: &str) -> Result<(), String> {
    claim_segment(&Value::String(tenant.to_owned()))
        .map(|_| ())
        .ok_or_else(|| {
            format!("tenant {tenant:?} is not 1 to 128 characters of [A-Za-z0-9._~@+=:-]")
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    const ISS: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Tenant1";

    fn patterns() -> Vec<IssuerPattern> {
        vec![
            IssuerPattern::parse("https://cognito-idp.*.amazonaws.com/*").unwrap(),
            IssuerPattern::parse("https://*.okta.com/oauth2/*").unwrap(),
        ]
    }

    fn cognito() -> Registration {
        Registration {
            issuer: ISS.into(),
            audience: vec!["client-1".into()],
            status: Status::Active,
            updated_at: 1_700_000_000,
            tenant: Some("acme".into()),
            cognito_user_pool_id: Some("eu-west-1_Tenant1".into()),
            token_use: None,
            jwks_url: None,
            algorithms: None,
        }
    }

    #[test]
    fn an_item_round_trips_through_its_attributes() {
        let mut full = cognito();
        full.token_use = Some("id".into());
        full.jwks_url = Some("https://keys.example.com/jwks".into());
        full.algorithms = Some(vec!["RS256".into(), "ES256".into()]);
        for registration in [cognito(), full] {
            let item = registration.to_item();
            assert_eq!(item[PK], AttributeValue::S(format!("ISSUER#{ISS}")));
            assert_eq!(Registration::from_item(&item).unwrap(), registration);
        }
    }

    #[test]
    fn a_cognito_item_derives_its_jwks_and_checks_token_use() {
        let config = cognito().issuer_config(&patterns()).unwrap();
        assert_eq!(config.issuer, ISS);
        assert_eq!(config.token_use, Some(TokenUse::Access));
        assert_eq!(
            config.keys,
            KeySourceConfig::Jwks(JwksLocation::Url(format!("{ISS}/.well-known/jwks.json")))
        );
        assert_eq!(config.algorithms, [Algorithm::RS256]);
    }

    #[test]
    fn an_okta_item_is_discovered_unless_it_names_its_jwks() {
        let mut okta = cognito();
        okta.issuer = "https://acme.okta.com/oauth2/default".into();
        okta.cognito_user_pool_id = None;
        let config = okta.issuer_config(&patterns()).unwrap();
        assert_eq!(config.keys, KeySourceConfig::Jwks(JwksLocation::Discover));
        assert_eq!(config.token_use, None);
        okta.jwks_url = Some("https://acme.okta.com/oauth2/default/v1/keys".into());
        let config = okta.issuer_config(&patterns()).unwrap();
        assert!(matches!(
            config.keys,
            KeySourceConfig::Jwks(JwksLocation::Url(_))
        ));
    }

    #[test]
    fn wrong_types_are_refused_with_the_attribute_named() {
        let item = cognito().to_item();
        for (name, bad) in [
            (attr::ISSUER, AttributeValue::N("1".into())),
            (attr::AUDIENCE, AttributeValue::S("client-1".into())),
            (
                attr::AUDIENCE,
                AttributeValue::L(vec![AttributeValue::N("1".into())]),
            ),
            (attr::STATUS, AttributeValue::S("enabled".into())),
            (attr::UPDATED_AT, AttributeValue::S("1700000000".into())),
            (attr::UPDATED_AT, AttributeValue::N("-5".into())),
            (attr::TENANT, AttributeValue::Bool(true)),
            (attr::ALGORITHMS, AttributeValue::Ss(vec!["RS256".into()])),
        ] {
            let mut broken = item.clone();
            broken.insert(name.into(), bad);
            let reason = Registration::from_item(&broken).unwrap_err();
            assert!(reason.contains(name), "{name}: {reason}");
        }
        for missing in [attr::ISSUER, attr::AUDIENCE, attr::STATUS, attr::UPDATED_AT] {
            let mut broken = item.clone();
            broken.remove(missing);
            assert!(Registration::from_item(&broken).is_err(), "{missing}");
        }
        let mut other_key = item;
        other_key.insert(PK.into(), AttributeValue::S("ISSUER#https://evil".into()));
        assert!(Registration::from_item(&other_key).is_err());
    }

    #[test]
    fn items_that_would_widen_trust_are_refused() {
        let refused = |change: &dyn Fn(&mut Registration)| {
            let mut r = cognito();
            change(&mut r);
            r.issuer_config(&patterns()).unwrap_err()
        };
        refused(&|r| r.issuer = "https://evil.example.com/eu-west-1_Tenant1".into());
        refused(&|r| r.issuer = format!("{ISS}/extra"));
        refused(&|r| r.issuer = format!("{ISS}#x"));
        refused(&|r| r.audience = vec![" ".into()]);
        refused(&|r| r.tenant = Some("a/b".into()));
        refused(&|r| r.tenant = Some("*".into()));
        refused(&|r| r.token_use = Some("refresh".into()));
        refused(&|r| r.cognito_user_pool_id = Some("eu-west-1_Other".into()));
        refused(&|r| r.algorithms = Some(vec!["HS256".into()]));
        refused(&|r| r.algorithms = Some(vec!["none".into()]));
        refused(&|r| r.algorithms = Some(vec![]));
        refused(&|r| r.jwks_url = Some("http://keys.example.com/jwks".into()));
        let mut okta = cognito();
        okta.issuer = "https://acme.okta.com/oauth2/default".into();
        okta.cognito_user_pool_id = None;
        okta.token_use = Some("access".into());
        assert!(okta.issuer_config(&patterns()).is_err());
    }
}
