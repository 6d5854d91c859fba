//! The differential corpus judged by the `jsonwebtoken` crate (11.1.0, aws-lc-rs provider):
//! `differential-jsonwebtoken DIR` reads `DIR/setup.json` and `DIR/corpus.jsonl` (written
//! by `cargo run --example differential`) and writes `DIR/jsonwebtoken.jsonl`, one
//! `{"id", "verdict", "reason"}` a line.
//!
//! jsonwebtoken verifies one token against one key and one `Validation`; the glue a
//! service writes around it is kept to what its documentation shows, and no more:
//!
//! 1. `decode_header`, then the header `alg` must be in the configured allow-list;
//! 2. the key is the JWKS entry with the header's `kid` (`JwkSet::find`), and when that
//!    JWK declares an `alg`, it must be the header's (the crate's JWKS example pins the
//!    `Validation` to the JWK's algorithm);
//! 3. `decode` with `Validation::new(alg)`, leeway 0, `nbf` checked, and required `exp`,
//!    `iss` (and `aud` for the OIDC issuer), one `Validation` per configured issuer; the
//!    token is valid when one issuer's accepts it;
//! 4. Cognito access tokens carry no `aud`: the audience check is off for that issuer and
//!    `token_use` and `client_id` are compared on the decoded claims, as the shared peer
//!    benchmark does.
//!
//! Its clock is the system clock (the crate takes no other), so the corpus's `clock`
//! cases, whose verdict depends on the time, are reported as `skipped`.

use std::error::Error;
use std::fmt::Write as _;

use jsonwebtoken::jwk::{JwkSet, PublicKeyUse};
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

struct Issuer {
    validation: Validation,
    /// Cognito access tokens: accepted `client_id`s and the required `token_use`.
    cognito: Option<(Vec<String>, String)>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn issuers(setup: &Value, alg: jsonwebtoken::Algorithm) -> Vec<Issuer> {
    let mut out = Vec::new();
    for issuer in setup["issuers"].as_array().into_iter().flatten() {
        let mut validation = Validation::new(alg);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_issuer(&[issuer["issuer"].as_str().unwrap_or_default()]);
        let cognito = if issuer["kind"] == "cognito" {
            validation.validate_aud = false;
            validation.set_required_spec_claims(&["exp", "iss"]);
            Some((
                strings(&issuer["client_id"]),
                issuer["token_use"].as_str().unwrap_or_default().to_owned(),
            ))
        } else {
            validation.set_audience(&strings(&issuer["audience"]));
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            None
        };
        out.push(Issuer {
            validation,
            cognito,
        });
    }
    out
}

fn verify(token: &str, setup: &Value, jwks: &JwkSet) -> Result<(), String> {
    let header = decode_header(token).map_err(|e| format!("header: {:?}", e.kind()))?;
    let alg = header.alg;
    let allowed = strings(&setup["algorithms"]);
    if !allowed.iter().any(|a| format!("{alg:?}") == *a) {
        return Err("alg not allowed".into());
    }
    let kid = header.kid.ok_or("no kid")?;
    let jwk = jwks.find(&kid).ok_or("unknown kid")?;
    if jwk
        .common
        .key_algorithm
        .is_some_and(|declared| declared.to_string() != format!("{alg:?}"))
    {
        return Err("alg is not the JWK's".into());
    }
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return Err("JWK use is not sig".into());
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key: {:?}", e.kind()))?;
    let mut last = String::from("no issuer");
    for issuer in issuers(setup, alg) {
        match decode::<Map<String, Value>>(token, &key, &issuer.validation) {
            Ok(data) => {
                let Some((client_ids, token_use)) = &issuer.cognito else {
                    return Ok(());
                };
                let claims = data.claims;
                if claims.get("token_use").and_then(Value::as_str) != Some(token_use) {
                    last = "token_use".into();
                } else if !claims
                    .get("client_id")
                    .and_then(Value::as_str)
                    .is_some_and(|c| client_ids.iter().any(|id| id == c))
                {
                    last = "client_id".into();
                } else {
                    return Ok(());
                }
            }
            Err(e) => last = format!("{:?}", e.kind()),
        }
    }
    Err(last)
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args()
        .nth(1)
        .ok_or("usage: differential-jsonwebtoken DIR")?;
    let setup: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/setup.json"))?)?;
    let jwks: JwkSet = serde_json::from_value(setup["jwks"].clone())?;
    let mut out = String::new();
    let mut judged = 0;
    for line in std::fs::read_to_string(format!("{dir}/corpus.jsonl"))?.lines() {
        let case: Value = serde_json::from_str(line)?;
        let id = &case["id"];
        let (verdict, reason) = if case["clock"] == true {
            ("skipped", "no settable clock".to_owned())
        } else {
            judged += 1;
            match verify(case["token"].as_str().unwrap_or_default(), &setup, &jwks) {
                Ok(()) => ("accept", "ok".to_owned()),
                Err(reason) => ("reject", reason),
            }
        };
        let line = serde_json::json!({"id": id, "verdict": verdict, "reason": reason});
        writeln!(out, "{line}")?;
    }
    std::fs::write(format!("{dir}/jsonwebtoken.jsonl"), out)?;
    println!("jsonwebtoken: judged {judged} tokens (clock cases skipped)");
    Ok(())
}
