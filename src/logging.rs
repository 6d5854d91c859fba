//! JSON logs, one object a line, level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default
//! `info`). Nothing in this crate ever logs a token.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber. Safe to call once per process.
pub fn init() {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned())
        .to_ascii_lowercase();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_new(&level).unwrap_or_else(|_| EnvFilter::new("info")))
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
