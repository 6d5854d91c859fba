//! JSON logs, one object a line, level from `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` (default
//! `info`), and the one way a binary fails its Lambda init. Nothing logs a token, at any
//! level:
//!
//! - this crate never logs one;
//! - `lambda_runtime` logs every raw event (tokens included) at TRACE and every handler
//!   `Err` once more at ERROR: its targets are held at INFO whatever the level asked for
//!   (lower if a lower level was asked), and its duplicate error line is off, since a 401
//!   is a decision the authorizer already logged. The hold is a layer of its own
//!   ([`RuntimeCap`]) in front of the filter, not a directive beside the operator's:
//!   a more specific directive (`lambda_runtime::layers::api_response=trace`) or a span
//!   directive (`[Lambda runtime invoke]=trace`) would outrank a directive, never a
//!   layer that refuses the callsite.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

use crate::error::ConfigError;

/// Targets that log whole events (and so tokens) below INFO.
const EVENT_LOGGING_TARGETS: [&str; 2] = ["lambda_runtime", "lambda_runtime_api_client"];
/// The runtime's duplicate log line for handler errors (see the module docs).
const HANDLER_ERRORS_OFF: &str = "lambda_runtime::layers::panic=off";

/// The filter for a level setting such as `trace` or `info,aws_smithy_runtime=debug`.
pub fn filter(setting: &str) -> EnvFilter {
    let filter =
        EnvFilter::try_new(setting.to_ascii_lowercase()).unwrap_or_else(|_| EnvFilter::new("info"));
    let cap = filter
        .max_level_hint()
        .unwrap_or(LevelFilter::TRACE)
        .min(LevelFilter::INFO);
    EVENT_LOGGING_TARGETS
        .iter()
        .filter_map(|target| format!("{target}={cap}").parse().ok())
        .chain(HANDLER_ERRORS_OFF.parse().ok())
        .fold(filter, EnvFilter::add_directive)
}

/// Refuses every event and span of the runtime's targets below INFO, whatever the
/// filter behind it says: those carry whole events, tokens included.
#[derive(Debug, Clone, Copy)]
pub struct RuntimeCap;

impl RuntimeCap {
    fn refuses(metadata: &Metadata<'_>) -> bool {
        *metadata.level() > Level::INFO
            && EVENT_LOGGING_TARGETS.iter().any(|target| {
                metadata
                    .target()
                    .strip_prefix(target)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            })
    }
}

impl<S: Subscriber> Layer<S> for RuntimeCap {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if Self::refuses(metadata) {
            Interest::never()
        } else {
            Interest::always()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        !Self::refuses(metadata)
    }
}

/// The JSON subscriber for a level setting, writing to `writer`, with the runtime held
/// at INFO ([`RuntimeCap`]).
pub fn subscriber<W>(setting: &str, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter(setting))
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(writer)
        .finish()
        .with(RuntimeCap)
}

/// Installs the JSON subscriber. Safe to call once per process.
pub fn init() {
    let setting = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "info".to_owned());
    let _ = tracing::subscriber::set_global_default(subscriber(&setting, std::io::stdout));
}

/// The configuration, or (at Lambda init) one ERROR line naming the variable, the same
/// message posted to the Runtime API's `/runtime/init/error` (so the invoke response
/// shows it), and exit 1: the function never serves with a bad configuration.
pub fn config_or_exit<T>(result: Result<T, ConfigError>) -> T {
    match result {
        Ok(config) => config,
        Err(error) => {
            let message = format!("invalid configuration: {error}");
            tracing::error!(variable = %error.variable, "{message}");
            if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
                if let Err(failure) = report_init_error(&api, &message) {
                    tracing::warn!(error = %failure, "could not report the init error to the Runtime API");
                }
            }
            std::process::exit(1)
        }
    }
}

/// The error type an init failure is reported with.
pub const INIT_ERROR_TYPE: &str = "Runtime.InvalidConfiguration";

/// Posts `message` to `http://{api}/2018-06-01/runtime/init/error` (plain HTTP/1.1 on
/// the sandbox's loopback), bounded to a second per step.
fn report_init_error(api: &str, message: &str) -> std::io::Result<()> {
    let bound = Duration::from_secs(1);
    let address = api
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("AWS_LAMBDA_RUNTIME_API resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&address, bound)?;
    stream.set_write_timeout(Some(bound))?;
    stream.set_read_timeout(Some(bound))?;
    let body =
        serde_json::json!({"errorMessage": message, "errorType": INIT_ERROR_TYPE}).to_string();
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Lambda-Runtime-Function-Error-Type: {INIT_ERROR_TYPE}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut status = [0u8; 12];
    stream.read_exact(&mut status)?;
    if status.starts_with(b"HTTP/1.1 2") || status.starts_with(b"HTTP/1.0 2") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "answered {}",
            String::from_utf8_lossy(&status)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What one event per (target, level) leaves in the log under `setting`, through the
    /// subscriber [`init`] installs. The runtime's events are also sent inside a span
    /// like the runtime's own, for the span directives.
    fn logged(setting: &str) -> String {
        let out = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = Arc::clone(&out);
        let subscriber = subscriber(setting, move || SharedSink(Arc::clone(&sink)));
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "lambda_runtime", "runtime-trace");
            tracing::debug!(target: "lambda_runtime", "runtime-debug");
            tracing::info!(target: "lambda_runtime", "runtime-info");
            tracing::warn!(target: "lambda_runtime", "runtime-warn");
            tracing::trace!(target: "lambda_runtime_api_client", "client-trace");
            tracing::trace!(target: "lambda_runtime::layers::api_response", "module-trace");
            let span = tracing::info_span!(target: "lambda_runtime", "Lambda runtime invoke", requestId = "r-1");
            span.in_scope(|| {
                tracing::trace!(target: "lambda_runtime::layers::api_response", "span-trace");
                tracing::debug!(target: "lambda_runtime", "span-debug");
            });
            tracing::trace!(target: "jwt_authorizer", "ours-trace");
        });
        let bytes = out.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    const HIDDEN: [&str; 6] = [
        "runtime-trace",
        "runtime-debug",
        "client-trace",
        "module-trace",
        "span-trace",
        "span-debug",
    ];

    struct SharedSink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for SharedSink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut out) = self.0.lock() {
                out.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Defect 4: at TRACE the runtime logged whole events, tokens included.
    #[test]
    fn the_runtime_never_logs_below_info_whatever_the_level() {
        for setting in ["trace", "TRACE", "debug", "trace,lambda_runtime=trace"] {
            let log = logged(setting);
            for hidden in HIDDEN {
                assert!(!log.contains(hidden), "{setting}: {hidden} in {log}");
            }
            assert!(log.contains("runtime-info"), "{setting}: {log}");
        }
        assert!(logged("trace").contains("ours-trace"));
    }

    /// Finding 6 of the security review: a per-module directive outranked the hold on
    /// `lambda_runtime` and turned the raw-event TRACE line back on; a span directive
    /// could too. The hold is a layer now, which no directive reaches.
    #[test]
    fn no_module_or_span_directive_turns_the_runtime_below_info_back_on() {
        for setting in [
            "info,lambda_runtime::layers::api_response=trace",
            "lambda_runtime::layers::api_response=trace",
            "info,lambda_runtime::layers=trace,lambda_runtime_api_client=trace",
            "info,[Lambda runtime invoke]=trace",
            "[Lambda runtime invoke]=trace",
            "info,lambda_runtime[Lambda runtime invoke]=trace",
            "info,[{requestId=r-1}]=trace",
            "info,lambda_runtime::layers::api_response[Lambda runtime invoke]=trace",
            "trace,lambda_runtime::layers::panic=trace",
        ] {
            let log = logged(setting);
            for hidden in HIDDEN {
                assert!(!log.contains(hidden), "{setting}: {hidden} in {log}");
            }
        }
        assert!(
            logged("info,[Lambda runtime invoke]=trace").contains("runtime-info"),
            "INFO and above still pass"
        );
    }

    #[test]
    fn a_quieter_level_also_quiets_the_runtime() {
        let log = logged("warn");
        assert!(!log.contains("runtime-info"), "{log}");
        assert!(log.contains("runtime-warn"), "{log}");
    }
}
