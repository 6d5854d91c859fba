//! REST API TOKEN authorizer events: the token is `authorizationToken` (`Bearer …`).

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest;

use super::{AuthRequest, EventError, Kind, request};
use crate::error::TokenError;
use crate::token::bearer;

/// Translates a TOKEN event.
pub(super) fn translate(event: &str) -> Result<AuthRequest, EventError> {
    let event = serde_json::from_str::<ApiGatewayCustomAuthorizerRequest>(event)
        .map_err(|_| EventError::Malformed("TOKEN"))?;
    let token = match event.authorization_token.as_deref() {
        Some(value) => bearer(value).map(str::to_owned),
        None => Err(TokenError::Missing),
    };
    request(Kind::RestToken, event.method_arn, token, None)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1";

    fn translate(event: Value) -> Result<AuthRequest, EventError> {
        super::translate(&event.to_string())
    }

    #[test]
    fn bearer_token_and_method_arn_are_read() {
        let r = translate(
            json!({"type": "TOKEN", "authorizationToken": "Bearer t.o.k", "methodArn": ARN}),
        )
        .unwrap();
        assert_eq!(r.kind, Kind::RestToken);
        assert_eq!(r.token, Ok("t.o.k".into()));
        assert_eq!(
            r.api_prefix,
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/"
        );
        assert_eq!(r.request_id, None);
    }

    #[test]
    fn missing_or_non_bearer_token_is_a_token_error() {
        let r = translate(json!({"type": "TOKEN", "methodArn": ARN})).unwrap();
        assert_eq!(r.token, Err(TokenError::Missing));
        let r =
            translate(json!({"type": "TOKEN", "authorizationToken": "Basic x", "methodArn": ARN}))
                .unwrap();
        assert_eq!(r.token, Err(TokenError::NotBearer));
    }

    #[test]
    fn wrong_field_types_are_malformed() {
        let r = translate(json!({"type": "TOKEN", "authorizationToken": 5, "methodArn": ARN}));
        assert_eq!(r, Err(EventError::Malformed("TOKEN")));
    }
}
