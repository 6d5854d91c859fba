//! HTTP API payload 2.0 authorizer events: the token comes from `TOKEN_SOURCES`, else from
//! the first `identitySource` value (a `Bearer` or `DPoP` value is unwrapped, any other
//! taken raw). API Gateway joins repeated headers with commas: two `DPoP` headers arrive
//! as one `dpop` value holding a comma. The request line is
//! `requestContext.http.method`, the `Host` header (else `requestContext.domainName`)
//! and `rawPath`; the client certificate is `requestContext.authentication.clientCert`.

use std::borrow::Cow;

use aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;

use super::{AuthRequest, EventError, Kind, Possession, owned, request};
use crate::error::TokenError;
use crate::token::{Scheme, TokenOrigin, TokenSource, authorization, from_sources};

/// Translates an HTTP API 2.0 event.
pub(super) fn translate(
    event: &str,
    sources: &[TokenSource],
) -> Result<AuthRequest<'static>, EventError> {
    let event = serde_json::from_str::<ApiGatewayV2CustomAuthorizerV2Request>(event)
        .map_err(|_| EventError::Malformed("http_api"))?;
    let from_configured = from_sources(
        sources,
        |name| event.headers.get(name).and_then(|v| v.to_str().ok()),
        |name| event.query_string_parameters.get(name).map(String::as_str),
    );
    let token = match from_configured {
        Err(TokenError::Missing) => identity_source(&event)
            .map(|(token, scheme)| (token, TokenOrigin::IdentitySource, scheme)),
        other => other,
    }
    .map(owned);
    let possession = possession(&event);
    request(
        Kind::HttpApi,
        event.route_arn.map(Cow::Owned),
        token,
        event.request_context.request_id,
        possession,
    )
}

fn possession(event: &ApiGatewayV2CustomAuthorizerV2Request) -> Possession {
    let context = &event.request_context;
    let host = event
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| context.domain_name.clone());
    Possession {
        // A value that is not visible ASCII counts as one (bad) proof.
        proofs: Possession::proofs(
            event
                .headers
                .get_all("dpop")
                .iter()
                .map(|v| v.to_str().unwrap_or("\u{fffd}")),
        ),
        method: Some(context.http.method.as_str().to_owned()),
        host,
        path: event.raw_path.clone(),
        client_cert_pem: context
            .authentication
            .as_ref()
            .and_then(|auth| auth.client_cert.as_ref())
            .and_then(|cert| cert.client_cert_pem.clone()),
    }
}

fn identity_source(
    event: &ApiGatewayV2CustomAuthorizerV2Request,
) -> Result<(&str, Scheme), TokenError> {
    let first = event
        .identity_source
        .as_ref()
        .and_then(|values| values.first())
        .map(|v| v.trim());
    match first {
        None | Some("") => Err(TokenError::Missing),
        Some(value) if value.contains(' ') => authorization(value),
        Some(value) => Ok((value, Scheme::Raw)),
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
            r.api_prefix(),
            "arn:aws:execute-api:us-east-1:123456789012:http123/$default/"
        );
    }

    #[test]
    fn two_dpop_headers_joined_by_a_comma_count_as_two() {
        let r = translate(
            &event(
                json!({"authorization": "DPoP a.b.c", "dpop": "p.p.p,q.q.q", "host": "api.example.com"}),
                json!(["DPoP a.b.c"]),
            ),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.scheme, Some(Scheme::DPoP));
        assert_eq!(r.possession.proofs, ["p.p.p", "q.q.q"]);
        assert_eq!(r.possession.method.as_deref(), Some("GET"));
        assert_eq!(r.possession.host.as_deref(), Some("api.example.com"));
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
