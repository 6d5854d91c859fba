//! How a decision ended, why, and which key tier served it, as types: the log line and the metrics read these, never
//! string literals compared elsewhere.

use crate::error::TokenError;
use crate::events::EventError;

/// How a decision ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// At least one resource allowed.
    Allow,
    /// An explicit Deny (or `isAuthorized: false`).
    Deny,
    /// The Lambda error `Unauthorized` (HTTP 401).
    Unauthorized,
}

impl Outcome {
    /// Every outcome, in the order metrics list them.
    pub const ALL: [Self; 3] = [Self::Allow, Self::Deny, Self::Unauthorized];

    /// Short stable name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::Unauthorized => "unauthorized",
        }
    }

    /// The metric counting it.
    pub fn metric(self) -> &'static str {
        match self {
            Self::Allow => "Allow",
            Self::Deny => "Deny",
            Self::Unauthorized => "Unauthorized",
        }
    }
}

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

/// Why a decision ended as it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// A valid token granted at least one resource (for an HTTP API simple answer: the
    /// route called).
    Granted,
    /// A valid token that fills no template of a rule that holds.
    NoGrant,
    /// A valid token without the `PRINCIPAL_CLAIM`.
    NoPrincipal,
    /// HTTP API simple answer: the token grants resources, but not the route called.
    RouteNotGranted,
    /// The event is not one this authorizer answers.
    Event(EventError),
    /// The token is absent or invalid.
    Token(TokenError),
}

impl Reason {
    /// Short stable name for logs.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Granted => "ok",
            Self::NoGrant => "no_grant",
            Self::NoPrincipal => "no_principal",
            Self::RouteNotGranted => "route_not_granted",
            Self::Event(error) => error.as_str(),
            Self::Token(error) => error.as_str(),
        }
    }

    /// The finer kind beside the reason, when there is one (which DPoP proof check failed).
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::Token(error) => error.detail(),
            _ => None,
        }
    }
}
