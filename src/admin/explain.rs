//! `authorizer-admin explain`: runs one decision and prints every step (SPEC.md
//! "Revocation"): event kind, token source, issuer, key and its tier, each claim check,
//! revocation, each rule and template, the answer.
//!
//! Not in this build yet: the command line is parsed (see `args.rs`) and dispatched
//! here, and this says so in one line with a non-zero exit.

use std::io::Write;

use super::AdminError;
use super::args::ExplainInput;
use crate::config::Config;

/// Runs `explain` on `input` with `config`, writing the steps to `out`.
pub async fn run(
    _config: &Config,
    _input: &ExplainInput,
    _out: &mut dyn Write,
) -> Result<(), AdminError> {
    Err(AdminError::Unavailable("explain"))
}
