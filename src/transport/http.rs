//! The AWS SDK's HTTP client: reqwest over the process's one TLS configuration
//! ([`crate::transport::tls`]), so the DynamoDB calls and the JWKS fetch share one TLS stack, one
//! crypto library and one root store (the SDK's default client would bring a second rustls
//! set-up with its own root store and aws-lc's jitter-seeded RNG).
//!
//! Each distinct pair of connect / read timeouts the SDK asks for gets one reqwest client
//! (connection pool), made on first use; the SDK enforces its attempt and operation
//! timeouts itself. Bodies are buffered: DynamoDB's are small JSON documents.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

type Timeouts = (Option<Duration>, Option<Duration>);

/// The HTTP client handed to the AWS SDK; one per process (see [`SdkHttpClient::shared`]).
#[derive(Debug, Default)]
pub struct SdkHttpClient {
    clients: Mutex<HashMap<Timeouts, reqwest::Client>>,
}

impl SdkHttpClient {
    /// The process's client, for `aws_config` and the DynamoDB client alike.
    pub fn shared() -> SharedHttpClient {
        static SHARED: OnceLock<SharedHttpClient> = OnceLock::new();
        SHARED
            .get_or_init(|| SharedHttpClient::new(Self::default()))
            .clone()
    }

    fn client(&self, timeouts: Timeouts) -> Result<reqwest::Client, ConnectorError> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(&timeouts) {
            return Ok(client.clone());
        }
        let tls = crate::transport::tls::client_config()
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.as_ref().clone())
            .redirect(reqwest::redirect::Policy::none());
        if let Some(connect) = timeouts.0 {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = timeouts.1 {
            builder = builder.read_timeout(read);
        }
        let client = builder
            .build()
            .map_err(|e| ConnectorError::other(e.into(), None))?;
        clients.insert(timeouts, client.clone());
        Ok(client)
    }
}

impl HttpClient for SdkHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(Connector(
            self.client((settings.connect_timeout(), settings.read_timeout())),
        ))
    }
}

#[derive(Debug)]
struct Connector(Result<reqwest::Client, ConnectorError>);

impl HttpConnector for Connector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = match &self.0 {
            Ok(client) => client.clone(),
            Err(e) => {
                let error = ConnectorError::other(e.to_string().into(), None);
                return HttpConnectorFuture::ready(Err(error));
            }
        };
        HttpConnectorFuture::new(async move { send(&client, request).await })
    }
}

async fn send(
    client: &reqwest::Client,
    request: HttpRequest,
) -> Result<HttpResponse, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let body = body
        .bytes()
        .ok_or_else(|| ConnectorError::user("streaming request bodies are not supported".into()))?
        .to_vec();
    let request = reqwest::Request::try_from(http::Request::from_parts(parts, body))
        .map_err(|e| ConnectorError::user(e.into()))?;
    let response = client.execute(request).await.map_err(connector_error)?;
    let mut builder = http::Response::builder()
        .status(response.status())
        .version(response.version());
    if let Some(headers) = builder.headers_mut() {
        headers.extend(
            response
                .headers()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    let body = response.bytes().await.map_err(connector_error)?;
    let response = builder
        .body(SdkBody::from(body))
        .map_err(|e| ConnectorError::other(e.into(), None))?;
    HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
}

/// Timeouts as timeouts and transport failures as I/O errors, so the SDK's retry policy
/// treats them as transient.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}
