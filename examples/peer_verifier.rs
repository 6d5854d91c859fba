//! This project's verifier as a peer of the benchmark harness in `shared/bench/peers`:
//! `peer_verifier <jwks.json> <tokens.txt> <passes> [<bad_tokens.txt>]`. It verifies Cognito
//! access tokens (iss of pool `us-east-1_TEST`, `client_id` `testclient`, `token_use`
//! `access`, `exp`, key by `kid`) through the authorizer's own `Verifier`, with the JWKS
//! preloaded into the memory tier and the token cache off (every verify is a full one, as
//! for the other peers). Rejects every bad token, warms up once, then times
//! `passes` x all tokens and prints one JSON line.

use std::collections::HashMap;
use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use jwt_authorizer::events::AuthRequest;
use jwt_authorizer::{Authorizer, Config, SystemClock};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [jwks, tokens, passes, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: peer_verifier <jwks.json> <tokens.txt> <passes> [<bad_tokens.txt>]".into(),
        );
    };
    let vars: HashMap<&str, &str> = [
        ("COGNITO_USER_POOL_ID", "us-east-1_TEST"),
        ("JWT_AUDIENCE", "testclient"),
        ("JWT_ALGORITHMS", "RS256,ES256"),
        ("JWKS_URL", "http://127.0.0.1:9/unused"),
        ("JWKS_TIMEOUT_MS", "100"),
        ("TOKEN_CACHE_SIZE", "0"),
    ]
    .into();
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned()))?;
    let authorizer = Authorizer::new(&config, Arc::new(SystemClock::new()), None)?;
    authorizer
        .verifier()
        .load_document(std::fs::read_to_string(jwks)?.as_bytes())?;
    let verifier = authorizer.verifier();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let verify = |token: &str| {
        runtime
            .block_on(verifier.verify(token, &AuthRequest::bearer(token)))
            .result
            .is_ok()
    };

    let tokens: Vec<String> = std::fs::read_to_string(tokens)?
        .lines()
        .map(str::to_owned)
        .collect();
    let passes: usize = passes.parse()?;
    if let Some(bad) = rest.first() {
        for line in std::fs::read_to_string(bad)?.lines() {
            let (label, token) = line
                .split_once('\t')
                .ok_or("bad_tokens.txt: label<TAB>token")?;
            if verify(token) {
                return Err(format!("accepted bad token {label}").into());
            }
        }
    }
    if let Some(rejected) = tokens.iter().find(|t| !verify(t)) {
        return Err(format!("rejected a good token ({} chars)", rejected.len()).into());
    }
    let start = Instant::now();
    for _ in 0..passes {
        for token in &tokens {
            black_box(verify(black_box(token)));
        }
    }
    let n = passes * tokens.len();
    let ns = start.elapsed().as_nanos() as f64 / n.max(1) as f64;
    println!(
        r#"{{"peer":"jwt-authorizer","tokens_verified":{n},"ns_per_verify":{ns:.1},"version":"{}","runtime":"rust aws-lc-rs, Verifier::verify, token cache off"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    Ok(())
}
