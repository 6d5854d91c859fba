//! The built `authorizer-admin` binary, with an authorizer's environment pointed at
//! moto_server's DynamoDB: `revoke` writes the items (never narrowing one), `keys`
//! lists the key items, and every mistake or an unreachable table is one line on
//! stderr with a non-zero exit.

use crate::common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::AttributeValue;
use common::dynamo::{DeadEndpoint, moto_with_table, n, put_raw, raw_item_pk};
use common::{AUDIENCE, ISSUER, assert_explained};
use jwt_authorizer::keys::{KeyRecord, KeyTable};
use jwt_authorizer::testkit::JWKS;

const TABLE: &str = "jwt-keys";
const JWKS_URL: &str = "http://127.0.0.1:9/.well-known/jwks.json";

/// Runs the binary with the authorizer's variables, the table at `endpoint`, and `extra`.
fn admin(endpoint: &str, extra: &[(&str, &str)], args: &[&str]) -> Output {
    admin_command(endpoint, extra, args)
        .output()
        .expect("run authorizer-admin")
}

/// The command [`admin`] runs, for a caller that also feeds standard input.
fn admin_command(endpoint: &str, extra: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(Path::new(env!("CARGO_BIN_EXE_authorizer-admin")));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs([
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWKS_URL", JWKS_URL),
            ("KEYS_TABLE_NAME", TABLE),
            ("REVOCATION", "on"),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ])
        .envs(extra.iter().copied())
        .args(args);
    command
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The one error line, after checking the exit status and that nothing else was said.
fn failure(output: &Output, status: i32) -> String {
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(status), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.starts_with("authorizer-admin: "), "{err}");
    assert!(output.stdout.is_empty(), "{}", stdout(output));
    err.trim_end().to_owned()
}

/// Standard output, after checking the command succeeded (its stderr shown if not).
fn succeeded(output: &Output) -> String {
    let text = stdout(output);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn revoke_subject_writes_the_item_and_never_narrows_it() {
    let (moto, sdk) = moto_with_table(TABLE).await;
    let pk = format!("REVOKED#{ISSUER}#sub#alice-1");
    let started = now();
    let out = admin(&moto.endpoint, &[], &["revoke", "--subject", "alice-1"]);
    let line = succeeded(&out);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.starts_with(&format!("revoked: {pk}: tokens issued before ")),
        "{line}"
    );
    assert!(
        line.contains("within 30 s (REVOCATION_CACHE_SECONDS)"),
        "{line}"
    );
    let item = raw_item_pk(&sdk, TABLE, &pk).await.expect("item written");
    let revoked_before = n(&item, "revoked_before");
    assert!(
        (started + 1..=now() + 1).contains(&revoked_before),
        "now + 1 + CLOCK_SKEW_SECONDS (0): a token issued this second is covered"
    );
    assert_eq!(n(&item, "expires_at"), revoked_before + 86_400);

    let earlier = (revoked_before - 100).to_string();
    let out = admin(
        &moto.endpoint,
        &[],
        &[
            "revoke",
            "--subject",
            "alice-1",
            "--before",
            &earlier,
            "--ttl",
            "3600",
        ],
    );
    succeeded(&out);
    assert!(
        stdout(&out).starts_with(&format!(
            "unchanged: {pk}: already tokens issued before {revoked_before}"
        )),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        raw_item_pk(&sdk, TABLE, &pk).await.unwrap(),
        item,
        "not narrowed"
    );

    let out = admin(
        &moto.endpoint,
        &[],
        &[
            "revoke",
            "--subject",
            "alice-1",
            "--before",
            &earlier,
            "--ttl",
            "200000",
        ],
    );
    assert!(
        stdout(&out).starts_with(&format!("widened: {pk}: ")),
        "{}",
        stdout(&out)
    );
    let widened = raw_item_pk(&sdk, TABLE, &pk).await.unwrap();
    assert_eq!(
        (n(&widened, "revoked_before"), n(&widened, "expires_at")),
        (revoked_before, revoked_before - 100 + 200_000),
        "the later revoked_before is kept, the later expires_at taken"
    );
}

#[tokio::test]
async fn revoke_jti_writes_the_token_item_until_its_exp() {
    let (moto, sdk) = moto_with_table(TABLE).await;
    let until = (now() + 3600).to_string();
    let out = admin(
        &moto.endpoint,
        &[],
        &["revoke", "--jti", "j-1", "--until", &until],
    );
    succeeded(&out);
    let pk = format!("REVOKED#{ISSUER}#jti#j-1");
    assert!(
        stdout(&out).starts_with(&format!(
            "revoked: {pk}: the token and its sign-in are refused until {until}"
        )),
        "{}",
        stdout(&out)
    );
    let item = raw_item_pk(&sdk, TABLE, &pk).await.unwrap();
    assert_eq!(n(&item, "expires_at").to_string(), until);
    assert!(!item.contains_key("revoked_before"));
    let sooner = (now() + 60).to_string();
    let out = admin(
        &moto.endpoint,
        &[],
        &[
            "revoke", "--jti", "j-1", "--until", &sooner, "--issuer", ISSUER,
        ],
    );
    assert!(stdout(&out).starts_with("unchanged: "), "{}", stdout(&out));
    assert_eq!(
        n(&raw_item_pk(&sdk, TABLE, &pk).await.unwrap(), "expires_at").to_string(),
        until
    );
}

#[tokio::test]
async fn keys_lists_the_key_items_and_flags_unusable_ones() {
    let (moto, sdk) = moto_with_table(TABLE).await;
    let t = now();
    KeyTable::new(&sdk, TABLE)
        .put(&KeyRecord::fetched(JWKS_URL, JWKS.into(), t, 3600), t, None)
        .await
        .unwrap();
    put_raw(
        &sdk,
        TABLE,
        &[
            (
                "PK",
                AttributeValue::S("JWKS#https://broken.test/jwks.json".into()),
            ),
            ("jwks", AttributeValue::S(JWKS.into())),
            ("fetched_at", AttributeValue::S("yesterday".into())),
            ("expires_at", AttributeValue::N((t + 60).to_string())),
        ],
    )
    .await;
    admin(&moto.endpoint, &[], &["revoke", "--subject", "alice-1"]);
    let out = admin(
        &moto.endpoint,
        &[("JWT_ALGORITHMS", "RS256,ES256")],
        &["keys"],
    );
    let text = succeeded(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].starts_with(&format!(
            "JWKS#{JWKS_URL}  live  kids=ec-1,rsa-1  fetched_at={t} ("
        )),
        "{text}"
    );
    assert!(
        lines[1].starts_with(
            "JWKS#https://broken.test/jwks.json  UNUSABLE  fetched_at is not an integer"
        ),
        "{text}"
    );
    assert_eq!(
        lines[2],
        "2 key items in jwt-keys: 1 live, 0 stale, 0 expired, 1 unusable"
    );
    assert!(
        !text.contains("REVOKED#"),
        "revocation items are not key items"
    );
}

#[tokio::test]
async fn bad_arguments_exit_2_with_one_line() {
    let (moto, _sdk) = moto_with_table(TABLE).await;
    for (args, says) in [
        (vec![], "missing command"),
        (vec!["frobnicate"], "unknown command"),
        (vec!["revoke", "--subject"], "--subject needs a value"),
        (vec!["revoke", "--jti", "j"], "--until"),
        (
            vec!["revoke", "--subject", "a", "--issuer", "https://nope.test"],
            "not a configured issuer",
        ),
        (
            vec!["revoke", "--jti", "j", "--until", "1000"],
            "already past",
        ),
        (vec!["keys", "--verbose", "x"], "unknown option --verbose"),
    ] {
        let out = admin(&moto.endpoint, &[], &args);
        let line = failure(&out, 2);
        assert!(line.contains(says), "{args:?}: {line}");
    }
    let out = admin(
        &moto.endpoint,
        &[("REVOCATION_CACHE_SECONDS", "soon")],
        &["keys"],
    );
    let line = failure(&out, 2);
    assert!(
        line.starts_with("authorizer-admin: invalid configuration: REVOCATION_CACHE_SECONDS: "),
        "{line}"
    );
    let out = admin(
        &moto.endpoint,
        &[("KEYS_TABLE_NAME", "")],
        &["revoke", "--subject", "a"],
    );
    assert!(failure(&out, 2).contains("KEYS_TABLE_NAME: required"));
}

#[test]
fn an_unreachable_table_exits_1_with_one_line_in_bounded_time() {
    let dead = DeadEndpoint::start();
    // Port 9 (discard) has no listener here, as the other tests of this file assume.
    let refused = "http://127.0.0.1:9";
    for endpoint in [dead.url.as_str(), refused] {
        for args in [vec!["revoke", "--subject", "alice-1"], vec!["keys"]] {
            let started = Instant::now();
            let out = admin(endpoint, &[], &args);
            let line = failure(&out, 1);
            assert!(
                line.starts_with("authorizer-admin: keys table jwt-keys: "),
                "{line}"
            );
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{:?}",
                started.elapsed()
            );
        }
    }
}

#[tokio::test]
async fn revoke_defaults_cover_the_clock_skew_and_a_dry_run_writes_nothing() {
    let (moto, sdk) = moto_with_table(TABLE).await;
    let pk = format!("REVOKED#{ISSUER}#sub#alice-1");
    let skew = [("CLOCK_SKEW_SECONDS", "30")];
    let started = now();
    let out = admin(
        &moto.endpoint,
        &skew,
        &["revoke", "--subject", "alice-1", "--dry-run"],
    );
    let text = succeeded(&out);
    assert!(
        text.starts_with(&format!(
            "dry run, nothing written: {pk}: tokens issued before "
        )),
        "{text}"
    );
    let item: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let before: u64 = item["revoked_before"]["N"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((started + 31..=now() + 31).contains(&before), "{text}");
    assert_eq!(item["PK"]["S"], pk.as_str());
    assert_eq!(
        raw_item_pk(&sdk, TABLE, &pk).await,
        None,
        "a dry run writes nothing"
    );
    let until = (now() + 60).to_string();
    let out = admin(
        &moto.endpoint,
        &[],
        &["revoke", "--jti", "j-1", "--until", &until, "--dry-run"],
    );
    succeeded(&out);
    let jti_pk = format!("REVOKED#{ISSUER}#jti#j-1");
    assert_eq!(raw_item_pk(&sdk, TABLE, &jti_pk).await, None);

    let out = admin(&moto.endpoint, &skew, &["revoke", "--subject", "alice-1"]);
    succeeded(&out);
    let stored = n(
        &raw_item_pk(&sdk, TABLE, &pk).await.unwrap(),
        "revoked_before",
    );
    assert!((started + 31..=now() + 31).contains(&stored));
}

#[test]
fn revoke_refuses_milliseconds_far_futures_and_padded_values() {
    let ahead = (now() + 2 * 86_400).to_string();
    let millis = (now() * 1000).to_string();
    for (args, says) in [
        (
            vec!["revoke", "--subject", "alice-1", "--before", &millis],
            "milliseconds",
        ),
        (
            vec!["revoke", "--jti", "j", "--until", &millis],
            "milliseconds",
        ),
        (
            vec!["revoke", "--subject", "alice-1", "--before", &ahead],
            "more than a day ahead",
        ),
        (
            vec!["revoke", "--jti", "j", "--until", "1000"],
            "already past",
        ),
        (vec!["revoke", "--subject", "alice-1 "], "white space"),
        (
            vec!["revoke", "--jti", "\tj", "--until", &ahead],
            "white space",
        ),
    ] {
        let out = admin("http://127.0.0.1:9", &[], &args);
        let line = failure(&out, 2);
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

/// Finding 5 of the security review: `explain` fetched the JWKS with the operator's
/// credentials and trust store and wrote it through to the table. It never writes.
#[tokio::test]
async fn explain_fetches_what_it_must_but_never_writes_the_table() {
    use common::jwks_server::{Behavior, JwksServer};
    use jwt_authorizer::testkit::{FixtureKey, mint};
    let (moto, sdk) = moto_with_table(TABLE).await;
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let jwks_url = jwks.url();
    let mut claims = common::claims("alice-1");
    claims["iat"] = serde_json::json!(now() - 60);
    claims["exp"] = serde_json::json!(now() + 3600);
    let token = mint(FixtureKey::Rsa, &claims);
    let out = admin(
        &moto.endpoint,
        &[("JWKS_URL", jwks_url.as_str())],
        &[
            "explain",
            "--token",
            &token,
            "--route",
            "GET /hello/alice-1",
        ],
    );
    let text = succeeded(&out);
    assert!(text.contains("decision   allow (ok)"), "{text}");
    assert!(jwks.hits() >= 1, "the keys came from the issuer");
    assert_eq!(
        common::dynamo::raw_item(&sdk, TABLE, &jwks_url).await,
        None,
        "explain wrote the keys through:\n{text}"
    );
}

/// `explain` with the authorizer's environment: keys from the table (the JWKS endpoint is
/// dead), each step shown, a revoked subject explained as such; the token never printed.
#[tokio::test]
async fn explain_prints_every_step_without_the_token() {
    use jwt_authorizer::testkit::{FixtureKey, mint};
    let (moto, sdk) = moto_with_table(TABLE).await;
    KeyTable::new(&sdk, TABLE)
        .put(
            &KeyRecord::fetched(JWKS_URL, JWKS.into(), now(), 3600),
            now(),
            None,
        )
        .await
        .unwrap();
    let mut claims = common::claims("alice-1");
    claims["iat"] = serde_json::json!(now() - 60);
    claims["exp"] = serde_json::json!(now() + 3600);
    let token = mint(FixtureKey::Rsa, &claims);
    let rules = [
        ("POLICY_RESOURCES", "GET/hello/{sub}"),
        (
            "POLICY_RULES",
            r#"[{"resources":["GET/admin/*"],"groups_any":["admins"]}]"#,
        ),
    ];
    let out = admin(
        &moto.endpoint,
        &rules,
        &[
            "explain",
            "--token",
            &token,
            "--route",
            "GET /hello/alice-1",
        ],
    );
    let text = succeeded(&out);
    assert_explained(
        &text,
        &[
            "event      rest_token for GET/hello/alice-1",
            "from authorizationToken (Bearer)",
            "issuer     https://issuer.test (configured)",
            "kid rsa-1 fits RS256, from memory, loaded from the DynamoDB table",
            "signature  valid",
            "revocation not revoked; items REVOKED#https://issuer.test#sub#alice-1 (subject)",
            "rule       [0] GET/hello/{sub} holds — always",
            "rule       [1] GET/admin/* does not hold — groups_any [admins] failed",
            "template   GET/hello/{sub} → arn:aws:execute-api:{region}:{account}:{api}/{stage}/GET/hello/alice-1",
            "decision   allow (ok)",
            "route      GET/hello/alice-1 is granted",
        ],
        &token,
    );

    // Signed out: the same token, read from standard input this time.
    let revoked = admin(
        &moto.endpoint,
        &rules,
        &[
            "revoke",
            "--subject",
            "alice-1",
            "--before",
            &(now() + 5).to_string(),
        ],
    );
    succeeded(&revoked);
    let mut child = admin_command(
        &moto.endpoint,
        &rules,
        &["explain", "--token", "-", "--route", "GET /hello/alice-1"],
    )
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), token.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = succeeded(&out);
    assert_explained(
        &text,
        &[
            "revocation token revoked: rejected (revoked)",
            "decision   unauthorized (revoked)",
        ],
        &token,
    );
    assert!(
        !text.contains("rule "),
        "no rule is looked at for a revoked token:\n{text}"
    );
}

#[test]
fn explain_needs_a_route_with_a_token() {
    let out = admin("http://127.0.0.1:9", &[], &["explain", "--token", "a.b.c"]);
    assert!(failure(&out, 2).contains("--route"));
}

#[test]
fn help_prints_the_usage() {
    let out = admin("http://127.0.0.1:9", &[], &["--help"]);
    let text = succeeded(&out);
    assert!(
        text.starts_with("usage: authorizer-admin COMMAND"),
        "{text}"
    );
    for line in [
        "revoke --subject SUB [--issuer ISS] [--before EPOCH] [--ttl SECONDS]",
        "revoke --jti JTI --until EPOCH [--issuer ISS]",
        "keys",
        "explain [--event FILE | --token TOKEN --route 'METHOD /path']",
    ] {
        assert!(text.contains(line), "{line}");
    }
}

/// `issuers add|disable|enable|list` against moto, with the registry's environment:
/// `add` checks the pattern and the issuer's JWKS before writing, refuses a configured
/// issuer, and `explain` then shows the registered issuer and its tenant.
#[tokio::test]
async fn issuers_manages_the_tenant_registry() {
    use common::jwks_server::{Behavior, JwksServer};
    use jwt_authorizer::testkit::{FixtureKey, mint};
    let (moto, sdk) = moto_with_table(TABLE).await;
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let jwks_url = jwks.url();
    let registry = [
        ("TENANT_REGISTRY", "on"),
        ("TENANT_ISSUER_PATTERN", "https://tenants.test/*"),
        ("POLICY_RESOURCES", "GET/hello/{sub},GET/tenants/{tenant}/*"),
    ];
    let add = |issuer: &str, jwks: &str, extra: &[&str]| {
        let mut args = vec![
            "issuers",
            "add",
            "--issuer",
            issuer,
            "--audience",
            "acme-client, acme-web",
            "--tenant",
            "acme",
            "--jwks-url",
            jwks,
        ];
        args.extend_from_slice(extra);
        admin(&moto.endpoint, &registry, &args)
    };
    let pk = "ISSUER#https://tenants.test/acme";

    let err = failure(&add("https://evil.test/acme", &jwks_url, &[]), 2);
    assert!(err.contains("matches no TENANT_ISSUER_PATTERN"), "{err}");
    let err = failure(
        &add(
            "https://tenants.test/acme",
            "http://127.0.0.1:9/jwks.json",
            &[],
        ),
        2,
    );
    assert!(err.contains("nothing written"), "{err}");
    let err = failure(&add(ISSUER, &jwks_url, &[]), 2);
    assert!(err.contains("configured issuer"), "{err}");
    let text = succeeded(&add("https://tenants.test/acme", &jwks_url, &["--dry-run"]));
    assert!(text.starts_with("dry run, not written: {"), "{text}");
    assert_eq!(raw_item_pk(&sdk, TABLE, pk).await, None);
    let err = failure(&admin(&moto.endpoint, &[], &["issuers", "list"]), 2);
    assert!(err.contains("TENANT_REGISTRY=on"), "{err}");

    let text = succeeded(&add("https://tenants.test/acme", &jwks_url, &[]));
    assert!(
        text.starts_with("registered https://tenants.test/acme (keys rsa-1): {"),
        "{text}"
    );
    let item = raw_item_pk(&sdk, TABLE, pk).await.expect("written");
    assert_eq!(item["status"].as_s().unwrap(), "active");
    assert_eq!(item["tenant"].as_s().unwrap(), "acme");
    assert_eq!(item["audience"].as_l().unwrap().len(), 2);
    assert!((now() - n(&item, "updated_at")) < 60);

    let mut claims = common::claims("alice-1");
    claims["iss"] = serde_json::json!("https://tenants.test/acme");
    claims["aud"] = serde_json::json!("acme-web");
    claims["iat"] = serde_json::json!(now() - 60);
    claims["exp"] = serde_json::json!(now() + 3600);
    let token = mint(FixtureKey::Rsa, &claims);
    let explain = |token: &str| {
        succeeded(&admin(
            &moto.endpoint,
            &registry,
            &[
                "explain",
                "--token",
                token,
                "--route",
                "GET /tenants/acme/x",
            ],
        ))
    };
    let text = explain(&token);
    assert_explained(
        &text,
        &[
            "issuer     https://tenants.test/acme (registered, tenant acme)",
            "GET/tenants/{tenant}/* → arn:",
            "/GET/tenants/acme/*",
            "decision   allow (ok)",
        ],
        &token,
    );

    let text = succeeded(&admin(
        &moto.endpoint,
        &registry,
        &[
            "issuers",
            "disable",
            "--issuer",
            "https://tenants.test/acme",
        ],
    ));
    assert!(text.contains("is disabled"), "{text}");
    let text = succeeded(&admin(&moto.endpoint, &registry, &["issuers", "list"]));
    assert!(
        text.starts_with(
            "https://tenants.test/acme  disabled  tenant acme  audience acme-client,acme-web"
        ),
        "{text}"
    );
    let text = explain(&token);
    assert!(text.contains("rejected (issuer_disabled)"), "{text}");
    succeeded(&admin(
        &moto.endpoint,
        &registry,
        &["issuers", "enable", "--issuer", "https://tenants.test/acme"],
    ));
    assert!(explain(&token).contains("decision   allow (ok)"));
    let err = failure(
        &admin(
            &moto.endpoint,
            &registry,
            &[
                "issuers",
                "disable",
                "--issuer",
                "https://tenants.test/nobody",
            ],
        ),
        2,
    );
    assert!(err.contains("is not registered"), "{err}");
    let err = failure(&admin(&moto.endpoint, &registry, &["issuers", "rename"]), 2);
    assert!(err.contains("unknown issuers action"), "{err}");
}
