//! The trust anchors of every TLS connection: the files and directories rustls-native-certs
//! would read (`SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set, else the platform's
//! bundle and certificate directories as openssl-probe finds them), decoded with a plain
//! base64 decoder.
//!
//! Why not rustls-native-certs itself: it decodes PEM with rustls-pki-types' constant-time
//! base64, written for private keys. A system bundle is ~150 public certificates (~220 KB),
//! and that decoder spent ~9 M instructions on it, more than half of a cold start's
//! instructions once the TLS randomness was fixed (docs/benchmarks.md). Certificates are
//! public: a fast decoder loses nothing. Files are streamed line by line and each
//! certificate goes into the store as soon as it is decoded, so the bundle is never held
//! whole (fewer fresh pages to fault in, which a cold start pays for too). The rules for
//! which files are read are the same, so a private issuer or a TLS-inspecting proxy behind
//! a private CA is trusted exactly as before. Unlike rustls-native-certs, a certificate
//! found twice (a bundle and its directory) is not de-duplicated: a duplicate anchor changes
//! no verification result.

use std::collections::HashSet;
use std::env;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Standard alphabet, padding optional, trailing bits tolerated (as PEM readers are).
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The trust anchors found, and a line per problem met (a file that cannot be read, a
/// section that does not decode, a certificate that is no usable anchor); problems never
/// stop the search.
#[derive(Debug)]
pub struct Loaded {
    /// The anchors.
    pub store: RootCertStore,
    /// What could not be used, for a warning.
    pub errors: Vec<String>,
}

/// The anchors of the environment's or the platform's locations (module docs).
pub fn load() -> Loaded {
    let file = env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let dirs: Vec<PathBuf> = env::var_os("SSL_CERT_DIR")
        .map(|dirs| {
            env::split_paths(&dirs)
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default();
    if file.is_some() || !dirs.is_empty() {
        return load_from(file.as_deref(), &dirs);
    }
    let platform = openssl_probe::probe();
    load_from(platform.cert_file.as_deref(), &platform.cert_dir)
}

/// The anchors of `file` and of every file in `dirs` (symlinks followed, each file read
/// once).
pub fn load_from(file: Option<&Path>, dirs: &[PathBuf]) -> Loaded {
    let mut loaded = Loaded {
        store: RootCertStore::empty(),
        errors: Vec::new(),
    };
    let mut seen = Seen::default();
    if let Some(file) = file {
        if let Ok(metadata) = fs::metadata(file) {
            seen.first_visit(&metadata);
        }
        read_file(file, &mut loaded);
    }
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                loaded.errors.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match fs::metadata(&path) {
                Ok(metadata) if metadata.is_file() && seen.first_visit(&metadata) => {
                    read_file(&path, &mut loaded);
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // dangling link
                Err(e) => loaded.errors.push(format!("{}: {e}", path.display())),
            }
        }
    }
    loaded
}

fn read_file(path: &Path, loaded: &mut Loaded) {
    let read = File::open(path)
        .and_then(|file| read_pem(BufReader::with_capacity(16 * 1024, file), &mut loaded.store));
    match read {
        Ok(Counts {
            bad: 0,
            unusable: 0,
        }) => {}
        Ok(Counts { bad, unusable }) => loaded.errors.push(format!(
            "{}: {bad} certificate section(s) do not decode, {unusable} are no usable anchor",
            path.display()
        )),
        Err(e) => loaded.errors.push(format!("{}: {e}", path.display())),
    }
}

/// What [`read_pem`] had to skip.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// `CERTIFICATE` sections that did not decode (an unterminated one counts).
    pub bad: usize,
    /// Decoded certificates rustls could not make a trust anchor of.
    pub unusable: usize,
}

/// Adds the certificate of every `CERTIFICATE` section of `pem` to `store`, one at a time.
///
/// # Errors
/// A read error of `pem`.
pub fn read_pem(mut pem: impl BufRead, store: &mut RootCertStore) -> std::io::Result<Counts> {
    let mut counts = Counts::default();
    let (mut line, mut body, mut der) = (Vec::new(), Vec::new(), Vec::new());
    let mut inside = false;
    loop {
        line.clear();
        if pem.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.trim_ascii();
        if !inside {
            if text == BEGIN {
                inside = true;
                body.clear();
            }
            continue;
        }
        if text != END {
            body.extend_from_slice(text);
            continue;
        }
        inside = false;
        der.clear();
        match PEM_BASE64.decode_vec(&body, &mut der) {
            Ok(()) if !der.is_empty() => {
                if store.add(CertificateDer::from(der.as_slice())).is_err() {
                    counts.unusable += 1;
                }
            }
            _ => counts.bad += 1,
        }
    }
    if inside {
        counts.bad += 1;
    }
    Ok(counts)
}

#[derive(Default)]
struct Seen(HashSet<(u64, u64)>);

impl Seen {
    fn first_visit(&mut self, metadata: &fs::Metadata) -> bool {
        use std::os::unix::fs::MetadataExt;
        self.0.insert((metadata.dev(), metadata.ino()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use rustls::pki_types::pem::PemObject;

    const ONE: &str = include_str!("../tests/fixtures/tls/ca-one.pem");
    const TWO: &str = include_str!("../tests/fixtures/tls/ca-two.pem");

    /// The store rustls-native-certs' way would build: rustls-pki-types' decoder.
    fn reference(pem: &[u8]) -> RootCertStore {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .unwrap();
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(certs);
        store
    }

    fn ours(pem: &[u8]) -> (RootCertStore, Counts) {
        let mut store = RootCertStore::empty();
        let counts = read_pem(pem, &mut store).unwrap();
        (store, counts)
    }

    #[test]
    fn reads_what_rustls_pki_types_reads() {
        let bundle = format!("{ONE}\n# a comment line\r\n{}", TWO.replace('\n', "\r\n"));
        let (store, counts) = ours(bundle.as_bytes());
        assert_eq!(counts, Counts::default());
        assert_eq!(store.roots, reference(bundle.as_bytes()).roots);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn the_system_bundle_reads_as_rustls_pki_types_reads_it() {
        let Some(bundle) = openssl_probe::probe().cert_file else {
            return; // no system bundle on this machine
        };
        let pem = fs::read(bundle).unwrap();
        let (store, counts) = ours(&pem);
        assert_eq!(counts, Counts::default());
        assert_eq!(store.roots, reference(&pem).roots);
        assert!(store.len() > 10);
    }

    #[test]
    fn a_broken_section_is_counted_and_the_next_one_still_read() {
        let bundle = format!("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n{TWO}");
        let (store, counts) = ours(bundle.as_bytes());
        assert_eq!(counts.bad, 1);
        assert_eq!(store.roots, reference(TWO.as_bytes()).roots);
    }

    #[test]
    fn a_section_that_is_no_certificate_is_counted() {
        let (store, counts) =
            ours(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert_eq!(counts.unusable, 1);
        assert!(store.is_empty());
    }

    #[test]
    fn an_unterminated_section_is_counted() {
        let (store, counts) = ours(b"-----BEGIN CERTIFICATE-----\nMIIB");
        assert_eq!(counts.bad, 1);
        assert!(store.is_empty());
    }

    #[test]
    fn file_and_directory_are_both_read_each_file_once() {
        let dir = env::temp_dir().join(format!("roots-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.pem");
        fs::write(&one, ONE).unwrap();
        fs::write(dir.join("two.pem"), TWO).unwrap();
        std::os::unix::fs::symlink(&one, dir.join("0a1b2c3d.0")).unwrap();
        let loaded = load_from(Some(&one), std::slice::from_ref(&dir));
        fs::remove_dir_all(&dir).unwrap();
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let mut found = loaded.store.roots;
        let mut expected = reference(format!("{ONE}{TWO}").as_bytes()).roots;
        found.sort_by(|a, b| a.subject.as_ref().cmp(b.subject.as_ref()));
        expected.sort_by(|a, b| a.subject.as_ref().cmp(b.subject.as_ref()));
        assert_eq!(found, expected);
    }

    #[test]
    fn a_missing_file_is_reported_not_fatal() {
        let loaded = load_from(Some(Path::new("/nonexistent/bundle.pem")), &[]);
        assert!(loaded.store.is_empty());
        assert_eq!(loaded.errors.len(), 1);
    }
}
