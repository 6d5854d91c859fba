//! The warm decision, per algorithm (RS256, ES256): a whole REST TOKEN decision (event
//! JSON in → answer JSON out, key in memory) over 256 distinct tokens with the token cache
//! off; the same for one repeated token with the cache on; and a bare aws-lc-rs signature
//! check of the same token with the same parsed key; both decisions again with
//! `REVOCATION=on`, every lookup cached (the same Authorizer over an in-memory store,
//! pre-warmed), to show what revocation adds to a warm decision; and the decision with
//! twenty authorization rules against the one with one template; with the tenant
//! registry on, a configured issuer's repeated token and a flood token (an `iss` within
//! the patterns that no item names, past the lookup budget), refused unread; and the DPoP
//! decision (REST REQUEST event, RS256 token, ES256 proof, memory replay, each proof
//! fresh) with the token cache off and on. Prints the ratios.
//! Run: `cargo bench --bench decision` (scripts/bench.sh adds the `openssl speed` floors).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion};
use jwt_authorizer::issuers::MemoryRegistry;
use jwt_authorizer::revocation::MemoryStore;
use jwt_authorizer::testkit::{
    BENCH_NOW as NOW, BENCH_SUB as SUB, FixtureKey, JWKS, access_token as token, dpop_proof, jkt,
    mint, parsed_public_key, proof_claims, token_event as event,
};
use jwt_authorizer::{Authorizer, Config, ManualClock};
use serde_json::{Value, json};

fn authorizer(cache: &str) -> Authorizer {
    authorizer_with(cache, &[("POLICY_RESOURCES", "GET/hello/{sub}")], false)
}

/// Twenty rules of every kind, as a real API might have: per-user paths, scopes (any and
/// all), groups, claim pins; six of them hold for the benchmark's token.
const TWENTY_RULES: &str = r#"[
    {"resources": ["GET/hello/{sub}"]},
    {"resources": ["PUT/profile/{sub}", "GET/profile/{sub}"]},
    {"resources": ["GET/reports/*"], "scopes_any": ["reports:read", "aws.cognito.signin.user.admin"]},
    {"resources": ["POST/reports/*"], "scopes_all": ["reports:write", "reports:read"]},
    {"resources": ["DELETE/users/*"], "scopes_all": ["users:write"], "groups_any": ["ops"]},
    {"resources": ["GET/users/*"], "groups_any": ["ops", "support"]},
    {"resources": ["GET/admin/*"], "groups_all": ["admins", "ops"]},
    {"resources": ["GET/billing/*"], "groups_any": ["finance"]},
    {"resources": ["GET/tenants/{custom:tenant}/*"], "claims": {"custom:tenant": ["acme", "globex"]}},
    {"resources": ["PUT/tenants/{custom:tenant}/*"], "claims": {"custom:tenant": ["acme"], "custom:tier": [3]}},
    {"resources": ["GET/beta/*"], "claims": {"custom:beta": [true]}},
    {"resources": ["GET/eu/*"], "claims": {"custom:region": ["eu-west-1", "eu-central-1"]}},
    {"resources": ["GET/files/{sub}/*"], "scopes_any": ["files:read"]},
    {"resources": ["PUT/files/{sub}/*"], "scopes_any": ["files:write"]},
    {"resources": ["GET/orders/*"], "scopes_any": ["orders:read"], "groups_any": ["sales"]},
    {"resources": ["POST/orders/*"], "scopes_all": ["orders:write"], "groups_any": ["sales"]},
    {"resources": ["GET/audit/*"], "groups_any": ["auditors"], "claims": {"iss": ["https://issuer.test"]}},
    {"resources": ["GET/status"], "claims": {"iss": ["https://issuer.test"]}},
    {"resources": ["GET/metrics/*"], "groups_any": ["ops"], "scopes_any": ["metrics:read", "aws.cognito.signin.user.admin"]},
    {"resources": ["$connect"], "scopes_any": ["chat", "aws.cognito.signin.user.admin"]}
]"#;

/// Twenty rules of which only the first holds for the benchmark's token: the same grant
/// (and answer) as one template, so the difference is the evaluation alone.
fn twenty_rules_one_holding() -> String {
    let mut rules = vec![json!({"resources": ["GET/hello/{sub}"]})];
    for i in 0..19 {
        let resources = json!([format!("GET/r{i}/{{sub}}/*")]);
        rules.push(match i % 4 {
            0 => json!({"resources": resources, "scopes_any": ["nope:read", "nope:write"]}),
            1 => json!({"resources": resources, "groups_any": ["nobody", "finance"]}),
            2 => json!({"resources": resources, "claims": {"custom:tenant": ["initech"]}}),
            _ => json!({"resources": resources, "scopes_all": ["aws.cognito.signin.user.admin"], "groups_all": ["ops", "admins"]}),
        });
    }
    Value::Array(rules).to_string()
}

/// With `revocation`, lookups go to an in-memory store and stay fresh (the manual clock
/// never moves), so every decision after the first of a token is a cached lookup.
fn authorizer_with(cache: &str, policy: &[(&str, &str)], revocation: bool) -> Authorizer {
    let mut vars: HashMap<&str, &str> = [
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "test-client"),
        ("JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
        ("JWT_ALGORITHMS", "RS256,ES256"),
        ("TOKEN_CACHE_SIZE", cache),
    ]
    .into();
    vars.extend(policy.iter().copied());
    if revocation {
        vars.extend([
            ("KEYS_TABLE_NAME", "bench"),
            ("REVOCATION", "on"),
            ("REVOCATION_CACHE_SECONDS", "3600"),
        ]);
    }
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let store = Arc::new(MemoryStore::default());
    let authorizer = Authorizer::with_revocation_store(&config, clock, None, store).unwrap();
    authorizer
        .verifier()
        .load_document(JWKS.as_bytes())
        .unwrap();
    authorizer
}

fn decide(runtime: &tokio::runtime::Runtime, authorizer: &Authorizer, event: &str) -> Vec<u8> {
    let answer = runtime
        .block_on(authorizer.decide(black_box(event)))
        .answer
        .unwrap();
    serde_json::to_vec(&answer).unwrap()
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (uncached, cached) = (authorizer("0"), authorizer("1024"));
    let (uncached_rev, cached_rev) = (
        authorizer_with("0", &[("POLICY_RESOURCES", "GET/hello/{sub}")], true),
        authorizer_with("1024", &[("POLICY_RESOURCES", "GET/hello/{sub}")], true),
    );
    for (name, key) in [("rs256", FixtureKey::Rsa), ("es256", FixtureKey::Ec256)] {
        let events: Vec<String> = (0..256).map(|n| event(&token(key, n))).collect();
        let mut group = c.benchmark_group(name);
        let mut i = 0;
        group.bench_function("warm_decision", |b| {
            b.iter(|| {
                i = (i + 1) % events.len();
                black_box(decide(&runtime, &uncached, &events[i]))
            })
        });
        for event in &events {
            decide(&runtime, &uncached_rev, event);
        }
        let mut i = 0;
        group.bench_function("warm_decision_revocation_cached", |b| {
            b.iter(|| {
                i = (i + 1) % events.len();
                black_box(decide(&runtime, &uncached_rev, &events[i]))
            })
        });
        let repeated = &events[0];
        decide(&runtime, &cached, repeated);
        group.bench_function("repeated_token_decision", |b| {
            b.iter(|| black_box(decide(&runtime, &cached, repeated)))
        });
        decide(&runtime, &cached_rev, repeated);
        group.bench_function("repeated_token_revocation_cached", |b| {
            b.iter(|| black_box(decide(&runtime, &cached_rev, repeated)))
        });
        let parsed = parsed_public_key(key);
        let one = token(key, 0);
        let (input, sig) = one.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        group.bench_function("bare_signature_verify", |b| {
            b.iter(|| {
                parsed
                    .verify_sig(black_box(input.as_bytes()), black_box(&sig))
                    .unwrap()
            })
        });
        group.finish();
    }
    rules(c, &runtime);
    tenants(c, &runtime);
    dpop(c, &runtime);
}

/// With `TENANT_REGISTRY=on`: a configured issuer's repeated token (the registry is not
/// asked) against the same with the registry off, and a flood token refused unread
/// (a fresh `iss` within the patterns each time, the lookup budget spent).
fn tenants(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let vars: HashMap<&str, &str> = [
        ("JWT_ISSUER", "https://issuer.test"),
        ("JWT_AUDIENCE", "test-client"),
        ("JWKS_URL", "https://issuer.test/.well-known/jwks.json"),
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
        ("KEYS_TABLE_NAME", "bench"),
        ("TENANT_REGISTRY", "on"),
        ("TENANT_ISSUER_PATTERN", "https://tenants.test/*"),
    ]
    .into();
    let config = Config::from_lookup(|n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
    let clock = Arc::new(ManualClock::new(NOW));
    let store = Arc::new(MemoryRegistry::default());
    let authorizer = Authorizer::with_registry_store(&config, clock, None, store).unwrap();
    authorizer
        .verifier()
        .load_document(JWKS.as_bytes())
        .unwrap();
    let mut group = c.benchmark_group("tenants");
    let repeated = event(&token(FixtureKey::Rsa, 0));
    decide(runtime, &authorizer, &repeated);
    group.bench_function("repeated_token_registry_on", |b| {
        b.iter(|| black_box(decide(runtime, &authorizer, &repeated)))
    });
    let floods: Vec<String> = (0..65_536)
        .map(|n| {
            let claims = json!({"iss": format!("https://tenants.test/flood-{n}"), "sub": SUB,
                "aud": "test-client", "exp": NOW + 3600});
            let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
            let token = format!(
                "{}.{}.c2ln",
                part(&json!({"alg": "RS256", "kid": "rsa-1"})),
                part(&claims)
            );
            event(&token)
        })
        .collect();
    let mut i = 0;
    group.bench_function("flood_token_refused_unread", |b| {
        b.iter(|| {
            i = (i + 1) % floods.len();
            black_box(
                runtime
                    .block_on(authorizer.decide(black_box(&floods[i])))
                    .outcome,
            )
        })
    });
    group.finish();
}

/// The REST REQUEST event of `events/rest-request-dpop.json` for `token` and `proof`.
fn dpop_event(token: &str, proof: &str) -> String {
    include_str!("../events/rest-request-dpop.json")
        .replace("${TOKEN}", token)
        .replace("${PROOF}", proof)
        .replace("${USER_ID}", SUB)
}

/// A DPoP-bound RS256 token (distinct per `n`).
fn bound_token(n: usize) -> String {
    let mut claims: Value = serde_json::from_str(
        &String::from_utf8(
            URL_SAFE_NO_PAD
                .decode(token(FixtureKey::Rsa, n).split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    claims["cnf"] = json!({"jkt": jkt(FixtureKey::Ec256)});
    mint(FixtureKey::Rsa, &claims)
}

/// The DPoP decision with `DPOP=on`, `DPOP_REPLAY=memory`: each iteration's event holds a
/// fresh ES256 proof (made, unmeasured, in the batch set-up), so every one passes every
/// check including replay. Token cache off (RS256 verify + proof verify) and on (proof
/// verify only).
fn dpop(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let url = format!("https://api.example.com/v1/hello/{SUB}");
    let vars = [
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
        ("DPOP", "on"),
        ("DPOP_REPLAY", "memory"),
    ];
    let (uncached, cached) = (
        authorizer_with("0", &vars, false),
        authorizer_with("1024", &vars, false),
    );
    let tokens: Vec<String> = (0..256).map(bound_token).collect();
    let fresh = |token: &str| {
        let claims = proof_claims("GET", &url, NOW, token);
        dpop_event(token, &dpop_proof(FixtureKey::Ec256, &json!({}), &claims))
    };
    let mut group = c.benchmark_group("dpop");
    let mut i = 0;
    group.bench_function("warm_decision", |b| {
        b.iter_batched(
            || {
                i = (i + 1) % tokens.len();
                fresh(&tokens[i])
            },
            |event| black_box(decide(runtime, &uncached, &event)),
            BatchSize::SmallInput,
        )
    });
    decide(runtime, &cached, &fresh(&tokens[0]));
    group.bench_function("repeated_token_decision", |b| {
        b.iter_batched(
            || fresh(&tokens[0]),
            |event| black_box(decide(runtime, &cached, &event)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// The decision with one template against the same with twenty rules, for the same
/// tokens: warm (full verify) and repeated (token cache on, where the rules are most of
/// what is left).
fn rules(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let one_holding = twenty_rules_one_holding();
    let configs: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "one_template",
            vec![("POLICY_RESOURCES", "GET/hello/{sub}")],
        ),
        (
            "twenty_rules_one_holds",
            vec![("POLICY_RULES", &one_holding)],
        ),
        (
            "twenty_rules_seven_hold",
            vec![("POLICY_RULES", TWENTY_RULES)],
        ),
    ];
    let events: Vec<String> = (0..256)
        .map(|n| event(&token(FixtureKey::Rsa, n)))
        .collect();
    let mut group = c.benchmark_group("rules");
    for (name, policy) in &configs {
        let (uncached, cached) = (
            authorizer_with("0", policy, false),
            authorizer_with("1024", policy, false),
        );
        let mut i = 0;
        group.bench_function(format!("warm_decision_{name}"), |b| {
            b.iter(|| {
                i = (i + 1) % events.len();
                black_box(decide(runtime, &uncached, &events[i]))
            })
        });
        decide(runtime, &cached, &events[0]);
        group.bench_function(format!("repeated_token_{name}"), |b| {
            b.iter(|| black_box(decide(runtime, &cached, &events[0])))
        });
    }
    group.finish();
}

/// Mean time of one benchmark from criterion's own record, in ns.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    let path = format!("{target}/criterion/{group}/{name}/new/estimates.json");
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    estimates["mean"]["point_estimate"].as_f64()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    bench(&mut criterion);
    criterion.final_summary();
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    for group in ["rs256", "es256"] {
        let (Some(warm), Some(repeated), Some(bare)) = (
            mean_ns(group, "warm_decision"),
            mean_ns(group, "repeated_token_decision"),
            mean_ns(group, "bare_signature_verify"),
        ) else {
            continue;
        };
        println!(
            "{group}: warm decision {warm:.0} ns = {:.3} x bare verify ({bare:.0} ns); repeated token {repeated:.0} ns",
            warm / bare
        );
        if let (Some(warm_rev), Some(repeated_rev)) = (
            mean_ns(group, "warm_decision_revocation_cached"),
            mean_ns(group, "repeated_token_revocation_cached"),
        ) {
            println!(
                "{group}: REVOCATION=on, lookup cached: warm decision {warm_rev:.0} ns ({:+.0} ns, {:.3} x off); repeated token {repeated_rev:.0} ns ({:+.0} ns, {:.3} x off)",
                warm_rev - warm,
                warm_rev / warm,
                repeated_rev - repeated,
                repeated_rev / repeated
            );
        }
    }
    if let (Some(off), Some(on), Some(flood)) = (
        mean_ns("rs256", "repeated_token_decision"),
        mean_ns("tenants", "repeated_token_registry_on"),
        mean_ns("tenants", "flood_token_refused_unread"),
    ) {
        println!(
            "tenants: repeated token of a configured issuer {on:.0} ns with the registry on vs {off:.0} ns off; a flood token refused unread {flood:.0} ns"
        );
    }
    if let (Some(warm), Some(repeated)) = (
        mean_ns("dpop", "warm_decision"),
        mean_ns("dpop", "repeated_token_decision"),
    ) {
        println!(
            "dpop: warm decision (RS256 token, ES256 proof, memory replay) {warm:.0} ns; token cached {repeated:.0} ns"
        );
    }
    for kind in ["warm_decision", "repeated_token"] {
        let Some(one) = mean_ns("rules", &format!("{kind}_one_template")) else {
            continue;
        };
        for (variant, what) in [
            ("twenty_rules_one_holds", "20 rules, same grant"),
            ("twenty_rules_seven_hold", "20 rules, 7 resources granted"),
        ] {
            if let Some(twenty) = mean_ns("rules", &format!("{kind}_{variant}")) {
                println!(
                    "rules: {kind}: {what} {twenty:.0} ns vs one template {one:.0} ns: {:+.0} ns",
                    twenty - one
                );
            }
        }
    }
}
