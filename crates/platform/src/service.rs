//! The life of a service process, shared by every `main.rs`: telemetry,
//! configuration, serving until SIGTERM or SIGINT, and the exit code.

use std::fmt::Display;
use std::future::Future;
use std::process::ExitCode;

use crate::config::{ConfigError, Env};
use crate::{shutdown, telemetry};

/// Loads the config with `load`, then runs `serve` with the shutdown signal.
/// A config error or a failed `serve` is printed and exits non-zero.
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
    let _telemetry = match telemetry::init(service, &env) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("{service}: {error}");
            return ExitCode::FAILURE;
        }
    };
    let config = match load(&env) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(service, error = %error, "service_misconfigured");
            eprintln!("{service}: {error}");
            return ExitCode::FAILURE;
        }
    };
    match serve(config, shutdown::signal_received()).await {
        Ok(()) => {
            tracing::info!(service, "service_shut_down");
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(service, error = %error, "service_failed");
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}
