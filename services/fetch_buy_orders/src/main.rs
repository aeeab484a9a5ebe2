use std::process::ExitCode;

use fetch_buy_orders::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    platform::service::run(
        "fetch_buy_orders",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
