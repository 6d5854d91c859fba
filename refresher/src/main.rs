//! The `refresher` Lambda: on its EventBridge schedule (or any event), re-fetches every
//! configured JWKS into the keys table so that cold starts find fresh keys there. Answers
//! a JSON summary per JWKS URL; fails the invocation when any URL failed, so the
//! schedule's retries and the errors alarm see it.

use std::sync::Arc;

use jwt_authorizer::config::RefresherConfig;
use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::refresh::Refresher;
use jwt_authorizer::{SystemClock, logging};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = logging::config_or_exit(RefresherConfig::from_env());
    let table_name = config.keys.table_name.clone().unwrap_or_default();
    let refresher = Refresher::new(
        &config,
        KeyTable::from_env(&table_name).await,
        Arc::new(SystemClock::new()),
    )?;
    let refresher = &refresher;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Box<RawValue>>| async move {
        let summary = refresher.run().await;
        let json = serde_json::to_value(&summary).unwrap_or(Value::Null);
        if summary.failed.is_empty() {
            tracing::info!(summary = %json, "keys refreshed");
            Ok(json)
        } else {
            tracing::error!(summary = %json, "key refresh failed for some JWKS URLs; their items are unchanged");
            Err(Diagnostic { error_type: "RefreshFailed".into(), error_message: json.to_string() })
        }
    }))
    .await
}
