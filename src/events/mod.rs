//! API Gateway authorizer events: tells the four kinds apart by shape and translates each
//! into one [`AuthRequest`]. One file per kind; none of them verifies anything.

mod arn;
mod http_api;
mod rest_request;
mod rest_token;
mod websocket;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::IgnoredAny;
use thiserror::Error;

use crate::error::TokenError;
use crate::token::{Found, Scheme, TokenOrigin, TokenSource};

pub use arn::{api_prefix, wildcard_match};

/// The API Gateway authorizer kinds this binary answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// REST API, TOKEN authorizer.
    RestToken,
    /// REST API, REQUEST authorizer (also HTTP API payload 1.0).
    RestRequest,
    /// WebSocket API `$connect` REQUEST authorizer.
    WebSocket,
    /// HTTP API, payload 2.0.
    HttpApi,
}

impl Kind {
    /// Short stable name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RestToken => "rest_token",
            Self::RestRequest => "rest_request",
            Self::WebSocket => "websocket",
            Self::HttpApi => "http_api",
        }
    }
}

/// What every kind boils down to; `'a` is the event's text, which a TOKEN event's token
/// is borrowed from (no copy of a kilobyte per decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest<'a> {
    /// Which kind of event this was.
    pub kind: Kind,
    /// The token, or why there is none usable.
    pub token: Result<Cow<'a, str>, TokenError>,
    /// Where the token was found, when it was.
    pub origin: Option<TokenOrigin>,
    /// The scheme the token came under, when found.
    pub scheme: Option<Scheme>,
    /// What the request carries to prove possession of a key (DPoP proofs, the client
    /// certificate) and the request line a proof is bound to.
    pub possession: Possession,
    /// The `methodArn` (REST, WebSocket) or `routeArn` (HTTP API) being called
    /// (borrowed from the event when it can be).
    pub arn: Cow<'a, str>,
    /// How long the ARN's [`AuthRequest::api_prefix`] is.
    prefix_len: usize,
    /// API Gateway's request id, when the event carries one (TOKEN events do not).
    pub request_id: Option<String>,
}

impl<'a> AuthRequest<'a> {
    /// A request that carries `token` as a Bearer token and nothing else (no proof, no
    /// certificate): for verifying a token outside an event (benchmark peers, tools).
    pub fn bearer(token: &'a str) -> Self {
        Self {
            kind: Kind::RestToken,
            token: Ok(Cow::Borrowed(token)),
            origin: Some(TokenOrigin::AuthorizationToken),
            scheme: Some(Scheme::Bearer),
            possession: Possession::default(),
            arn: Cow::Borrowed(""),
            prefix_len: 0,
            request_id: None,
        }
    }

    /// `arn:…:execute-api:{region}:{account}:{apiId}/{stage}/` of the ARN (empty for
    /// [`AuthRequest::bearer`]).
    pub fn api_prefix(&self) -> &str {
        self.arn.get(..self.prefix_len).unwrap_or_default()
    }
}

/// What a request carries for sender-constrained tokens (SPEC.md "Sender-constrained
/// tokens"): read from the event, judged by `binding`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Possession {
    /// The `DPoP` header values (name matched case-insensitively), at most
    /// [`MAX_PROOFS_KEPT`]: more than one means the request carried several. REST events
    /// list repeated headers in `multiValueHeaders`; HTTP API events join them with
    /// commas, which a JWS never contains, so each comma-separated part counts as one.
    pub proofs: Vec<String>,
    /// The request's method as API Gateway received it.
    pub method: Option<String>,
    /// The `Host` header, else `requestContext.domainName`.
    pub host: Option<String>,
    /// The path as the client sent it: REST `requestContext.path`, HTTP API `rawPath`.
    pub path: Option<String>,
    /// The PEM of the client certificate API Gateway verified (mutual TLS), if any.
    pub client_cert_pem: Option<String>,
}

/// How many `DPoP` values a request keeps: enough to tell one from several.
pub const MAX_PROOFS_KEPT: usize = 2;

impl Possession {
    /// Collects `DPoP` header values, splitting each on commas (see [`Possession::proofs`]).
    fn proofs<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
        values
            .flat_map(|text| text.split(',').map(str::trim).map(str::to_owned))
            .take(MAX_PROOFS_KEPT)
            .collect()
    }
}

/// An event this authorizer cannot answer with a policy.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventError {
    /// Not one of the four shapes.
    #[error("not an API Gateway authorizer event")]
    Unrecognized,
    /// A known shape that does not deserialize.
    #[error("malformed {0} event")]
    Malformed(&'static str),
    /// No `methodArn`/`routeArn`, or one that is not an execute-api ARN.
    #[error("missing or invalid methodArn/routeArn")]
    BadArn,
}

impl EventError {
    /// Short stable name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Unrecognized => "unrecognized_event",
            Self::Malformed(_) => "malformed_event",
            Self::BadArn => "bad_arn",
        }
    }
}

/// Recognises the kind of `event` (raw JSON) and translates it.
pub fn parse<'a>(event: &'a str, sources: &[TokenSource]) -> Result<AuthRequest<'a>, EventError> {
    let shape = shape_of(event).ok_or(EventError::Unrecognized)?;
    match kind(&shape).ok_or(EventError::Unrecognized)? {
        Kind::RestToken => rest_token::translate(shape),
        Kind::RestRequest => rest_request::translate(event, sources),
        Kind::WebSocket => websocket::translate(event, sources),
        Kind::HttpApi => http_api::translate(event, sources),
    }
}

/// The fields that tell the kinds apart, borrowed from the event; everything else is
/// skipped without being built. A TOKEN event has nothing more, so it is translated
/// from this one pass (the token is the bulk of the event; it is scanned once).
#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(rename = "type", borrow, default)]
    type_: Option<Borrowed<'a>>,
    #[serde(borrow, default)]
    version: Option<Borrowed<'a>>,
    #[serde(rename = "methodArn", borrow, default)]
    method_arn: Option<Borrowed<'a>>,
    #[serde(rename = "authorizationToken", borrow, default)]
    authorization_token: Option<Borrowed<'a>>,
    #[serde(rename = "routeArn", default)]
    route_arn: Option<IgnoredAny>,
    #[serde(rename = "requestContext", borrow, default)]
    request_context: Option<ShapeContext<'a>>,
}

/// A string borrowed from the JSON text (an event, a token header) when it has no
/// escapes (serde borrows a `Cow` field, not one inside an `Option`).
#[derive(Deserialize)]
pub(crate) struct Borrowed<'a>(#[serde(borrow)] pub(crate) Cow<'a, str>);

impl Borrowed<'_> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Deserialize)]
struct ShapeContext<'a> {
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<Borrowed<'a>>,
}

/// The kind of an event (raw JSON), by shape (SPEC.md "Events in, answers out").
pub fn kind_of(event: &str) -> Option<Kind> {
    kind(&shape_of(event)?)
}

fn shape_of(event: &str) -> Option<Shape<'_>> {
    if !event.trim_start().starts_with('{') {
        return None;
    }
    serde_json::from_str(event).ok()
}

fn kind(shape: &Shape<'_>) -> Option<Kind> {
    if shape.version.as_ref().map(Borrowed::as_str) == Some("2.0") && shape.route_arn.is_some() {
        return Some(Kind::HttpApi);
    }
    match shape.type_.as_ref()?.as_str() {
        "TOKEN" => Some(Kind::RestToken),
        "REQUEST" => match shape
            .request_context
            .as_ref()
            .and_then(|c| c.event_type.as_ref())
            .map(Borrowed::as_str)
        {
            Some("CONNECT") => Some(Kind::WebSocket),
            Some(_) => None,
            None if shape.method_arn.is_some() => Some(Kind::RestRequest),
            None => None,
        },
        _ => None,
    }
}

/// The owned token of what a translator found (in a structure read from the event, not
/// the event's text itself).
fn owned<'a>((token, origin, scheme): Found<'_>) -> (Cow<'a, str>, TokenOrigin, Scheme) {
    (Cow::Owned(token.to_owned()), origin, scheme)
}

/// Completes a request from its ARN.
fn request<'a>(
    kind: Kind,
    arn: Option<Cow<'a, str>>,
    found: Result<(Cow<'a, str>, TokenOrigin, Scheme), TokenError>,
    request_id: Option<String>,
    possession: Possession,
) -> Result<AuthRequest<'a>, EventError> {
    let arn = arn.ok_or(EventError::BadArn)?;
    let prefix_len = api_prefix(&arn).ok_or(EventError::BadArn)?.len();
    let origin = found.as_ref().ok().map(|(_, origin, _)| *origin);
    let scheme = found.as_ref().ok().map(|(_, _, scheme)| *scheme);
    Ok(AuthRequest {
        kind,
        token: found.map(|(token, _, _)| token),
        origin,
        scheme,
        possession,
        arn,
        prefix_len,
        request_id,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    fn kind_of(event: Value) -> Option<Kind> {
        super::kind_of(&event.to_string())
    }

    #[test]
    fn kinds_are_told_apart_by_shape() {
        assert_eq!(
            kind_of(json!({"type": "TOKEN", "methodArn": "a"})),
            Some(Kind::RestToken)
        );
        assert_eq!(
            kind_of(json!({"type": "REQUEST", "methodArn": "a", "requestContext": {}})),
            Some(Kind::RestRequest)
        );
        assert_eq!(
            kind_of(
                json!({"type": "REQUEST", "methodArn": "a", "requestContext": {"eventType": "CONNECT"}})
            ),
            Some(Kind::WebSocket)
        );
        assert_eq!(
            kind_of(json!({"type": "REQUEST", "version": "2.0", "routeArn": "a"})),
            Some(Kind::HttpApi)
        );
        assert_eq!(
            kind_of(json!({"type": "REQUEST", "version": "1.0", "methodArn": "a"})),
            Some(Kind::RestRequest)
        );
        for other in [
            json!({}),
            json!([]),
            json!(["TOKEN"]),
            json!("TOKEN"),
            json!({"type": "token"}),
            json!({"type": "REQUEST"}),
            json!({"type": "REQUEST", "methodArn": "a", "requestContext": {"eventType": "MESSAGE"}}),
            json!({"version": "2.0"}),
        ] {
            assert_eq!(kind_of(other.clone()), None, "{other}");
        }
    }

    #[test]
    fn unrecognized_and_bad_arn_events_are_errors() {
        assert_eq!(
            parse(r#"{"hello": 1}"#, &TokenSource::defaults()),
            Err(EventError::Unrecognized)
        );
        let bad_arn = json!({"type": "TOKEN", "authorizationToken": "Bearer x", "methodArn": "arn:aws:s3:::bucket"});
        assert_eq!(
            parse(&bad_arn.to_string(), &TokenSource::defaults()),
            Err(EventError::BadArn)
        );
        let no_arn = json!({"type": "TOKEN", "authorizationToken": "Bearer x"});
        assert_eq!(
            parse(&no_arn.to_string(), &TokenSource::defaults()),
            Err(EventError::BadArn)
        );
    }
}
