//! The authorizer side of the DPoP interop test (`scripts/dpop-interop.sh`,
//! `tests/dpop_interop/interop.mjs`): builds the authorizer from the environment as the
//! Lambda does (real clock, keys from the issuer), then decides on one event (raw JSON)
//! per line of standard input, in one process (so replays are seen), and writes one line
//! per decision: `{"outcome":…,"reason":…,"detail":…,"cached":…}`. Never prints a token.

use std::io::{BufRead as _, Write as _};
use std::sync::Arc;

use jwt_authorizer::{Authorizer, Config, SystemClock};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let authorizer = Authorizer::new(&config, Arc::new(SystemClock::new()), None)?;
    authorizer.warm_up().await;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let decision = authorizer.decide(&line).await;
        let verdict = json!({
            "outcome": decision.outcome.as_str(),
            "reason": decision.reason.as_str(),
            "detail": decision.reason.detail(),
            "cached": decision.cached,
        });
        writeln!(out, "{verdict}")?;
        out.flush()?;
    }
    Ok(())
}
