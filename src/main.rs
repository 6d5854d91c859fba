//! The `authorizer` Lambda: configuration and keys at init, then one decision per event.

use std::sync::Arc;

use jwt_authorizer::keys::KeyTable;
use jwt_authorizer::{Authorizer, Config, SystemClock, logging};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    logging::init();
    let config = logging::config_or_exit(Config::from_env());
    let table = match &config.keys.table_name {
        Some(name) => Some(KeyTable::from_env(name).await),
        None => None,
    };
    let authorizer = Authorizer::new(&config, Arc::new(SystemClock::new()), table)?;
    authorizer.warm_up().await;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            authorizer
                .handle(event.payload.get(), &event.context.request_id)
                .await
        },
    ))
    .await
}
