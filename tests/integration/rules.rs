//! Authorization rules through the handler, for every API Gateway kind: a route granted by
//! a scope, a group or a claim value to one token and not another; the explicit Deny for
//! a valid token no rule grants; HTTP API simple answers only for a granted route.

use crate::common;

use common::jwks_server::{Behavior, JwksServer};
use common::*;
use jwt_authorizer::Outcome;
use jwt_authorizer::events::Kind;
use jwt_authorizer::testkit::{FixtureKey, JWKS, mint};
use serde_json::{Value, json};

const RULES: &str = r#"[
    {"resources": ["GET/hello/{sub}", "$connect"]},
    {"resources": ["GET/reports/*"], "scopes_any": ["reports:read", "admin"]},
    {"resources": ["DELETE/users/*"], "scopes_all": ["users:write"], "groups_any": ["ops"]},
    {"resources": ["GET/tenants/{org}/*"], "claims": {"org": ["acme", "globex"], "tier": [2, 3]}}
]"#;

/// The event of `kind` for `token`, calling `METHOD /path` (the files in `events/`, with
/// their ARN pointed at that route).
fn calling(kind: Kind, token: &str, method: &str, path: &str) -> Value {
    let mut event = event(kind, token, "x");
    let route = format!("{method}{path}");
    for field in ["methodArn", "routeArn"] {
        if let Some(Value::String(arn)) = event.get(field) {
            let prefix = jwt_authorizer::events::api_prefix(arn).unwrap().to_owned();
            event[field] = json!(format!("{prefix}{route}"));
        }
    }
    event
}

fn token(extra: Value) -> String {
    let mut c = claims("alice-1");
    c.as_object_mut().unwrap().remove("scope");
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    mint(FixtureKey::Rsa, &c)
}

async fn authorizer(vars: &[(&str, &str)]) -> (jwt_authorizer::Authorizer, JwksServer) {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let mut all = vec![("POLICY_RULES", RULES), ("POLICY_RESOURCES", "")];
    all.extend_from_slice(vars);
    let (authorizer, _) = build_authorizer(&config(&jwks.url(), &all)).await;
    (authorizer, jwks)
}

/// Whether `token` may call `METHOD /path` through `kind`.
async fn may(
    a: &jwt_authorizer::Authorizer,
    kind: Kind,
    token: &str,
    method: &str,
    path: &str,
) -> bool {
    let event = calling(kind, token, method, path);
    let decision = a.decide(&event.to_string()).await;
    grants(&decision.answer, &event)
}

const POLICY_KINDS: [Kind; 3] = [Kind::RestToken, Kind::RestRequest, Kind::HttpApi];

#[tokio::test]
async fn a_scope_grants_its_route_to_one_token_and_not_another() {
    let (a, _jwks) = authorizer(&[]).await;
    let reader = token(json!({"scope": "openid reports:read"}));
    let okta_admin = token(json!({"scp": ["admin"]}));
    let plain = token(json!({"scope": "openid"}));
    for kind in POLICY_KINDS {
        assert!(
            may(&a, kind, &reader, "GET", "/reports/q3").await,
            "{kind:?}"
        );
        assert!(
            may(&a, kind, &okta_admin, "GET", "/reports/q3").await,
            "{kind:?}"
        );
        assert!(
            !may(&a, kind, &plain, "GET", "/reports/q3").await,
            "{kind:?}"
        );
        assert!(
            may(&a, kind, &plain, "GET", "/hello/alice-1").await,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn all_of_needs_the_scope_and_the_group() {
    let (a, _jwks) = authorizer(&[]).await;
    let ops_writer = token(json!({"scope": "users:write", "cognito:groups": ["dev", "ops"]}));
    let writer = token(json!({"scope": "users:write", "cognito:groups": ["dev"]}));
    let ops = token(json!({"cognito:groups": "ops"}));
    for kind in POLICY_KINDS {
        assert!(
            may(&a, kind, &ops_writer, "DELETE", "/users/bob").await,
            "{kind:?}"
        );
        assert!(
            !may(&a, kind, &writer, "DELETE", "/users/bob").await,
            "{kind:?}"
        );
        assert!(
            !may(&a, kind, &ops, "DELETE", "/users/bob").await,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn okta_groups_come_from_the_configured_claim() {
    let (a, _jwks) = authorizer(&[("GROUPS_CLAIM", "groups")]).await;
    let okta = token(json!({"scp": "users:write", "groups": ["Everyone", "ops"]}));
    let cognito_shaped = token(json!({"scp": "users:write", "cognito:groups": ["ops"]}));
    assert!(may(&a, Kind::RestToken, &okta, "DELETE", "/users/bob").await);
    assert!(!may(&a, Kind::RestToken, &cognito_shaped, "DELETE", "/users/bob").await);
}

#[tokio::test]
async fn claim_values_are_compared_by_value_and_type() {
    let (a, _jwks) = authorizer(&[]).await;
    let acme = token(json!({"org": "acme", "tier": 2}));
    let acme_tier_as_text = token(json!({"org": "acme", "tier": "2"}));
    let other = token(json!({"org": "initech", "tier": 2}));
    for kind in POLICY_KINDS {
        assert!(
            may(&a, kind, &acme, "GET", "/tenants/acme/report").await,
            "{kind:?}"
        );
        assert!(
            !may(&a, kind, &acme, "GET", "/tenants/globex/report").await,
            "the template pins the tenant"
        );
        assert!(
            !may(&a, kind, &acme_tier_as_text, "GET", "/tenants/acme/report").await,
            "{kind:?}"
        );
        assert!(
            !may(&a, kind, &other, "GET", "/tenants/initech/report").await,
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn the_policy_carries_every_granted_resource_once() {
    let (a, _jwks) = authorizer(&[("POLICY_RESOURCES", "GET/hello/{sub},GET/public/*")]).await;
    let rich = token(
        json!({"scope": "admin users:write", "cognito:groups": ["ops"], "org": "acme", "tier": 3}),
    );
    let event = calling(Kind::RestToken, &rich, "GET", "/hello/alice-1");
    let answer = as_json(&a.decide(&event.to_string()).await.answer);
    let resources: Vec<String> = answer["policyDocument"]["Statement"][0]["Resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_str()
                .unwrap()
                .rsplit_once("/prod/")
                .unwrap()
                .1
                .to_owned()
        })
        .collect();
    assert_eq!(
        resources,
        [
            "GET/hello/alice-1",
            "GET/public/*",
            "$connect",
            "GET/reports/*",
            "DELETE/users/*",
            "GET/tenants/acme/*"
        ]
    );
}

#[tokio::test]
async fn a_valid_token_no_rule_grants_gets_the_explicit_deny_on_every_kind() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let config = config(
        &jwks.url(),
        &[
            ("POLICY_RESOURCES", ""),
            (
                "POLICY_RULES",
                r#"[{"resources":["*"],"groups_any":["admins"]}]"#,
            ),
        ],
    );
    let (a, _) = build_authorizer(&config).await;
    let nobody = token(json!({"cognito:groups": ["users"]}));
    for kind in ALL_KINDS {
        let decision = a
            .decide(&calling(kind, &nobody, "GET", "/hello/alice-1").to_string())
            .await;
        assert_eq!(
            (decision.outcome, decision.reason.as_str()),
            (Outcome::Deny, "no_grant"),
            "{kind:?}"
        );
        // A rule with a condition: the HTTP API answers with IAM too (HTTP_API_RESPONSE
        // auto), so every kind gets the explicit Deny.
        let answer = as_json(&decision.answer);
        assert_eq!(
            answer["policyDocument"]["Statement"][0]["Effect"], "Deny",
            "{kind:?}"
        );
    }
    let admin = token(json!({"cognito:groups": ["admins"]}));
    for kind in ALL_KINDS {
        let event = calling(kind, &admin, "GET", "/hello/alice-1");
        let decision = a.decide(&event.to_string()).await;
        assert_eq!(decision.outcome, Outcome::Allow, "{kind:?}");
        assert!(grants(&decision.answer, &event), "{kind:?}");
    }
}

#[tokio::test]
async fn websocket_connect_is_granted_by_a_rule_like_any_route() {
    let jwks = JwksServer::start(Behavior::Serve(JWKS.into()));
    let config = config(
        &jwks.url(),
        &[
            ("POLICY_RESOURCES", ""),
            (
                "POLICY_RULES",
                r#"[{"resources":["$connect"],"scopes_any":["chat"]}]"#,
            ),
        ],
    );
    let (a, _) = build_authorizer(&config).await;
    let chat = token(json!({"scope": "chat"}));
    let other = token(json!({"scope": "read"}));
    let connect = |t: &str| event(Kind::WebSocket, t, "alice-1");
    let allowed = a.decide(&connect(&chat).to_string()).await;
    assert!(grants(&allowed.answer, &connect(&chat)));
    let refused = a.decide(&connect(&other).to_string()).await;
    assert_eq!(refused.outcome, Outcome::Deny);
}
