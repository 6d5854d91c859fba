//! REST API TOKEN authorizer events: the token is `authorizationToken` (`Bearer …`).
//! The event has no other field worth reading, so it is translated from the one
//! borrowed pass that recognised its kind (see `Shape` in `events/mod.rs`).

use std::borrow::Cow;

use super::{AuthRequest, EventError, Kind, Possession, Shape, owned, request};
use crate::error::TokenError;
use crate::token::{TokenOrigin, authorization};

/// Translates a TOKEN event. A `DPoP` scheme is recorded as such: a TOKEN event carries
/// no other header, so no proof, and the binding step refuses it.
pub(super) fn translate(shape: Shape<'_>) -> Result<AuthRequest<'_>, EventError> {
    let origin = TokenOrigin::AuthorizationToken;
    let token = match shape.authorization_token.map(|text| text.0) {
        Some(Cow::Borrowed(value)) => {
            authorization(value).map(|(token, scheme)| (Cow::Borrowed(token), origin, scheme))
        }
        Some(Cow::Owned(value)) => {
            authorization(&value).map(|(token, scheme)| owned((token, origin, scheme)))
        }
        None => Err(TokenError::Missing),
    };
    request(
        Kind::RestToken,
        shape.method_arn.map(|arn| arn.0),
        token,
        None,
        Possession::default(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1";

    fn translate(event: Value) -> Result<AuthRequest<'static>, EventError> {
        let text: &'static str = Box::leak(event.to_string().into_boxed_str());
        super::super::parse(text, &crate::token::TokenSource::defaults())
    }

    #[test]
    fn the_token_and_arn_are_borrowed_from_the_event_unless_they_have_escapes() {
        let plain =
            json!({"type": "TOKEN", "authorizationToken": "Bearer t.o.k", "methodArn": ARN})
                .to_string();
        let r = super::super::parse(&plain, &[]).unwrap();
        assert!(matches!(r.token, Ok(Cow::Borrowed("t.o.k"))));
        assert!(matches!(r.arn, Cow::Borrowed(ARN)));
        let escaped = plain.replace("t.o.k", "t.o\\u002ek");
        let r = super::super::parse(&escaped, &[]).unwrap();
        assert_eq!(r.token, Ok(Cow::Owned("t.o.k".to_owned())));
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
            r.api_prefix(),
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
    fn wrong_field_types_are_unrecognized() {
        let r = translate(json!({"type": "TOKEN", "authorizationToken": 5, "methodArn": ARN}));
        assert_eq!(r, Err(EventError::Unrecognized));
    }
}
