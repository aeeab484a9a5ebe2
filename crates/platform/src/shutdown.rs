//! The signal that stops a service: SIGTERM (docker stop) or SIGINT (Ctrl-C).

use crate::events;
use std::future::Future;
use std::pin::Pin;

use tokio::signal::unix::{SignalKind, signal};

/// A future that resolves when the service should stop.
pub type Signal = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Resolves when the process receives SIGTERM or SIGINT.
pub fn signal_received() -> Signal {
    Box::pin(wait_for_signal())
}

async fn wait_for_signal() {
    let mut terminate = signal(SignalKind::terminate()).expect("installing a SIGTERM handler");
    let mut interrupt = signal(SignalKind::interrupt()).expect("installing a SIGINT handler");
    let name = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    };
    tracing::info!(signal = name, message = events::SHUTDOWN_SIGNAL_RECEIVED);
}
