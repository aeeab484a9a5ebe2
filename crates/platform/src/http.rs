//! Serving an axum router until shutdown: the connections (`connections`,
//! with the header-read bound and the drain on shutdown), the bounds
//! (`limits`: time and concurrency), what every request goes through
//! (`envelope`: its id, the bounds, its metrics as `request_metrics` counts
//! them, panics), and the service's
//! background work run beside the server and watched (`serve_with_background`).

mod connections;
mod envelope;
mod limits;
mod request_metrics;

pub use limits::HttpLimits;

use envelope::Envelope;

use crate::events;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::{ConfigError, Env};
use crate::{health, metrics};

/// Where an HTTP service listens (`SERVICE_HOST`, `SERVICE_PORT`), and the
/// limits its clients are held to.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    pub host: String,
    pub port: u16,
    pub limits: HttpLimits,
}

impl ListenConfig {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.required("SERVICE_HOST")?,
            port: env.required("SERVICE_PORT")?,
            limits: HttpLimits::from_env(env)?,
        })
    }
}

/// A bound listener and the limits its connections are served under.
pub struct Listener {
    tcp: TcpListener,
    limits: HttpLimits,
}

impl Listener {
    /// Where it listens (the port the OS chose for port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// Binds the service's listener (port 0 picks a free port).
/// Fails when the address is taken or cannot be resolved.
pub async fn bind(listen: &ListenConfig) -> std::io::Result<Listener> {
    let tcp = TcpListener::bind((listen.host.as_str(), listen.port))
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}:{}: {error}", listen.host, listen.port),
            )
        })?;
    metrics::install();
    Ok(Listener {
        tcp,
        limits: listen.limits.clone(),
    })
}

/// Serves `router`, `GET /metrics` and the liveness check on `listener`, each request with
/// its request id, counted and timed, and within the limits, until
/// `shutdown` resolves; then answers its healthcheck with 503 for the
/// shutdown notice, stops accepting, and lets the requests in flight finish,
/// for at most the shutdown deadline.
pub async fn serve(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = listener.limits;
    let envelope = Arc::new(Envelope::new(limits.request_bounds()));
    let router = router
        .route("/metrics", get(metrics::render))
        .route(health::LIVE_PATH, get(health::alive))
        .layer(axum::middleware::from_fn_with_state(
            envelope.clone(),
            envelope::envelope,
        ));
    let notice = limits.shutdown_notice;
    let stop_accepting = async move {
        shutdown.await;
        // A load balancer's next healthcheck finds this replica stopping and
        // sends it nothing new, while what it already sent is served.
        envelope.withdraw_readiness();
        tracing::info!(
            notice_ms = notice.as_millis() as u64,
            message = events::READINESS_WITHDRAWN
        );
        tokio::time::sleep(notice).await;
    };
    connections::serve(listener.tcp, router, &limits, stop_accepting).await
}

/// How long background work may take to finish once the requests are done.
pub const BACKGROUND_STOP_DEADLINE: Duration = Duration::from_secs(5);

/// Serves `router` as [`serve`] does while `background` (the relay, the
/// consumer, the batch writer) runs beside it.
///
/// On `shutdown` the server drains first, then `background` sees its token
/// cancelled (so it can finish what those requests began, e.g. publish the
/// orders they committed) and is awaited for up to five seconds.
///
/// Fails when `background` ends (or panics) while it should be running: the
/// server stops and the process should exit non-zero, so that its supervisor
/// restarts it rather than keep a service that answers but stores, publishes
/// or consumes nothing.
pub async fn serve_with_background<Background>(
    listener: Listener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    name: &'static str,
    background: impl FnOnce(CancellationToken) -> Background,
) -> std::io::Result<()>
where
    Background: Future<Output = ()> + Send + 'static,
{
    let cancel = CancellationToken::new();
    let mut running = tokio::spawn(background(cancel.clone()));
    let stop_serving = CancellationToken::new();
    let mut server = tokio::spawn(serve(
        listener,
        router,
        stop_serving.clone().cancelled_owned(),
    ));
    let mut shutdown = std::pin::pin!(shutdown);
    let served = tokio::select! {
        () = &mut shutdown => {
            stop_serving.cancel();
            joined(server.await)
        }
        served = &mut server => joined(served),
        ended = &mut running => {
            let panicked = ended.is_err();
            tracing::error!(task = name, panicked, message = events::BACKGROUND_TASK_STOPPED);
            stop_serving.cancel();
            let _ = server.await;
            return Err(std::io::Error::other(format!("{name} stopped unexpectedly")));
        }
    };
    cancel.cancel();
    if tokio::time::timeout(BACKGROUND_STOP_DEADLINE, running)
        .await
        .is_err()
    {
        tracing::warn!(
            task = name,
            deadline_s = BACKGROUND_STOP_DEADLINE.as_secs(),
            message = events::BACKGROUND_TASK_NOT_STOPPED
        );
    }
    served
}

fn joined(served: Result<std::io::Result<()>, tokio::task::JoinError>) -> std::io::Result<()> {
    served.map_err(std::io::Error::other)?
}
