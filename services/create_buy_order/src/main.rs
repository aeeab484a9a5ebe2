use std::process::ExitCode;

use create_buy_order::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    platform::service::run(
        "create_buy_order",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
