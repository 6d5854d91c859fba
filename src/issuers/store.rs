//! Where registry items are read and written: the [`RegistryStore`] trait the registry
//! reads through, which the keys table implements ([`TableRegistry`], also the operator
//! CLI's and the refresher's way to the items) and, for tests, an in-memory
//! [`MemoryRegistry`] that counts its reads and can fail or hang.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use super::registered::{Registration, Status, attr, partition_key};
use crate::error::UpstreamError;
use crate::keys::record::PK;
use crate::keys::{KeyTable, condition_held, upstream};

/// What a read found: no item, or an item (its reason when it does not parse).
pub type Found = Option<Result<Registration, String>>;

/// A read under way.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Found, UpstreamError>> + Send + 'a>>;

/// A source of registry items.
pub trait RegistryStore: Send + Sync {
    /// Reads `issuer`'s item, within the table tier's request bounds.
    fn lookup<'a>(&'a self, issuer: &'a str) -> Lookup<'a>;
}

/// The registry items of the keys table.
#[derive(Debug, Clone)]
pub struct TableRegistry {
    client: Client,
    table: String,
}

/// Most items one `issuers list` or refresher scan reads (a scan is paged; this bounds
/// a table that holds far more than a registry).
pub const MAX_LISTED: usize = 10_000;

impl TableRegistry {
    /// The registry in `table`, through its client (timeouts and retries included).
    pub fn new(table: &KeyTable) -> Self {
        Self {
            client: table.client().clone(),
            table: table.name().to_owned(),
        }
    }

    /// `issuer`'s item, if any; `consistent` for the operator CLI.
    pub async fn get(&self, issuer: &str, consistent: bool) -> Result<Found, UpstreamError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(partition_key(issuer)))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(upstream)?;
        Ok(output.item.map(|item| Registration::from_item(&item)))
    }

    /// Writes `registration`, replacing any item for the same issuer.
    pub async fn put(&self, registration: &Registration) -> Result<(), UpstreamError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(registration.to_item()))
            .send()
            .await
            .map_err(upstream)?;
        Ok(())
    }

    /// Sets an existing item's status and `updated_at`; `false` when there is no item.
    pub async fn set_status(
        &self,
        issuer: &str,
        status: Status,
        now: u64,
    ) -> Result<bool, UpstreamError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(partition_key(issuer)))
            .update_expression("SET #status = :status, #updated = :now")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#status", attr::STATUS)
            .expression_attribute_names("#updated", attr::UPDATED_AT)
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        condition_held(sent)
    }

    /// Every registry item (a paged Scan filtered on the `ISSUER#` prefix), each parsed
    /// or with its reason, by partition key; at most [`MAX_LISTED`].
    pub async fn list(&self) -> Result<Vec<(String, Result<Registration, String>)>, UpstreamError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(#pk, :prefix)")
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(super::registered::ISSUER_PREFIX.into()),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(upstream)?;
            for item in page.items.unwrap_or_default() {
                let pk = item
                    .get(PK)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                out.push((pk, Registration::from_item(&item)));
                if out.len() >= MAX_LISTED {
                    return Ok(out);
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                out.sort_by(|a, b| a.0.cmp(&b.0));
                return Ok(out);
            }
        }
    }
}

impl RegistryStore for TableRegistry {
    fn lookup<'a>(&'a self, issuer: &'a str) -> Lookup<'a> {
        Box::pin(self.get(issuer, false))
    }
}

#[cfg(any(test, feature = "testkit"))]
pub use memory::MemoryRegistry;

#[cfg(any(test, feature = "testkit"))]
mod memory {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use super::{Found, Lookup, RegistryStore};
    use crate::issuers::Registration;
    use crate::testkit::{Faults, lock};

    /// Items in memory, for tests: counts reads, and can be made slow or failing.
    #[derive(Debug, Default)]
    pub struct MemoryRegistry {
        items: Mutex<HashMap<String, Result<Registration, String>>>,
        faults: Faults,
    }

    impl MemoryRegistry {
        /// Stores `registration` under its issuer.
        pub fn put(&self, registration: Registration) {
            lock(&self.items).insert(registration.issuer.clone(), Ok(registration));
        }

        /// Stores an item for `issuer` that does not parse.
        pub fn put_unreadable(&self, issuer: &str, reason: &str) {
            lock(&self.items).insert(issuer.to_owned(), Err(reason.to_owned()));
        }

        /// How many reads were made.
        pub fn reads(&self) -> usize {
            self.faults.calls()
        }

        /// Makes every read fail (`true`) or succeed.
        pub fn set_failing(&self, failing: bool) {
            self.faults.set_failing(failing);
        }

        /// Makes every read take `delay` (tokio time) before answering.
        pub fn set_delay(&self, delay: Duration) {
            self.faults.set_delay(delay);
        }
    }

    impl RegistryStore for MemoryRegistry {
        fn lookup<'a>(&'a self, issuer: &'a str) -> Lookup<'a> {
            Box::pin(async move {
                self.faults.call().await?;
                let found: Found = lock(&self.items).get(issuer).cloned();
                Ok(found)
            })
        }
    }
}
