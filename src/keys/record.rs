//! The DynamoDB item of one JWKS URL (SPEC.md "The key tiers"), shared by the authorizer's
//! write-through and the refresher: `PK = JWKS#{jwks_url}`, the JWKS document as served,
//! and integer epoch seconds `fetched_at` and `expires_at` (the table's TTL attribute).

/// Partition key attribute.
pub const PK: &str = "PK";
/// The JWKS document attribute (S).
pub const JWKS: &str = "jwks";
/// Epoch seconds of the fetch (N).
pub const FETCHED_AT: &str = "fetched_at";
/// Epoch seconds after which the item counts as absent (N); the table's TTL attribute.
pub const EXPIRES_AT: &str = "expires_at";

/// One stored key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// The JWKS URL the document was fetched from.
    pub jwks_url: String,
    /// The JWKS document exactly as the issuer served it.
    pub jwks: String,
    /// When it was fetched (epoch seconds).
    pub fetched_at: u64,
    /// When it stops counting as live (epoch seconds).
    pub expires_at: u64,
}

impl KeyRecord {
    /// A record for a document fetched at `now`, live for `ttl_seconds`.
    pub fn fetched(jwks_url: &str, jwks: String, now: u64, ttl_seconds: u64) -> Self {
        Self {
            jwks_url: jwks_url.to_owned(),
            jwks,
            fetched_at: now,
            expires_at: now.saturating_add(ttl_seconds),
        }
    }

    /// The partition key of a JWKS URL's item.
    pub fn partition_key(jwks_url: &str) -> String {
        format!("JWKS#{jwks_url}")
    }

    /// Whether the item still counts as present at `now` (DynamoDB's TTL deletion lags).
    pub fn is_live(&self, now: u64) -> bool {
        now < self.expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_past_expires_at_is_not_live() {
        let record = KeyRecord::fetched("https://i/jwks", "{}".into(), 1000, 60);
        assert_eq!(record.expires_at, 1060);
        assert!(record.is_live(1059));
        assert!(!record.is_live(1060));
        assert_eq!(
            KeyRecord::partition_key("https://i/jwks"),
            "JWKS#https://i/jwks"
        );
    }
}
