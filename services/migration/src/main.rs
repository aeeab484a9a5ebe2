use std::process::ExitCode;

use migration::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    platform::service::run(
        "migration",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
