//! The `hello` Lambda, the sample protected endpoint: `GET /hello/{userId}` answers the
//! caller's `userId` and the authorizer context API Gateway passed along, as JSON, for the
//! REST API and the HTTP API (payload 2.0) alike. It also serves the sample WebSocket API:
//! `$connect` and `$disconnect` answer 200, and a message on `$default` gets the
//! connection's identity back (through the route response).

use jwt_authorizer::logging;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Map, Value, json};

/// The answer to one API Gateway proxy event (REST, HTTP API payload 2.0, or WebSocket).
fn respond(event: &Value) -> Value {
    // HTTP API payload 2.0 nests a Lambda authorizer's context under `lambda`.
    let context = event
        .pointer("/requestContext/authorizer/lambda")
        .filter(|lambda| lambda.is_object())
        .or_else(|| event.pointer("/requestContext/authorizer"))
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let body = match event
        .pointer("/requestContext/eventType")
        .and_then(Value::as_str)
    {
        Some("CONNECT" | "DISCONNECT") => return json!({"statusCode": 200}),
        Some(_) => json!({
            "connectionId": event.pointer("/requestContext/connectionId"),
            "authorizer": context,
        }),
        None => json!({
            "userId": event.pointer("/pathParameters/userId"),
            "authorizer": context,
        }),
    };
    json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        Ok::<Value, lambda_runtime::Error>(respond(&event.payload))
    }))
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn rest_request_gets_user_id_and_authorizer_context() {
        let event = json!({
            "resource": "/hello/{userId}", "path": "/hello/u-1", "httpMethod": "GET",
            "pathParameters": {"userId": "u-1"},
            "requestContext": {"authorizer": {"principalId": "u-1", "sub": "u-1", "username": "alice"}}
        });
        let answer = respond(&event);
        assert_eq!(answer["statusCode"], 200);
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"userId": "u-1", "authorizer": {"principalId": "u-1", "sub": "u-1", "username": "alice"}})
        );
    }

    #[test]
    fn http_api_request_gets_user_id_and_the_lambda_authorizer_context() {
        let event = json!({
            "version": "2.0", "routeKey": "GET /hello/{userId}", "rawPath": "/prod/hello/u-1",
            "pathParameters": {"userId": "u-1"},
            "requestContext": {
                "http": {"method": "GET", "path": "/prod/hello/u-1"},
                "authorizer": {"lambda": {"sub": "u-1", "username": "alice"}}
            }
        });
        let answer = respond(&event);
        assert_eq!(answer["statusCode"], 200);
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"userId": "u-1", "authorizer": {"sub": "u-1", "username": "alice"}})
        );
    }

    #[test]
    fn a_rest_context_value_named_lambda_is_kept_as_it_is() {
        let event = json!({
            "pathParameters": {"userId": "u-1"},
            "requestContext": {"authorizer": {"principalId": "u-1", "lambda": "x"}}
        });
        let body: Value = serde_json::from_str(respond(&event)["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body["authorizer"],
            json!({"principalId": "u-1", "lambda": "x"})
        );
    }

    #[test]
    fn websocket_routes_answer() {
        for event_type in ["CONNECT", "DISCONNECT"] {
            let event = json!({"requestContext": {"eventType": event_type, "connectionId": "c1"}});
            assert_eq!(respond(&event), json!({"statusCode": 200}));
        }
        let message = json!({"requestContext": {"eventType": "MESSAGE", "connectionId": "c1", "authorizer": {"principalId": "u-1"}}});
        let body: Value =
            serde_json::from_str(respond(&message)["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"connectionId": "c1", "authorizer": {"principalId": "u-1"}})
        );
    }
}
