//! The whole decision on tokens signed by the fixture keys, so the fuzzer gets past the
//! signature into claims, rules and templates.
//!
//! Input: 8 bytes of choices, then the claims JSON as raw bytes.
//!
//! | byte | chooses |
//! |---|---|
//! | 0 | event kind (the `events/` file) |
//! | 1 | configuration (`fuzz_support::setups`) |
//! | 2 | signer: a trusted key, a foreign key under a trusted `kid`, HMAC keyed with the public key, `none`, a key not in the JWKS, RS key under PS256 |
//! | 3 | header: `kid` own / missing / unknown / another key's; `crit`; `typ`; `jku`+`x5u`; `jwk`; `alg` overridden |
//! | 4 | encoding and placement: header padded with `=`; another user's route; `bearer` in lower case; token left out |
//! | 5-6, 7 | signature byte position and XOR mask (0: untouched) |
//!
//! The token's validity is decided here from how it was built and from SPEC.md's claim
//! rules (`fuzz_support::claims_problem`), independently of the verifier; the decision
//! must agree with it exactly, must never Allow an invalid token, and its answer must hold
//! every invariant of `fuzz_support::check_answer`.
#![no_main]

use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, JWKS, JWKS_FOREIGN, b64, hmac256, sign};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

struct Signer {
    key: Option<FixtureKey>,
    /// The algorithm the signature is made with.
    signs: &'static str,
    /// The header's `alg` and `kid`.
    alg: &'static str,
    kid: &'static str,
    /// Signed by the key the JWKS publishes under `kid`, with the algorithm its JWK declares.
    trusted: bool,
}

/// Picked by one byte. The two fast trusted signers (ES256, EdDSA) are listed twice, so
/// most inputs carry a valid signature cheaply and the fuzzer spends its time in claims,
/// rules and templates; the other seven are each listed once.
const SIGNERS: [Signer; 11] = [
    Signer {
        key: Some(FixtureKey::Ec256),
        signs: "ES256",
        alg: "ES256",
        kid: "ec-1",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::Ed25519),
        signs: "EdDSA",
        alg: "EdDSA",
        kid: "ed-1",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::Ec384),
        signs: "ES384",
        alg: "ES384",
        kid: "ec-2",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::Rsa),
        signs: "RS256",
        alg: "RS256",
        kid: "rsa-1",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::Ec256),
        signs: "ES256",
        alg: "ES256",
        kid: "ec-1",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::Ed25519),
        signs: "EdDSA",
        alg: "EdDSA",
        kid: "ed-1",
        trusted: true,
    },
    Signer {
        key: Some(FixtureKey::RsaForeign),
        signs: "RS256",
        alg: "RS256",
        kid: "rsa-1",
        trusted: false,
    },
    Signer {
        key: None,
        signs: "HS256",
        alg: "HS256",
        kid: "rsa-1",
        trusted: false,
    },
    Signer {
        key: None,
        signs: "none",
        alg: "none",
        kid: "ec-1",
        trusted: false,
    },
    Signer {
        key: Some(FixtureKey::RsaRotated),
        signs: "RS256",
        alg: "RS256",
        kid: "rsa-2",
        trusted: false,
    },
    Signer {
        key: Some(FixtureKey::Rsa),
        signs: "PS256",
        alg: "PS256",
        kid: "rsa-1",
        trusted: false,
    },
];

const KINDS: [(Kind, &str); 4] = [
    (
        Kind::RestToken,
        include_str!("../../events/rest-token.json"),
    ),
    (
        Kind::RestRequest,
        include_str!("../../events/rest-request.json"),
    ),
    (
        Kind::WebSocket,
        include_str!("../../events/websocket-connect.json"),
    ),
    (Kind::HttpApi, include_str!("../../events/http-api.json")),
];

fn rsa_modulus() -> String {
    let jwks: Value = serde_json::from_str(JWKS).unwrap();
    jwks["keys"][0]["n"].as_str().unwrap().to_owned()
}

fuzz_target!(|data: &[u8]| {
    let Some((choices, claims_bytes)) = data.split_first_chunk::<8>() else {
        return;
    };
    let harnesses = fuzz_support::harnesses();
    let harness = &harnesses[usize::from(choices[1]) % harnesses.len()];
    let (kind, event_template) = KINDS[usize::from(choices[0]) % KINDS.len()];
    let signer = &SIGNERS[usize::from(choices[2]) % SIGNERS.len()];
    let (header_bits, encoding_bits) = (choices[3], choices[4]);
    let position = usize::from(u16::from_le_bytes([choices[5], choices[6]]));
    let xor = choices[7];

    // The header.
    let mut header = Map::new();
    let alg = if header_bits & 0x40 != 0 {
        if header_bits & 0x80 != 0 {
            "ES256"
        } else {
            "RS256"
        }
    } else {
        signer.alg
    };
    header.insert("alg".into(), json!(alg));
    let own_kid = match header_bits & 0x03 {
        0 => {
            header.insert("kid".into(), json!(signer.kid));
            true
        }
        1 => false,
        2 => {
            header.insert("kid".into(), json!("no-such-kid"));
            false
        }
        _ => {
            let other = if signer.kid == "ec-2" { "ec-1" } else { "ec-2" };
            header.insert("kid".into(), json!(other));
            false
        }
    };
    let crit = header_bits & 0x04 != 0;
    if crit {
        header.insert("crit".into(), json!(["exp"]));
    }
    if header_bits & 0x08 != 0 {
        header.insert("typ".into(), json!("JWT"));
    }
    if header_bits & 0x10 != 0 {
        header.insert("jku".into(), json!("https://attacker.test/jwks.json"));
        header.insert("x5u".into(), json!("https://attacker.test/cert.pem"));
    }
    if header_bits & 0x20 != 0 {
        let foreign: Value = serde_json::from_str(JWKS_FOREIGN).unwrap();
        header.insert("jwk".into(), foreign["keys"][0].clone());
    }

    // The token, signed over exactly what it carries.
    let padded = encoding_bits & 0x01 != 0;
    let mut encoded_header = b64(Value::Object(header).to_string().as_bytes());
    if padded {
        encoded_header.push('=');
    }
    let input = format!("{encoded_header}.{}", b64(claims_bytes));
    let mut signature = match (signer.key, signer.signs) {
        (Some(key), alg) => sign(key, alg, input.as_bytes()),
        (None, "HS256") => hmac256(rsa_modulus().as_bytes(), input.as_bytes()),
        (None, _) => b"x".to_vec(),
    };
    if xor != 0 {
        let at = position % signature.len();
        signature[at] ^= xor;
    }
    let token = format!("{input}.{}", b64(&signature));

    // Validity, from how it was built and SPEC.md.
    let left_out = encoding_bits & 0x08 != 0;
    let claims: Option<Map<String, Value>> = serde_json::from_slice(claims_bytes).ok();
    let authentic = signer.trusted && alg == signer.alg && own_kid && !crit && !padded && xor == 0;
    let valid = authentic
        && !left_out
        && token.len() <= fuzz_support::MAX_TOKEN
        && claims
            .as_ref()
            .is_some_and(|c| fuzz_support::claims_problem(&harness.setup, c, alg).is_ok());

    // The event: the `events/` file with the token and the route's user id.
    let user = match claims
        .as_ref()
        .and_then(|c| c.get("sub"))
        .and_then(fuzz_support::segment)
    {
        Some(sub) if encoding_bits & 0x02 == 0 => sub,
        _ => "someone-else".to_owned(),
    };
    let mut event = event_template.replace("${USER_ID}", &user);
    if encoding_bits & 0x04 != 0 {
        event = event.replace("Bearer ${TOKEN}", "bearer ${TOKEN}");
    }
    let event = event.replace("${TOKEN}", if left_out { "" } else { &token });
    let arn = {
        let v: Value = serde_json::from_str(&event).unwrap();
        v.get("methodArn")
            .or_else(|| v.get("routeArn"))
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    };

    let decision = fuzz_support::decide(harness, &event);
    assert_eq!(decision.kind, Some(kind));
    let expected = if valid { claims.as_ref() } else { None };
    fuzz_support::check_answer(&harness.setup, &decision, kind, &arn, expected);
});
