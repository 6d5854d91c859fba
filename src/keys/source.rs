//! The one interface `verify.rs` asks for a token's key: an issuer's HS256 secret, or its
//! JWKS through the tiers. The key comes back ready to check a signature, with the tier
//! that provided it.

use std::sync::Arc;

use aws_lc_rs::hmac;

use super::{IssuerKeys, Snapshot, Tier, TierDeps};
use crate::clock::Now;
use crate::config::{IssuerConfig, KeySourceConfig};
use crate::error::{KeyError, TokenError};
use crate::jwk::Algorithm;

/// Longest `kid` worth looking up (and logging); longer ones are unknown by definition.
pub const MAX_KID_LEN: usize = 256;

/// Where one issuer's keys come from.
pub enum KeySource {
    /// An HS256 shared secret (`JWT_HS256_SECRET`).
    Secret(Box<hmac::Key>),
    /// The issuer's JWKS, through memory, the table and the endpoint.
    Jwks(Box<IssuerKeys>),
}

/// The key chosen for one token.
pub struct SelectedKey<'a> {
    material: Material<'a>,
    /// The tier that provided it (`None` for a secret).
    pub tier: Option<Tier>,
}

enum Material<'a> {
    Secret(&'a hmac::Key),
    Jwk {
        keys: Arc<Snapshot>,
        kid: &'a str,
        alg: Algorithm,
    },
}

impl KeySource {
    /// The key source `issuer` is configured with (loads nothing yet).
    pub fn new(issuer: &IssuerConfig, deps: &TierDeps) -> Self {
        match &issuer.keys {
            KeySourceConfig::Secret(secret) => {
                Self::Secret(Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret)))
            }
            KeySourceConfig::Jwks(location) => {
                Self::Jwks(Box::new(IssuerKeys::new(issuer, location, deps.clone())))
            }
        }
    }

    /// The key for a token with header `kid` and (allowed) `alg`, at `now`. A JWKS issuer
    /// needs a `kid` naming one of its keys whose JWK fits `alg`.
    pub async fn select<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: Algorithm,
        now: Now,
    ) -> Result<SelectedKey<'a>, TokenError> {
        match self {
            Self::Secret(key) => Ok(SelectedKey {
                material: Material::Secret(key),
                tier: None,
            }),
            Self::Jwks(issuer_keys) => {
                let kid = kid.ok_or(TokenError::MissingKid)?;
                if kid.len() > MAX_KID_LEN {
                    return Err(KeyError::UnknownKid.into());
                }
                let (keys, tier) = issuer_keys.keys_for(kid, now).await?;
                keys.keys
                    .get(kid)
                    .ok_or(KeyError::UnknownKid)?
                    .for_alg(alg)
                    .ok_or(KeyError::KeyMismatch)?;
                Ok(SelectedKey {
                    material: Material::Jwk { keys, kid, alg },
                    tier: Some(tier),
                })
            }
        }
    }

    /// The JWKS keys that may serve at `now` without a reload (`None` for a secret).
    pub fn leased(&self, now: Now) -> Option<Arc<Snapshot>> {
        match self {
            Self::Secret(_) => None,
            Self::Jwks(issuer_keys) => issuer_keys.leased(now),
        }
    }

    /// The JWKS tiers, for a JWKS issuer.
    pub fn jwks(&self) -> Option<&IssuerKeys> {
        match self {
            Self::Secret(_) => None,
            Self::Jwks(issuer_keys) => Some(issuer_keys),
        }
    }
}

impl SelectedKey<'_> {
    /// Checks `signature` over `message` (constant-time for HMAC).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        let checked = match &self.material {
            Material::Secret(key) => hmac::verify(key, message, signature).is_ok(),
            Material::Jwk { keys, kid, alg } => keys
                .keys
                .get(kid)
                .and_then(|key| key.for_alg(*alg))
                .is_some_and(|key| key.verify_sig(message, signature).is_ok()),
        };
        checked.then_some(()).ok_or(TokenError::BadSignature)
    }

    /// The key set the key came from (a JWKS issuer's), which a cached verification
    /// stays tied to.
    pub fn key_set(&self) -> Option<&Arc<Snapshot>> {
        match &self.material {
            Material::Secret(_) => None,
            Material::Jwk { keys, .. } => Some(keys),
        }
    }
}
