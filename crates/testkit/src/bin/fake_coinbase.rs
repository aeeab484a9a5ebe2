//! `fake_coinbase`: the fake Coinbase as a process, for running the cluster
//! where Coinbase cannot be reached. Listens on `FAKE_COINBASE_HOST`
//! (default 127.0.0.1) and `FAKE_COINBASE_PORT` (default 8779), with prices
//! under `CB_PATH` (default /v2/prices); stops on SIGTERM or SIGINT.
//! `fake_coinbase healthcheck` asks a running one, for a container's HEALTHCHECK.

use std::process::ExitCode;

use platform::shutdown::signal_received;
use testkit::FakeCoinbase;
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<ExitCode> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let host = var("FAKE_COINBASE_HOST", "127.0.0.1");
    let port = var("FAKE_COINBASE_PORT", "8779");
    let path = var("CB_PATH", "/v2/prices");
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        let port = port.parse().map_err(std::io::Error::other)?;
        return Ok(platform::service::check_health_on("fake_coinbase", port).await);
    }
    let listener = TcpListener::bind(format!("{host}:{port}")).await?;
    let fake = FakeCoinbase::serve(listener, &path).await;
    println!("fake_coinbase listening on http://{}{path}", fake.addr());
    signal_received().await;
    Ok(ExitCode::SUCCESS)
}
