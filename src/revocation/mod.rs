//! Revocation (SPEC.md "Revocation"): signing out, disabling a user or a leaked token
//! ends access before `exp`. Items in the keys table name a subject (its tokens issued
//! before a time) or a token (`jti`, or Cognito's `origin_jti`: one sign-in). A valid
//! token, verified or found in the token cache, passes [`Revocations::check`] last.
//!
//! - [`decide`] holds every decision as pure functions (which items, does one revoke,
//!   the verdict, cache freshness, the rest after a failure);
//! - [`record`] the items and their keys; the cache (`cache.rs`) reuses each lookup for
//!   `REVOCATION_CACHE_SECONDS` and shares one in flight;
//! - [`Revocations`] carries a check out over a [`RevocationStore`]: the table
//!   ([`DynamoStore`], one BatchGetItem per lookup), or a fake in tests and benches.

mod cache;
mod check;
pub mod decide;
mod dynamo;
pub mod record;
mod store;

pub use check::Revocations;
pub use decide::{Check, ERROR_WINDOW, Known, MAX_ITEMS, TokenIds, Via};
pub use dynamo::{DynamoStore, LOOKUP_BUDGET, MAX_ROUNDS, Revoked, Round, next_round};
pub use record::{Key, Revocation, Scope};
#[cfg(any(test, feature = "testkit"))]
pub use store::MemoryStore;
pub use store::{Lookup, RevocationStore};
