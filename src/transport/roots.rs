//! The trust anchors of every TLS connection, read where rustls-native-certs would read
//! them (`SSL_CERT_FILE` and `SSL_CERT_DIR` when either is set, else the platform's bundle
//! and certificate directories as openssl-probe finds them), and only as far as a
//! handshake needs them.
//!
//! A system bundle is ~150 certificates (~220 KB of PEM); decoding all of them into trust
//! anchors was, once the TLS randomness was fixed, the largest single cost of a cold
//! start (docs/benchmarks.md), yet a handshake only ever uses the anchors whose subject is
//! the issuer of a certificate the server presented: webpki builds a path from the
//! server's certificate through the ones it sent, and ends it at an anchor whose subject
//! equals, byte for byte, the issuer of the last of them. So [`Roots::anchors_for`] takes
//! those issuer names, streams the files, decodes each certificate only as far as its
//! subject, and decodes in full (into an anchor, as `RootCertStore::add` would) only the
//! ones whose subject is asked for; what it found, and which names it searched, is kept
//! for the next handshake. Verification itself stays rustls' (`src/tls.rs`).
//!
//! Certificates are public, so a fast base64 decoder loses nothing (rustls-pki-types'
//! constant-time one is for private keys). A file that cannot be read, a section that does
//! not decode, or a certificate that is no usable anchor is reported and skipped.

use std::collections::HashSet;
use std::env;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, TrustAnchor};

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Standard alphabet, padding optional, trailing bits tolerated (as PEM readers are).
const PEM_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Where the trust anchors are, and those found so far.
#[derive(Debug)]
pub struct Roots {
    file: Option<PathBuf>,
    dirs: Vec<PathBuf>,
    found: Mutex<Found>,
}

#[derive(Debug, Default)]
struct Found {
    anchors: Vec<TrustAnchor<'static>>,
    /// Subject names already searched for (found or not).
    searched: HashSet<Vec<u8>>,
}

/// What one search met that could not be used, for a warning.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// `CERTIFICATE` sections that did not decode (an unterminated one counts).
    pub bad: usize,
    /// Certificates asked for that rustls could make no trust anchor of.
    pub unusable: usize,
    /// Files or directories that could not be read.
    pub unreadable: Vec<String>,
}

impl Problems {
    /// Whether nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.bad == 0 && self.unusable == 0 && self.unreadable.is_empty()
    }
}

impl Roots {
    /// The locations of the environment or the platform (module docs); nothing is read yet.
    pub fn from_env() -> Self {
        let file = env::var_os("SSL_CERT_FILE").map(PathBuf::from);
        let dirs: Vec<PathBuf> = env::var_os("SSL_CERT_DIR")
            .map(|dirs| {
                env::split_paths(&dirs)
                    .filter(|p| !p.as_os_str().is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if file.is_some() || !dirs.is_empty() {
            return Self::at(file, dirs);
        }
        let platform = openssl_probe::probe();
        Self::at(platform.cert_file, platform.cert_dir)
    }

    /// The anchors of `file` and of every file in `dirs`.
    pub fn at(file: Option<PathBuf>, dirs: Vec<PathBuf>) -> Self {
        Self {
            file,
            dirs,
            found: Mutex::new(Found::default()),
        }
    }

    /// The anchors whose subject is one of `names` (DER `Name` contents), searching the
    /// files for the names not searched before; and what that search could not use.
    pub fn anchors_for(&self, names: &[&[u8]]) -> (Vec<TrustAnchor<'static>>, Problems) {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted: HashSet<&[u8]> = names
            .iter()
            .copied()
            .filter(|name| !found.searched.contains(*name))
            .collect();
        let mut problems = Problems::default();
        if !wanted.is_empty() {
            self.search(&wanted, &mut found.anchors, &mut problems);
            found
                .searched
                .extend(wanted.iter().map(|name| name.to_vec()));
        }
        let anchors = found
            .anchors
            .iter()
            .filter(|anchor| names.contains(&anchor.subject.as_ref()))
            .cloned()
            .collect();
        (anchors, problems)
    }

    /// Reads the file and every file of the directories (symlinks followed, each file
    /// once), adding the anchors whose subject is `wanted`.
    fn search(
        &self,
        wanted: &HashSet<&[u8]>,
        anchors: &mut Vec<TrustAnchor<'static>>,
        problems: &mut Problems,
    ) {
        let mut seen = Seen::default();
        if let Some(file) = &self.file {
            if let Ok(metadata) = fs::metadata(file) {
                seen.first_visit(&metadata);
            }
            read_file(file, wanted, anchors, problems);
        }
        for dir in &self.dirs {
            let entries = match fs::read_dir(dir) {
                Ok(entries) => entries,
                Err(e) => {
                    problems.unreadable.push(format!("{}: {e}", dir.display()));
                    continue;
                }
            };
            for entry in entries.flatten() {
                let path = entry.path();
                match fs::metadata(&path) {
                    Ok(metadata) if metadata.is_file() && seen.first_visit(&metadata) => {
                        read_file(&path, wanted, anchors, problems);
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {} // dangling link
                    Err(e) => problems.unreadable.push(format!("{}: {e}", path.display())),
                }
            }
        }
    }
}

fn read_file(
    path: &Path,
    wanted: &HashSet<&[u8]>,
    anchors: &mut Vec<TrustAnchor<'static>>,
    problems: &mut Problems,
) {
    let read = File::open(path).and_then(|file| {
        read_pem(
            BufReader::with_capacity(16 * 1024, file),
            wanted,
            anchors,
            problems,
        )
    });
    if let Err(e) = read {
        problems.unreadable.push(format!("{}: {e}", path.display()));
    }
}

/// Adds to `anchors` the certificate of every `CERTIFICATE` section of `pem` whose subject
/// is in `wanted`, decoding the others only as far as their subject.
///
/// # Errors
/// A read error of `pem`.
pub fn read_pem(
    mut pem: impl BufRead,
    wanted: &HashSet<&[u8]>,
    anchors: &mut Vec<TrustAnchor<'static>>,
    problems: &mut Problems,
) -> std::io::Result<()> {
    let (mut line, mut body, mut der) = (Vec::new(), Vec::with_capacity(4096), Vec::new());
    let mut decoded = 0;
    let mut section = Section::Outside;
    loop {
        if section == Section::Skip {
            skip_to_dash(&mut pem)?;
        }
        line.clear();
        if pem.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.trim_ascii();
        match section {
            Section::Outside => {
                if text == BEGIN {
                    section = Section::Subject;
                    (decoded, der) = (0, Vec::new());
                    body.clear();
                }
            }
            _ if text == END => {
                if section != Section::Skip {
                    der.clear();
                    let cert = PEM_BASE64.decode_vec(&body, &mut der).ok().and(Some(&der));
                    match cert.and_then(|der| subject(der)) {
                        Some(name) if wanted.contains(name) => add(&der, anchors, problems),
                        Some(_) => {}
                        None => problems.bad += 1,
                    }
                }
                section = Section::Outside;
            }
            Section::Skip => {}
            Section::Subject => {
                body.extend_from_slice(text);
                // Decode the new whole quads: once the subject is complete, a certificate
                // that is not asked for needs no more decoding. Anything but plain quads
                // (padding, a stray character) leaves the decision to the whole section.
                let whole = body.len() - body.len() % 4;
                let more = body.get(decoded..whole).unwrap_or_default();
                if !decode_quads(more, &mut der) {
                    section = Section::Wanted;
                    continue;
                }
                decoded = whole;
                if let Some(name) = subject(&der) {
                    section = if wanted.contains(name) {
                        Section::Wanted
                    } else {
                        Section::Skip
                    };
                }
            }
            Section::Wanted => body.extend_from_slice(text),
        }
    }
    if section != Section::Outside {
        problems.bad += 1;
    }
    Ok(())
}

/// Moves `pem` to the next `-` (the start of an `-----END` line: base64 has no `-`).
fn skip_to_dash(pem: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = pem.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'-', buffer) {
            Some(at) => {
                pem.consume(at);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                pem.consume(all);
            }
        }
    }
}

/// The value of each standard base64 character, `INVALID` for the others.
// Evaluated at compile time: an index out of bounds would fail the build, not a request.
#[allow(clippy::indexing_slicing)]
const BASE64_VALUES: [u8; 256] = {
    let mut values = [INVALID; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut i = 0;
    while i < alphabet.len() {
        values[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    values
};
const INVALID: u8 = 0xff;

/// Appends the bytes of `quads` (standard base64, whole groups of four, no padding) to
/// `out`; `false` at a character outside the alphabet.
fn decode_quads(quads: &[u8], out: &mut Vec<u8>) -> bool {
    out.reserve(quads.len() / 4 * 3);
    for quad in quads.chunks_exact(4) {
        let mut group = 0u32;
        for &c in quad {
            let value = BASE64_VALUES
                .get(usize::from(c))
                .copied()
                .unwrap_or(INVALID);
            if value == INVALID {
                return false;
            }
            group = (group << 6) | u32::from(value);
        }
        let [_, a, b, c] = group.to_be_bytes();
        out.extend_from_slice(&[a, b, c]);
    }
    true
}

/// Adds the trust anchor of certificate `der`, made as `RootCertStore::add` makes it.
fn add(der: &[u8], anchors: &mut Vec<TrustAnchor<'static>>, problems: &mut Problems) {
    let mut one = RootCertStore::empty();
    match one.add(CertificateDer::from(der)) {
        Ok(()) => anchors.append(&mut one.roots),
        Err(_) => problems.unusable += 1,
    }
}

/// Where [`read_pem`] is in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Between certificates.
    Outside,
    /// Inside one whose subject is not known yet.
    Subject,
    /// Inside one that is asked for: read it whole.
    Wanted,
    /// Inside one that is not asked for: skip to its end.
    Skip,
}

/// The contents of the subject `Name` of an X.509 certificate, from its DER or a prefix
/// of it long enough to hold the subject; `None` when it does not parse that far.
pub fn subject(der: &[u8]) -> Option<&[u8]> {
    tbs_names(der).map(|(_, subject)| subject)
}

/// The contents of the issuer `Name` of an X.509 certificate (DER).
pub fn issuer(der: &[u8]) -> Option<&[u8]> {
    tbs_names(der).map(|(issuer, _)| issuer)
}

/// The issuer and subject `Name` contents of `Certificate ::= SEQUENCE { tbsCertificate
/// SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer, validity, subject,
/// … }, … }`; the enclosing SEQUENCEs may be cut short (a prefix), the fields read may not.
fn tbs_names(der: &[u8]) -> Option<(&[u8], &[u8])> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    const VERSION: u8 = 0xa0;
    let (_, certificate) = header(der, SEQUENCE)?;
    let (_, mut tbs) = header(certificate, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = element(tbs, VERSION)?.1;
    }
    let (_, rest) = element(tbs, INTEGER)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (issuer, rest) = element(rest, SEQUENCE)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (subject, _) = element(rest, SEQUENCE)?;
    Some((issuer, subject))
}

/// The header of a `tag` element: its declared length and what follows the header (the
/// contents, possibly cut short).
fn header(der: &[u8], tag: u8) -> Option<(usize, &[u8])> {
    let (&first, rest) = der.split_first()?;
    if first != tag {
        return None;
    }
    let (&len, rest) = rest.split_first()?;
    if len < 0x80 {
        return Some((usize::from(len), rest));
    }
    let count = usize::from(len & 0x7f);
    if count == 0 || count > 4 {
        return None;
    }
    let (bytes, rest) = rest.split_at_checked(count)?;
    let length = bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b));
    Some((length, rest))
}

/// A whole `tag` element: its contents, and what follows it.
fn element(der: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (length, rest) = header(der, tag)?;
    rest.split_at_checked(length)
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
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use rustls::pki_types::pem::PemObject;

    const ONE: &str = include_str!("../../tests/fixtures/tls/ca-one.pem");
    const TWO: &str = include_str!("../../tests/fixtures/tls/ca-two.pem");

    /// The store rustls-native-certs' way would build: rustls-pki-types' decoder, every
    /// certificate an anchor.
    fn reference(pem: &[u8]) -> RootCertStore {
        let certs: Vec<_> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .unwrap();
        let mut store = RootCertStore::empty();
        store.add_parsable_certificates(certs);
        store
    }

    fn search(pem: &[u8], names: &[&[u8]]) -> (Vec<TrustAnchor<'static>>, Problems) {
        let wanted: HashSet<&[u8]> = names.iter().copied().collect();
        let (mut anchors, mut problems) = (Vec::new(), Problems::default());
        read_pem(pem, &wanted, &mut anchors, &mut problems).unwrap();
        (anchors, problems)
    }

    fn sorted(mut anchors: Vec<TrustAnchor<'static>>) -> Vec<TrustAnchor<'static>> {
        anchors.sort_by(|a, b| {
            (a.subject.as_ref(), a.subject_public_key_info.as_ref())
                .cmp(&(b.subject.as_ref(), b.subject_public_key_info.as_ref()))
        });
        anchors
    }

    /// Asked for every subject, it finds exactly the anchors rustls-native-certs' way
    /// would; asked for one, only that one.
    fn finds_what_the_reference_finds(pem: &[u8]) {
        let all = reference(pem).roots;
        let names: Vec<&[u8]> = all.iter().map(|a| a.subject.as_ref()).collect();
        let (found, problems) = search(pem, &names);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(sorted(found), sorted(all.clone()));
        for anchor in &all {
            let (found, _) = search(pem, &[anchor.subject.as_ref()]);
            assert!(found.contains(anchor));
            assert!(found.iter().all(|f| f.subject == anchor.subject));
        }
    }

    #[test]
    fn finds_the_anchors_rustls_pki_types_reads() {
        let bundle = format!("{ONE}\n# a comment line\r\n{}", TWO.replace('\n', "\r\n"));
        finds_what_the_reference_finds(bundle.as_bytes());
    }

    #[test]
    fn finds_every_anchor_of_the_system_bundle_as_rustls_pki_types_reads_it() {
        let Some(bundle) = openssl_probe::probe().cert_file else {
            return; // no system bundle on this machine
        };
        let pem = fs::read(bundle).unwrap();
        assert!(reference(&pem).len() > 10);
        finds_what_the_reference_finds(&pem);
    }

    #[test]
    fn subject_and_issuer_read_from_a_certificate_or_a_prefix() {
        let der = CertificateDer::from_pem_slice(ONE.as_bytes()).unwrap();
        let mut store = RootCertStore::empty();
        store.add(der.clone()).unwrap();
        let anchor = &store.roots[0];
        assert_eq!(subject(&der), Some(anchor.subject.as_ref()));
        assert_eq!(
            issuer(&der),
            Some(anchor.subject.as_ref()),
            "a root issues itself"
        );
        let short = subject(&der).unwrap().as_ptr() as usize - der.as_ptr() as usize
            + subject(&der).unwrap().len();
        assert!(
            subject(&der[..short]).is_some(),
            "a prefix holding the subject"
        );
        assert!(
            subject(&der[..short - 1]).is_none(),
            "cut inside the subject"
        );
        for junk in [
            &b""[..],
            b"\x30",
            b"\x30\x80",
            b"\x02\x01\x00",
            b"\x30\x85\x01\x01\x01\x01\x01",
        ] {
            assert_eq!(subject(junk), None);
        }
    }

    #[test]
    fn quads_decode_as_the_base64_crate_decodes_them() {
        use base64::engine::general_purpose::STANDARD;
        for bytes in [&b""[..], b"abc", b"\x00\xff\x10", &[7u8; 48]] {
            let text = STANDARD.encode(bytes);
            let mut out = vec![1];
            assert!(decode_quads(text.as_bytes(), &mut out));
            assert_eq!(&out[1..], bytes);
        }
        for bad in [&b"ab=="[..], b"a-bc", b"ab\ncd", b"\xffAAA"] {
            assert!(!decode_quads(bad, &mut Vec::new()), "{bad:?}");
        }
    }

    #[test]
    fn a_broken_section_is_counted_and_the_next_one_still_read() {
        let bundle = format!("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n{TWO}");
        let names: Vec<Vec<u8>> = reference(TWO.as_bytes())
            .roots
            .iter()
            .map(|a| a.subject.to_vec())
            .collect();
        let (found, problems) = search(bundle.as_bytes(), &[names[0].as_slice()]);
        assert_eq!(problems.bad, 1);
        assert_eq!(found, reference(TWO.as_bytes()).roots);
    }

    #[test]
    fn a_section_that_is_no_certificate_and_an_unterminated_one_are_counted() {
        let (found, problems) = search(
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            &[],
        );
        assert_eq!((found.len(), problems.bad), (0, 1));
        let (found, problems) = search(b"-----BEGIN CERTIFICATE-----\nMIIB", &[]);
        assert_eq!((found.len(), problems.bad), (0, 1));
    }

    #[test]
    fn file_and_directory_are_both_read_each_file_once_and_each_name_searched_once() {
        let dir = env::temp_dir().join(format!("roots-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.pem");
        fs::write(&one, ONE).unwrap();
        fs::write(dir.join("two.pem"), TWO).unwrap();
        std::os::unix::fs::symlink(&one, dir.join("0a1b2c3d.0")).unwrap();
        let roots = Roots::at(Some(one.clone()), vec![dir.clone()]);
        let expected = reference(format!("{ONE}{TWO}").as_bytes()).roots;
        let names: Vec<&[u8]> = expected.iter().map(|a| a.subject.as_ref()).collect();
        let (found, problems) = roots.anchors_for(&names);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            sorted(found),
            sorted(expected.clone()),
            "the symlink is not read twice"
        );
        fs::remove_dir_all(&dir).unwrap();
        let (again, problems) = roots.anchors_for(&names);
        assert!(problems.is_empty(), "searched names are not searched again");
        assert_eq!(sorted(again), sorted(expected));
    }

    #[test]
    fn a_missing_file_is_reported_not_fatal() {
        let roots = Roots::at(Some(PathBuf::from("/nonexistent/bundle.pem")), Vec::new());
        let (found, problems) = roots.anchors_for(&[b"name"]);
        assert!(found.is_empty());
        assert_eq!(problems.unreadable.len(), 1);
    }
}
