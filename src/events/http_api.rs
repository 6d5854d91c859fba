//! HTTP API payload 2.0 authorizer events: the token comes from `TOKEN_SOURCES`, else from
//! the first `identitySource` value (a `Bearer` value is unwrapped, any other taken raw).

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;

use super::{AuthRequest, EventError, Kind, owned, request};
use crate::error::TokenError;
use crate::token::{TokenOrigin, TokenSource, bearer, from_sources};

/// Translates an HTTP API 2.0 event.
pub(super) fn translate(event: &str, sources: &[TokenSource]) -> Result<AuthRequest, EventError> {
    let event = serde_json::from_str::<ApiGatewayV2CustomAuthorizerV2Request>(event)
        .map_err(|_| EventError::Malformed("http_api"))?;
    let from_configured = from_sources(
        sources,
        |name| event.headers.get(name).and_then(|v| v.to_str().ok()),
        |name| event.query_string_parameters.get(name).map(String::as_str),
    );
    let token = match from_configured {
        Err(TokenError::Missing) => {
            identity_source(&event).map(|token| (token, TokenOrigin::IdentitySource))
        }
        other => other,
    }
    .map(owned);
    request(
        Kind::HttpApi,
        event.route_arn,
        token,
        event.request_context.request_id,
    )
}

fn identity_source(event: &ApiGatewayV2CustomAuthorizerV2Request) -> Result<&str, TokenError> {
    let first = event
        .identity_source
        .as_ref()
        .and_then(|values| values.first())
        .map(|v| v.trim());
    match first {
        None | Some("") => Err(TokenError::Missing),
        Some(value) if value.contains(' ') => bearer(value),
        Some(value) => Ok(value),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    fn event(headers: Value, identity: Value) -> String {
        json!({
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": "arn:aws:execute-api:us-east-1:123456789012:http123/$default/GET/hello/u1",
            "identitySource": identity,
            "routeKey": "GET /hello/{userId}",
            "headers": headers,
            "requestContext": {"requestId": "r-2", "http": {"method": "GET", "path": "/hello/u1"}}
        })
        .to_string()
    }

    #[test]
    fn token_from_header_source() {
        let r = translate(
            &event(
                json!({"authorization": "Bearer a.b.c"}),
                json!(["Bearer a.b.c"]),
            ),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.kind, Kind::HttpApi);
        assert_eq!(r.token, Ok("a.b.c".into()));
        assert_eq!(r.request_id.as_deref(), Some("r-2"));
        assert_eq!(
            r.api_prefix,
            "arn:aws:execute-api:us-east-1:123456789012:http123/$default/"
        );
    }

    #[test]
    fn identity_source_is_the_fallback() {
        let sources = [TokenSource::Header("x-none".into())];
        let r = translate(&event(json!({}), json!(["Bearer i.i.i"])), &sources).unwrap();
        assert_eq!(r.token, Ok("i.i.i".into()));
        let r = translate(&event(json!({}), json!(["raw.raw.raw"])), &sources).unwrap();
        assert_eq!(r.token, Ok("raw.raw.raw".into()));
        let r = translate(&event(json!({}), json!(null)), &sources).unwrap();
        assert_eq!(r.token, Err(TokenError::Missing));
    }
}
