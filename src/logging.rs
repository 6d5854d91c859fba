//! JSON logs, one object a line, level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default
//! `info`). Nothing in this crate ever logs a token.
//!
//! `lambda_runtime` logs every handler `Err` once more at ERROR (target
//! `lambda_runtime::layers::panic`); a 401 is a normal decision already logged by the
//! authorizer, so that target is switched off to keep one line per decision.

use tracing_subscriber::EnvFilter;

use crate::error::ConfigError;

/// The runtime's duplicate log line for handler errors (see the module docs).
const HANDLER_ERRORS_OFF: &str = "lambda_runtime::layers::panic=off";

/// Installs the JSON subscriber. Safe to call once per process.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_ascii_lowercase();
    let filter = EnvFilter::try_new(&level)
        .unwrap_or_else(|_| EnvFilter::new("info"))
        .add_directive(HANDLER_ERRORS_OFF.parse().unwrap_or_default());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// The configuration, or (at Lambda init) one ERROR line naming the variable and exit 1,
/// so the function never serves with a bad configuration.
pub fn config_or_exit<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(variable = %error.variable, "invalid configuration: {error}");
            std::process::exit(1)
        }
    }
}
