//! The integration tests, one module per concern, linked into one test binary: one link
//! of the library and its dependencies instead of one per file, which is most of the
//! build time of `cargo test` on a small machine. `common` is the kit they share
//! (loopback servers, moto_server, the `events/` files, configured authorizers).
//!
//! Run one concern with `cargo test --test integration decisions::`, one test with its
//! path, e.g. `cargo test --test integration revocation::a_fractional_revoked_before`.
//! Every test starts the servers it needs on ports the kernel picks, so the modules run
//! in parallel in this one process as they did in separate ones.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code

mod common;

mod admin_cli;
mod decisions;
mod dpop;
mod dynamodb_tier;
mod explain;
mod forged_tokens;
mod jwks_tier;
mod lambda_e2e;
mod refresher;
mod revocation;
mod rules;
mod tenants;
mod token_cache;
