//! REST API REQUEST authorizer events (and HTTP API payload 1.0, which has the same shape):
//! the token comes from `TOKEN_SOURCES` (headers and query string parameters); the
//! `DPoP` headers from `multiValueHeaders` (every value of a repeated header), else
//! `headers`; the request line from `httpMethod`, the `Host` header (else
//! `requestContext.domainName`) and `requestContext.path` (the path the client sent,
//! stage or custom domain base path included); the client certificate from
//! `requestContext.identity.clientCert`.

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use serde::Deserialize;

use super::{AuthRequest, EventError, Kind, Possession, owned, request};
use crate::token::{TokenSource, from_sources};

/// Translates a REST REQUEST event.
pub(super) fn translate(event: &str, sources: &[TokenSource]) -> Result<AuthRequest, EventError> {
    translate_as(Kind::RestRequest, event, sources)
}

/// Translates any event of the REQUEST shape, reporting it as `kind`.
pub(super) fn translate_as(
    kind: Kind,
    event: &str,
    sources: &[TokenSource],
) -> Result<AuthRequest, EventError> {
    let raw = event;
    let event = serde_json::from_str::<ApiGatewayCustomAuthorizerRequestTypeRequest>(event)
        .map_err(|_| EventError::Malformed(kind.as_str()))?;
    let token = from_sources(
        sources,
        |name| event.headers.get(name).and_then(|v| v.to_str().ok()),
        |name| event.query_string_parameters.first(name),
    )
    .map(owned);
    let possession = possession(raw, &event);
    request(
        kind,
        event.method_arn,
        token,
        event.request_context.request_id,
        possession,
    )
}

/// `requestContext.domainName`, which the event type does not keep: read only when the
/// `Host` header is missing.
#[derive(Deserialize)]
struct DomainName {
    #[serde(rename = "requestContext")]
    context: DomainNameContext,
}

#[derive(Deserialize)]
struct DomainNameContext {
    #[serde(rename = "domainName")]
    domain_name: Option<String>,
}

fn domain_name(raw: &str) -> Option<String> {
    serde_json::from_str::<DomainName>(raw)
        .ok()
        .and_then(|d| d.context.domain_name)
}

fn possession(raw: &str, event: &ApiGatewayCustomAuthorizerRequestTypeRequest) -> Possession {
    let context = &event.request_context;
    let proofs = if event.multi_value_headers.contains_key("dpop") {
        Possession::proofs(event.multi_value_headers.get_all("dpop").iter())
    } else {
        Possession::proofs(event.headers.get_all("dpop").iter())
    };
    let host = event
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| domain_name(raw));
    Possession {
        proofs,
        method: event
            .http_method
            .as_ref()
            .or(context.http_method.as_ref())
            .map(|m| m.as_str().to_owned()),
        host,
        path: context.path.clone(),
        client_cert_pem: context
            .identity
            .as_ref()
            .and_then(|identity| identity.client_cert.as_ref())
            .and_then(|cert| cert.client_cert_pem.clone()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::TokenError;
    use serde_json::{Value, json};

    fn event(headers: Value, query: Value) -> String {
        json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1",
            "headers": headers,
            "queryStringParameters": query,
            "requestContext": {"requestId": "req-1"}
        })
        .to_string()
    }

    #[test]
    fn header_names_match_case_insensitively() {
        let r = translate(
            &event(json!({"AUTHORIZATION": "Bearer h.h.h"}), json!(null)),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.token, Ok("h.h.h".into()));
        assert_eq!(r.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn query_source_is_used_when_header_is_absent() {
        let r = translate(
            &event(json!({}), json!({"auth": "q.q.q"})),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.token, Ok("q.q.q".into()));
    }

    #[test]
    fn source_order_is_respected() {
        let sources = [
            TokenSource::Query("auth".into()),
            TokenSource::Header("authorization".into()),
        ];
        let r = translate(
            &event(
                json!({"Authorization": "Bearer h.h.h"}),
                json!({"auth": "q.q.q"}),
            ),
            &sources,
        )
        .unwrap();
        assert_eq!(r.token, Ok("q.q.q".into()));
    }

    #[test]
    fn every_dpop_header_and_the_request_line_are_read() {
        let event = json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1",
            "httpMethod": "GET",
            "headers": {"Host": "api.example.com", "DPoP": "b.b.b", "Authorization": "DPoP t.t.t"},
            "multiValueHeaders": {"DPoP": ["a.a.a", "b.b.b"], "Host": ["api.example.com"]},
            "requestContext": {
                "path": "/v1/hello/u1",
                "domainName": "api.example.com",
                "identity": {"clientCert": {"clientCertPem": "PEM", "validity": {}}}
            }
        });
        let r = translate(&event.to_string(), &TokenSource::defaults()).unwrap();
        assert_eq!(r.scheme, Some(crate::token::Scheme::DPoP));
        assert_eq!(r.possession.proofs, ["a.a.a", "b.b.b"]);
        assert_eq!(r.possession.method.as_deref(), Some("GET"));
        assert_eq!(r.possession.host.as_deref(), Some("api.example.com"));
        assert_eq!(r.possession.path.as_deref(), Some("/v1/hello/u1"));
        assert_eq!(r.possession.client_cert_pem.as_deref(), Some("PEM"));
    }

    #[test]
    fn without_multi_value_headers_the_single_dpop_header_is_read() {
        let event = json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1",
            "headers": {"dpop": "a.a.a"},
            "requestContext": {"domainName": "abc123.execute-api.us-east-1.amazonaws.com", "httpMethod": "POST"}
        });
        let r = translate(&event.to_string(), &TokenSource::defaults()).unwrap();
        assert_eq!(r.possession.proofs, ["a.a.a"]);
        assert_eq!(r.possession.method.as_deref(), Some("POST"));
        assert_eq!(
            r.possession.host.as_deref(),
            Some("abc123.execute-api.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn no_source_present_is_missing() {
        let r = translate(
            &event(json!({"other": "x"}), json!({})),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.token, Err(TokenError::Missing));
    }
}
