//! The accept loop. Each connection is served by hyper with a bound on how
//! long a request's headers may take: a fresh connection, or one idle
//! between keep-alive requests, that has not sent a whole header within
//! `header_timeout` is closed, so neither a slowloris nor a crowd of idle
//! connections can hold the server. On shutdown the listener closes, idle
//! connections are closed, and requests in flight get until the deadline.

use crate::events;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::HttpLimits;

/// After a failed accept (e.g. out of file descriptors), a pause before the next.
const ACCEPT_RETRY_PAUSE: Duration = Duration::from_millis(100);

/// Serves `router` on every connection `listener` accepts until `shutdown`,
/// then drains within `limits.shutdown_deadline`.
pub(super) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(error) => {
                tracing::warn!(error = %error, message = events::CONNECTION_NOT_ACCEPTED);
                tokio::time::sleep(ACCEPT_RETRY_PAUSE).await;
                continue;
            }
        };
        // Small JSON answers: send them at once rather than wait to coalesce.
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            // A client that goes away or times out is no fault of the service.
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, message = events::CONNECTION_CLOSED_WITH_ERROR);
            }
        });
    }
    drop(listener);
    drain(connections, limits.shutdown_deadline).await;
    Ok(())
}

async fn drain(connections: GracefulShutdown, deadline: Duration) {
    if tokio::time::timeout(deadline, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_ms = deadline.as_millis() as u64,
            message = events::REQUESTS_NOT_DRAINED
        );
    }
}
