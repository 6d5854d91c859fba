//! Sender-constrained tokens (SPEC.md "Sender-constrained tokens: DPoP and mTLS"): one
//! step after the signature and claims, beside revocation, for verified and cached
//! tokens alike.
//!
//! - [`plan`] decides, from the token's `cnf`, the scheme, the event kind and `DPOP`,
//!   what must be proven (pure);
//! - [`certificate`] checks `cnf["x5t#S256"]` against the client certificate (RFC 8705);
//! - [`proof`] checks a DPoP proof (RFC 9449 §4.3), with [`htu`] and [`thumbprint`];
//! - [`replay`] remembers proof `jti`s: [`MemoryReplay`] in this container, and with
//!   `DPOP_REPLAY=table` the keys table ([`DynamoReplay`]), bounded in time;
//! - [`Binding`] carries a check out and logs and counts what the replay store did.

pub mod certificate;
mod dynamo;
pub mod htu;
pub mod proof;
pub mod replay;
pub mod thumbprint;

use std::sync::Arc;

use serde_json::Value;

pub use dynamo::{DynamoReplay, REPLAY_BUDGET, replay_key};
pub use htu::{Target, origin};
pub use proof::{MAX_PROOF_BYTES, ProofError, Proven};
pub use replay::{MEMORY_ENTRY_BYTES, MemoryReplay, ReplayStore};
pub use thumbprint::{sha256_b64url, thumbprint};

use crate::claims::Claims;
use crate::config::{DpopMode, DpopSettings, OnError};
use crate::error::TokenError;
use crate::events::{Kind, Possession};
use crate::metrics::{Counter, Counters};
use crate::token::Scheme;

/// The token's confirmation (`cnf`, RFC 7800) as far as this authorizer reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation<'a> {
    /// No `cnf` claim: a bearer token.
    None,
    /// `cnf` with `jkt` and/or `x5t#S256` (values as found; a value that is not a
    /// string matches nothing).
    Bound {
        /// `cnf.jkt`, the DPoP key's thumbprint.
        jkt: Option<&'a Value>,
        /// `cnf["x5t#S256"]`, the client certificate's thumbprint.
        x5t: Option<&'a Value>,
    },
    /// A `cnf` this authorizer cannot check (not an object, or a confirmation method
    /// other than `jkt` and `x5t#S256`): the issuer bound the token to something no
    /// check here proves, so it is refused.
    Unsupported,
}

impl<'a> Confirmation<'a> {
    /// Reads `cnf` from a token's claims.
    pub fn of(claims: &'a Claims) -> Self {
        let Some(cnf) = claims.get("cnf") else {
            return Self::None;
        };
        let Some(cnf) = cnf.as_object() else {
            return Self::Unsupported;
        };
        if cnf.is_empty() || cnf.keys().any(|k| k != "jkt" && k != "x5t#S256") {
            return Self::Unsupported;
        }
        Self::Bound {
            jkt: cnf.get("jkt"),
            x5t: cnf.get("x5t#S256"),
        }
    }
}

/// What a request must still prove after [`plan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan<'a> {
    /// The certificate thumbprint to match, for a certificate-bound token.
    pub certificate: Option<&'a Value>,
    /// The proof and the `cnf.jkt` it must match, for a DPoP-bound token.
    pub proof: Option<(&'a str, &'a Value)>,
}

/// What the token's confirmation, its scheme, the event kind and `DPOP` call for (pure):
/// a refusal, or what to check. See SPEC.md for the rules; in short, a DPoP-bound token
/// needs the `DPoP` scheme with exactly one proof on a kind that carries headers, and the
/// `DPoP` scheme needs a DPoP-bound token and `DPOP` not `off`.
pub fn plan<'a>(
    mode: DpopMode,
    kind: Kind,
    scheme: Option<Scheme>,
    confirmation: Confirmation<'a>,
    proofs: &'a [String],
) -> Result<Plan<'a>, TokenError> {
    let dpop_scheme = scheme == Some(Scheme::DPoP);
    if dpop_scheme && mode == DpopMode::Off {
        return Err(TokenError::BadProof(ProofError::DpopOff));
    }
    let (jkt, x5t) = match confirmation {
        Confirmation::None => (None, None),
        Confirmation::Bound { jkt, x5t } => (jkt, x5t),
        Confirmation::Unsupported => return Err(TokenError::ProofRequired),
    };
    let Some(jkt) = jkt else {
        if dpop_scheme {
            return Err(TokenError::BadProof(ProofError::Unbound));
        }
        if mode == DpopMode::Required {
            return Err(TokenError::ProofRequired);
        }
        return Ok(Plan {
            certificate: x5t,
            proof: None,
        });
    };
    if matches!(kind, Kind::RestToken | Kind::WebSocket) || !dpop_scheme {
        return Err(TokenError::ProofRequired);
    }
    let [proof] = proofs else {
        return Err(TokenError::BadProof(ProofError::HeaderCount));
    };
    Ok(Plan {
        certificate: x5t,
        proof: Some((proof.as_str(), jkt)),
    })
}

/// `cnf["x5t#S256"]` against the client certificate of the request (RFC 8705 §3):
/// missing certificate, unreadable PEM or another certificate is
/// [`TokenError::CertificateMismatch`].
pub fn check_certificate(x5t: &Value, pem: Option<&str>) -> Result<(), TokenError> {
    let actual = pem.and_then(certificate::x5t_s256);
    match (x5t.as_str(), actual) {
        (Some(expected), Some(actual)) if expected == actual => Ok(()),
        _ => Err(TokenError::CertificateMismatch),
    }
}

/// Sender-constrained token checks of one container: the settings, the replay memory,
/// and the replay table when `DPOP_REPLAY=table`.
pub struct Binding {
    settings: DpopSettings,
    skew: u64,
    memory: MemoryReplay,
    table: Option<Arc<dyn ReplayStore>>,
    counters: Arc<Counters>,
}

impl Binding {
    /// Checks by `settings`, with `table` remembering `jti`s across containers.
    pub fn new(
        settings: DpopSettings,
        skew: u64,
        table: Option<Arc<dyn ReplayStore>>,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            memory: MemoryReplay::new(settings.memory_entries),
            settings,
            skew,
            table,
            counters,
        }
    }

    /// Replaces the replay table (tests and benchmarks: a fake, a hanging store).
    pub fn set_table(&mut self, table: Option<Arc<dyn ReplayStore>>) {
        self.table = table;
    }

    /// The settings.
    pub fn settings(&self) -> &DpopSettings {
        &self.settings
    }

    /// Entries of the replay memory (for tests).
    pub fn remembered(&self) -> usize {
        self.memory.len()
    }

    /// Every check but replay (pure): `Ok(Some(_))` with the proof to remember, `Ok(None)`
    /// when nothing is to be proven, or why the token is refused.
    pub fn judge(
        &self,
        token: &str,
        claims: &Claims,
        kind: Kind,
        scheme: Option<Scheme>,
        possession: &Possession,
        now: u64,
    ) -> Result<Option<Proven>, TokenError> {
        let plan = plan(
            self.settings.mode,
            kind,
            scheme,
            Confirmation::of(claims),
            &possession.proofs,
        )?;
        if let Some(x5t) = plan.certificate {
            check_certificate(x5t, possession.client_cert_pem.as_deref())?;
        }
        let Some((proof, jkt)) = plan.proof else {
            return Ok(None);
        };
        let target = match (&possession.host, &possession.path) {
            (Some(host), Some(path)) => htu::request_target(host, path),
            _ => None,
        };
        // The configured origins are borrowed, not copied per request.
        let host_origin: Vec<String> = match (&target, self.settings.origins.is_empty()) {
            (Some(target), true) => vec![target.origin.clone()],
            _ => Vec::new(),
        };
        let origins: &[String] = if self.settings.origins.is_empty() {
            &host_origin
        } else {
            &self.settings.origins
        };
        proof::check(
            proof,
            &self.rules(),
            &proof::Expected {
                method: possession.method.as_deref(),
                origins,
                path: target.as_ref().map(|t| t.path.as_str()),
                token,
                jkt,
                now,
            },
        )
        .map(Some)
        .map_err(TokenError::BadProof)
    }

    fn rules(&self) -> proof::Rules<'_> {
        proof::Rules {
            algorithms: &self.settings.algorithms,
            max_age: self.settings.max_age,
            skew: self.skew,
        }
    }

    /// Every check, replay included: [`Binding::judge`], then the proof's `jti` in this
    /// container's memory, then (`DPOP_REPLAY=table`) one conditional write within
    /// [`REPLAY_BUDGET`]; a failed write is decided by `DPOP_REPLAY_ON_ERROR`.
    pub async fn check(
        &self,
        token: &str,
        claims: &Claims,
        kind: Kind,
        scheme: Option<Scheme>,
        possession: &Possession,
        now: u64,
    ) -> Result<(), TokenError> {
        let Some(proven) = self.judge(token, claims, kind, scheme, possession, now)? else {
            return Ok(());
        };
        let expires_at = now.saturating_add(proof::replay_window(&self.rules()));
        if !self
            .memory
            .insert(&proven.jkt, &proven.jti, now, expires_at)
        {
            return Err(TokenError::ProofReplayed);
        }
        let Some(table) = &self.table else {
            return Ok(());
        };
        self.counters.add(Counter::ReplayWrites);
        let written = tokio::time::timeout(
            REPLAY_BUDGET,
            table.remember(&proven.jkt, &proven.jti, now, expires_at),
        )
        .await
        .unwrap_or(Err(crate::error::UpstreamError::Timeout));
        match written {
            Ok(true) => Ok(()),
            Ok(false) => Err(TokenError::ProofReplayed),
            Err(error) => {
                self.counters.add(Counter::ReplayErrors);
                self.counters.add(Counter::ReplayUnchecked);
                tracing::warn!(
                    error = %error,
                    error_kind = error.as_str(),
                    on_error = self.settings.on_error.as_str(),
                    "DPoP replay table write failed; DPOP_REPLAY_ON_ERROR decides (this container's memory still checked)"
                );
                match self.settings.on_error {
                    OnError::Allow => Ok(()),
                    OnError::Deny => Err(TokenError::ReplayUnchecked),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
