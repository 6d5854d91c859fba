//! The process's one TLS client configuration: rustls over aws-lc-rs (the library that
//! also checks the JWT signatures), randomness from the kernel, and the system's roots
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured, see [`super::roots`]) for the DynamoDB
//! client and the JWKS fetch alike.
//!
//! Server certificates are checked by rustls' own `WebPkiServerVerifier` (chain, name,
//! validity, key usage, signatures), given the anchors of [`Roots`] that the presented
//! chain can end at: those whose subject is the issuer of a certificate the server sent.
//! Those are the only anchors webpki's path building could use, so the verdict is the
//! same as with every root loaded; only the decoding of the others is saved.
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
//!
//! A peer's key share is checked as rustls' own provider checks it before `agree` (32
//! bytes for X25519, an uncompressed point for P-256 and P-384; aws-lc alone would take a
//! compressed one). The post-quantum hybrid X25519MLKEM768, which rustls' default provider
//! offers, is not offered: aws-lc-rs makes its ML-KEM key from aws-lc's own DRBG, whose
//! seeding is the cost above. Measured with `examples/key_share_cost.rs` (AMD EPYC, 2
//! cores, five fresh processes each): a process's first X25519MLKEM768 share takes
//! 61.3–62.3 ms of CPU against 46–70 µs for the X25519 share here, more than ten times a
//! whole cold start served from the table (see docs/security.md).

use std::sync::{Arc, OnceLock};

use aws_lc_rs::agreement::{self, PrivateKey, UnparsedPublicKey};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    ActiveKeyExchange, CryptoProvider, GetRandomFailed, SecureRandom, SharedSecret,
    SupportedKxGroup,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, NamedGroup, PeerMisbehaved,
    RootCertStore, SignatureScheme,
};

use super::roots::{self, Roots};

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
    config_with(Roots::from_env())
}

/// A client configuration whose servers' certificates are checked against `roots`.
///
/// # Errors
/// Only if rustls rejects the provider (see [`client_config`]).
pub fn config_with(roots: Roots) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(provider());
    let verifier = Arc::new(Verifier {
        roots,
        provider: Arc::clone(&provider),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS configuration: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
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

/// `WebPkiServerVerifier` over the anchors of [`Roots`] the presented chain can end at
/// (module docs). Unreadable or unparsable entries are logged and skipped; with no
/// matching root the handshake fails naming the unknown issuer.
#[derive(Debug)]
struct Verifier {
    roots: Roots,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let issuers: Vec<&[u8]> = std::iter::once(end_entity)
            .chain(intermediates)
            .filter_map(|cert| roots::issuer(cert.as_ref()))
            .collect();
        let (anchors, problems) = self.roots.anchors_for(&issuers);
        if !problems.is_empty() {
            tracing::warn!(
                bad_sections = problems.bad,
                unusable = problems.unusable,
                unreadable = ?problems.unreadable,
                "could not load some root certificates"
            );
        }
        if anchors.is_empty() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ));
        }
        let store = RootCertStore { roots: anchors };
        WebPkiServerVerifier::builder_with_provider(Arc::new(store), Arc::clone(&self.provider))
            .build()
            .map_err(|e| rustls::Error::General(format!("certificate verifier: {e}")))?
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
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
    /// Whether a peer's key share is encoded as RFC 8446 §4.2.8.2 requires.
    share_valid: fn(&[u8]) -> bool,
}

static X25519: KxGroup = KxGroup {
    name: NamedGroup::X25519,
    algorithm: &agreement::X25519,
    len: 32,
    share_valid: |share| share.len() == 32,
};
static SECP256R1: KxGroup = KxGroup {
    name: NamedGroup::secp256r1,
    algorithm: &agreement::ECDH_P256,
    len: 32,
    share_valid: uncompressed_point,
};
static SECP384R1: KxGroup = KxGroup {
    name: NamedGroup::secp384r1,
    algorithm: &agreement::ECDH_P384,
    len: 48,
    share_valid: uncompressed_point,
};

/// RFC 8446 §4.2.8.2: a NIST-curve share is an uncompressed point (`0x04 ‖ x ‖ y`).
/// aws-lc would also take a compressed one; rustls' own provider refuses it, and so does
/// this one, before `agree`.
fn uncompressed_point(share: &[u8]) -> bool {
    share.first() == Some(&0x04)
}

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
                    share_valid: self.share_valid,
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
    share_valid: fn(&[u8]) -> bool,
}

impl ActiveKeyExchange for KeyExchange {
    fn complete(self: Box<Self>, peer: &[u8]) -> Result<SharedSecret, rustls::Error> {
        if !(self.share_valid)(peer) {
            return Err(PeerMisbehaved::InvalidKeyShare.into());
        }
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
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

    /// Finding 10 of the security review: a compressed NIST point, or an X25519 share of
    /// another length, reached aws-lc's `agree`; RFC 8446 allows neither.
    #[test]
    fn a_share_encoded_otherwise_than_tls_13_requires_is_refused() {
        let invalid = Err(rustls::Error::PeerMisbehaved(
            PeerMisbehaved::InvalidKeyShare,
        ));
        for group in [&SECP256R1, &SECP384R1] {
            let peer = group.start().unwrap();
            let point = peer.pub_key();
            let half = (point.len() - 1) / 2;
            let y_is_odd = point.last().unwrap() & 1;
            let mut compressed = vec![0x02 | y_is_odd];
            compressed.extend_from_slice(&point[1..=half]);
            let ours = group.start().unwrap();
            assert_eq!(
                ours.complete(&compressed)
                    .map(|s| s.secret_bytes().to_vec()),
                invalid,
                "{:?}: a compressed point",
                group.name
            );
            let ours = group.start().unwrap();
            assert!(
                ours.complete(point).is_ok(),
                "{:?}: uncompressed",
                group.name
            );
        }
        let peer = X25519.start().unwrap();
        for len in [31, 33] {
            let mut share = peer.pub_key().to_vec();
            share.resize(len, 0);
            let ours = X25519.start().unwrap();
            assert_eq!(
                ours.complete(&share).map(|s| s.secret_bytes().to_vec()),
                invalid,
                "X25519 share of {len} bytes"
            );
        }
    }

    #[test]
    fn the_shared_config_is_built_once() {
        let first = client_config().unwrap();
        let second = client_config().unwrap();
        assert!(Arc::ptr_eq(&first, &second));
    }

    /// A whole handshake in memory: a rustls server with `chain` (PEM files of
    /// tests/fixtures/tls, leaf first) and `key`, and a client of [`config_with`] trusting
    /// `bundle`, connecting to `name`.
    fn handshake(
        bundle: &Path,
        chain: &[&str],
        key: &str,
        name: &str,
    ) -> Result<(), rustls::Error> {
        use rustls::pki_types::PrivateKeyDer;
        use rustls::pki_types::pem::PemObject;
        use rustls::{ClientConnection, ServerConfig, ServerConnection};
        let fixture =
            |file: &str| format!("{}/tests/fixtures/tls/{file}", env!("CARGO_MANIFEST_DIR"));
        let certs = chain
            .iter()
            .map(|file| CertificateDer::from_pem_file(fixture(file)).unwrap())
            .collect();
        let key = PrivateKeyDer::from_pem_file(fixture(key)).unwrap();
        let server = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let mut server = ServerConnection::new(Arc::new(server)).unwrap();
        let config = config_with(Roots::at(Some(bundle.to_path_buf()), Vec::new())).unwrap();
        let name = ServerName::try_from(name.to_owned()).unwrap();
        let mut client = ClientConnection::new(config, name).unwrap();
        for _ in 0..10 {
            let mut wire = Vec::new();
            client.write_tls(&mut wire).unwrap();
            server.read_tls(&mut wire.as_slice()).unwrap();
            server.process_new_packets()?;
            wire.clear();
            server.write_tls(&mut wire).unwrap();
            client.read_tls(&mut wire.as_slice()).unwrap();
            client.process_new_packets()?;
            if !client.is_handshaking() {
                return Ok(());
            }
        }
        Err(rustls::Error::General("handshake did not finish".into()))
    }

    fn bundle(roots: &[&str]) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "tls-test-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let text: String = roots
            .iter()
            .map(|file| {
                std::fs::read_to_string(format!(
                    "{}/tests/fixtures/tls/{file}",
                    env!("CARGO_MANIFEST_DIR")
                ))
                .unwrap()
            })
            .collect();
        std::fs::write(&path, text).unwrap();
        path
    }

    use std::path::Path;

    const ALL_ROOTS: [&str; 4] = ["ca-one.pem", "root-b.pem", "root-a.pem", "ca-two.pem"];

    #[test]
    fn a_chain_through_an_intermediate_to_a_root_of_the_bundle_is_accepted() {
        let roots = bundle(&ALL_ROOTS);
        let chain = ["leaf-a.pem", "intermediate-a1.pem"];
        assert_eq!(handshake(&roots, &chain, "leaf-a.key", "localhost"), Ok(()));
        assert_eq!(
            handshake(&roots, &["leaf-b.pem"], "leaf-b.key", "localhost"),
            Ok(()),
            "a leaf issued by a root directly"
        );
    }

    #[test]
    fn a_chain_ending_at_no_root_of_the_bundle_is_refused() {
        let without_a = bundle(&["ca-one.pem", "root-b.pem", "ca-two.pem"]);
        let chain = ["leaf-a.pem", "intermediate-a1.pem"];
        assert_eq!(
            handshake(&without_a, &chain, "leaf-a.key", "localhost"),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
        assert_eq!(
            handshake(
                &bundle(&ALL_ROOTS),
                &["leaf-a.pem"],
                "leaf-a.key",
                "localhost"
            ),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "without its intermediate the leaf reaches no root"
        );
        let empty = bundle(&[]);
        assert_eq!(
            handshake(&empty, &["leaf-b.pem"], "leaf-b.key", "localhost"),
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        );
    }

    #[test]
    fn the_server_name_is_still_checked() {
        let roots = bundle(&ALL_ROOTS);
        let refused = handshake(&roots, &["leaf-b.pem"], "leaf-b.key", "dynamodb.example");
        assert!(
            matches!(
                refused,
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{refused:?}"
        );
    }
}
