//! The warm decision one stage at a time, for counting instructions with
//! `valgrind --tool=callgrind` (`scripts/profile_decision.sh` runs it and prints the
//! table): `decision_profile <stage> <rs256|es256> <count>` runs `stage` `count` times on
//! one token of `benches/decision.rs`' kind, after one untimed run that pays every
//! one-time cost. Stages: `event` (the TOKEN event read, `events::parse`), `decode` (the
//! token split, base64url and JSON, `verify::decode`), `signature` (the bare aws-lc-rs
//! check with the parsed key), `answer` (the answer of one decision serialized, as the
//! Lambda runtime does), `whole` (the whole decision with the token cache off:
//! event in, answer JSON out), `repeated` (the same with the token cache on, the token
//! seen before). The script takes the difference between two counts, so set-up cancels.

use std::collections::HashMap;
use std::error::Error;
use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_authorizer::testkit::{
    BENCH_ISSUER, BENCH_NOW, FixtureKey, JWKS, access_token, parsed_public_key, token_event,
};
use jwt_authorizer::{Authorizer, Config, ManualClock, events, verify};

fn authorizer(cache: &str) -> Result<Authorizer, Box<dyn Error>> {
    let vars: HashMap<&str, &str> = [
        ("JWT_ISSUER", BENCH_ISSUER),
        ("JWT_AUDIENCE", "test-client"),
        ("JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
        ("JWT_ALGORITHMS", "RS256,ES256"),
        ("TOKEN_CACHE_SIZE", cache),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ]
    .into();
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned()))?;
    let authorizer = Authorizer::new(&config, Arc::new(ManualClock::new(BENCH_NOW)), None)?;
    authorizer.verifier().load_document(JWKS.as_bytes())?;
    Ok(authorizer)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [stage, alg, count] = args.as_slice() else {
        return Err(
            "usage: decision_profile <event|decode|signature|answer|whole|repeated> <rs256|es256> <count>"
                .into(),
        );
    };
    let key = match alg.as_str() {
        "rs256" => FixtureKey::Rsa,
        "es256" => FixtureKey::Ec256,
        _ => return Err(format!("unknown algorithm {alg}").into()),
    };
    let count: usize = count.parse()?;
    let token = access_token(key, 0);
    let event = token_event(&token);
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let decide = |authorizer: &Authorizer| -> Result<usize, Box<dyn Error>> {
        let decision = runtime.block_on(authorizer.decide(black_box(&event)));
        let answer = decision.answer.map_err(|_| "refused")?;
        Ok(serde_json::to_vec(&answer)?.len())
    };
    match stage.as_str() {
        "event" => {
            let sources = jwt_authorizer::token::TokenSource::defaults();
            for _ in 0..=count {
                black_box(events::parse(black_box(&event), &sources).map_err(|e| e.to_string())?);
            }
        }
        "decode" => {
            for _ in 0..=count {
                black_box(verify::decode(black_box(&token)).map_err(|e| e.to_string())?);
            }
        }
        "signature" => {
            let parsed = parsed_public_key(key);
            let (input, signature) = token.rsplit_once('.').ok_or("no signature")?;
            let signature = URL_SAFE_NO_PAD.decode(signature)?;
            for _ in 0..=count {
                parsed
                    .verify_sig(black_box(input.as_bytes()), black_box(&signature))
                    .map_err(|_| "bad signature")?;
            }
        }
        "answer" => {
            let answer = runtime
                .block_on(authorizer("0")?.decide(&event))
                .answer
                .map_err(|_| "refused")?;
            for _ in 0..=count {
                black_box(serde_json::to_vec(black_box(&answer))?);
            }
        }
        "whole" | "repeated" => {
            let authorizer = authorizer(if stage == "whole" { "0" } else { "1024" })?;
            for _ in 0..=count {
                black_box(decide(&authorizer)?);
            }
        }
        _ => return Err(format!("unknown stage {stage}").into()),
    }
    Ok(())
}
