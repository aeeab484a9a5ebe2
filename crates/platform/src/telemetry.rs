//! Structured events. Each event's message is its snake_case name from the
//! catalogue (e.g. `btc_price_quoted`), its fields typed key/values; they are
//! written to stdout as one JSON object per line.

use tracing_subscriber::EnvFilter;

/// Installs the JSON-lines subscriber for `service`. `RUST_LOG` narrows or
/// widens what is shown (default `info`).
pub fn init(service: &'static str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .try_init();
    if installed.is_err() {
        eprintln!("{service}: a tracing subscriber was already installed");
    }
    tracing::info!(
        service,
        version = env!("CARGO_PKG_VERSION"),
        "service_started"
    );
}
