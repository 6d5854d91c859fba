//! The only reader of the environment: parses and validates every variable of SPEC.md once,
//! at Lambda init. A bad value is a [`ConfigError`] whose one-line message names the
//! variable. Empty values count as unset (SAM passes empty strings for blank parameters).

use std::time::Duration;

use serde::Deserialize;

use crate::error::ConfigError;
use crate::jwk::Algorithm;
use crate::policy::Template;
use crate::token::TokenSource;

/// Largest accepted `CLOCK_SKEW_SECONDS`: skew is a leeway for clock drift, not a lifetime.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 300;
/// Shortest accepted HS256 secret, in bytes (RFC 7518 §3.2: at least the hash size).
pub const MIN_HS256_SECRET_BYTES: usize = 32;

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

/// What the refresher needs: the JWKS issuers and the table, not audiences or decisions.
#[derive(Debug, Clone)]
pub struct RefresherConfig {
    /// Every configured issuer (secret issuers have nothing to refresh).
    pub issuers: Vec<IssuerConfig>,
    /// Fetch bounds and the table; `table_name` is always `Some`.
    pub keys: KeySettings,
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
        })
    }
}

/// Whether an issuer must name its audiences (the authorizer) or not (the refresher).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    Required,
    Optional,
}

/// What a REST or WebSocket caller gets for an absent or invalid token (`DENY_MODE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyMode {
    /// Lambda error `Unauthorized`: HTTP 401 (default).
    Unauthorized,
    /// An explicit Deny policy: HTTP 403.
    Deny,
}

/// HTTP API (payload 2.0) answer format (`HTTP_API_RESPONSE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `{"isAuthorized": …, "context": …}` (default).
    Simple,
    /// An IAM policy.
    Iam,
}

/// How a verified token becomes an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionConfig {
    /// `POLICY_RESOURCES` (default `*`).
    pub templates: Vec<Template>,
    /// `PRINCIPAL_CLAIM` (default `sub`).
    pub principal_claim: String,
    /// `CONTEXT_CLAIMS` as `(context key, claim)` (default `sub`, `username`, where present).
    pub context_claims: Vec<(String, String)>,
    /// `TOKEN_SOURCES` for REQUEST kinds (default `header:Authorization,query:auth`).
    pub token_sources: Vec<TokenSource>,
    /// `DENY_MODE` (default `unauthorized`).
    pub deny_mode: DenyMode,
    /// `HTTP_API_RESPONSE` (default `simple`).
    pub http_api_response: HttpApiResponse,
}

/// Variables of the single-issuer form; none may be combined with `JWT_ISSUERS`.
const SINGLE_ISSUER_VARIABLES: [&str; 7] = [
    "COGNITO_USER_POOL_ID",
    "JWT_ISSUER",
    "JWKS_URL",
    "JWT_AUDIENCE",
    "JWT_TOKEN_USE",
    "JWT_ALGORITHMS",
    "JWT_HS256_SECRET",
];

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(&lookup);
        Ok(Self {
            issuers: issuers(&env, Audience::Required)?,
            clock_skew_seconds: env.number("CLOCK_SKEW_SECONDS", 0, 0..=MAX_CLOCK_SKEW_SECONDS)?,
            keys: key_settings(&env)?,
            decision: decision(&env)?,
            metrics: MetricsSettings {
                namespace: env
                    .get("METRICS_NAMESPACE")
                    .unwrap_or_else(|| "JwtAuthorizer".to_owned()),
                function_name: env
                    .get("AWS_LAMBDA_FUNCTION_NAME")
                    .unwrap_or_else(|| "authorizer".to_owned()),
            },
            token_cache: token_cache(&env)?,
        })
    }
}

fn issuers(env: &Env<'_>, audience: Audience) -> Result<Vec<IssuerConfig>, ConfigError> {
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
        None => Ok(vec![single_issuer(env, audience)?]),
    }
}

fn token_cache(env: &Env<'_>) -> Result<TokenCacheSettings, ConfigError> {
    let entries = env.number("TOKEN_CACHE_SIZE", 1024, 0..=65_536)?;
    let memory_mb = env.number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", 128, 128..=10_240)?;
    let to_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(TokenCacheSettings {
        entries: to_usize(entries),
        bytes: to_usize(memory_mb * 1024 * 1024) / TOKEN_CACHE_MEMORY_SHARE,
    })
}

fn key_settings(env: &Env<'_>) -> Result<KeySettings, ConfigError> {
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

/// The environment seen through a lookup function; empty values read as unset.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn number(
        &self,
        name: &str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::new(
                name,
                format!(
                    "expected a whole number from {} to {}, got {raw:?}",
                    range.start(),
                    range.end()
                ),
            )),
        }
    }

    fn choice<T: Copy>(
        &self,
        name: &str,
        default: T,
        options: &[(&str, T)],
    ) -> Result<T, ConfigError> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        options
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(&raw))
            .map(|(_, v)| *v)
            .ok_or_else(|| {
                let labels: Vec<&str> = options.iter().map(|(l, _)| *l).collect();
                ConfigError::new(
                    name,
                    format!("expected one of {}, got {raw:?}", labels.join(", ")),
                )
            })
    }
}

/// Splits a comma list, trimming entries and dropping empty ones.
fn comma_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
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

fn single_issuer(env: &Env<'_>, audience: Audience) -> Result<IssuerConfig, ConfigError> {
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
        let config = issuer(fields, &origin, audience)?;
        if issuers.iter().any(|other| other.issuer == config.issuer) {
            return Err(ConfigError::new(
                origin.var("", "issuer"),
                format!("{} is listed twice", config.issuer),
            ));
        }
        issuers.push(config);
    }
    Ok(issuers)
}

fn issuer(
    fields: IssuerFields,
    origin: &Origin,
    audience_rule: Audience,
) -> Result<IssuerConfig, ConfigError> {
    let pool_var = origin.var("COGNITO_USER_POOL_ID", "cognito_user_pool_id");
    let issuer_var = origin.var("JWT_ISSUER", "issuer");
    let jwks_var = origin.var("JWKS_URL", "jwks_url");
    let use_var = origin.var("JWT_TOKEN_USE", "token_use");
    let algs_var = origin.var("JWT_ALGORITHMS", "algorithms");
    let secret_var = origin.var("JWT_HS256_SECRET", "hs256_secret_env");

    let (issuer, cognito) = match (fields.cognito_user_pool_id, fields.issuer) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                &pool_var,
                format!("set either {pool_var} or {issuer_var}, not both"),
            ));
        }
        (Some(pool), None) => (
            cognito_issuer(&pool).map_err(|r| ConfigError::new(&pool_var, r))?,
            true,
        ),
        (None, Some(issuer)) => (issuer, false),
        (None, None) => {
            return Err(ConfigError::new(
                &issuer_var,
                format!("required (or {pool_var} for Cognito)"),
            ));
        }
    };

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
        Some(names) => {
            let mut algs = Vec::new();
            for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
                let alg = name.parse::<Algorithm>().map_err(|()| {
                    ConfigError::new(&algs_var, format!("unsupported algorithm {name:?}; supported: HS256, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA"))
                })?;
                if !algs.contains(&alg) {
                    algs.push(alg);
                }
            }
            if algs.is_empty() {
                return Err(ConfigError::new(&algs_var, "lists no algorithm"));
            }
            algs
        }
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
            KeySourceConfig::Secret(secret)
        }
        None => {
            if algorithms.contains(&Algorithm::HS256) {
                return Err(ConfigError::new(
                    &algs_var,
                    format!("HS256 needs a shared secret ({secret_var}); never for a JWKS issuer"),
                ));
            }
            let location = match fields.jwks_url {
                Some(url) => JwksLocation::Url(
                    checked_url(&url).map_err(|r| ConfigError::new(&jwks_var, r))?,
                ),
                None if cognito => JwksLocation::Url(format!("{issuer}/.well-known/jwks.json")),
                None => {
                    checked_url(&issuer).map_err(|r| {
                        ConfigError::new(
                            &issuer_var,
                            format!("{r} (needed for OIDC discovery; or set {jwks_var})"),
                        )
                    })?;
                    JwksLocation::Discover
                }
            };
            KeySourceConfig::Jwks(location)
        }
    };

    Ok(IssuerConfig {
        issuer,
        keys,
        audience,
        token_use,
        algorithms,
    })
}

/// `https://cognito-idp.{region}.amazonaws.com/{pool}` from a pool id like `us-east-1_AbC123`.
fn cognito_issuer(pool: &str) -> Result<String, String> {
    let invalid = || format!("expected a user pool id like us-east-1_AbC123, got {pool:?}");
    let (region, id) = pool.split_once('_').ok_or_else(invalid)?;
    let region_ok = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let id_ok = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric());
    if !region_ok || !id_ok {
        return Err(invalid());
    }
    Ok(format!("https://cognito-idp.{region}.amazonaws.com/{pool}"))
}

/// Accepts `https://…`, or `http://` only to a loopback host (local endpoints in tests/demos).
pub fn checked_url(url: &str) -> Result<String, String> {
    if let Some(rest) = url.strip_prefix("https://") {
        if !rest.is_empty() && !rest.starts_with('/') {
            return Ok(url.to_owned());
        }
    } else if let Some(rest) = url.strip_prefix("http://") {
        let host = rest.split(['/', '?']).next().unwrap_or_default();
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        if matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Ok(url.to_owned());
        }
        return Err(format!(
            "{url:?} must use https (plain http only to a loopback host)"
        ));
    }
    Err(format!("expected an https URL, got {url:?}"))
}

fn decision(env: &Env<'_>) -> Result<DecisionConfig, ConfigError> {
    let templates = match env.get("POLICY_RESOURCES") {
        Some(raw) => {
            let templates = comma_list(&raw)
                .iter()
                .map(|t| Template::parse(t).map_err(|r| ConfigError::new("POLICY_RESOURCES", r)))
                .collect::<Result<Vec<_>, _>>()?;
            if templates.is_empty() {
                return Err(ConfigError::new("POLICY_RESOURCES", "lists no template"));
            }
            templates
        }
        None => vec![Template::everything()],
    };
    let principal_claim = env
        .get("PRINCIPAL_CLAIM")
        .unwrap_or_else(|| "sub".to_owned());
    let context_claims = match env.get("CONTEXT_CLAIMS") {
        Some(raw) => context_claims(&raw)?,
        None => vec![
            ("sub".to_owned(), "sub".to_owned()),
            ("username".to_owned(), "username".to_owned()),
        ],
    };
    let token_sources = match env.get("TOKEN_SOURCES") {
        Some(raw) => {
            let sources = comma_list(&raw)
                .iter()
                .map(|s| TokenSource::parse(s).map_err(|r| ConfigError::new("TOKEN_SOURCES", r)))
                .collect::<Result<Vec<_>, _>>()?;
            if sources.is_empty() {
                return Err(ConfigError::new("TOKEN_SOURCES", "lists no source"));
            }
            sources
        }
        None => TokenSource::defaults(),
    };
    Ok(DecisionConfig {
        templates,
        principal_claim,
        context_claims,
        token_sources,
        deny_mode: env.choice(
            "DENY_MODE",
            DenyMode::Unauthorized,
            &[
                ("unauthorized", DenyMode::Unauthorized),
                ("deny", DenyMode::Deny),
            ],
        )?,
        http_api_response: env.choice(
            "HTTP_API_RESPONSE",
            HttpApiResponse::Simple,
            &[
                ("simple", HttpApiResponse::Simple),
                ("iam", HttpApiResponse::Iam),
            ],
        )?,
    })
}

fn context_claims(raw: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for entry in comma_list(raw) {
        let (name, claim) = match entry.split_once('=') {
            Some((name, claim)) => (name.trim(), claim.trim()),
            None => (entry.as_str(), entry.as_str()),
        };
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        };
        if !valid(name) || !valid(claim) {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                format!("expected name=claim or claim, got {entry:?}"),
            ));
        }
        if pairs.iter().any(|(n, _)| n == name) {
            return Err(ConfigError::new(
                "CONTEXT_CLAIMS",
                format!("context key {name:?} is listed twice"),
            ));
        }
        pairs.push((name.to_owned(), claim.to_owned()));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn error_variable(vars: &[(&str, &str)]) -> String {
        load(vars).expect_err("config should be rejected").variable
    }

    const COGNITO: [(&str, &str); 2] = [
        ("COGNITO_USER_POOL_ID", "eu-west-1_AbC123"),
        ("JWT_AUDIENCE", "client1"),
    ];

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
        assert_eq!(config.decision.templates, vec![Template::everything()]);
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
    fn choices_are_checked() {
        for var in ["DENY_MODE", "HTTP_API_RESPONSE"] {
            let vars = [COGNITO[0], COGNITO[1], (var, "maybe")];
            assert_eq!(error_variable(&vars), var);
        }
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("DENY_MODE", "Deny"),
            ("HTTP_API_RESPONSE", "iam"),
        ];
        let config = load(&vars).unwrap();
        assert_eq!(config.decision.deny_mode, DenyMode::Deny);
        assert_eq!(config.decision.http_api_response, HttpApiResponse::Iam);
    }

    #[test]
    fn context_claims_accept_renames_and_reject_junk() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("CONTEXT_CLAIMS", "userId=sub, scope ,groups=cognito:groups"),
        ];
        let pairs = load(&vars).unwrap().decision.context_claims;
        assert_eq!(pairs[0], ("userId".to_owned(), "sub".to_owned()));
        assert_eq!(pairs[1], ("scope".to_owned(), "scope".to_owned()));
        assert_eq!(pairs[2], ("groups".to_owned(), "cognito:groups".to_owned()));
        for bad in ["a=", "=b", "a b", "x=y,x=z"] {
            let vars = [COGNITO[0], COGNITO[1], ("CONTEXT_CLAIMS", bad)];
            assert_eq!(error_variable(&vars), "CONTEXT_CLAIMS", "{bad}");
        }
    }

    #[test]
    fn bad_templates_and_sources_name_their_variable() {
        let vars = [
            COGNITO[0],
            COGNITO[1],
            ("POLICY_RESOURCES", "GET/hello/{sub"),
        ];
        assert_eq!(error_variable(&vars), "POLICY_RESOURCES");
        let vars = [COGNITO[0], COGNITO[1], ("TOKEN_SOURCES", "cookie:x")];
        assert_eq!(error_variable(&vars), "TOKEN_SOURCES");
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
    fn error_line_starts_with_the_variable() {
        let err = load(&[("COGNITO_USER_POOL_ID", "us-east-1_X1")]).unwrap_err();
        assert!(err.to_string().starts_with("JWT_AUDIENCE: "), "{err}");
        assert!(!err.to_string().contains('\n'));
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
