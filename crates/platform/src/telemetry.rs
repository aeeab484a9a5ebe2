//! Structured events. Each event's message is its snake_case name from the
//! catalogue (docs/operations.md), its fields typed key/values. Events go to
//! stdout as JSON lines (`LOG_FORMAT=json`), to fluentd over the forward
//! protocol (`fluentd`), or both (`both`, the default). Under `fluentd`,
//! stdout still carries what fluentd may never get or an operator looks for
//! first: the start and stop of the service, and every warning and error.
//! Neither sink ever blocks the caller: stdout is written by a thread of its
//! own, which drops (and counts) lines past a bound when stdout is not read;
//! for fluentd see [`fluentd`].

#[cfg(test)]
mod captured;
mod console;
pub mod fluentd;
mod json_lines;

use crate::events;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::FilterFn;
use tracing_subscriber::layer::{Layer as _, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env};
use fluentd::{FluentdConfig, FluentdLayer, Forwarder};
use json_lines::JsonLines;

/// Where events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Fluentd,
    Both,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "json" => Ok(Self::Json),
            "fluentd" => Ok(Self::Fluentd),
            "both" => Ok(Self::Both),
            other => Err(format!("{other:?} is not one of json, fluentd, both")),
        }
    }
}

/// The target of the events that mark a service's start and stop, which
/// stdout carries under every `LOG_FORMAT`.
pub const LIFECYCLE: &str = "lifecycle";

/// The stdout writer's count of dropped lines, for [`record_stdout_drops`].
static STDOUT_DROPS: OnceLock<Arc<AtomicU64>> = OnceLock::new();

/// Brings `log_events_dropped_total{sink="stdout"}` up to the stdout writer's
/// own count, which it keeps itself; called before metrics are rendered.
pub fn record_stdout_drops() {
    if let Some(dropped) = STDOUT_DROPS.get() {
        metrics::counter!("log_events_dropped_total", "sink" => "stdout")
            .absolute(dropped.load(Ordering::Relaxed));
    }
}

/// Keeps the fluentd forwarder and the stdout writer alive; dropping it
/// flushes what is queued (fluentd: waiting at most two seconds) and says on
/// stderr how many stdout lines were dropped, if any.
pub struct TelemetryGuard {
    forwarder: Option<Forwarder>,
    stdout: Option<console::ConsoleGuard>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(forwarder) = self.forwarder.take() {
            forwarder.flush(Duration::from_secs(2));
        }
        if let Some(console) = self.stdout.take() {
            let dropped = console.drops();
            drop(console);
            let dropped = dropped.load(Ordering::Relaxed);
            if dropped > 0 {
                eprintln!(
                    "telemetry: {dropped} event lines were dropped because stdout was not read fast enough"
                );
            }
        }
    }
}

/// Where a process writes its JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// A service's events are its output.
    Stdout,
    /// A one-off command's output is its summary; its events go beside it.
    Stderr,
}

/// Installs the subscriber for `service`, as `LOG_FORMAT` and `LOGGING_*`
/// say, with JSON lines written to `console`. `RUST_LOG` narrows or widens
/// what is recorded (default `info`). Fails on a missing or malformed variable.
pub fn init(
    service: &'static str,
    env: &Env,
    console: Console,
) -> Result<TelemetryGuard, ConfigError> {
    let format: LogFormat = env.optional("LOG_FORMAT", LogFormat::Both)?;
    let fluentd = match format {
        LogFormat::Json => None,
        LogFormat::Fluentd | LogFormat::Both => Some(FluentdConfig::from_env(env, service)?),
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (json, stdout) = json_lines_to(console, service);
    // Only under `fluentd` does stdout filter, so that the other formats'
    // events pay for no per-layer filter.
    let (every_event, lifecycle_and_faults) = match format {
        LogFormat::Fluentd => (
            None,
            json.map(|layer| layer.with_filter(FilterFn::new(lifecycle_or_fault))),
        ),
        LogFormat::Json | LogFormat::Both => (json, None),
    };
    let (fluentd_layer, forwarder) = match fluentd {
        Some(config) => {
            let (layer, forwarder) = FluentdLayer::start(config);
            (Some(layer), Some(forwarder))
        }
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(every_event)
        .with(lifecycle_and_faults)
        .with(fluentd_layer)
        .try_init();
    if installed.is_err() {
        eprintln!("{service}: a tracing subscriber was already installed");
    }
    tracing::info!(
        target: LIFECYCLE,
        service,
        version = env!("CARGO_PKG_VERSION"),
        message = events::SERVICE_STARTED
    );
    Ok(TelemetryGuard { forwarder, stdout })
}

/// What stdout gets when fluentd is the one full sink (`LOG_FORMAT=fluentd`):
/// a start, a stop, a warning or an error. A request's events there would
/// only cost the container engine's log driver a second copy.
fn lifecycle_or_fault(event: &Metadata<'_>) -> bool {
    event.target() == LIFECYCLE || *event.level() <= Level::WARN
}

/// The JSON lines layer writing to `console`, through a thread of its own so
/// that a console nobody reads (a full pipe) never blocks a request; none if
/// that thread cannot be started.
fn json_lines_to(
    console: Console,
    service: &str,
) -> (
    Option<JsonLines<console::ConsoleLines>>,
    Option<console::ConsoleGuard>,
) {
    let started = match console {
        Console::Stdout => console::start(std::io::stdout()),
        Console::Stderr => console::start(std::io::stderr()),
    };
    match started {
        Ok((lines, guard)) => {
            let _ = STDOUT_DROPS.set(guard.drops());
            (Some(JsonLines::new(lines)), Some(guard))
        }
        Err(error) => {
            eprintln!("{service}: telemetry: cannot start the console thread: {error}");
            (None, None)
        }
    }
}
