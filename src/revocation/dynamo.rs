//! The revocation items in the keys table: one BatchGetItem per lookup (strongly
//! consistent, so a revocation written before a lookup starts is always seen), with the
//! keys DynamoDB leaves unprocessed asked again a bounded number of times; and the
//! conditional write of an item that never narrows a revocation already stored (used by
//! `authorizer-admin revoke`, and by an application's own sign-out handler).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::record::{self, EXPIRES_AT, Key, PK, REVOKED_BEFORE, Revocation, Scope};
use super::store::{Lookup, RevocationStore};
use crate::error::UpstreamError;
use crate::keys::{Attributes, Budget, KeyTable, batch_get, partition_key, upstream, written};

/// Calls per lookup at most: the first, then the keys left unprocessed, twice.
pub const MAX_ROUNDS: u32 = 3;
/// Pause before asking again for unprocessed keys (doubled each round).
pub const UNPROCESSED_BACKOFF: Duration = Duration::from_millis(25);
/// Bound of a whole lookup, every round included (each call is bounded by the keys
/// table's own timeouts, about 0.7 s).
pub const LOOKUP_BUDGET: Duration = Duration::from_millis(1000);
/// Attempts of a write that finds the item changing under it.
const WRITE_ATTEMPTS: u32 = 3;

/// What to do after one BatchGetItem call that left `unprocessed` keys, `round` being
/// the number of calls made (1 for the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Round {
    /// Every key answered.
    Done,
    /// Ask again for the unprocessed keys after this pause.
    Retry(Duration),
    /// Too many rounds: the lookup fails.
    GiveUp,
}

/// The next round of a lookup (pure; see [`Round`]).
pub fn next_round(round: u32, unprocessed: usize) -> Round {
    if unprocessed == 0 {
        Round::Done
    } else if round >= MAX_ROUNDS {
        Round::GiveUp
    } else {
        Round::Retry(UNPROCESSED_BACKOFF.saturating_mul(1 << round.saturating_sub(1).min(8)))
    }
}

/// What a revoke did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The item is stored as asked (there was none, or the one there was covered by it).
    Stored(Revocation),
    /// An unreadable item was there (it revoked every token at its key): replaced by
    /// this one.
    Replaced(Revocation),
    /// An item was there that the request would have narrowed: both are kept, merged.
    Widened {
        /// The item that was there.
        was: Revocation,
        /// The item now stored.
        now: Revocation,
    },
    /// The item there already revokes everything asked for: left as it is.
    Unchanged(Revocation),
}

/// The revocation items of the keys table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// The items of `table` through its client (its timeouts and retries).
    pub fn new(table: &KeyTable) -> Self {
        Self {
            client: table.client().clone(),
            table: table.name().to_owned(),
        }
    }

    /// Reads `keys` in one lookup: a BatchGetItem, plus at most two more for keys left
    /// unprocessed, within [`LOOKUP_BUDGET`].
    pub async fn read(&self, keys: &[Key]) -> Result<Vec<(String, Revocation)>, UpstreamError> {
        tokio::time::timeout(LOOKUP_BUDGET, self.read_rounds(keys))
            .await
            .unwrap_or(Err(UpstreamError::Timeout))
    }

    async fn read_rounds(&self, keys: &[Key]) -> Result<Vec<(String, Revocation)>, UpstreamError> {
        let scopes: HashMap<&str, Scope> = keys.iter().map(|k| (k.pk.as_str(), k.scope)).collect();
        let mut asking: Vec<Attributes> = keys.iter().map(|k| partition_key(&k.pk)).collect();
        let mut found = Vec::with_capacity(keys.len());
        for round in 1..=MAX_ROUNDS {
            let answer =
                batch_get(&self.client, &self.table, asking, true, Budget::Request).await?;
            let items = answer.items;
            for item in items {
                let pk = item.get(PK).and_then(|v| v.as_s().ok());
                let Some((pk, scope)) = pk.and_then(|pk| Some((pk, *scopes.get(pk.as_str())?)))
                else {
                    continue;
                };
                let (revocation, unreadable) = record::read(scope, &item);
                if let Some(reason) = unreadable {
                    tracing::error!(pk = %pk, reason = %reason, "unreadable revocation item: it revokes every token at its key until rewritten (authorizer-admin revoke)");
                }
                found.push((pk.clone(), revocation));
            }
            asking = answer.unprocessed;
            match next_round(round, asking.len()) {
                Round::Done => return Ok(found),
                Round::Retry(pause) => tokio::time::sleep(pause).await,
                Round::GiveUp => break,
            }
        }
        Err(UpstreamError::Transport(format!(
            "DynamoDB left {} revocation keys unprocessed after {MAX_ROUNDS} calls",
            asking.len()
        )))
    }

    /// Stores `wanted` under `key` without ever narrowing what is there: a write
    /// conditional on the stored item being covered by `wanted` (or absent, or
    /// unreadable); when it is not, the stored item is read and the union of both written,
    /// conditional on the item not having changed meanwhile.
    pub async fn revoke(&self, key: &Key, wanted: Revocation) -> Result<Revoked, UpstreamError> {
        // What the last read found: nothing at first (the plain write covers that case).
        let mut existing: Option<Revocation> = None;
        for _ in 0..WRITE_ATTEMPTS {
            let (write, replacing) = match existing {
                // The plain write's condition replaces an item whose attributes are not
                // numbers, as an unreadable one is.
                None | Some(Revocation::Unreadable { .. }) => (wanted, None),
                Some(stored) => match record::union(&stored, &wanted) {
                    None => return Ok(Revoked::Unchanged(stored)),
                    Some(merged) => (merged, Some(stored)),
                },
            };
            if self.put(key, &write, replacing.as_ref()).await? {
                return Ok(match (replacing, existing) {
                    (Some(was), _) => Revoked::Widened { was, now: write },
                    (None, Some(Revocation::Unreadable { .. })) => Revoked::Replaced(write),
                    (None, _) => Revoked::Stored(write),
                });
            }
            existing = self.get(key).await?;
        }
        Err(UpstreamError::Transport(format!(
            "{}: the item kept changing during the write",
            key.pk
        )))
    }

    /// The item stored under `key`, if any (consistent read); one whose attributes do not
    /// parse is [`Revocation::Unreadable`].
    pub async fn get(&self, key: &Key) -> Result<Option<Revocation>, UpstreamError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, AttributeValue::S(key.pk.clone()))
            .consistent_read(true)
            .send()
            .await
            .map_err(upstream)?;
        Ok(output.item.map(|item| record::read(key.scope, &item).0))
    }

    /// One conditional PutItem: over nothing, an unreadable item, or an item `item`
    /// covers (`replacing: None`); or over exactly `replacing`. Returns whether it was
    /// written.
    async fn put(
        &self,
        key: &Key,
        item: &Revocation,
        replacing: Option<&Revocation>,
    ) -> Result<bool, UpstreamError> {
        let subject = key.scope == Scope::Subject;
        let (condition, bound) = match (replacing, subject) {
            (None, true) => (
                "attribute_not_exists(#pk) OR NOT attribute_type(#expires, :n) \
                 OR NOT attribute_type(#before, :n) \
                 OR (#expires <= :expires AND #before <= :before)",
                *item,
            ),
            (None, false) => (
                "attribute_not_exists(#pk) OR NOT attribute_type(#expires, :n) \
                 OR #expires <= :expires",
                *item,
            ),
            (Some(old), true) => ("#expires = :expires AND #before = :before", *old),
            (Some(old), false) => ("#expires = :expires", *old),
        };
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record::attributes(&key.pk, item)))
            .condition_expression(condition)
            .expression_attribute_names("#expires", EXPIRES_AT)
            .expression_attribute_values(
                ":expires",
                AttributeValue::N(bound.expires_at().to_string()),
            )
            .return_values(ReturnValue::None);
        if replacing.is_none() {
            request = request
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":n", AttributeValue::S("N".into()));
        }
        if let Revocation::Subject { revoked_before, .. } = bound {
            request = request
                .expression_attribute_names("#before", REVOKED_BEFORE)
                .expression_attribute_values(
                    ":before",
                    AttributeValue::N(revoked_before.to_string()),
                );
        }
        written(request).await
    }
}

impl RevocationStore for DynamoStore {
    fn lookup<'a>(&'a self, keys: &'a [Key]) -> Lookup<'a> {
        Box::pin(self.read(keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unprocessed_keys_are_asked_again_twice_then_the_lookup_fails() {
        assert_eq!(next_round(1, 0), Round::Done);
        assert_eq!(next_round(1, 2), Round::Retry(Duration::from_millis(25)));
        assert_eq!(next_round(2, 1), Round::Retry(Duration::from_millis(50)));
        assert_eq!(next_round(3, 1), Round::GiveUp);
        assert_eq!(next_round(3, 0), Round::Done);
    }

    #[test]
    fn the_whole_lookup_fits_the_budget() {
        let pauses: Duration = (1..MAX_ROUNDS)
            .map(|round| match next_round(round, 1) {
                Round::Retry(pause) => pause,
                _ => Duration::ZERO,
            })
            .sum();
        assert!(pauses < Duration::from_millis(100), "{pauses:?}");
        assert!(LOOKUP_BUDGET <= Duration::from_secs(1));
    }
}
