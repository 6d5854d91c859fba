//! The issuers: the single-issuer variables or `JWT_ISSUERS`, each becoming one
//! [`IssuerConfig`] per accepted `iss` (exact `iss`, where its keys come from, audiences,
//! Cognito `token_use`, the algorithm allow-list, the required `typ`). A Cognito pool
//! accepts one `iss` per issuer format and Region (`COGNITO_ISSUER_FORMAT`,
//! `COGNITO_REPLICA_REGIONS`), each with its keys at `{iss}/.well-known/jwks.json`.

use serde::Deserialize;

use super::env::{Env, comma_list};
use crate::error::ConfigError;
use crate::jwk::Algorithm;

/// Shortest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

/// One accepted issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss` value.
    pub issuer: String,
    /// Where this issuer's keys come from.
    pub keys: KeySourceConfig,
    /// Accepted audiences: matched against `aud`, or `client_id` for Cognito access tokens.
    pub audience: Vec<String>,
    /// `Some` for Cognito issuers: the required `token_use`.
    pub token_use: Option<TokenUse>,
    /// The algorithm allow-list (`JWT_ALGORITHMS`, default `RS256`, or `HS256` with a secret).
    pub algorithms: Vec<Algorithm>,
    /// The required header `typ` (`JWT_TYP`, e.g. `at+jwt` for RFC 9068 access tokens),
    /// lower case without the `application/` prefix; `None`: not checked (default).
    pub typ: Option<String>,
    /// The Cognito user pool this issuer is one `iss` of; `None` for other issuers.
    pub cognito_user_pool_id: Option<String>,
}

/// Which `iss` a Cognito pool's tokens carry (`COGNITO_ISSUER_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CognitoIssuerFormat {
    /// `https://cognito-idp.{region}.amazonaws.com/{pool}`, a replica under its own Region
    /// (default).
    Original,
    /// `https://issuer-cognito-idp.{primary region}.amazonaws.com/{pool}`.
    Updated,
    /// Both, while a pool moves from one to the other.
    Both,
}

/// Where an issuer's verification keys come from.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySourceConfig {
    /// A JWKS endpoint, known or found by OIDC discovery.
    Jwks(JwksLocation),
    /// An HS256 shared secret.
    Secret(Vec<u8>),
}

impl std::fmt::Debug for KeySourceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks(location) => f.debug_tuple("Jwks").field(location).finish(),
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
        }
    }
}

/// The JWKS URL, or discovery from `{issuer}/.well-known/openid-configuration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// A configured or derived URL.
    Url(String),
    /// Found once per container through OIDC discovery.
    Discover,
}

/// Cognito `token_use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// Access tokens: the audience is checked against `client_id`.
    Access,
    /// ID tokens: the audience is checked against `aud`.
    Id,
}

impl TokenUse {
    /// The claim value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Access => "access",
            Self::Id => "id",
        }
    }
}

/// Whether an issuer must name its audiences (the authorizer) or not (the refresher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    Required,
    Optional,
}

/// Variables of the single-issuer form; none may be combined with `JWT_ISSUERS`.
const SINGLE_ISSUER_VARIABLES: [&str; 10] = [
    "COGNITO_USER_POOL_ID",
    "COGNITO_ISSUER_FORMAT",
    "COGNITO_REPLICA_REGIONS",
    "JWT_ISSUER",
    "JWKS_URL",
    "JWT_AUDIENCE",
    "JWT_TOKEN_USE",
    "JWT_ALGORITHMS",
    "JWT_HS256_SECRET",
    "JWT_TYP",
];

pub(crate) fn issuers(env: &Env<'_>, audience: Audience) -> Result<Vec<IssuerConfig>, ConfigError> {
    match env.get("JWT_ISSUERS") {
        Some(json) => {
            if let Some(other) = SINGLE_ISSUER_VARIABLES
                .iter()
                .find(|v| env.get(v).is_some())
            {
                return Err(ConfigError::new(
                    "JWT_ISSUERS",
                    format!("cannot be combined with {other}; put every issuer in JWT_ISSUERS"),
                ));
            }
            multi_issuers(&json, env, audience)
        }
        None => single_issuer(env, audience),
    }
}

/// The raw fields of one issuer, from the single-issuer variables or one `JWT_ISSUERS` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerFields {
    issuer: Option<String>,
    cognito_user_pool_id: Option<String>,
    jwks_url: Option<String>,
    #[serde(default)]
    audience: Vec<String>,
    token_use: Option<String>,
    algorithms: Option<Vec<String>>,
    hs256_secret_env: Option<String>,
    typ: Option<String>,
    cognito_issuer_format: Option<String>,
    cognito_replica_regions: Option<Vec<String>>,
    #[serde(skip)]
    hs256_secret: Option<String>,
}

/// Names the variable (or `JWT_ISSUERS` entry field) a problem is reported against.
enum Origin {
    Single,
    Entry(usize),
}

impl Origin {
    fn var(&self, single: &str, field: &str) -> String {
        match self {
            Self::Single => single.to_owned(),
            Self::Entry(i) => format!("JWT_ISSUERS[{i}].{field}"),
        }
    }
}

fn single_issuer(env: &Env<'_>, audience: Audience) -> Result<Vec<IssuerConfig>, ConfigError> {
    let fields = IssuerFields {
        issuer: env.get("JWT_ISSUER"),
        cognito_user_pool_id: env.get("COGNITO_USER_POOL_ID"),
        jwks_url: env.get("JWKS_URL"),
        audience: env
            .get("JWT_AUDIENCE")
            .map(|a| comma_list(&a))
            .unwrap_or_default(),
        token_use: env.get("JWT_TOKEN_USE"),
        algorithms: env.get("JWT_ALGORITHMS").map(|a| comma_list(&a)),
        hs256_secret_env: None,
        typ: env.get("JWT_TYP"),
        cognito_issuer_format: env.get("COGNITO_ISSUER_FORMAT"),
        cognito_replica_regions: env.get("COGNITO_REPLICA_REGIONS").map(|r| comma_list(&r)),
        hs256_secret: env.get("JWT_HS256_SECRET"),
    };
    issuer(fields, &Origin::Single, audience)
}

fn multi_issuers(
    json: &str,
    env: &Env<'_>,
    audience: Audience,
) -> Result<Vec<IssuerConfig>, ConfigError> {
    let entries: Vec<IssuerFields> = serde_json::from_str(json).map_err(|e| {
        ConfigError::new(
            "JWT_ISSUERS",
            format!("expected a JSON array of issuer objects: {e}"),
        )
    })?;
    if entries.is_empty() {
        return Err(ConfigError::new("JWT_ISSUERS", "holds no issuer"));
    }
    let mut issuers: Vec<IssuerConfig> = Vec::with_capacity(entries.len());
    for (i, mut fields) in entries.into_iter().enumerate() {
        let origin = Origin::Entry(i);
        if let Some(var) = fields.hs256_secret_env.clone() {
            let secret = env.get(&var).ok_or_else(|| {
                ConfigError::new(
                    origin.var("", "hs256_secret_env"),
                    format!("variable {var} is unset or empty"),
                )
            })?;
            fields.hs256_secret = Some(secret);
        }
        for config in issuer(fields, &origin, audience)? {
            if issuers.iter().any(|other| other.issuer == config.issuer) {
                return Err(ConfigError::new(
                    origin.var("", "issuer"),
                    format!("{} is listed twice", config.issuer),
                ));
            }
            issuers.push(config);
        }
    }
    Ok(issuers)
}

/// The issuers of one entry: one, or (a Cognito pool) one per accepted `iss`.
fn issuer(
    fields: IssuerFields,
    origin: &Origin,
    audience_rule: Audience,
) -> Result<Vec<IssuerConfig>, ConfigError> {
    let pool_var = origin.var("COGNITO_USER_POOL_ID", "cognito_user_pool_id");
    let issuer_var = origin.var("JWT_ISSUER", "issuer");
    let jwks_var = origin.var("JWKS_URL", "jwks_url");
    let use_var = origin.var("JWT_TOKEN_USE", "token_use");
    let algs_var = origin.var("JWT_ALGORITHMS", "algorithms");
    let secret_var = origin.var("JWT_HS256_SECRET", "hs256_secret_env");
    let typ_var = origin.var("JWT_TYP", "typ");
    let typ = fields
        .typ
        .as_deref()
        .map(|raw| required_typ(raw).map_err(|r| ConfigError::new(&typ_var, r)))
        .transpose()?;

    let format_var = origin.var("COGNITO_ISSUER_FORMAT", "cognito_issuer_format");
    let regions_var = origin.var("COGNITO_REPLICA_REGIONS", "cognito_replica_regions");
    let pool_id = fields.cognito_user_pool_id.clone();
    if pool_id.is_none() {
        for (var, set) in [
            (&format_var, fields.cognito_issuer_format.is_some()),
            (&regions_var, fields.cognito_replica_regions.is_some()),
        ] {
            if set {
                return Err(ConfigError::new(
                    var,
                    format!("only applies to Cognito issuers ({pool_var})"),
                ));
            }
        }
    }
    let (issuers, cognito) = match (fields.cognito_user_pool_id, fields.issuer) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                &pool_var,
                format!("set either {pool_var} or {issuer_var}, not both"),
            ));
        }
        (Some(pool), None) => {
            let format = match fields.cognito_issuer_format.as_deref().map(str::trim) {
                None | Some("original") => CognitoIssuerFormat::Original,
                Some("updated") => CognitoIssuerFormat::Updated,
                Some("both") => CognitoIssuerFormat::Both,
                Some(other) => {
                    return Err(ConfigError::new(
                        &format_var,
                        format!("expected original, updated or both, got {other:?}"),
                    ));
                }
            };
            let listed = fields.cognito_replica_regions.unwrap_or_default();
            let primary = pool_region(&pool).map_err(|r| ConfigError::new(&pool_var, r))?;
            let replicas =
                replica_regions(primary, &listed).map_err(|r| ConfigError::new(&regions_var, r))?;
            let issuers = cognito_issuers(&pool, format, &replicas)
                .map_err(|r| ConfigError::new(&pool_var, r))?;
            (issuers, true)
        }
        (None, Some(issuer)) => (vec![issuer], false),
        (None, None) => {
            return Err(ConfigError::new(
                &issuer_var,
                format!("required (or {pool_var} for Cognito)"),
            ));
        }
    };

    if let Some(issuer) = issuers
        .iter()
        .find(|i| i.contains('#') || i.contains(char::is_whitespace))
    {
        return Err(ConfigError::new(
            &issuer_var,
            format!(
                "{issuer:?} holds # or white space: an issuer is part of the keys table's item keys"
            ),
        ));
    }

    let audience: Vec<String> = fields
        .audience
        .into_iter()
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect();
    if audience.is_empty() && audience_rule == Audience::Required {
        let var = origin.var("JWT_AUDIENCE", "audience");
        return Err(ConfigError::new(
            var,
            "required: the accepted audiences (Cognito: app client ids)",
        ));
    }

    let token_use = match (cognito, fields.token_use.as_deref()) {
        (true, None) => Some(TokenUse::Access),
        (true, Some(raw)) => Some(match raw.trim() {
            "access" => TokenUse::Access,
            "id" => TokenUse::Id,
            other => {
                return Err(ConfigError::new(
                    &use_var,
                    format!("expected access or id, got {other:?}"),
                ));
            }
        }),
        (false, None) => None,
        (false, Some(_)) => {
            return Err(ConfigError::new(
                &use_var,
                format!("only applies to Cognito issuers ({pool_var})"),
            ));
        }
    };

    let secret = fields.hs256_secret.map(String::into_bytes);
    let algorithms = match fields.algorithms {
        Some(names) => parse_algorithms(&names).map_err(|r| ConfigError::new(&algs_var, r))?,
        None if secret.is_some() => vec![Algorithm::HS256],
        None => vec![Algorithm::RS256],
    };

    let keys = match secret {
        Some(secret) => {
            if secret.len() < MIN_HS256_SECRET_BYTES {
                return Err(ConfigError::new(
                    &secret_var,
                    format!("must be at least {MIN_HS256_SECRET_BYTES} bytes"),
                ));
            }
            if cognito || fields.jwks_url.is_some() {
                return Err(ConfigError::new(
                    &secret_var,
                    "an HS256 issuer has no JWKS: drop JWKS_URL / the Cognito pool",
                ));
            }
            if algorithms != [Algorithm::HS256] {
                return Err(ConfigError::new(
                    &algs_var,
                    "an HS256-secret issuer accepts only HS256",
                ));
            }
            Keys::Secret(secret)
        }
        None => {
            if algorithms.contains(&Algorithm::HS256) {
                return Err(ConfigError::new(
                    &algs_var,
                    format!("HS256 needs a shared secret ({secret_var}); never for a JWKS issuer"),
                ));
            }
            let configured = fields
                .jwks_url
                .map(|url| checked_url(&url).map_err(|r| ConfigError::new(&jwks_var, r)))
                .transpose()?;
            if configured.is_none() && !cognito {
                if let Some(issuer) = issuers.first() {
                    checked_url(issuer).map_err(|r| {
                        ConfigError::new(
                            &issuer_var,
                            format!("{r} (needed for OIDC discovery; or set {jwks_var})"),
                        )
                    })?;
                }
            }
            Keys::Jwks(configured)
        }
    };

    Ok(issuers
        .into_iter()
        .map(|issuer| IssuerConfig {
            keys: match &keys {
                Keys::Secret(secret) => KeySourceConfig::Secret(secret.clone()),
                // `JWKS_URL` serves every `iss` of a pool: one set of keys.
                Keys::Jwks(Some(url)) => KeySourceConfig::Jwks(JwksLocation::Url(url.clone())),
                Keys::Jwks(None) if cognito => KeySourceConfig::Jwks(JwksLocation::Url(format!(
                    "{issuer}/.well-known/jwks.json"
                ))),
                Keys::Jwks(None) => KeySourceConfig::Jwks(JwksLocation::Discover),
            },
            issuer,
            audience: audience.clone(),
            token_use,
            algorithms: algorithms.clone(),
            typ: typ.clone(),
            cognito_user_pool_id: pool_id.clone(),
        })
        .collect())
}

/// An algorithm allow-list: names trimmed, blanks dropped, each once; at least one.
pub(crate) fn parse_algorithms(names: &[String]) -> Result<Vec<Algorithm>, String> {
    let mut algs = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let alg = name.parse::<Algorithm>().map_err(|()| {
            format!("unsupported algorithm {name:?}; supported: HS256, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA")
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    if algs.is_empty() {
        return Err("lists no algorithm".into());
    }
    Ok(algs)
}

/// An entry's key source before it is spread over the entry's issuers.
enum Keys {
    Secret(Vec<u8>),
    /// A configured URL, or (none) derived per Cognito issuer, or discovered.
    Jwks(Option<String>),
}

/// A `JWT_TYP` value as the check compares it: lower case, without an `application/`
/// prefix; a media type's subtype characters only (RFC 6838 §4.2).
fn required_typ(raw: &str) -> Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    let bare = lower.strip_prefix("application/").unwrap_or(&lower);
    let valid = !bare.is_empty()
        && bare.len() <= 127
        && bare
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$&^_.+-".contains(c));
    if valid {
        Ok(bare.to_owned())
    } else {
        Err(format!(
            "expected a media type such as at+jwt (optionally application/at+jwt), got {raw:?}"
        ))
    }
}

/// The `iss` values a Cognito pool's tokens may carry, from a pool id like
/// `us-east-1_AbC123` and its replicas' Regions (see [`replica_regions`]):
/// `https://cognito-idp.{region}.amazonaws.com/{pool}` for the pool's Region and each
/// replica's (`original`), `https://issuer-cognito-idp.{primary
/// region}.amazonaws.com/{pool}` (`updated`), or both.
fn cognito_issuers(
    pool: &str,
    format: CognitoIssuerFormat,
    replicas: &[&str],
) -> Result<Vec<String>, String> {
    let region = pool_region(pool)?;
    let original = |region: &str| format!("https://cognito-idp.{region}.amazonaws.com/{pool}");
    let updated = format!("https://issuer-cognito-idp.{region}.amazonaws.com/{pool}");
    let originals = std::iter::once(region)
        .chain(replicas.iter().copied())
        .map(original);
    Ok(match format {
        CognitoIssuerFormat::Original => originals.collect(),
        CognitoIssuerFormat::Updated => vec![updated],
        CognitoIssuerFormat::Both => std::iter::once(updated).chain(originals).collect(),
    })
}

/// The Region of a pool id like `us-east-1_AbC123`.
pub(crate) fn pool_region(pool: &str) -> Result<&str, String> {
    let invalid = || format!("expected a user pool id like us-east-1_AbC123, got {pool:?}");
    let (region, id) = pool.split_once('_').ok_or_else(invalid)?;
    let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    if is_region(region) && id_ok {
        Ok(region)
    } else {
        Err(invalid())
    }
}

/// `COGNITO_REPLICA_REGIONS` checked against the pool's own Region: Region names, none
/// twice, not the pool's.
fn replica_regions<'a>(primary: &str, replicas: &'a [String]) -> Result<Vec<&'a str>, String> {
    let mut seen: Vec<&str> = Vec::with_capacity(replicas.len());
    for replica in replicas.iter().map(|r| r.trim()) {
        if !is_region(replica) {
            return Err(format!("expected Regions like eu-west-1, got {replica:?}"));
        }
        if replica == primary || seen.contains(&replica) {
            return Err(format!(
                "{replica} is listed twice or is the pool's own Region"
            ));
        }
        seen.push(replica);
    }
    Ok(seen)
}

/// An AWS Region name such as `us-east-1` or `ap-southeast-3`.
fn is_region(region: &str) -> bool {
    region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !region.split('-').any(str::is_empty)
}

/// Accepts `https://…`, or `http://` only to a loopback host (`127.0.0.0/8`, `[::1]`,
/// `localhost`: local endpoints in tests and demos).
pub fn checked_url(url: &str) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("https://") {
        if !rest.is_empty() && !rest.starts_with('/') {
            return Ok(url.to_owned());
        }
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let loopback = matches!(host, "localhost" | "[::1]")
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback());
        if loopback {
            return Ok(url.to_owned());
        }
        return Err(format!(
            "{url:?} must use https (plain http only to a loopback host)"
        ));
    }
    Err(format!("expected an https URL, got {url:?}"))
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use crate::config::test_support::*;
    use crate::config::{DenyMode, HttpApiResponse};
    use crate::policy::Template;
    use crate::token::TokenSource;
    use std::time::Duration;

    #[test]
    fn cognito_pool_derives_issuer_jwks_and_defaults() {
        let config = load(&COGNITO).unwrap();
        let issuer = &config.issuers[0];
        assert_eq!(
            issuer.issuer,
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123"
        );
        assert_eq!(
            issuer.keys,
            KeySourceConfig::Jwks(JwksLocation::Url(
                "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/jwks.json".into()
            ))
        );
        assert_eq!(issuer.token_use, Some(TokenUse::Access));
        assert_eq!(issuer.algorithms, vec![Algorithm::RS256]);
        assert_eq!(config.clock_skew_seconds, 0);
        assert_eq!(config.keys.jwks_timeout, Duration::from_millis(1500));
        assert_eq!(config.keys.cooldown_seconds, 30);
        assert_eq!(config.keys.table_name, None);
        assert_eq!(config.keys.ttl_seconds, 1_296_000);
        assert_eq!(config.keys.memory_seconds, 900);
        assert_eq!(config.keys.max_stale_seconds, 604_800);
        assert_eq!(config.decision.deny_mode, DenyMode::Unauthorized);
        assert_eq!(config.decision.http_api_response, HttpApiResponse::Simple);
        assert_eq!(config.decision.principal_claim, "sub");
        assert_eq!(
            config.decision.rules.rules(),
            [crate::policy::Rule::always(vec![Template::everything()])]
        );
        assert_eq!(config.decision.token_sources, TokenSource::defaults());
    }

    #[test]
    fn generic_issuer_without_jwks_url_uses_discovery() {
        let config = load(&[
            ("JWT_ISSUER", "https://example.okta.com/oauth2/default"),
            ("JWT_AUDIENCE", "api://default"),
        ])
        .unwrap();
        assert_eq!(
            config.issuers[0].keys,
            KeySourceConfig::Jwks(JwksLocation::Discover)
        );
        assert_eq!(config.issuers[0].token_use, None);
    }

    #[test]
    fn both_pool_and_issuer_is_an_error() {
        let vars = [COGNITO[0], COGNITO[1], ("JWT_ISSUER", "https://x.example")];
        assert_eq!(error_variable(&vars), "COGNITO_USER_POOL_ID");
    }

    #[test]
    fn no_issuer_is_an_error_naming_jwt_issuer() {
        assert_eq!(error_variable(&[("JWT_AUDIENCE", "a")]), "JWT_ISSUER");
    }

    #[test]
    fn audience_is_required() {
        assert_eq!(
            error_variable(&[("COGNITO_USER_POOL_ID", "us-east-1_X1")]),
            "JWT_AUDIENCE"
        );
        assert_eq!(
            error_variable(&[
                ("COGNITO_USER_POOL_ID", "us-east-1_X1"),
                ("JWT_AUDIENCE", " , ")
            ]),
            "JWT_AUDIENCE"
        );
    }

    #[test]
    fn malformed_pool_id_is_an_error() {
        for pool in [
            "nounderscore",
            "us-east-1_",
            "US-EAST-1_abc",
            "us_abc",
            "us-east-1_a/b",
        ] {
            assert_eq!(
                error_variable(&[("COGNITO_USER_POOL_ID", pool), ("JWT_AUDIENCE", "a")]),
                "COGNITO_USER_POOL_ID",
                "{pool}"
            );
        }
    }

    #[test]
    fn token_use_only_for_cognito_and_only_access_or_id() {
        let vars = [
            ("JWT_ISSUER", "https://x.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_TOKEN_USE", "id"),
        ];
        assert_eq!(error_variable(&vars), "JWT_TOKEN_USE");
        let vars = [COGNITO[0], COGNITO[1], ("JWT_TOKEN_USE", "refresh")];
        assert_eq!(error_variable(&vars), "JWT_TOKEN_USE");
        let vars = [COGNITO[0], COGNITO[1], ("JWT_TOKEN_USE", "id")];
        assert_eq!(
            load(&vars).unwrap().issuers[0].token_use,
            Some(TokenUse::Id)
        );
    }

    #[test]
    fn algorithms_reject_none_unknown_and_hs256_for_jwks_issuers() {
        for algs in ["none", "RS256,foo", "rs256", "RS256,HS256", ","] {
            let vars = [COGNITO[0], COGNITO[1], ("JWT_ALGORITHMS", algs)];
            assert_eq!(error_variable(&vars), "JWT_ALGORITHMS", "{algs}");
        }
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("JWT_ALGORITHMS", "RS256, ES256,EdDSA,RS256"),
        ];
        assert_eq!(
            load(&vars).unwrap().issuers[0].algorithms,
            vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        );
    }

    #[test]
    fn hs256_secret_defaults_algorithms_and_must_be_long_enough() {
        let secret = "0123456789abcdef0123456789abcdef";
        let config = load(&[
            ("JWT_ISSUER", "login.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_HS256_SECRET", secret),
        ])
        .unwrap();
        assert_eq!(config.issuers[0].algorithms, vec![Algorithm::HS256]);
        assert_eq!(
            config.issuers[0].keys,
            KeySourceConfig::Secret(secret.as_bytes().to_vec())
        );
        let short = [
            ("JWT_ISSUER", "login.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_HS256_SECRET", "short"),
        ];
        assert_eq!(error_variable(&short), "JWT_HS256_SECRET");
        let mixed = [
            ("JWT_ISSUER", "login.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_HS256_SECRET", secret),
            ("JWT_ALGORITHMS", "HS256,RS256"),
        ];
        assert_eq!(error_variable(&mixed), "JWT_ALGORITHMS");
        let with_jwks = [
            ("JWT_ISSUER", "login.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_HS256_SECRET", secret),
            ("JWKS_URL", "https://x/j"),
        ];
        assert_eq!(error_variable(&with_jwks), "JWT_HS256_SECRET");
    }

    #[test]
    fn secret_is_not_printed_by_debug() {
        let secret = "0123456789abcdef0123456789abcdef";
        let config = load(&[
            ("JWT_ISSUER", "login.example"),
            ("JWT_AUDIENCE", "a"),
            ("JWT_HS256_SECRET", secret),
        ])
        .unwrap();
        assert!(!format!("{config:?}").contains(secret));
    }

    #[test]
    fn jwks_url_must_be_https_or_loopback_http() {
        for url in [
            "http://evil.example/jwks",
            "ftp://x",
            "https://",
            "jwks.json",
        ] {
            let vars = [COGNITO[0], COGNITO[1], ("JWKS_URL", url)];
            assert_eq!(error_variable(&vars), "JWKS_URL", "{url}");
        }
        for url in [
            "http://127.0.0.1:5000/p/.well-known/jwks.json",
            "http://localhost/j",
            "https://k.example/j",
        ] {
            let vars = [COGNITO[0], COGNITO[1], ("JWKS_URL", url)];
            assert_eq!(
                load(&vars).unwrap().issuers[0].keys,
                KeySourceConfig::Jwks(JwksLocation::Url(url.into()))
            );
        }
    }

    #[test]
    fn multi_issuer_form_reads_each_entry() {
        let json = r#"[
            {"cognito_user_pool_id":"us-east-1_Pool1","audience":["c1"],"token_use":"id"},
            {"issuer":"https://login.example","jwks_url":"https://login.example/keys","audience":["api"],"algorithms":["ES256"]},
            {"issuer":"internal","audience":["svc"],"hs256_secret_env":"MY_SECRET"}
        ]"#;
        let config = load(&[
            ("JWT_ISSUERS", json),
            ("MY_SECRET", "0123456789abcdef0123456789abcdef"),
        ])
        .unwrap();
        assert_eq!(config.issuers.len(), 3);
        assert_eq!(config.issuers[0].token_use, Some(TokenUse::Id));
        assert_eq!(config.issuers[1].algorithms, vec![Algorithm::ES256]);
        assert_eq!(config.issuers[2].algorithms, vec![Algorithm::HS256]);
    }

    #[test]
    fn multi_issuer_errors_name_the_entry() {
        let err = load(&[(
            "JWT_ISSUERS",
            r#"[{"issuer":"https://a.example","audience":[]}]"#,
        )])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_ISSUERS[0].audience");
        let err = load(&[(
            "JWT_ISSUERS",
            r#"[{"issuer":"i","audience":["a"],"hs256_secret_env":"NOPE"}]"#,
        )])
        .unwrap_err();
        assert_eq!(err.variable, "JWT_ISSUERS[0].hs256_secret_env");
        let dup = r#"[{"issuer":"https://a.example","audience":["a"]},{"issuer":"https://a.example","audience":["b"]}]"#;
        assert_eq!(
            load(&[("JWT_ISSUERS", dup)]).unwrap_err().variable,
            "JWT_ISSUERS[1].issuer"
        );
        assert_eq!(error_variable(&[("JWT_ISSUERS", "{}")]), "JWT_ISSUERS");
        assert_eq!(
            error_variable(&[(
                "JWT_ISSUERS",
                r#"[{"issuer":"x","audience":["a"],"typo":1}]"#
            )]),
            "JWT_ISSUERS"
        );
        let mixed = [
            (
                "JWT_ISSUERS",
                r#"[{"issuer":"https://a.example","audience":["a"]}]"#,
            ),
            ("JWT_AUDIENCE", "a"),
        ];
        assert_eq!(error_variable(&mixed), "JWT_ISSUERS");
    }

    #[test]
    fn a_repeated_field_in_an_issuer_entry_is_refused() {
        for json in [
            r#"[{"issuer":"https://a.example","audience":["a"],"audience":["b"]}]"#,
            r#"[{"issuer":"https://a.example","issuer":"https://b.example","audience":["a"]}]"#,
            r#"[{"issuer":"https://a.example","audience":["a"],"algorithms":["RS256"],"algorithms":["ES256"]}]"#,
        ] {
            let err = load(&[("JWT_ISSUERS", json)]).unwrap_err();
            assert_eq!(err.variable, "JWT_ISSUERS", "{json}");
            assert!(err.to_string().contains("duplicate field"), "{err}");
        }
    }

    fn accepted(vars: &[(&str, &str)]) -> Result<Vec<(String, String)>, String> {
        load(vars)
            .map(|config| {
                config
                    .issuers
                    .into_iter()
                    .map(|i| {
                        let KeySourceConfig::Jwks(JwksLocation::Url(url)) = i.keys else {
                            panic!("a Cognito issuer has a JWKS URL");
                        };
                        (i.issuer, url)
                    })
                    .collect()
            })
            .map_err(|e| e.variable)
    }

    const POOL: &str = "eu-west-1_AbC123";

    fn pool(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars = vec![("COGNITO_USER_POOL_ID", POOL), ("JWT_AUDIENCE", "c")];
        vars.extend_from_slice(extra);
        vars
    }

    #[test]
    fn cognito_formats_and_replica_regions_each_accept_their_own_iss_and_jwks() {
        let original = |region: &str| format!("https://cognito-idp.{region}.amazonaws.com/{POOL}");
        let updated = format!("https://issuer-cognito-idp.eu-west-1.amazonaws.com/{POOL}");
        let with_jwks = |iss: String| (format!("{iss}/.well-known/jwks.json"), iss);
        let expect = |list: Vec<String>| -> Result<Vec<(String, String)>, String> {
            Ok(list
                .into_iter()
                .map(with_jwks)
                .map(|(j, i)| (i, j))
                .collect())
        };
        assert_eq!(accepted(&pool(&[])), expect(vec![original("eu-west-1")]));
        assert_eq!(
            accepted(&pool(&[("COGNITO_ISSUER_FORMAT", "updated")])),
            expect(vec![updated.clone()])
        );
        assert_eq!(
            accepted(&pool(&[("COGNITO_ISSUER_FORMAT", "both")])),
            expect(vec![updated.clone(), original("eu-west-1")])
        );
        let replicas = ("COGNITO_REPLICA_REGIONS", "us-east-1, ap-southeast-2");
        assert_eq!(
            accepted(&pool(&[replicas])),
            expect(vec![
                original("eu-west-1"),
                original("us-east-1"),
                original("ap-southeast-2")
            ])
        );
        assert_eq!(
            accepted(&pool(&[replicas, ("COGNITO_ISSUER_FORMAT", "updated")])),
            expect(vec![updated.clone()]),
            "an updated-format replica issues under the primary's issuer"
        );
        assert_eq!(
            accepted(&pool(&[replicas, ("COGNITO_ISSUER_FORMAT", "both")])).map(|v| v.len()),
            Ok(4)
        );
        let config = load(&pool(&[("COGNITO_ISSUER_FORMAT", "both")])).unwrap();
        assert!(
            config
                .issuers
                .iter()
                .all(|i| i.token_use == Some(TokenUse::Access)
                    && i.cognito_user_pool_id.as_deref() == Some(POOL))
        );
    }

    #[test]
    fn jwks_url_serves_every_issuer_of_the_pool() {
        let vars = pool(&[
            ("COGNITO_ISSUER_FORMAT", "both"),
            ("JWKS_URL", "https://keys.example/jwks.json"),
        ]);
        let urls: Vec<String> = accepted(&vars)
            .unwrap()
            .into_iter()
            .map(|(_, u)| u)
            .collect();
        assert_eq!(urls, ["https://keys.example/jwks.json"; 2]);
    }

    #[test]
    fn cognito_format_and_replicas_are_checked() {
        for (var, value) in [
            ("COGNITO_ISSUER_FORMAT", "new"),
            ("COGNITO_REPLICA_REGIONS", "eu-west-1"),
            ("COGNITO_REPLICA_REGIONS", "us-east-1,us-east-1"),
            ("COGNITO_REPLICA_REGIONS", "US-EAST-1"),
            ("COGNITO_REPLICA_REGIONS", "us-east"),
        ] {
            assert_eq!(
                accepted(&pool(&[(var, value)])),
                Err(var.to_owned()),
                "{value}"
            );
        }
        for var in ["COGNITO_ISSUER_FORMAT", "COGNITO_REPLICA_REGIONS"] {
            let okta = [
                ("JWT_ISSUER", "https://a.example"),
                ("JWKS_URL", "https://a.example/k"),
                ("JWT_AUDIENCE", "a"),
                (var, "updated"),
            ];
            assert_eq!(error_variable(&okta), var, "only for Cognito");
        }
    }

    #[test]
    fn jwt_issuers_entries_take_the_cognito_fields() {
        let json = r#"[
            {"cognito_user_pool_id":"eu-west-1_AbC123","audience":["c"],
             "cognito_issuer_format":"both","cognito_replica_regions":["us-east-1"]},
            {"issuer":"https://login.example","jwks_url":"https://login.example/keys","audience":["api"]}
        ]"#;
        let config = load(&[("JWT_ISSUERS", json)]).unwrap();
        assert_eq!(config.issuers.len(), 4);
        let bad = r#"[{"cognito_user_pool_id":"eu-west-1_AbC123","audience":["c"],"cognito_replica_regions":["x"]}]"#;
        assert_eq!(
            error_variable(&[("JWT_ISSUERS", bad)]),
            "JWT_ISSUERS[0].cognito_replica_regions"
        );
        let twice = r#"[{"cognito_user_pool_id":"eu-west-1_AbC123","audience":["c"]},
                       {"issuer":"https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123","audience":["c"],"jwks_url":"https://k.example/k"}]"#;
        assert_eq!(
            error_variable(&[("JWT_ISSUERS", twice)]),
            "JWT_ISSUERS[1].issuer"
        );
    }

    #[test]
    fn jwt_typ_is_read_normalised_and_checked() {
        let single = |typ: &str| {
            load(&[COGNITO[0], COGNITO[1], ("JWT_TYP", typ)]).map(|c| c.issuers[0].typ.clone())
        };
        assert_eq!(single("at+jwt"), Ok(Some("at+jwt".into())));
        assert_eq!(single("Application/AT+JWT"), Ok(Some("at+jwt".into())));
        assert_eq!(
            load(&COGNITO).unwrap().issuers[0].typ,
            None,
            "not checked by default"
        );
        for bad in ["at jwt", "application/", "a/b", "at+jwt,jwt"] {
            assert_eq!(single(bad).unwrap_err().variable, "JWT_TYP", "{bad}");
        }
        let multi = load(&[(
            "JWT_ISSUERS",
            r#"[{"issuer":"https://a.example","jwks_url":"https://a.example/k","audience":["a"],"typ":"at+jwt"},
                {"issuer":"https://b.example","jwks_url":"https://b.example/k","audience":["a"]}]"#,
        )])
        .unwrap();
        assert_eq!(multi.issuers[0].typ.as_deref(), Some("at+jwt"));
        assert_eq!(multi.issuers[1].typ, None);
        let bad = r#"[{"issuer":"https://a.example","jwks_url":"https://a.example/k","audience":["a"],"typ":"a b"}]"#;
        assert_eq!(
            error_variable(&[("JWT_ISSUERS", bad)]),
            "JWT_ISSUERS[0].typ"
        );
        let mixed = [
            (
                "JWT_ISSUERS",
                r#"[{"issuer":"https://a.example","audience":["a"]}]"#,
            ),
            ("JWT_TYP", "at+jwt"),
        ];
        assert_eq!(error_variable(&mixed), "JWT_ISSUERS");
    }

    #[test]
    fn an_issuer_with_a_hash_or_white_space_is_refused() {
        for bad in [
            "https://a.example/#x",
            "https://a.example/a b",
            "https://a.example/\tb",
        ] {
            let single = [
                ("JWT_ISSUER", bad),
                ("JWKS_URL", "https://a.example/k"),
                ("JWT_AUDIENCE", "a"),
            ];
            assert_eq!(error_variable(&single), "JWT_ISSUER", "{bad:?}");
            let entry = serde_json::json!([{"issuer": bad, "jwks_url": "https://a.example/k", "audience": ["a"]}]);
            let multi = [("JWT_ISSUERS", entry.to_string())];
            let multi: Vec<(&str, &str)> = multi.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(error_variable(&multi), "JWT_ISSUERS[0].issuer", "{bad:?}");
        }
    }
}
