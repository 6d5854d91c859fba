//! Where verification keys come from (SPEC.md "The key tiers"). An issuer's keys are its
//! HS256 secret, or its JWKS through three tiers: memory first, then the DynamoDB items,
//! then the issuer's JWKS endpoint as last resort (written through to the table).
//!
//! - [`plan`] decides, as pure functions, what a reload does; [`IssuerKeys`] carries it out.
//! - [`KeySource`] is the one interface `verify.rs` asks for a token's key.
//! - [`KeyTable`] and [`record`] are the table and its items, shared with the refresher;
//!   [`JwksClient`] fetches JWKS and discovery documents.

mod dynamo;
mod issuer;
mod jwks;
mod memory;
pub mod plan;
pub mod record;
mod source;

use std::sync::Arc;

pub use crate::outcome::Tier;
pub(crate) use dynamo::{Attributes, batch_get, condition_held, partition_key, upstream, written};
pub use dynamo::{Budget, KeyTable, MAX_BATCH_KEYS, Prefetched};
pub use issuer::{IssuerKeys, warm_up_together};
pub use jwks::{JwksClient, MAX_DOCUMENT_BYTES};
pub use memory::{MemoryTier, Snapshot};
pub use record::{DiscoveryRecord, KeyRecord};
pub use source::{KeySource, MAX_KID_LEN, SelectedKey};

use crate::clock::Clock;
use crate::config::KeySettings;
use crate::error::UpstreamError;
use crate::jwk::{Algorithm, KeySet};
use crate::metrics::Counters;

/// Fetches a JWKS document and checks that it holds at least one usable key for
/// `algorithms`. Shared by the authorizer's last-resort tier and the refresher.
pub async fn fetch_keys(
    client: &JwksClient,
    url: &str,
    algorithms: &[Algorithm],
) -> Result<(KeySet, String), UpstreamError> {
    let body = client.get(url).await?;
    let keys = KeySet::from_jwks(&body, algorithms)?;
    let text = String::from_utf8(body)
        .map_err(|_| UpstreamError::InvalidDocument("JWKS is not UTF-8".into()))?;
    Ok((keys, text))
}

/// What the tiers share across issuers.
#[derive(Clone)]
pub struct TierDeps {
    /// The JWKS HTTP client.
    pub client: Arc<JwksClient>,
    /// The keys table, when `KEYS_TABLE_NAME` is set.
    pub table: Option<Arc<KeyTable>>,
    /// Fetch bounds and cache lifetimes.
    pub settings: KeySettings,
    /// Operational counters.
    pub counters: Arc<Counters>,
    /// The clocks (the verifier's): a reload reads the monotonic one when it sends a
    /// request, which starts the cooldown window.
    pub clock: Arc<dyn Clock>,
}
