//! The life of a service process, shared by every `main.rs`: telemetry,
//! configuration, serving until SIGTERM or SIGINT, and the exit code.

use crate::events;
use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use crate::config::{ConfigError, Env};
use crate::telemetry::Console;
use crate::{shutdown, telemetry};

/// Loads the config with `load`, then runs `serve` with the shutdown signal.
/// A config error or a failed `serve` is printed and exits non-zero.
///
/// Run as `<service> healthcheck`, it instead asks the running service's
/// `GET /healthcheck` on `SERVICE_PORT` and exits 0 only on a 200, so that a
/// container needs no HTTP tool of its own for its HEALTHCHECK.
pub async fn run<Config, Error, Serve, Served>(
    service: &'static str,
    load: impl FnOnce(&Env) -> Result<Config, ConfigError>,
    serve: Serve,
) -> ExitCode
where
    Serve: FnOnce(Config, shutdown::Signal) -> Served,
    Served: Future<Output = Result<(), Error>>,
    Error: Display,
{
    let env = Env::from_process();
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {
        return check_health(service, &env).await;
    }
    let (_telemetry, config) = match start(service, &env, load, Console::Stdout) {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    match serve(config, shutdown::signal_received()).await {
        Ok(()) => {
            tracing::info!(
                target: crate::telemetry::LIFECYCLE,
                service,
                message = events::SERVICE_SHUT_DOWN
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(service, error = %error, message = events::SERVICE_FAILED);
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a one-off operator command of `service` (e.g. `read_model_sync
/// rebuild`): telemetry (its JSON lines on stderr), the config from `load`,
/// then `command`, whose summary alone is printed on stdout. Exits non-zero,
/// with the reason on stderr, when the config or the command fails.
pub async fn run_command<Config, Error, Command, Done>(
    service: &'static str,
    load: impl FnOnce(&Env) -> Result<Config, ConfigError>,
    command: Command,
) -> ExitCode
where
    Command: FnOnce(Config) -> Done,
    Done: Future<Output = Result<String, Error>>,
    Error: Display,
{
    let env = Env::from_process();
    let (_telemetry, config) = match start(service, &env, load, Console::Stderr) {
        Ok(started) => started,
        Err(exit) => return exit,
    };
    match command(config).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(service, error = %error, message = events::SERVICE_FAILED);
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Telemetry, then the config; on a failure, says why and gives the exit code.
fn start<Config>(
    service: &'static str,
    env: &Env,
    load: impl FnOnce(&Env) -> Result<Config, ConfigError>,
    console: Console,
) -> Result<(telemetry::TelemetryGuard, Config), ExitCode> {
    let telemetry = telemetry::init(service, env, console).map_err(|error| {
        eprintln!("{service}: {error}");
        ExitCode::FAILURE
    })?;
    let config = load(env).map_err(|error| {
        tracing::error!(service, error = %error, message = events::SERVICE_MISCONFIGURED);
        eprintln!("{service}: {error}");
        ExitCode::FAILURE
    })?;
    Ok((telemetry, config))
}

async fn check_health(service: &str, env: &Env) -> ExitCode {
    match env.required("SERVICE_PORT") {
        Ok(port) => check_health_on(service, port).await,
        Err(error) => {
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Asks `GET /healthcheck` on this machine's `port`: success only on a 200,
/// with the reason printed otherwise. For a container's HEALTHCHECK.
pub async fn check_health_on(service: &str, port: u16) -> ExitCode {
    let url = format!("http://127.0.0.1:{port}/healthcheck");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build();
    let answer = match client {
        Ok(client) => client.get(&url).send().await,
        Err(error) => Err(error),
    };
    match answer {
        Ok(response) if response.status().is_success() => ExitCode::SUCCESS,
        Ok(response) => {
            let status = response.status();
            eprintln!(
                "{service}: {url}: {status} {}",
                response.text().await.unwrap_or_default()
            );
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{service}: {url}: {error}");
            ExitCode::FAILURE
        }
    }
}
