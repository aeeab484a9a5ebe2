//! Binding and serving an axum router until shutdown.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use tokio::net::TcpListener;

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
