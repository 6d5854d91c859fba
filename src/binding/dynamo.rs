//! Proof `jti`s in the keys table, so a proof replayed to another container is refused
//! too: one conditional PutItem of `DPOP#{jkt}#{jti}` with `expires_at` (the table's TTL
//! attribute deletes it), written only when no live item holds the key. Bounded in time
//! by [`REPLAY_BUDGET`]: one attempt, no retry (a retried write that had landed would
//! refuse its own proof).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::replay::{Remembering, ReplayStore};
use crate::error::UpstreamError;
use crate::keys::KeyTable;
use crate::keys::record::{EXPIRES_AT, PK};

/// Longest a replay write may take before `DPOP_REPLAY_ON_ERROR` decides.
pub const REPLAY_BUDGET: Duration = Duration::from_millis(500);

/// The partition key of a proof's item.
pub fn replay_key(jkt: &str, jti: &str) -> String {
    format!("DPOP#{jkt}#{jti}")
}

/// The replay items of the keys table.
#[derive(Debug, Clone)]
pub struct DynamoReplay {
    client: Client,
    table: String,
}

impl DynamoReplay {
    /// The items of `table` through its client.
    pub fn new(table: &KeyTable) -> Self {
        Self {
            client: table.client().clone(),
            table: table.name().to_owned(),
        }
    }

    async fn put(
        &self,
        jkt: &str,
        jti: &str,
        now: u64,
        expires_at: u64,
    ) -> Result<bool, UpstreamError> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, AttributeValue::S(replay_key(jkt, jti)))
            .item(EXPIRES_AT, AttributeValue::N(expires_at.to_string()))
            // An item TTL has not deleted yet is no replay once expired; one whose
            // `expires_at` is not a number protects nothing.
            .condition_expression(
                "attribute_not_exists(#pk) OR NOT attribute_type(#expires, :n) OR #expires <= :now",
            )
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(":n", AttributeValue::S("N".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(ReturnValue::None)
            .customize()
            .config_override(
                aws_sdk_dynamodb::config::Builder::default()
                    .retry_config(aws_smithy_types::retry::RetryConfig::disabled()),
            );
        crate::keys::condition_held(request.send().await)
    }
}

impl ReplayStore for DynamoReplay {
    fn remember<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: u64,
        expires_at: u64,
    ) -> Remembering<'a> {
        Box::pin(async move {
            tokio::time::timeout(REPLAY_BUDGET, self.put(jkt, jti, now, expires_at))
                .await
                .unwrap_or(Err(UpstreamError::Timeout))
        })
    }
}
