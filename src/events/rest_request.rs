//! REST API REQUEST authorizer events (and HTTP API payload 1.0, which has the same shape):
//! the token comes from `TOKEN_SOURCES` (headers and query string parameters); the
//! `DPoP` headers from `multiValueHeaders` (every value of a repeated header), else
//! `headers`; the request line from `httpMethod`, the `Host` header (else
//! `requestContext.domainName`) and `requestContext.path` (the path the client sent,
//! stage or custom domain base path included); the client certificate from
//! `requestContext.identity.clientCert`.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use super::{AuthRequest, EventError, Kind, Possession, owned, request};
use crate::token::{TokenSource, from_sources};

/// Translates a REST REQUEST event.
pub(super) fn translate<'a>(
    event: &'a str,
    sources: &[TokenSource],
) -> Result<AuthRequest<'a>, EventError> {
    translate_as(Kind::RestRequest, event, sources)
}

/// The fields of a REQUEST event this authorizer reads, borrowed from the event's text
/// where it holds no escapes; everything else is skipped without being built. (The
/// `aws_lambda_events` type builds two header maps, the query maps, the path and stage
/// variables: a third of a warm DPoP decision. Its fixtures still pass through here in
/// the tests below.)
#[derive(Deserialize)]
struct Request<'a> {
    #[serde(rename = "methodArn", borrow, default)]
    method_arn: Option<Cow<'a, str>>,
    #[serde(rename = "httpMethod", borrow, default)]
    http_method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    headers: Option<Pairs<'a, Option<Cow<'a, str>>>>,
    #[serde(rename = "multiValueHeaders", borrow, default)]
    multi_value_headers: Option<Pairs<'a, Option<Vec<Cow<'a, str>>>>>,
    #[serde(rename = "queryStringParameters", borrow, default)]
    query: Option<Pairs<'a, Option<Cow<'a, str>>>>,
    #[serde(rename = "requestContext", borrow, default)]
    context: Option<Context<'a>>,
}

#[derive(Deserialize, Default)]
struct Context<'a> {
    #[serde(rename = "requestId", borrow, default)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    path: Option<Cow<'a, str>>,
    #[serde(rename = "httpMethod", borrow, default)]
    http_method: Option<Cow<'a, str>>,
    #[serde(rename = "domainName", borrow, default)]
    domain_name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    identity: Option<Identity<'a>>,
}

#[derive(Deserialize)]
struct Identity<'a> {
    #[serde(rename = "clientCert", borrow, default)]
    client_cert: Option<ClientCert<'a>>,
}

#[derive(Deserialize)]
struct ClientCert<'a> {
    #[serde(rename = "clientCertPem", borrow, default)]
    client_cert_pem: Option<Cow<'a, str>>,
}

/// A JSON object's members in order (a map would lose the order of names that differ
/// only in case, and the last of those wins, as it does in API Gateway's `headers`).
struct Pairs<'a, V>(Vec<(Cow<'a, str>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Pairs<'a, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PairsVisitor<'a, V>(PhantomData<(Cow<'a, str>, V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for PairsVisitor<'a, V> {
            type Value = Pairs<'a, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
                while let Some(pair) = map.next_entry::<Cow<'a, str>, V>()? {
                    pairs.push(pair);
                }
                Ok(Pairs(pairs))
            }
        }
        deserializer.deserialize_map(PairsVisitor(PhantomData))
    }
}

impl<'a, V> Pairs<'a, V> {
    /// The values of the members named `name`, in order.
    fn named<'s>(&'s self, name: &'s str, case: bool) -> impl Iterator<Item = &'s V> + 's {
        self.0
            .iter()
            .filter(move |(key, _)| {
                if case {
                    key.as_ref() == name
                } else {
                    key.eq_ignore_ascii_case(name)
                }
            })
            .map(|(_, value)| value)
    }
}

/// The last value of a single-valued map's member `name`.
fn last<'s>(
    pairs: Option<&'s Pairs<'_, Option<Cow<'_, str>>>>,
    name: &str,
    case: bool,
) -> Option<&'s str> {
    let mut found = None;
    for (key, value) in &pairs?.0 {
        let matches = if case {
            key.as_ref() == name
        } else {
            key.eq_ignore_ascii_case(name)
        };
        if let (true, Some(value)) = (matches, value) {
            found = Some(value.as_ref());
        }
    }
    found
}

/// Translates any event of the REQUEST shape, reporting it as `kind`.
pub(super) fn translate_as<'a>(
    kind: Kind,
    event: &'a str,
    sources: &[TokenSource],
) -> Result<AuthRequest<'a>, EventError> {
    let event = serde_json::from_str::<Request<'_>>(event)
        .map_err(|_| EventError::Malformed(kind.as_str()))?;
    let token = from_sources(
        sources,
        |name| last(event.headers.as_ref(), name, false),
        |name| last(event.query.as_ref(), name, true),
    )
    .map(owned);
    let possession = possession(&event);
    let context = event.context.unwrap_or_default();
    request(
        kind,
        event.method_arn,
        token,
        context.request_id.map(Cow::into_owned),
        possession,
    )
}

fn possession(event: &Request<'_>) -> Possession {
    let context = event.context.as_ref();
    let multi: Vec<&str> = event
        .multi_value_headers
        .as_ref()
        .map(|pairs| {
            pairs
                .named("dpop", false)
                .flatten()
                .flatten()
                .map(AsRef::as_ref)
                .collect()
        })
        .unwrap_or_default();
    let proofs = if multi.is_empty() {
        let single = event.headers.as_ref().map(|pairs| {
            pairs
                .named("dpop", false)
                .filter_map(|v| v.as_deref())
                .collect::<Vec<&str>>()
        });
        // `headers` keeps one value per name: the last, as API Gateway's does.
        Possession::proofs(single.unwrap_or_default().last().into_iter().copied())
    } else {
        Possession::proofs(multi.into_iter())
    };
    let host = last(event.headers.as_ref(), "host", false)
        .or_else(|| context.and_then(|c| c.domain_name.as_deref()))
        .map(str::to_owned);
    Possession {
        proofs,
        method: event
            .http_method
            .as_deref()
            .or_else(|| context.and_then(|c| c.http_method.as_deref()))
            .map(str::to_owned),
        host,
        path: context.and_then(|c| c.path.as_deref()).map(str::to_owned),
        client_cert_pem: context
            .and_then(|c| c.identity.as_ref())
            .and_then(|identity| identity.client_cert.as_ref())
            .and_then(|cert| cert.client_cert_pem.as_deref())
            .map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::TokenError;
    use serde_json::{Value, json};

    /// The event's text kept for the test's length (the request borrows from it).
    fn translate(event: &str, sources: &[TokenSource]) -> Result<AuthRequest<'static>, EventError> {
        super::translate(Box::leak(event.to_owned().into_boxed_str()), sources)
    }

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
    fn of_names_that_differ_in_case_the_last_wins_and_nulls_are_absent() {
        let text = r#"{"type": "REQUEST", "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/hello/u1",
            "headers": {"authorization": "Bearer a.a.a", "Authorization": "Bearer b.b.b", "x": null}}"#;
        let r = translate(text, &TokenSource::defaults()).unwrap();
        assert_eq!(r.token, Ok("b.b.b".into()));
        let r = translate(
            &event(json!(null), json!({"auth": null})),
            &TokenSource::defaults(),
        )
        .unwrap();
        assert_eq!(r.token, Err(TokenError::Missing));
    }

    /// API Gateway's documented REQUEST authorizer input (as in the aws_lambda_events
    /// fixture `example-apigw-custom-auth-request-type-request.json`), trimmed.
    #[test]
    fn the_documented_request_event_translates() {
        let event = json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:s4x3opwd6i/test/GET/request",
            "resource": "/request", "path": "/request", "httpMethod": "GET",
            "headers": {"HeaderAuth1": "headerValue1", "Host": "....execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {"HeaderAuth1": ["headerValue1"]},
            "queryStringParameters": {"QueryString1": "queryValue1"},
            "multiValueQueryStringParameters": {"QueryString1": ["queryValue1"]},
            "pathParameters": {}, "stageVariables": {"StageVar1": "stageValue1"},
            "requestContext": {
                "path": "/request", "accountId": "123456789012", "resourceId": "05c7jb",
                "stage": "test", "requestId": "...",
                "identity": {"apiKey": "...", "sourceIp": "...", "clientCert": {
                    "clientCertPem": "-----BEGIN CERTIFICATE-----\nMIIEZTCCAk0CAQEwDQ...",
                    "issuerDN": "C=US,ST=Washington,L=Seattle,O=Amazon Web Services,OU=Security,CN=My Private CA",
                    "serialNumber": "1",
                    "subjectDN": "C=US,ST=Washington,L=Seattle,O=Amazon Web Services,OU=Security,CN=My Client",
                    "validity": {"notAfter": "Aug  5 00:28:21 2120 GMT", "notBefore": "Aug 29 00:28:21 2020 GMT"}}},
                "resourcePath": "/request", "httpMethod": "GET", "apiId": "s4x3opwd6i"
            }
        });
        let sources = [TokenSource::Header("headerauth1".into())];
        let r = translate(&event.to_string(), &sources).unwrap();
        assert_eq!(r.token, Err(TokenError::NotBearer));
        assert_eq!(r.request_id.as_deref(), Some("..."));
        assert_eq!(r.possession.path.as_deref(), Some("/request"));
        assert_eq!(r.possession.method.as_deref(), Some("GET"));
        assert!(
            r.possession
                .client_cert_pem
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\n")
        );
        assert!(r.possession.proofs.is_empty());
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
