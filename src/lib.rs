//! A JWT authorizer for Amazon API Gateway.
//!
//! The request path, top-down:
//!
//! 1. [`events`] recognises the API Gateway kind (REST TOKEN, REST REQUEST, WebSocket
//!    `$connect`, HTTP API 2.0) and finds the token ([`token`]);
//! 2. [`verify`] checks it in the order security needs, taking the issuer's key from the
//!    tiers in [`keys`] (memory, then the DynamoDB item, then the JWKS endpoint);
//!    then checks what a sender-constrained token is bound to ([`binding`]: a DPoP proof,
//!    the client certificate), and with `REVOCATION=on`, checks a valid token against
//!    [`revocation`] items;
//! 3. [`authorizer`] maps the outcome to an answer built by [`policy`], logs once, and
//!    writes the invocation's [`metrics`].
//!
//! [`issuers`] is where `verify` finds a token's issuer: configured, or registered at
//! runtime in the keys table (the tenant registry).
//! [`config`] is the only reader of the environment; it runs once, at Lambda init.
//! [`admin`] is the operator CLI, `authorizer-admin`, on the same configuration.
//! [`transport`] holds the process's one TLS configuration and HTTP client stack, shared
//! by the DynamoDB tier and the JWKS fetch.

pub mod admin;
pub mod authorizer;
pub mod binding;
pub mod claims;
pub mod clock;
pub mod config;
pub mod error;
pub mod events;
pub mod explain;
pub mod issuers;
pub mod jwk;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod outcome;
pub mod policy;
pub mod refresh;
pub mod revocation;
pub mod token;
pub mod token_cache;
pub mod transport;
pub mod verify;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

pub use authorizer::{Authorizer, Decision, Unauthorized};
pub use clock::{Clock, ManualClock, Now, SystemClock};
pub use config::Config;
pub use error::{ClaimsError, ConfigError, KeyError, TokenError, UpstreamError};
pub use outcome::{Outcome, Reason};
pub use policy::Answer;
