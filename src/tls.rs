//! The process's one TLS client configuration: rustls over aws-lc-rs (the library that
//! also checks the JWT signatures), randomness from the kernel, and the system's roots
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured, see [`crate::roots`]) loaded once for the
//! DynamoDB client and the JWKS fetch alike.
//!
//! Why the randomness is the kernel's: aws-lc seeds its own DRBG once per process from
//! CPU-jitter entropy, and a TLS handshake through rustls' stock aws-lc-rs provider is the
//! first thing that asks it for bytes (the ClientHello random and the ephemeral key share).
//! That seeding costs more CPU than everything else in a cold start together, and far more
//! wall time on the fraction of a core a small Lambda gets. A TLS client needs random bytes
//! for exactly those two things, so here they come from `getrandom(2)` (the source ring,
//! BoringSSL and the Rust standard library use on Linux) and the key share is made with
//! aws-lc-rs from those bytes. Nothing in the process then calls aws-lc's `RAND_bytes`:
//! signature checks, record encryption and key derivation need no randomness.

use std::sync::{Arc, OnceLock};

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::{ClientConfig, NamedGroup, PeerMisbehaved, RootCertStore};

/// The shared client configuration, built on first use (roots read once per process).
///
/// # Errors
/// Only if rustls rejects the provider, which it never does for this one; kept as an
/// error rather than a panic.
pub fn client_config() -> Result<Arc<ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(build).clone()
}

fn build() -> Result<Arc<ClientConfig>, String> {
    let config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .with_root_certificates(roots())
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// rustls' aws-lc-rs provider (cipher suites, signature verification) with the kernel's
/// randomness and key shares made from it: X25519, then P-256 and P-384.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        kx_groups: vec![&X25519, &SECP256R1, &SECP384R1],
        secure_random: &OsRandom,
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

/// The trust anchors of [`crate::roots`]: the system's, or those of `SSL_CERT_FILE` /
/// `SSL_CERT_DIR` when set (a private issuer, a TLS-inspecting proxy). Unreadable or
/// unparsable entries are logged and skipped; with no root at all every TLS request fails,
/// naming the unknown issuer.
fn roots() -> RootCertStore {
    let loaded = crate::roots::load();
    for error in &loaded.errors {
        tracing::warn!(%error, "could not load some root certificates");
    }
    if loaded.store.is_empty() {
        tracing::error!("no root certificates: every TLS connection will fail");
    }
    loaded.store
}

/// `getrandom(2)`.
#[derive(Debug)]
struct OsRandom;

impl SecureRandom for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        getrandom::fill(buf).map_err(|_| GetRandomFailed)
    }
}

/// An ECDHE group whose private key is `len` bytes from [`OsRandom`], loaded into aws-lc-rs.
#[derive(Debug)]
struct KxGroup {
    name: NamedGroup,
    algorithm: &'static agreement::Algorithm,
    len: usize,
}

static X25519: KxGroup = KxGroup {
    name: NamedGroup::X25519,
    algorithm: &agreement::X25519,
    len: 32,
};
static SECP256R1: KxGroup = KxGroup {
    name: NamedGroup::secp256r1,
    algorithm: &agreement::ECDH_P256,
    len: 32,
};
static SECP384R1: KxGroup = KxGroup {
    name: NamedGroup::secp384r1,
    algorithm: &agreement::ECDH_P384,
    len: 48,
};

impl SupportedKxGroup for KxGroup {
    fn start(&self) -> Result<Box<dyn ActiveKeyExchange>, rustls::Error> {
        // Any 32 bytes are an X25519 key; a P-256/P-384 scalar must lie below the group
        // order, which a random one misses with probability < 2^-32: draw again then.
        for _ in 0..8 {
            let mut secret = vec![0u8; self.len];
            getrandom::fill(&mut secret).map_err(|_| rustls::Error::FailedToGetRandomBytes)?;
            if let Ok(key) = PrivateKey::from_private_key(self.algorithm, &secret) {
                let public = key
                    .compute_public_key()
                    .map_err(|_| rustls::Error::General("key share".into()))?;
                return Ok(Box::new(KeyExchange {
                    group: self.name,
                    public: public.as_ref().to_vec(),
                    key,
                }));
            }
        }
        Err(rustls::Error::General("key share".into()))
    }

    fn name(&self) -> NamedGroup {
        self.name
    }
}

struct KeyExchange {
    group: NamedGroup,
    public: Vec<u8>,
    key: PrivateKey,
}

impl ActiveKeyExchange for KeyExchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        let peer = UnparsedPublicKey::new(self.key.algorithm(), peer);
        agreement::agree(
            &self.key,
            peer,
            rustls::Error::from(PeerMisbehaved::InvalidKeyShare),
            |secret| Ok(SharedSecret::from(secret)),
        )
    }

    fn pub_key(&self) -> &[u8] {
        &self.public
    }

    fn group(&self) -> NamedGroup {
        self.group
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn round_trip(group: &KxGroup) {
        let a = group.start().unwrap();
        let b = group.start().unwrap();
        let b_public = b.pub_key().to_vec();
        let a_public = a.pub_key().to_vec();
        let ab = a.complete(&b_public).unwrap();
        let ba = b.complete(&a_public).unwrap();
        assert_eq!(ab.secret_bytes(), ba.secret_bytes());
        assert!(ab.secret_bytes().iter().any(|&byte| byte != 0));
    }

    #[test]
    fn every_group_agrees_on_a_shared_secret() {
        for group in [&X25519, &SECP256R1, &SECP384R1] {
            round_trip(group);
        }
    }

    #[test]
    fn key_shares_differ_between_handshakes() {
        let a = X25519.start().unwrap();
        let b = X25519.start().unwrap();
        assert_ne!(a.pub_key(), b.pub_key());
    }

    #[test]
    fn a_malformed_peer_share_is_refused() {
        for group in [&X25519, &SECP256R1, &SECP384R1] {
            let a = group.start().unwrap();
            assert!(a.complete(&[4, 1, 2, 3]).is_err());
        }
    }

    #[test]
    fn the_shared_config_is_built_once() {
        let first = client_config().unwrap();
        let second = client_config().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }
}
