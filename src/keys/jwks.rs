//! The JWKS tier: fetches an issuer's key set over HTTPS, bounded in time and size, with
//! OIDC discovery when no JWKS URL is configured. HTTP 200 only; redirects are not followed.

use std::time::Duration;

use serde::Deserialize;

use crate::config::checked_url;
use crate::error::UpstreamError;

/// Largest JWKS or discovery document accepted.
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// HTTP client for JWKS and discovery documents; built once per container.
#[derive(Debug, Clone)]
pub struct JwksClient {
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl JwksClient {
    /// A client whose every request (connect, headers and body) is bounded by `timeout`,
    /// over the process's one TLS configuration ([`crate::transport::tls`]).
    pub fn new(timeout: Duration) -> Result<Self, UpstreamError> {
        let tls = crate::transport::tls::client_config().map_err(UpstreamError::Transport)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls.as_ref().clone())
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("jwt-authorizer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| UpstreamError::Transport(e.to_string()))?;
        Ok(Self { http })
    }

    /// GETs `url` and returns the body of a 200 answer, at most [`MAX_DOCUMENT_BYTES`].
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, UpstreamError> {
        let mut response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(upstream)?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(UpstreamError::Status(status));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err(UpstreamError::TooLarge(MAX_DOCUMENT_BYTES));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(upstream)? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(UpstreamError::TooLarge(MAX_DOCUMENT_BYTES));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The `jwks_uri` of `{issuer}/.well-known/openid-configuration`; the document's
    /// `issuer` must equal `issuer` and the URI must be https (or loopback http).
    pub async fn discover(&self, issuer: &str) -> Result<String, UpstreamError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = self.get(&url).await?;
        let doc: Discovery = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::InvalidDocument(format!("discovery document: {e}")))?;
        if doc.issuer != issuer {
            return Err(UpstreamError::InvalidDocument(format!(
                "discovery issuer {:?} differs",
                doc.issuer
            )));
        }
        checked_url(&doc.jwks_uri).map_err(UpstreamError::InvalidDocument)
    }
}

fn upstream(error: reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        UpstreamError::Timeout
    } else {
        UpstreamError::Transport(error.without_url().to_string())
    }
}
