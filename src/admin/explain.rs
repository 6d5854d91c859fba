//! `authorizer-admin explain`: runs one decision with the authorizer's environment and
//! prints every step (see `crate::explain`): event kind, token source, issuer, key and its
//! tier, each claim check, revocation, each rule and template, the answer. The token is
//! never printed; `--token -` reads it from standard input, out of the shell's history.
//! It never writes to the table: keys it has to fetch from an issuer are used, not
//! written through ([`KeyTable::read_only`]), and a DPoP proof's `jti` is remembered in
//! this process only (explaining a captured request must not spend its proof).

use std::io::{Read as _, Write};
use std::sync::Arc;

use serde_json::json;

use super::AdminError;
use super::args::ExplainInput;
use crate::authorizer::Authorizer;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::keys::KeyTable;

/// The ARN an explained `--route` is called on: placeholders for what a route alone does
/// not say (region, account, API and stage).
pub const ROUTE_ARN_PREFIX: &str = "arn:aws:execute-api:{region}:{account}:{api}/{stage}/";

/// Runs `explain` on `input` with `config`, writing the steps to `out`.
pub async fn run(
    config: &Config,
    input: &ExplainInput,
    out: &mut dyn Write,
) -> Result<(), AdminError> {
    let event = event(input)?;
    let table = match &config.keys.table_name {
        Some(name) => Some(KeyTable::from_env(name).await.read_only()),
        None => None,
    };
    let authorizer = Authorizer::new(config, Arc::new(SystemClock::new()), table)
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .with_replay_store(None);
    authorizer.warm_up().await;
    let explanation = crate::explain::explain(&authorizer, &event).await;
    out.write_all(explanation.render().as_bytes())
        .map_err(AdminError::output)
}

/// The event to decide on: a file, standard input, or a REST TOKEN event for a token and
/// a route.
fn event(input: &ExplainInput) -> Result<String, AdminError> {
    let stdin = || {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map(|_| text)
            .map_err(|e| AdminError::Invalid(format!("cannot read standard input: {e}")))
    };
    match input {
        ExplainInput::Stdin => stdin(),
        ExplainInput::Event(path) => std::fs::read_to_string(path)
            .map_err(|e| AdminError::Invalid(format!("cannot read {}: {e}", path.display()))),
        ExplainInput::Token {
            token,
            method,
            path,
        } => {
            let token = if token == "-" {
                stdin()?.trim().to_owned()
            } else {
                token.clone()
            };
            Ok(token_event(&token, method, path))
        }
    }
}

/// A REST TOKEN event carrying `token` for `METHOD path` (a WebSocket route such as
/// `$connect` has no method).
pub fn token_event(token: &str, method: &str, path: &str) -> String {
    let route = format!("{method}{path}");
    json!({
        "type": "TOKEN",
        "authorizationToken": format!("Bearer {token}"),
        "methodArn": format!("{ROUTE_ARN_PREFIX}{}", route.trim_start_matches('/')),
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn a_route_becomes_a_token_event_on_a_placeholder_arn() {
        let event: serde_json::Value =
            serde_json::from_str(&token_event("a.b.c", "GET", "/hello/x")).unwrap();
        assert_eq!(event["authorizationToken"], "Bearer a.b.c");
        assert_eq!(
            event["methodArn"],
            "arn:aws:execute-api:{region}:{account}:{api}/{stage}/GET/hello/x"
        );
        let text = event.to_string();
        let parsed = crate::events::parse(&text, &[]).unwrap();
        assert_eq!(parsed.api_prefix(), ROUTE_ARN_PREFIX);
        let connect: serde_json::Value =
            serde_json::from_str(&token_event("a.b.c", "", "$connect")).unwrap();
        assert!(
            connect["methodArn"]
                .as_str()
                .unwrap()
                .ends_with("{stage}/$connect")
        );
    }
}
