//! A whole warm REST TOKEN decision (event JSON in → answer JSON out, key in memory) next
//! to a bare aws-lc-rs signature verification of the same token; prints their ratio.
//! Run: `cargo bench --bench decision` (scripts/bench.sh adds the `openssl speed` floor).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use jwt_authorizer::{Authorizer, Config, ManualClock};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;

fn setup() -> (Authorizer, tokio::runtime::Runtime, String) {
    let vars: HashMap<&str, &str> = [
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "test-client"),
        ("JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
    ]
    .into();
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
    let authorizer = Authorizer::new(&config, Arc::new(ManualClock::new(NOW)), None).unwrap();
    for store in authorizer.verifier().key_stores() {
        store.load_document(JWKS.as_bytes()).unwrap();
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let claims = json!({
        "iss": "https://issuer.test", "sub": "7f3c2a10-5b1e-4c1a-9d2e-0a1b2c3d4e5f", "aud": "test-client",
        "token_use": "access", "scope": "aws.cognito.signin.user.admin", "auth_time": NOW - 60,
        "iat": NOW - 60, "exp": NOW + 3600, "jti": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", "username": "alice",
    });
    (authorizer, runtime, mint(FixtureKey::Rsa, &claims))
}

fn event_bytes(token: &str) -> Vec<u8> {
    let arn = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/hello/7f3c2a10-5b1e-4c1a-9d2e-0a1b2c3d4e5f";
    json!({"type": "TOKEN", "authorizationToken": format!("Bearer {token}"), "methodArn": arn})
        .to_string()
        .into_bytes()
}

fn bench(c: &mut Criterion) {
    let (authorizer, runtime, token) = setup();
    let event = event_bytes(&token);
    let mut group = c.benchmark_group("rs256");
    group.bench_function("warm_token_decision", |b| {
        b.iter(|| {
            let event = std::str::from_utf8(black_box(&event)).unwrap();
            let answer = runtime.block_on(authorizer.decide(event)).answer.unwrap();
            black_box(serde_json::to_vec(&answer).unwrap())
        })
    });

    let jwk: Value = serde_json::from_str::<Value>(JWKS).unwrap()["keys"][0].clone();
    let decode = |field: &str| {
        URL_SAFE_NO_PAD
            .decode(jwk[field].as_str().unwrap())
            .unwrap()
    };
    let (n, e) = (decode("n"), decode("e"));
    let key = RsaPublicKeyComponents {
        n: n.as_slice(),
        e: e.as_slice(),
    }
    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    group.bench_function("bare_signature_verify", |b| {
        b.iter(|| {
            key.verify_sig(black_box(input.as_bytes()), black_box(&sig))
                .unwrap()
        })
    });
    group.finish();
}

/// Mean time of one benchmark from criterion's own record, in ns.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let path = format!(
        "{}/criterion/{group}/{name}/new/estimates.json",
        target_dir()
    );
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")))
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    if let (true, Some(decision), Some(bare)) = (
        benchmarking,
        mean_ns("rs256", "warm_token_decision"),
        mean_ns("rs256", "bare_signature_verify"),
    ) {
        println!(
            "warm TOKEN decision {decision:.0} ns, bare aws-lc-rs verify {bare:.0} ns: ratio {:.3}",
            decision / bare
        );
    }
}
