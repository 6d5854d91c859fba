//! Certificate-bound tokens (RFC 8705 §3): the `x5t#S256` of the client certificate API
//! Gateway verified, from the PEM it puts in the event.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::thumbprint::sha256_b64url;

const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

/// The DER of the first certificate in `pem`; `None` when there is no well-formed
/// `CERTIFICATE` block.
pub fn der(pem: &str) -> Option<Vec<u8>> {
    let start = pem.find(BEGIN)? + BEGIN.len();
    let body = pem.get(start..)?;
    let end = body.find(END)?;
    let base64: String = body
        .get(..end)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD.decode(base64).ok()?;
    (!der.is_empty()).then_some(der)
}

/// `base64url(SHA-256(DER))` of the first certificate in `pem`: the value `cnf["x5t#S256"]`
/// must equal.
pub fn x5t_s256(pem: &str) -> Option<String> {
    der(pem).map(|der| sha256_b64url(&der))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn the_thumbprint_is_over_the_der() {
        let pem = format!("{BEGIN}\nAQID\nBA==\n{END}\n");
        assert_eq!(der(&pem).unwrap(), [1, 2, 3, 4]);
        assert_eq!(x5t_s256(&pem).unwrap(), sha256_b64url(&[1, 2, 3, 4]));
    }

    #[test]
    fn only_the_first_certificate_counts() {
        let pem = format!("{BEGIN}\nAQID\n{END}\n{BEGIN}\nBAUG\n{END}\n");
        assert_eq!(der(&pem).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn no_block_or_bad_base64_is_none() {
        assert_eq!(der("CERT_CONTENT"), None);
        assert_eq!(der(&format!("{BEGIN}\n!!!\n{END}")), None);
        assert_eq!(der(&format!("{BEGIN}\nAQID\n")), None);
        assert_eq!(der(&format!("{BEGIN}\n{END}")), None);
    }
}
