//! `authorizer-admin issuers add|disable|enable|list`: the tenant registry's `ISSUER#`
//! items (SPEC.md "Tenants"). `add` checks the item as strictly as the authorizer will
//! read it (pattern, audiences, tenant, Cognito pool, algorithms), refuses an issuer that
//! is configured (the configuration would win), and fetches the issuer's JWKS (through
//! discovery when no URL is known) to check it holds a usable key before anything is
//! written. `--dry-run` prints the item and writes nothing.

use std::io::Write;

use super::AdminError;
use super::args::{IssuersArgs, RegisterArgs};
use super::format::{dynamodb_json, epoch};
use crate::config::{Config, JwksLocation, KeySourceConfig, TenantSettings};
use crate::issuers::{Registration, Status, TableRegistry};
use crate::keys::{JwksClient, KeyTable, fetch_keys};

/// The registry settings, which every `issuers` command needs.
fn settings(config: &Config) -> Result<&TenantSettings, AdminError> {
    config.tenants.as_ref().ok_or_else(|| {
        AdminError::Invalid(
            "the tenant registry is off: set TENANT_REGISTRY=on and TENANT_ISSUER_PATTERN as the authorizer has them".into(),
        )
    })
}

/// The item `add` writes at wall time `now`, checked as the authorizer will read it.
pub fn registration(
    args: &RegisterArgs,
    config: &Config,
    now: u64,
) -> Result<Registration, AdminError> {
    let settings = settings(config)?;
    if config.issuers.iter().any(|i| i.issuer == args.issuer) {
        return Err(AdminError::Invalid(format!(
            "{} is a configured issuer: the configuration always wins over a registry item",
            args.issuer
        )));
    }
    let registration = Registration {
        issuer: args.issuer.clone(),
        audience: args.audience.clone(),
        status: Status::Active,
        updated_at: now,
        tenant: args.tenant.clone(),
        cognito_user_pool_id: args.cognito_user_pool_id.clone(),
        token_use: args.token_use.clone(),
        jwks_url: args.jwks_url.clone(),
        algorithms: args.algorithms.clone(),
    };
    registration
        .issuer_config(&settings.patterns)
        .map_err(|reason| AdminError::Invalid(format!("{}: {reason}", args.issuer)))?;
    Ok(registration)
}

/// Runs `issuers …` against `table` at wall time `now`.
pub async fn run(
    args: &IssuersArgs,
    config: &Config,
    table: &KeyTable,
    now: u64,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let registry = TableRegistry::new(table);
    let failed = |error| AdminError::Table {
        table: table.name().to_owned(),
        error,
    };
    match args {
        IssuersArgs::Add { register, dry_run } => {
            let registration = registration(register, config, now)?;
            let kids = check_keys(&registration, config).await?;
            let item = describe_item(&registration);
            if *dry_run {
                return writeln!(out, "dry run, not written: {item}").map_err(AdminError::output);
            }
            registry.put(&registration).await.map_err(failed)?;
            writeln!(
                out,
                "registered {} (keys {}): {item}",
                registration.issuer,
                kids.join(", ")
            )
            .map_err(AdminError::output)
        }
        IssuersArgs::SetStatus { issuer, status } => {
            settings(config)?;
            if !registry
                .set_status(issuer, *status, now)
                .await
                .map_err(failed)?
            {
                return Err(AdminError::Invalid(format!(
                    "{issuer} is not registered (issuers list shows the registry)"
                )));
            }
            let cache = config.tenants.as_ref().map_or(0, |t| t.cache.as_secs());
            writeln!(
                out,
                "{issuer} is {}: every container follows within TENANT_CACHE_SECONDS ({cache} s)",
                status.as_str()
            )
            .map_err(AdminError::output)
        }
        IssuersArgs::List => {
            let settings = settings(config)?;
            let items = registry.list().await.map_err(failed)?;
            if items.is_empty() {
                return writeln!(out, "no registered issuers in {}", table.name())
                    .map_err(AdminError::output);
            }
            for (pk, item) in items {
                let line = match item {
                    Ok(registration) => {
                        let verdict = match registration.issuer_config(&settings.patterns) {
                            Ok(_) => registration.status.as_str().to_owned(),
                            Err(reason) => format!("IGNORED ({reason})"),
                        };
                        format!(
                            "{}  {verdict}  tenant {}  audience {}  updated {}",
                            registration.issuer,
                            registration.tenant.as_deref().unwrap_or("-"),
                            registration.audience.join(","),
                            epoch(registration.updated_at)
                        )
                    }
                    Err(reason) => format!("{pk}  IGNORED ({reason})"),
                };
                writeln!(out, "{line}").map_err(AdminError::output)?;
            }
            Ok(())
        }
    }
}

/// Fetches the registered issuer's JWKS (discovering its URL when none is known) and
/// returns its kids; fails when it cannot be fetched or holds no usable key.
async fn check_keys(
    registration: &Registration,
    config: &Config,
) -> Result<Vec<String>, AdminError> {
    let settings = settings(config)?;
    let issuer = registration
        .issuer_config(&settings.patterns)
        .map_err(AdminError::Invalid)?;
    let client = JwksClient::new(config.keys.jwks_timeout).map_err(|error| AdminError::Table {
        table: "JWKS client".into(),
        error,
    })?;
    let unreachable = |what: &str, error: crate::error::UpstreamError| {
        AdminError::Invalid(format!(
            "{}: {what} failed ({error}); nothing written",
            registration.issuer
        ))
    };
    let url = match &issuer.keys {
        KeySourceConfig::Jwks(JwksLocation::Url(url)) => url.clone(),
        KeySourceConfig::Jwks(JwksLocation::Discover) => client
            .discover(&issuer.issuer)
            .await
            .map_err(|e| unreachable("OIDC discovery", e))?,
        KeySourceConfig::Secret(_) => {
            return Err(AdminError::Invalid("a registered issuer has a JWKS".into()));
        }
    };
    let (keys, _) = fetch_keys(&client, &url, &issuer.algorithms)
        .await
        .map_err(|e| unreachable(&format!("the JWKS at {url}"), e))?;
    Ok(keys.kids().into_iter().map(str::to_owned).collect())
}

/// The item as DynamoDB JSON, for the output.
fn describe_item(registration: &Registration) -> String {
    dynamodb_json(registration.to_item()).to_string()
}
