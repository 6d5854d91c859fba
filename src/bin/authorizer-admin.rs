//! `authorizer-admin`: the operator CLI (`revoke`, `keys`, `explain`) with the
//! authorizer's environment. Everything is in `jwt_authorizer::admin`.

use std::process::ExitCode;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    jwt_authorizer::admin::main(&args).await
}
