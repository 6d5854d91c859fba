//! WebSocket API `$connect` authorizer events: REQUEST-shaped with
//! `requestContext.eventType = CONNECT`; browsers cannot set headers on a WebSocket, so the
//! token usually comes from the query string (`?auth=`, the default second source).

use super::{AuthRequest, EventError, Kind, rest_request};
use crate::token::TokenSource;

/// Translates a WebSocket `$connect` event.
pub(super) fn translate<'a>(
    event: &'a str,
    sources: &[TokenSource],
) -> Result<AuthRequest<'a>, EventError> {
    rest_request::translate_as(Kind::WebSocket, event, sources)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    /// The event's text kept for the test's length (the request borrows from it).
    fn translate(event: &str, sources: &[TokenSource]) -> Result<AuthRequest<'static>, EventError> {
        super::translate(Box::leak(event.to_owned().into_boxed_str()), sources)
    }

    #[test]
    fn token_from_query_and_connect_arn() {
        let event = json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:ws123/prod/$connect",
            "headers": {"Host": "ws123.execute-api.us-east-1.amazonaws.com"},
            "queryStringParameters": {"auth": "w.w.w"},
            "requestContext": {"eventType": "CONNECT", "routeKey": "$connect", "requestId": "r", "connectionId": "c"}
        });
        let r = translate(&event.to_string(), &TokenSource::defaults()).unwrap();
        assert_eq!(r.kind, Kind::WebSocket);
        assert_eq!(r.token, Ok("w.w.w".into()));
        assert_eq!(
            r.api_prefix(),
            "arn:aws:execute-api:us-east-1:123456789012:ws123/prod/"
        );
    }
}
