//! REST API REQUEST authorizer events (and HTTP API payload 1.0, which has the same shape):
//! the token comes from `TOKEN_SOURCES` (headers and query string parameters).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;

use super::{AuthRequest, EventError, Kind, owned, request};
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
    let event = serde_json::from_str::<ApiGatewayCustomAuthorizerRequestTypeRequest>(event)
        .map_err(|_| EventError::Malformed(kind.as_str()))?;
    let token = from_sources(
        sources,
        |name| event.headers.get(name).and_then(|v| v.to_str().ok()),
        |name| event.query_string_parameters.first(name),
    )
    .map(owned);
    request(
        kind,
        event.method_arn,
        token,
        event.request_context.request_id,
    )
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
    fn no_source_present_is_missing() {
        let r = translate(
            &event(json!({"other": "x"}), json!({})),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.token, Err(TokenError::Missing));
    }
}
