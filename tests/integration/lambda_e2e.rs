//! End to end: the built `authorizer` binary under the Lambda Runtime API, verifying real
//! access tokens issued by moto_server's Cognito emulation, with `JWKS_URL` pointed there.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::moto::Moto;
use common::runtime_api::RuntimeApi;
use common::*;
use jwt_authorizer::events::Kind;
use serde_json::{Value, json};

fn allowed_resources(answer: &Value) -> Vec<String> {
    answer["policyDocument"]["Statement"]
        .as_array()
        .map(|statements| {
            statements
                .iter()
                .filter(|s| s["Effect"] == "Allow")
                .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
                .filter_map(|r| r.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn built_binary_decides_on_real_cognito_tokens_for_every_kind() {
    let moto = Moto::start();
    let cognito = moto.cognito();
    let alice = &cognito["users"][0];
    let bob = &cognito["users"][1];
    let (alice_sub, bob_sub) = (alice["sub"].as_str().unwrap(), bob["sub"].as_str().unwrap());
    let token = alice["access_token"].as_str().unwrap();

    let runtime = RuntimeApi::start();
    let env = [
        (
            "COGNITO_USER_POOL_ID",
            cognito["pool_id"].as_str().unwrap().to_owned(),
        ),
        ("JWKS_URL", cognito["jwks_url"].as_str().unwrap().to_owned()),
        (
            "JWT_AUDIENCE",
            cognito["client_id"].as_str().unwrap().to_owned(),
        ),
        ("POLICY_RESOURCES", "GET/hello/{sub},$connect".to_owned()),
    ];
    let mut child = runtime.spawn(Path::new(env!("CARGO_BIN_EXE_authorizer")), &env);

    // A token signed by another key under moto's kid: forged.
    let forged = jwt_authorizer::testkit::mint_with_header(
        jwt_authorizer::testkit::FixtureKey::RsaForeign,
        "RS256",
        &json!({"alg": "RS256", "kid": "dummy"}),
        &jwt_authorizer::testkit::compact_claims(token),
    );

    for kind in ALL_KINDS {
        let own = runtime
            .invoke(&event(kind, token, alice_sub))
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let other = runtime
            .invoke(&event(kind, token, bob_sub))
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let bad = runtime.invoke(&event(kind, &forged, alice_sub));
        // Per-user templates: the HTTP API answer is IAM by default (HTTP_API_RESPONSE
        // auto), so API Gateway's cache cannot carry alice's answer to bob's path.
        assert!(own.get("isAuthorized").is_none(), "{kind:?}: {own}");
        assert_eq!(own["principalId"], alice_sub, "{kind:?}");
        let allowed = allowed_resources(&own);
        assert!(
            allowed
                .iter()
                .any(|r| r.ends_with(&format!("/GET/hello/{alice_sub}"))),
            "{kind:?}: {own}"
        );
        assert!(
            !other.to_string().contains(bob_sub),
            "{kind:?} granted bob's path: {other}"
        );
        if kind == Kind::HttpApi {
            let bad = bad.expect("HTTP API never uses DENY_MODE");
            assert_eq!(bad["policyDocument"]["Statement"][0]["Effect"], "Deny");
        } else {
            let error = bad.expect_err("forged token must be an error");
            assert_eq!(error["errorMessage"], "Unauthorized", "{kind:?}");
        }
    }

    // Bob's own token reaches his path; the process served everything above and goes on.
    let bob_token = bob["access_token"].as_str().unwrap();
    let answer = runtime
        .invoke(&event(Kind::RestToken, bob_token, bob_sub))
        .unwrap();
    assert!(
        allowed_resources(&answer)
            .iter()
            .any(|r| r.ends_with(bob_sub))
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the function process exited"
    );

    let logs = stop(child);
    let decisions: Vec<Value> = json_lines(&logs)
        .into_iter()
        .filter(|v| v["message"] == "decision")
        .collect();
    assert_eq!(decisions.len(), 13, "one log line per decision:\n{logs}");
    assert!(decisions.iter().all(|d| {
        d["request_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("req-"))
    }));
    assert!(
        logs.lines()
            .any(|l| l.contains("\"keys loaded\"") && l.contains("cold_start")),
        "{logs}"
    );
    assert!(
        !logs.lines().any(|l| l.contains("\"ERROR\"")),
        "a denial is a decision, not an error:\n{logs}"
    );
    for secret in [token, bob_token, forged.as_str()] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature), "a token reached the logs");
    }
}

#[test]
fn bad_configuration_fails_init_with_one_line_naming_the_variable() {
    let runtime = RuntimeApi::start();
    let env = [("COGNITO_USER_POOL_ID", "us-east-1_Example1".to_owned())];
    let started = Instant::now();
    let child = runtime.spawn(Path::new(env!("CARGO_BIN_EXE_authorizer")), &env);
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(started.elapsed() < Duration::from_secs(10));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("JWT_AUDIENCE"), "{text}");
    // The same message reaches the Runtime API, so the invoke response shows it.
    let reported = runtime.init_errors();
    assert_eq!(reported.len(), 1, "{reported:?}");
    let (kind, body) = &reported[0];
    assert_eq!(kind, "Runtime.InvalidConfiguration");
    assert_eq!(body["errorType"], "Runtime.InvalidConfiguration");
    let message = body["errorMessage"].as_str().unwrap();
    assert!(
        message.starts_with("invalid configuration: JWT_AUDIENCE: "),
        "{message}"
    );
    assert!(lines[0].contains(message), "{text}");
}

/// The `refresher` binary, built now: it belongs to another workspace member, so
/// `cargo test` does not build it for this package's tests by itself. Selected with the
/// workspace and this test target (already built: a no-op), cargo resolves features as
/// for the test build (dev-dependencies on), so the refresher links the dependencies
/// already compiled; `--package refresher` alone would rebuild the library, tokio and
/// the AWS SDK with other features (a minute on 2 cores) and replace the binary
/// `scripts/test.sh` built.
fn refresher_binary() -> std::path::PathBuf {
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--bin",
            "refresher",
            "--test",
            "integration",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --bin refresher failed");
    Path::new(env!("CARGO_BIN_EXE_authorizer")).with_file_name("refresher")
}

/// Runs `binary` under the Runtime API host with `env` (plus AWS settings for moto), sends
/// `event`, and returns the answer and everything the process logged.
fn run_once(binary: &str, env: &[(&str, String)], event: &Value) -> (Result<Value, Value>, String) {
    let runtime = RuntimeApi::start();
    let child = runtime.spawn(Path::new(binary), env);
    let answer = runtime.invoke(event);
    (answer, stop(child))
}

/// Stops a function process and returns everything it wrote.
fn stop(mut child: std::process::Child) -> String {
    child.kill().unwrap();
    let output = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn json_lines(logs: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .collect()
}

#[test]
fn cold_starts_fill_then_use_the_table_and_the_refresher_keeps_it_warm() {
    let moto = Moto::start();
    let cognito = moto.cognito();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let sdk = common::dynamo::sdk(&moto.endpoint).await;
        common::dynamo::create_table(&sdk, "jwt-keys").await;
    });
    let alice = &cognito["users"][0];
    let (token, sub) = (
        alice["access_token"].as_str().unwrap(),
        alice["sub"].as_str().unwrap(),
    );
    let aws = |extra: &[(&'static str, String)]| {
        let mut env = vec![
            ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("KEYS_TABLE_NAME", "jwt-keys".to_owned()),
            (
                "COGNITO_USER_POOL_ID",
                cognito["pool_id"].as_str().unwrap().to_owned(),
            ),
            ("JWKS_URL", cognito["jwks_url"].as_str().unwrap().to_owned()),
        ];
        env.extend_from_slice(extra);
        env
    };
    let authorizer_env = aws(&[
        (
            "JWT_AUDIENCE",
            cognito["client_id"].as_str().unwrap().to_owned(),
        ),
        ("POLICY_RESOURCES", "GET/hello/{sub}".to_owned()),
    ]);
    let request = event(Kind::RestToken, token, sub);

    // First cold start: the table is empty, the keys come from the JWKS and are written through.
    let (answer, logs) = run_once(env!("CARGO_BIN_EXE_authorizer"), &authorizer_env, &request);
    assert!(
        allowed_resources(&answer.unwrap())
            .iter()
            .any(|r| r.ends_with(sub))
    );
    let lines = json_lines(&logs);
    let loaded = lines
        .iter()
        .find(|l| l["message"] == "keys loaded")
        .expect("keys loaded line");
    assert_eq!(
        (loaded["tier"].as_str(), loaded["reason"].as_str()),
        (Some("jwks"), Some("cold_start")),
        "{logs}"
    );
    let emf = lines
        .iter()
        .find(|l| l.get("_aws").is_some())
        .expect("EMF line");
    assert_eq!(
        (
            emf["JwksFetches"].as_u64(),
            emf["TableWrites"].as_u64(),
            emf["Allow"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{emf}"
    );

    // Second cold start: served from the table, no JWKS request.
    let (answer, logs) = run_once(env!("CARGO_BIN_EXE_authorizer"), &authorizer_env, &request);
    assert!(
        allowed_resources(&answer.unwrap())
            .iter()
            .any(|r| r.ends_with(sub))
    );
    let lines = json_lines(&logs);
    let loaded = lines
        .iter()
        .find(|l| l["message"] == "keys loaded")
        .expect("keys loaded line");
    assert_eq!(loaded["tier"], "dynamodb", "{logs}");
    let emf = lines
        .iter()
        .find(|l| l.get("_aws").is_some())
        .expect("EMF line");
    assert_eq!(
        (
            emf["JwksFetches"].as_u64(),
            emf["TableReads"].as_u64(),
            emf["KeysFromMemory"].as_u64()
        ),
        (Some(0), Some(1), Some(1)),
        "{emf}"
    );

    // The refresher, on its scheduled event, re-stores the keys (a second later, so its
    // fetch is strictly newer than the write-through: equal `fetched_at` is not replaced).
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/events/refresher-schedule.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let refresher = refresher_binary();
    let refresher = refresher.to_str().unwrap();
    let (answer, logs) = run_once(refresher, &aws(&[]), &schedule);
    let summary = answer.unwrap_or_else(|e| panic!("refresher failed: {e}\n{logs}"));
    let url = cognito["jwks_url"].as_str().unwrap();
    assert_eq!(
        summary["refreshed"][url]["kids"],
        json!(["dummy"]),
        "{summary}"
    );
    assert_eq!(summary["refreshed"][url]["changed"], false);
    assert_eq!(summary["refreshed"][url]["written"], true);

    // A refresher that cannot reach the issuer fails the invocation.
    let broken = aws(&[
        ("JWKS_URL", "http://127.0.0.1:9/jwks.json".to_owned()),
        ("JWKS_TIMEOUT_MS", "300".to_owned()),
    ]);
    let (answer, _) = run_once(refresher, &broken, &schedule);
    let error = answer.expect_err("a failed refresh fails the invocation");
    assert_eq!(error["errorType"], "RefreshFailed", "{error}");
}

/// The pieces of a token that must never reach a log: each of its three segments.
fn token_segments(token: &str) -> Vec<&str> {
    token.split('.').filter(|s| s.len() >= 16).collect()
}

/// Defect 4: at TRACE, the runtime logged whole events (tokens included) for both the
/// authorizer and `hello`. Every level, every kind, valid and forged tokens: no segment
/// of a token appears in anything either binary writes.
#[test]
fn no_token_reaches_the_logs_at_any_level() {
    use common::jwks_server::{Behavior, JwksServer};
    use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};

    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let valid = mint(FixtureKey::Rsa, &claims("alice-1"));
    let forged = mint(FixtureKey::RsaForeign, &claims("alice-1"));
    for (variable, level) in [
        ("RUST_LOG", "trace"),
        ("AWS_LAMBDA_LOG_LEVEL", "TRACE"),
        (
            "RUST_LOG",
            "trace,lambda_runtime=trace,lambda_runtime_api_client=trace",
        ),
    ] {
        let env = [
            ("JWT_ISSUER", ISSUER.to_owned()),
            ("JWT_AUDIENCE", AUDIENCE.to_owned()),
            ("JWKS_URL", jwks.url()),
            ("POLICY_RESOURCES", "GET/hello/{sub},$connect".to_owned()),
            (variable, level.to_owned()),
        ];
        let runtime = RuntimeApi::start();
        let child = runtime.spawn(Path::new(env!("CARGO_BIN_EXE_authorizer")), &env);
        for kind in ALL_KINDS {
            for token in [&valid, &forged] {
                let _ = runtime.invoke(&event(kind, token, "alice-1"));
            }
        }
        let logs = stop(child);
        assert!(
            logs.lines().count() > 8,
            "{variable}={level}: the binary logged its decisions:\n{logs}"
        );
        for token in [&valid, &forged] {
            for segment in token_segments(token) {
                assert!(
                    !logs.contains(segment),
                    "{variable}={level}: a token reached the authorizer's logs"
                );
            }
        }

        let proxy = json!({
            "resource": "/hello/{userId}", "path": "/hello/alice-1", "httpMethod": "GET",
            "headers": {"Authorization": format!("Bearer {valid}")},
            "pathParameters": {"userId": "alice-1"},
            "requestContext": {"authorizer": {"principalId": "alice-1"}}
        });
        let (answer, logs) = run_once(
            env!("CARGO_BIN_EXE_hello"),
            &[(variable, level.to_owned())],
            &proxy,
        );
        assert!(answer.is_ok());
        for segment in token_segments(&valid) {
            assert!(
                !logs.contains(segment),
                "{variable}={level}: a token reached hello's logs:\n{logs}"
            );
        }
    }
}
