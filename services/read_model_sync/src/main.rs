use std::process::ExitCode;

use read_model_sync::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    platform::service::run(
        "read_model_sync",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
