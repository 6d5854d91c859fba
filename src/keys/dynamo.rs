//! The DynamoDB tier: one item per JWKS URL (see `record.rs`), read with GetItem and
//! written with a PutItem that never replaces a newer `fetched_at`. Calls are bounded by
//! short timeouts and few retries, so a dead table costs well under a second.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;

use super::record::{EXPIRES_AT, FETCHED_AT, JWKS, KeyRecord, PK};
use crate::error::UpstreamError;
use crate::http::SdkHttpClient;

/// Bound of establishing a connection to DynamoDB.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// Bound of one attempt of a call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);
/// Bound of a whole call, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(700);
/// Attempts per call (the first one included).
pub const MAX_ATTEMPTS: u32 = 2;

/// The keys table; the client is built once per container.
#[derive(Debug, Clone)]
pub struct KeyTable {
    client: Client,
    table: String,
}

impl KeyTable {
    /// The table `table` with the SDK settings of the environment (region, credentials,
    /// `AWS_ENDPOINT_URL[_DYNAMODB]`) and this tier's timeouts and retries, over the
    /// process's one HTTP client ([`crate::http`]).
    pub async fn from_env(table: &str) -> Self {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(SdkHttpClient::shared())
            .load()
            .await;
        Self::new(&sdk, table)
    }

    /// The table `table` through `sdk` (tests pass an explicit endpoint), with this tier's
    /// timeouts and retries, over the process's one HTTP client ([`crate::http`]).
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .http_client(SdkHttpClient::shared())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.to_owned(),
        }
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.table
    }

    /// The stored record of `jwks_url`, live or not; `None` when there is no item.
    pub async fn get(&self, jwks_url: &str) -> Result<Option<KeyRecord>, UpstreamError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(KeyRecord::partition_key(jwks_url)))
            .send()
            .await
            .map_err(upstream)?;
        output.item.map(|item| record(jwks_url, &item)).transpose()
    }

    /// Stores `record` unless the table holds one with the same or a newer `fetched_at`.
    /// Returns whether it was written.
    pub async fn put(&self, record: &KeyRecord) -> Result<bool, UpstreamError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(
                PK,
                AttributeValue::S(KeyRecord::partition_key(&record.jwks_url)),
            )
            .item(JWKS, AttributeValue::S(record.jwks.clone()))
            .item(FETCHED_AT, AttributeValue::N(record.fetched_at.to_string()))
            .item(EXPIRES_AT, AttributeValue::N(record.expires_at.to_string()))
            .condition_expression("attribute_not_exists(#pk) OR #fetched < :fetched")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#fetched", FETCHED_AT)
            .expression_attribute_values(
                ":fetched",
                AttributeValue::N(record.fetched_at.to_string()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => {
                Ok(false)
            }
            Err(e) => Err(upstream(e)),
        }
    }
}

fn record(
    jwks_url: &str,
    item: &HashMap<String, AttributeValue>,
) -> Result<KeyRecord, UpstreamError> {
    let invalid =
        |what: &str| UpstreamError::InvalidDocument(format!("table item for {jwks_url}: {what}"));
    let number = |name: &str| -> Result<u64, UpstreamError> {
        item.get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| invalid(&format!("{name} is not an integer")))
    };
    let jwks = item
        .get(JWKS)
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| invalid("jwks is not a string"))?;
    Ok(KeyRecord {
        jwks_url: jwks_url.to_owned(),
        jwks: jwks.clone(),
        fetched_at: number(FETCHED_AT)?,
        expires_at: number(EXPIRES_AT)?,
    })
}

fn upstream<E, R>(error: SdkError<E, R>) -> UpstreamError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::TimeoutError(_) => UpstreamError::Timeout,
        _ => UpstreamError::Transport(format!("DynamoDB: {}", DisplayErrorContext(&error))),
    }
}
