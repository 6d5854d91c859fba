//! The DynamoDB tier: the items of `record.rs`, read with GetItem and written with a
//! PutItem that never replaces a newer usable item but always a poisoned one. Every call
//! is bounded (see [`Budget`]), so a dead table costs well under a second.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::{ReconnectMode, RetryConfig};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::record::{self, EXPIRES_AT, FETCHED_AT, Item, PK, Poison, Stored};
use crate::error::UpstreamError;
use crate::transport::http::SdkHttpClient;

/// Bound of establishing a connection to DynamoDB.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(200);
/// Bound of one attempt of a call.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);
/// Bound of a whole call, retries included.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(700);
/// Attempts per call (the first one included).
pub const MAX_ATTEMPTS: u32 = 2;
/// Bound of establishing a connection for a [`Budget::Init`] read.
pub const INIT_CONNECT_TIMEOUT: Duration = Duration::from_millis(300);
/// Bound of a [`Budget::Init`] read: one attempt.
pub const INIT_TIMEOUT: Duration = Duration::from_millis(900);

/// How long a table read may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// On a request's path: connect 200 ms, 300 ms per attempt, 2 attempts, 700 ms in
    /// all. A slow answer costs one request, a dead table well under a second.
    Request,
    /// Lambda init (and the scheduled refresher): one attempt of 900 ms (connect 300 ms).
    /// A small function gets a small CPU share (128 MB: 7.2 ms of CPU per 100 ms), so the
    /// same work takes longer on the wall clock: a slow CPU is not an outage, and falling
    /// back to the issuer for it would make the cold start slower still. A table that
    /// accepts connections and never answers still costs under a second, once per
    /// container.
    Init,
}

/// At most this many items in one BatchGetItem (DynamoDB's limit).
pub const MAX_BATCH_KEYS: usize = 100;

/// Items read together in one BatchGetItem (Lambda init, every issuer at once), by
/// partition key: each key DynamoDB answered for, with its item or `None` when absent.
/// A key it left unprocessed is not here, so its reader asks again on its own.
#[derive(Debug, Default)]
pub struct Prefetched {
    answered: HashMap<String, Option<Attributes>>,
}

/// One item's attributes, as the SDK holds them.
pub(crate) type Attributes = HashMap<String, AttributeValue>;

/// The key of the item whose partition key is `pk`.
pub(crate) fn partition_key(pk: &str) -> Attributes {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk.to_owned()))])
}

/// What one BatchGetItem call on one table answered.
pub(crate) struct BatchAnswer {
    /// The items found.
    pub items: Vec<Attributes>,
    /// The keys DynamoDB left unprocessed (ask again, or do without).
    pub unprocessed: Vec<Attributes>,
}

/// One BatchGetItem call on `table` for `keys` (at most [`MAX_BATCH_KEYS`]), strongly
/// consistent or not, within `budget`'s bounds.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Attributes>,
    consistent: bool,
    budget: Budget,
) -> Result<BatchAnswer, UpstreamError> {
    let request = KeysAndAttributes::builder()
        .set_keys(Some(keys))
        .consistent_read(consistent)
        .build()
        .map_err(|e| UpstreamError::Transport(format!("DynamoDB request: {e}")))?;
    let call = client.batch_get_item().request_items(table, request);
    let mut output = match budget {
        Budget::Request => call.send().await,
        Budget::Init => call.customize().config_override(init_bounds()).send().await,
    }
    .map_err(upstream)?;
    Ok(BatchAnswer {
        items: output
            .responses
            .as_mut()
            .and_then(|r| r.remove(table))
            .unwrap_or_default(),
        unprocessed: output
            .unprocessed_keys
            .as_mut()
            .and_then(|u| u.remove(table))
            .map(|k| k.keys)
            .unwrap_or_default(),
    })
}

impl Prefetched {
    /// `subject`'s item of kind `T` read at wall time `now`, if this batch answered for
    /// it: `Some(None)` when it is absent.
    pub fn get<T: Item>(&self, subject: &str, now: u64) -> Option<Option<Stored<T>>> {
        self.answered
            .get(&T::partition_key(subject))
            .map(|item| item.as_ref().map(|item| record::parse(subject, item, now)))
    }
}

/// The keys table; the client is built once per container.
#[derive(Debug, Clone)]
pub struct KeyTable {
    client: Client,
    table: String,
    /// `false` for [`KeyTable::read_only`]: no key item is ever written.
    writable: bool,
}

/// Standard retries, `max_attempts` in all. Connections are never "poisoned": the SDK
/// would mark the connection of a transient error for closure, but it cannot see the
/// connections of the shared reqwest client ([`crate::transport::http`]) and logs an ERROR on every
/// such failure instead. Nothing is lost: hyper drops a connection whose attempt timed out
/// or whose answer it could not parse, and one that carried a 500 is sound.
fn retries(max_attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(max_attempts)
        .with_reconnect_mode(ReconnectMode::ReuseAllConnections)
}

impl KeyTable {
    /// The table `table` with the SDK settings of the environment (region, credentials,
    /// `AWS_ENDPOINT_URL[_DYNAMODB]`) and this tier's timeouts and retries, over the
    /// process's one HTTP client ([`crate::transport::http`]).
    ///
    /// In a Lambda function the execution role's credentials are in the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), where the SDK's
    /// default chain would find them first; there they are read directly, so the rest of
    /// that chain (profile files, web identity through an STS client, ECS, instance
    /// metadata), which every cold start would otherwise build for nothing, is not built.
    /// Elsewhere (the operator CLI on a workstation) the default chain applies.
    pub async fn from_env(table: &str) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(SdkHttpClient::shared());
        if lambda_with_environment_credentials() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        Self::new(&loader.load().await, table)
    }

    /// The table `table` through `sdk` (tests pass an explicit endpoint), with this tier's
    /// timeouts and retries, over the process's one HTTP client ([`crate::transport::http`]).
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
            .retry_config(retries(MAX_ATTEMPTS))
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.to_owned(),
            writable: true,
        }
    }

    /// The same table, through which no key item is ever written: keys fetched from an
    /// issuer are used, not written through (`authorizer-admin explain`, which runs with
    /// an operator's credentials and trust store, must never change the trust anchor).
    pub fn read_only(self) -> Self {
        Self {
            writable: false,
            ..self
        }
    }

    /// Whether key items may be written through this table (see [`KeyTable::read_only`]).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The table name.
    pub fn name(&self) -> &str {
        &self.table
    }

    /// The DynamoDB client, with this tier's timeouts and retries (shared by the
    /// revocation lookups and the admin CLI).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The stored item of `subject` (a JWKS URL, an issuer) read at wall time `now`
    /// within `budget`, live or not, usable or poisoned; `None` when there is no item.
    pub async fn get<T: Item>(
        &self,
        subject: &str,
        now: u64,
        budget: Budget,
    ) -> Result<Option<Stored<T>>, UpstreamError> {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(T::partition_key(subject)));
        let output = match budget {
            Budget::Request => request.send().await,
            Budget::Init => {
                request
                    .customize()
                    .config_override(init_bounds())
                    .send()
                    .await
            }
        }
        .map_err(upstream)?;
        Ok(output.item.map(|item| record::parse(subject, &item, now)))
    }

    /// The items under `keys` (partition keys, at most [`MAX_BATCH_KEYS`], distinct) in
    /// one BatchGetItem within the [`Budget::Init`] bounds; keys left unprocessed are
    /// left out of the answer.
    pub async fn get_many(&self, keys: &[String]) -> Result<Prefetched, UpstreamError> {
        let asked: Vec<&String> = keys.iter().take(MAX_BATCH_KEYS).collect();
        let answer = batch_get(
            &self.client,
            &self.table,
            asked.iter().map(|pk| partition_key(pk)).collect(),
            false,
            Budget::Init,
        )
        .await?;
        let unprocessed: Vec<&str> = answer
            .unprocessed
            .iter()
            .filter_map(|key| key.get(PK)?.as_s().ok().map(String::as_str))
            .collect();
        let mut answered: HashMap<String, Option<Attributes>> = asked
            .into_iter()
            .filter(|pk| !unprocessed.contains(&pk.as_str()))
            .map(|pk| (pk.clone(), None))
            .collect();
        for item in answer.items {
            if let Some(pk) = item.get(PK).and_then(|v| v.as_s().ok()) {
                if let Some(slot) = answered.get_mut(pk) {
                    *slot = Some(item);
                }
            }
        }
        Ok(Prefetched { answered })
    }

    /// Stores `record` unless the table holds a newer usable one: the write goes through
    /// when there is no item, when the stored one is not newer (equal seconds replace: a
    /// rotation fetched in the same second as the last write is stored), is poisoned in
    /// its attributes (types, or a `fetched_at` more than 300 s ahead of `now`), or is the
    /// very poisoned version this writer read (`replacing`). Returns whether it was
    /// written: never through a [`KeyTable::read_only`] table.
    pub async fn put<T: Item>(
        &self,
        record: &T,
        now: u64,
        replacing: Option<&Poison>,
    ) -> Result<bool, UpstreamError> {
        if !self.writable {
            return Ok(false);
        }
        let horizon = now.saturating_add(record::MAX_FUTURE_SECONDS);
        // A poisoned item without a numeric `fetched_at` is caught by the type guards.
        let seen = replacing.and_then(|poison| poison.fetched_at.as_ref());
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record::attributes(record)))
            .condition_expression(write_condition(seen.is_some()))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#body", T::BODY)
            .expression_attribute_names("#fetched", FETCHED_AT)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":n", AttributeValue::S("N".into()))
            .expression_attribute_values(":s", AttributeValue::S("S".into()))
            .expression_attribute_values(
                ":fetched",
                AttributeValue::N(record.fetched_at().to_string()),
            )
            .expression_attribute_values(":horizon", AttributeValue::N(horizon.to_string()));
        if let Some(seen) = seen {
            request = request.expression_attribute_values(":seen", AttributeValue::N(seen.clone()));
        }
        written(request).await
    }
}

/// The bounds of a [`Budget::Init`] read: one attempt of [`INIT_TIMEOUT`].
fn init_bounds() -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(INIT_CONNECT_TIMEOUT)
                .operation_attempt_timeout(INIT_TIMEOUT)
                .operation_timeout(INIT_TIMEOUT)
                .build(),
        )
        .retry_config(retries(1))
}

/// Sends a conditional PutItem: `true` when it was written, `false` when its condition
/// did not hold.
pub(crate) async fn written(request: PutItemFluentBuilder) -> Result<bool, UpstreamError> {
    condition_held(request.send().await)
}

/// What a conditional write's call came to: `true` when it was carried out, `false` when
/// its condition did not hold (any operation's `ConditionalCheckFailedException`).
pub(crate) fn condition_held<T, E, R>(
    sent: Result<T, SdkError<E, R>>,
) -> Result<bool, UpstreamError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match sent {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e))
            if e.err().code() == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(upstream(e)),
    }
}

/// Whether this process is a Lambda function whose role credentials are in the
/// environment (always, for a function on a managed or `provided` runtime).
fn lambda_with_environment_credentials() -> bool {
    [
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    ]
    .iter()
    .all(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// The condition of every write of a key-tier item. The type guards come first: a
/// comparison across types is false in DynamoDB, but some emulators fail the call
/// unless an earlier `OR` operand already holds.
fn write_condition(replacing_seen: bool) -> &'static str {
    if replacing_seen {
        "attribute_not_exists(#pk) OR NOT attribute_type(#fetched, :n) \
         OR NOT attribute_type(#expires, :n) OR NOT attribute_type(#body, :s) \
         OR #fetched <= :fetched OR #fetched > :horizon OR #fetched = :seen"
    } else {
        "attribute_not_exists(#pk) OR NOT attribute_type(#fetched, :n) \
         OR NOT attribute_type(#expires, :n) OR NOT attribute_type(#body, :s) \
         OR #fetched <= :fetched OR #fetched > :horizon"
    }
}

/// A failed SDK call as an upstream error (a timeout stays a timeout).
pub(crate) fn upstream<E, R>(error: SdkError<E, R>) -> UpstreamError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match &error {
        SdkError::TimeoutError(_) => UpstreamError::Timeout,
        _ => UpstreamError::Transport(format!("DynamoDB: {}", DisplayErrorContext(&error))),
    }
}
