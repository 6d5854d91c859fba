//! The decision: event in, answer out. Translates the event, verifies the token, and maps
//! the outcome to API Gateway's answer in one exhaustive place; logs once per decision.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

use crate::binding::{DynamoReplay, ReplayStore};
use crate::claims::Claims;
use crate::clock::Clock;
use crate::config::{Config, DecisionConfig, DenyMode, DpopMode, HttpApiResponse, ReplayMode};
use crate::error::UpstreamError;
use crate::events::{self, AuthRequest, Kind, wildcard_match};
use crate::issuers::{Registry, RegistryStore, TableRegistry};
use crate::keys::{JwksClient, KeyTable, Tier, TierDeps};
use crate::metrics::Counters;
use crate::outcome::{Outcome, Reason};
use crate::policy::{self, Answer, Context, Effect};
use crate::revocation::{DynamoStore, RevocationStore, Revocations};
use crate::verify::{Verification, Verifier};

/// The tenant registry's items in the keys table, when there is one.
fn table_registry(table: Option<&KeyTable>) -> Option<Arc<dyn RegistryStore>> {
    table.map(|table| Arc::new(TableRegistry::new(table)) as Arc<dyn RegistryStore>)
}

/// The revocation items in the keys table, when there is one.
fn table_revocations(table: Option<&KeyTable>) -> Option<Arc<dyn RevocationStore>> {
    table.map(|table| Arc::new(DynamoStore::new(table)) as Arc<dyn RevocationStore>)
}

/// `principalId` of answers to callers without a valid token.
pub const ANONYMOUS: &str = "anonymous";

/// The Lambda error whose message API Gateway turns into HTTP 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unauthorized;

impl fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unauthorized")
    }
}

impl std::error::Error for Unauthorized {}

impl From<Unauthorized> for lambda_runtime::Diagnostic {
    fn from(_: Unauthorized) -> Self {
        Self {
            error_type: "Unauthorized".into(),
            error_message: "Unauthorized".into(),
        }
    }
}

/// A finished decision: the answer and what is logged about it.
#[derive(Debug)]
pub struct Decision {
    /// What API Gateway receives.
    pub answer: Result<Answer, Unauthorized>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// The event kind, when recognised.
    pub kind: Option<Kind>,
    /// The token's `kid`, when known.
    pub kid: Option<String>,
    /// The issuer the token claimed, once found (configured or registered).
    pub issuer: Option<Arc<str>>,
    /// The registered issuer's tenant.
    pub tenant: Option<Arc<str>>,
    /// API Gateway's request id, when the event has one.
    pub api_request_id: Option<String>,
    /// The tier that provided the key, when one was looked up.
    pub key_tier: Option<Tier>,
    /// Whether the token was a cache hit (verified before, still valid).
    pub cached: bool,
}

/// Everything a decision needs, built once at Lambda init.
pub struct Authorizer {
    verifier: Verifier,
    decision: DecisionConfig,
    counters: Arc<Counters>,
    metrics: crate::config::MetricsSettings,
    /// The context name of a registered issuer's tenant, shared by every answer.
    tenant_key: Arc<str>,
}

impl Authorizer {
    /// Builds the verifier and its key stores over `table` (the DynamoDB tier, when
    /// `KEYS_TABLE_NAME` is set; with `REVOCATION=on`, also where revocation items are
    /// read, so it is required then); call [`Authorizer::warm_up`] before serving.
    pub fn new(
        config: &Config,
        clock: Arc<dyn Clock>,
        table: Option<KeyTable>,
    ) -> Result<Self, UpstreamError> {
        let revocations = table_revocations(table.as_ref());
        let registry = table_registry(table.as_ref());
        Self::build(config, clock, table, revocations, registry)
    }

    /// As [`Authorizer::new`], with tenant registry items read from `store` instead of
    /// the table (an in-memory fake in tests); the same as `new` when `TENANT_REGISTRY`
    /// is off. Revocation, if on, is read from the table.
    pub fn with_registry_store(
        config: &Config,
        clock: Arc<dyn Clock>,
        table: Option<KeyTable>,
        store: Arc<dyn RegistryStore>,
    ) -> Result<Self, UpstreamError> {
        let revocations = table_revocations(table.as_ref());
        Self::build(config, clock, table, revocations, Some(store))
    }

    /// As [`Authorizer::new`], with revocation items read from `store` instead of the
    /// table (an in-memory fake in tests and benchmarks); the same as `new` when
    /// `REVOCATION` is off.
    pub fn with_revocation_store(
        config: &Config,
        clock: Arc<dyn Clock>,
        table: Option<KeyTable>,
        store: Arc<dyn RevocationStore>,
    ) -> Result<Self, UpstreamError> {
        let registry = table_registry(table.as_ref());
        Self::build(config, clock, table, Some(store), registry)
    }

    fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        table: Option<KeyTable>,
        store: Option<Arc<dyn RevocationStore>>,
        registry_store: Option<Arc<dyn RegistryStore>>,
    ) -> Result<Self, UpstreamError> {
        let counters = Arc::new(Counters::default());
        let revocations = match (config.revocation, store) {
            (None, _) => None,
            (Some(settings), Some(store)) => Some(Revocations::new(
                settings,
                store,
                Arc::clone(&counters),
                config.clock_skew_seconds,
            )),
            (Some(_), None) => {
                return Err(UpstreamError::Transport(
                    "REVOCATION=on needs the keys table client".into(),
                ));
            }
        };
        // With `DPOP=off` no proof is ever accepted, so none is remembered.
        let replay: Option<Arc<dyn ReplayStore>> = match (config.dpop.replay, &table) {
            _ if config.dpop.mode == DpopMode::Off => None,
            (ReplayMode::Memory, _) => None,
            (ReplayMode::Table, Some(table)) => Some(Arc::new(DynamoReplay::new(table))),
            (ReplayMode::Table, None) => {
                return Err(UpstreamError::Transport(
                    "DPOP_REPLAY=table needs the keys table client".into(),
                ));
            }
        };
        let deps = TierDeps {
            client: Arc::new(JwksClient::new(config.keys.jwks_timeout)?),
            table: table.map(Arc::new),
            settings: config.keys.clone(),
            counters: Arc::clone(&counters),
            clock: Arc::clone(&clock),
        };
        let registry = match (config.tenants.clone(), registry_store) {
            (None, _) => None,
            (Some(settings), Some(store)) => Some(Registry::new(settings, store, deps.clone())),
            (Some(_), None) => {
                return Err(UpstreamError::Transport(
                    "TENANT_REGISTRY=on needs the keys table client".into(),
                ));
            }
        };
        Ok(Self {
            verifier: Verifier::new(config, &deps, clock, registry)
                .with_revocations(revocations)
                .with_replay_table(replay),
            decision: config.decision.clone(),
            counters,
            metrics: config.metrics.clone(),
            tenant_key: Arc::from("tenant"),
        })
    }

    /// Remembers DPoP proof `jti`s in `store` instead of the configured replay table (a
    /// fake or a failing store in tests and benchmarks; `None`: memory only).
    pub fn with_replay_store(mut self, store: Option<Arc<dyn ReplayStore>>) -> Self {
        self.verifier = self.verifier.with_replay_table(store);
        self
    }

    /// The operational counters (for tests and benchmarks).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Loads every issuer's keys (during Lambda init).
    pub async fn warm_up(&self) {
        self.verifier.warm_up().await;
    }

    /// How verified tokens become answers (rules, principal, context, token sources).
    pub fn decision_config(&self) -> &DecisionConfig {
        &self.decision
    }

    /// The verifier (key stores, for inspection and benchmarks).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Decides on one event and logs the decision once. Never panics.
    pub async fn handle(
        &self,
        event: &str,
        lambda_request_id: &str,
    ) -> Result<Answer, Unauthorized> {
        let decision = self.decide(event).await;
        tracing::info!(
            outcome = decision.outcome.as_str(),
            reason = decision.reason.as_str(),
            detail = decision.reason.detail(),
            kind = decision.kind.map(Kind::as_str),
            kid = decision.kid.as_deref(),
            iss = decision.issuer.as_deref(),
            tenant = decision.tenant.as_deref(),
            request_id = lambda_request_id,
            api_request_id = decision.api_request_id.as_deref(),
            key_tier = decision.key_tier.map(Tier::as_str),
            cached = decision.cached,
            "decision"
        );
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let emf = self.counters.take_emf(
            &self.metrics.namespace,
            &self.metrics.function_name,
            decision.outcome,
            decision.key_tier,
            now_ms,
        );
        // A metrics line must never fail a decision: a write error is ignored, not a panic.
        let _ = writeln!(std::io::stdout().lock(), "{emf}");
        decision.answer
    }

    /// Decides on one event (its raw JSON) without logging.
    pub async fn decide(&self, event: &str) -> Decision {
        let request = match events::parse(event, &self.decision.token_sources) {
            Ok(request) => request,
            Err(error) => {
                return Decision {
                    answer: Err(Unauthorized),
                    outcome: Outcome::Unauthorized,
                    reason: Reason::Event(error),
                    kind: None,
                    kid: None,
                    issuer: None,
                    tenant: None,
                    api_request_id: None,
                    key_tier: None,
                    cached: false,
                };
            }
        };
        let verification = match &request.token {
            Ok(token) => self.verifier.verify(token, &request).await,
            Err(error) => Verification::failed(error.clone()),
        };
        let (answer, reason) = match &verification.result {
            Ok(claims) => self.grant(&request, claims, verification.tenant.as_deref()),
            Err(error) => (self.reject(&request), Reason::Token(error.clone())),
        };
        let outcome = match &answer {
            Err(Unauthorized) => Outcome::Unauthorized,
            Ok(a) if a.allows() => Outcome::Allow,
            Ok(_) => Outcome::Deny,
        };
        Decision {
            answer,
            outcome,
            reason,
            kind: Some(request.kind),
            kid: verification.kid,
            issuer: verification.issuer,
            tenant: verification.tenant,
            api_request_id: request.request_id,
            key_tier: verification.tier,
            cached: verification.cached,
        }
    }

    /// The answer for a valid token: Allow on every filled template, else an explicit
    /// Deny. A registered issuer's `tenant` fills `{tenant}` and the context's `tenant`.
    fn grant(
        &self,
        request: &AuthRequest<'_>,
        claims: &Claims,
        tenant: Option<&str>,
    ) -> (Result<Answer, Unauthorized>, Reason) {
        let resources = self
            .decision
            .rules
            .grant(claims, tenant, request.api_prefix());
        let principal = policy::principal(claims, &self.decision.principal_claim);
        let (Some(principal), false) = (principal, resources.is_empty()) else {
            return (
                Ok(self.deny(request)),
                if resources.is_empty() {
                    Reason::NoGrant
                } else {
                    Reason::NoPrincipal
                },
            );
        };
        let mut context = policy::context(claims, &self.decision.context_claims);
        if let Some(tenant) = tenant {
            context.insert(Arc::clone(&self.tenant_key), tenant.into());
        }
        let answer = match (request.kind, self.decision.http_api_response) {
            (Kind::HttpApi, HttpApiResponse::Simple) => {
                if resources.iter().any(|r| wildcard_match(r, &request.arn)) {
                    Answer::simple(true, context)
                } else {
                    return (
                        Ok(Answer::simple(false, Context::default())),
                        Reason::RouteNotGranted,
                    );
                }
            }
            (Kind::HttpApi, HttpApiResponse::Iam) => {
                Answer::http_iam(principal, Effect::Allow, resources, context)
            }
            (Kind::RestToken | Kind::RestRequest | Kind::WebSocket, _) => {
                Answer::policy(principal, Effect::Allow, resources, context)
            }
        };
        (Ok(answer), Reason::Granted)
    }

    /// The answer for an absent or invalid token: `DENY_MODE` for REST and WebSocket;
    /// HTTP API never uses it.
    fn reject(&self, request: &AuthRequest<'_>) -> Result<Answer, Unauthorized> {
        match (request.kind, self.decision.deny_mode) {
            (Kind::HttpApi, _) | (_, DenyMode::Deny) => Ok(self.deny(request)),
            (_, DenyMode::Unauthorized) => Err(Unauthorized),
        }
    }

    /// An explicit Deny on the whole stage (the answer is cached per token).
    fn deny(&self, request: &AuthRequest<'_>) -> Answer {
        let stage = || vec![format!("{}*", request.api_prefix())];
        match (request.kind, self.decision.http_api_response) {
            (Kind::HttpApi, HttpApiResponse::Simple) => Answer::simple(false, Context::default()),
            (Kind::HttpApi, HttpApiResponse::Iam) => {
                Answer::http_iam(ANONYMOUS.into(), Effect::Deny, stage(), Context::default())
            }
            _ => Answer::policy(ANONYMOUS.into(), Effect::Deny, stage(), Context::default()),
        }
    }
}
