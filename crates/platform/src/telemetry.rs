//! Structured events. Each event's message is its snake_case name from the
//! catalogue (docs/operations.md), its fields typed key/values. Events go to
//! stdout as JSON lines, to fluentd over the forward protocol (`fluentd`), or
//! both (`LOG_FORMAT=json|fluentd|both`, default both). Neither ever blocks
//! the caller: stdout is written by a thread of its own, which drops (and
//! counts) lines past a bound when stdout is not read; for fluentd see
//! [`fluentd`].

pub mod fluentd;

use crate::events;
use std::io::BufWriter;
use std::sync::OnceLock;
use std::time::Duration;

use tracing_appender::non_blocking::{ErrorCounter, NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{ConfigError, Env};
use fluentd::{FluentdConfig, FluentdLayer, Forwarder};

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

/// Lines the stdout writer holds while stdout is slow (a full pipe, a stalled
/// log collector); past this, lines are dropped and counted.
const STDOUT_BUFFERED_LINES: usize = 64 * 1024;

/// The stdout writer's count of dropped lines, for [`record_stdout_drops`].
static STDOUT_DROPS: OnceLock<ErrorCounter> = OnceLock::new();

/// Brings `log_events_dropped_total{sink="stdout"}` up to the stdout writer's
/// own count, which it keeps itself; called before metrics are rendered.
pub fn record_stdout_drops() {
    if let Some(dropped) = STDOUT_DROPS.get() {
        metrics::counter!("log_events_dropped_total", "sink" => "stdout")
            .absolute(dropped.dropped_lines() as u64);
    }
}

/// Keeps the fluentd forwarder and the stdout writer alive; dropping it
/// flushes what is queued (fluentd: waiting at most two seconds) and says on
/// stderr how many stdout lines were dropped, if any.
pub struct TelemetryGuard {
    forwarder: Option<Forwarder>,
    stdout: Option<(WorkerGuard, ErrorCounter)>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(forwarder) = self.forwarder.take() {
            forwarder.flush(Duration::from_secs(2));
        }
        if let Some((flushing, dropped)) = self.stdout.take() {
            drop(flushing);
            if dropped.dropped_lines() > 0 {
                eprintln!(
                    "telemetry: {} event lines were dropped because stdout was not read fast enough",
                    dropped.dropped_lines()
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
    // Written by a thread of its own, so that a stdout nobody reads (a full
    // pipe) never blocks a request: past the buffer, lines are dropped.
    let (stdout, stdout_guard) = match format {
        LogFormat::Fluentd => (None, None),
        LogFormat::Json | LogFormat::Both => {
            let builder = NonBlockingBuilder::default()
                .lossy(true)
                .buffered_lines_limit(STDOUT_BUFFERED_LINES)
                .thread_name("telemetry-stdout");
            // Buffered: the writer thread flushes whenever it has written
            // every line waiting, so a burst of events costs one write, not
            // one per line, and a lone event still goes out at once.
            let (writer, flushing) = match console {
                Console::Stdout => builder.finish(BufWriter::new(std::io::stdout())),
                Console::Stderr => builder.finish(BufWriter::new(std::io::stderr())),
            };
            let dropped = writer.error_counter();
            let _ = STDOUT_DROPS.set(dropped.clone());
            (Some(writer), Some((flushing, dropped)))
        }
    };
    let json = stdout.map(|writer| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
    });
    let (fluentd_layer, forwarder) = match fluentd {
        Some(config) => {
            let (layer, forwarder) = FluentdLayer::start(config);
            (Some(layer), Some(forwarder))
        }
        None => (None, None),
    };
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(fluentd_layer)
        .try_init();
    if installed.is_err() {
        eprintln!("{service}: a tracing subscriber was already installed");
    }
    tracing::info!(
        service,
        version = env!("CARGO_PKG_VERSION"),
        message = events::SERVICE_STARTED
    );
    Ok(TelemetryGuard {
        forwarder,
        stdout: stdout_guard,
    })
}
