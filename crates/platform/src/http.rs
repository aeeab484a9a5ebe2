//! Binding and serving an axum router until shutdown, with the service's
//! background work stopped alongside.

use crate::events;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::ListenConfig;
use crate::request_id;

/// Binds the service's listener (port 0 picks a free port).
/// Fails when the address is taken or cannot be resolved.
pub async fn bind(listen: &ListenConfig) -> std::io::Result<TcpListener> {
    TcpListener::bind((listen.host.as_str(), listen.port))
        .await
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!("cannot listen on {}:{}: {error}", listen.host, listen.port),
            )
        })
}

/// Serves `router` on `listener`, each request with its request id, until
/// `shutdown` resolves, then lets the requests in flight finish. Fails only
/// when the listener itself fails.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = router.layer(axum::middleware::from_fn(request_id::assign));
    let router = router.into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// How long background work may take to stop once shutdown begins.
const BACKGROUND_STOP_DEADLINE: Duration = Duration::from_secs(10);

/// Serves `router` as [`serve`] does while `background` (the relay, the
/// consumer) runs beside it. On `shutdown` both stop: the server finishes its
/// requests, `background` sees its token cancelled and is awaited for up to
/// ten seconds. Fails only when the listener itself fails.
pub async fn serve_with_background<Background>(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    name: &'static str,
    background: impl FnOnce(CancellationToken) -> Background,
) -> std::io::Result<()>
where
    Background: Future<Output = ()> + Send + 'static,
{
    let cancel = CancellationToken::new();
    let running = tokio::spawn(background(cancel.clone()));
    let stop = cancel.clone();
    let served = serve(listener, router, async move {
        shutdown.await;
        stop.cancel();
    })
    .await;
    cancel.cancel();
    if tokio::time::timeout(BACKGROUND_STOP_DEADLINE, running)
        .await
        .is_err()
    {
        tracing::warn!(
            task = name,
            deadline_s = 10,
            message = events::BACKGROUND_TASK_NOT_STOPPED
        );
    }
    served
}
