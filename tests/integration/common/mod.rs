//! Shared integration-test kit: loopback servers, the `events/` files, configured
//! authorizers, and token claims. Each test module uses the parts it needs.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod dynamo;
pub mod http;
pub mod jwks_server;
pub mod moto;
pub mod runtime_api;

use std::collections::HashMap;
use std::sync::Arc;

use jwt_authorizer::events::Kind;
use jwt_authorizer::{Answer, Authorizer, Config, ManualClock, Unauthorized};
use serde_json::{Value, json};

/// The issuer and audience every fixture token uses.
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "test-client";
/// "Now" for fixture tokens and the manual clock.
pub const NOW: u64 = 1_800_000_000;

pub const ALL_KINDS: [Kind; 4] = [
    Kind::RestToken,
    Kind::RestRequest,
    Kind::WebSocket,
    Kind::HttpApi,
];

/// The `events/` file for a kind.
pub fn event_file(kind: Kind) -> &'static str {
    match kind {
        Kind::RestToken => "rest-token.json",
        Kind::RestRequest => "rest-request.json",
        Kind::WebSocket => "websocket-connect.json",
        Kind::HttpApi => "http-api.json",
    }
}

/// The event of `events/` for `kind`, with `${TOKEN}` and `${USER_ID}` filled in.
pub fn event(kind: Kind, token: &str, user_id: &str) -> Value {
    let path = format!("{}/events/{}", env!("CARGO_MANIFEST_DIR"), event_file(kind));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text
        .replace("${TOKEN}", token)
        .replace("${USER_ID}", user_id);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The event for `kind` with every token field removed.
pub fn event_without_token(kind: Kind, user_id: &str) -> Value {
    let mut event = event(kind, "x", user_id);
    let object = event.as_object_mut().unwrap();
    object.remove("authorizationToken");
    object.remove("identitySource");
    for map in [
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    ] {
        if let Some(Value::Object(m)) = object.get_mut(map) {
            m.retain(|k, _| !k.eq_ignore_ascii_case("authorization") && k != "auth");
        }
    }
    event
}

/// Claims of a valid access-style token for `sub`.
pub fn claims(sub: &str) -> Value {
    json!({
        "iss": ISSUER,
        "sub": sub,
        "aud": AUDIENCE,
        "username": format!("user-{sub}"),
        "scope": ["read", "write"],
        "iat": NOW - 60,
        "exp": NOW + 3600,
    })
}

/// A config from `vars` on top of the test issuer with `jwks_url`.
pub fn config(jwks_url: &str, vars: &[(&str, &str)]) -> Config {
    let mut map: HashMap<String, String> = HashMap::from([
        ("JWT_ISSUER".into(), ISSUER.into()),
        ("JWT_AUDIENCE".into(), AUDIENCE.into()),
        ("JWKS_URL".into(), jwks_url.into()),
        (
            "JWT_ALGORITHMS".into(),
            "RS256,PS256,ES256,ES384,EdDSA".into(),
        ),
        ("POLICY_RESOURCES".into(), "GET/hello/{sub},$connect".into()),
    ]);
    for (k, v) in vars {
        map.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|name| map.get(name).cloned()).expect("test config")
}

/// A config from exactly `vars` (no test defaults).
pub fn config_only(vars: &[(&str, &str)]) -> Config {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_lookup(|name| map.get(name).cloned()).expect("test config")
}

/// An authorizer on `config` with the clock at [`NOW`], keys warmed up.
pub async fn build_authorizer(config: &Config) -> (Authorizer, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(NOW));
    let authorizer = Authorizer::new(config, clock.clone(), None).expect("authorizer");
    authorizer.warm_up().await;
    (authorizer, clock)
}

/// An explanation (`authorizer-admin explain`) holds every `expected` line part and no
/// part of `token`.
pub fn assert_explained(text: &str, expected: &[&str], token: &str) {
    for part in expected {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
    for segment in token.split('.') {
        assert!(!text.contains(segment), "the token is shown:\n{text}");
    }
}

/// The answer as JSON, `"Unauthorized"` for the 401 error.
pub fn as_json(answer: &Result<Answer, Unauthorized>) -> Value {
    match answer {
        Ok(a) => serde_json::to_value(a).unwrap(),
        Err(Unauthorized) => json!("Unauthorized"),
    }
}

/// Whether an answer lets the caller reach the event's own resource.
pub fn grants(answer: &Result<Answer, Unauthorized>, event: &Value) -> bool {
    let arn = event
        .get("methodArn")
        .or_else(|| event.get("routeArn"))
        .and_then(Value::as_str)
        .unwrap();
    match as_json(answer) {
        Value::String(_) => false,
        Value::Object(a) if a.contains_key("isAuthorized") => a["isAuthorized"] == json!(true),
        Value::Object(a) => {
            a["policyDocument"]["Statement"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| {
                    s["Effect"] == "Allow"
                        && s["Resource"].as_array().unwrap().iter().any(|r| {
                            jwt_authorizer::events::wildcard_match(r.as_str().unwrap(), arn)
                        })
                })
        }
        other => panic!("unexpected answer {other}"),
    }
}
