use std::process::ExitCode;

use btc_price::{App, Config};

#[tokio::main]
async fn main() -> ExitCode {
    platform::service::run(
        "btc_price",
        Config::from_env,
        |config, shutdown| async move { App::build(config).await?.run(shutdown).await },
    )
    .await
}
