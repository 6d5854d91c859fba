//! Which tier provided a decision's key.

/// Which tier provided the key of a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// Already in the container's memory.
    Memory,
    /// Loaded from the DynamoDB item during this lookup.
    Table,
    /// Fetched from the issuer's JWKS endpoint during this lookup.
    Jwks,
}

impl Tier {
    /// Short stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Table => "dynamodb",
            Self::Jwks => "jwks",
        }
    }
}
