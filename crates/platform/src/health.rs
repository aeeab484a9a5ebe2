//! Readiness as `GET /healthcheck` reports it: 200 when the service can do its
//! work, 503 with the reason while it cannot; and [`Started`], which holds the
//! API's requests to the same answer until the service has started.

use crate::events;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;

/// Why a service is not ready; its text is the healthcheck's `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    /// Still starting, e.g. waiting for migrations or a first connection.
    #[error("{0}")]
    Starting(&'static str),
    /// A connection it needs was lost, and is being made again.
    #[error("lost the connection to {0}")]
    Lost(&'static str),
    /// Still starting: waiting for a backing service to be there.
    #[error("waiting for the {what}: {reason}")]
    WaitingFor { what: String, reason: String },
    /// A backing service does not answer.
    #[error("the {what} is unreachable: {reason}")]
    Unreachable { what: String, reason: String },
    /// An upstream service answers, but not that it is ready.
    #[error("{what} is unhealthy: {reason}")]
    Unhealthy { what: String, reason: String },
}

impl NotReady {
    /// `what` cannot be reached, for `reason`.
    pub fn unreachable(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Unreachable {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// What a caller of the healthcheck is told: what is wrong, without the
    /// underlying error, which may name internal addresses (that goes to
    /// the `health_checked` event).
    pub fn summary(&self) -> String {
        match self {
            Self::Starting(reason) => (*reason).to_owned(),
            Self::Lost(what) => format!("lost the connection to {what}"),
            Self::WaitingFor { what, .. } => format!("waiting for the {what}"),
            Self::Unreachable { what, .. } => format!("the {what} is unreachable"),
            Self::Unhealthy { what, .. } => format!("{what} is unhealthy"),
        }
    }

    /// `what` answers, but not that it is ready, for `reason`.
    pub fn unhealthy(what: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        Self::Unhealthy {
            what: what.into(),
            reason: reason.to_string(),
        }
    }
}

/// Shared, cheaply cloned readiness of one service.
#[derive(Clone)]
pub struct Readiness {
    state: watch::Sender<Result<(), NotReady>>,
}

impl Readiness {
    /// Not ready yet, for `reason`.
    pub fn starting(reason: &'static str) -> Self {
        Self {
            state: watch::Sender::new(Err(NotReady::Starting(reason))),
        }
    }

    pub fn set_ready(&self) {
        self.state.send_modify(|state| *state = Ok(()));
    }

    pub fn set_not_ready(&self, reason: NotReady) {
        self.state.send_modify(|state| *state = Err(reason));
    }

    /// `Ok` when ready, else why not.
    pub fn current(&self) -> Result<(), NotReady> {
        self.state.borrow().clone()
    }

    /// `Ok` as soon as it is ready, within `limit`; else why not, after it.
    pub async fn ready_within(&self, limit: Duration) -> Result<(), NotReady> {
        if self.current().is_ok() {
            return Ok(());
        }
        let mut changes = self.state.subscribe();
        let ready = tokio::time::timeout(limit, changes.wait_for(Result::is_ok));
        match ready.await {
            Ok(Ok(_)) => Ok(()),
            _ => self.current(),
        }
    }

    /// The healthcheck response for the current state.
    pub fn response(&self) -> Response {
        health_response(self.current())
    }

    /// A router serving `GET /healthcheck` from this readiness.
    pub fn route<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let readiness = self.clone();
        Router::new().route(PATH, get(move || async move { readiness.response() }))
    }

    /// A router serving `GET /healthcheck/replica` from this readiness, the
    /// startup gate of an API: see [`REPLICA_PATH`].
    pub fn replica_route<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let startup = self.clone();
        Router::new().route(REPLICA_PATH, get(move || async move { startup.response() }))
    }
}

/// State that knows whether the service has started (its databases
/// reachable, its migrations applied), for the [`Started`] extractor.
pub trait Startup {
    /// Ready once the service has started; the API answers 503 until then.
    fn startup(&self) -> &Readiness;
}

/// How long a request that arrives while its service is starting waits for
/// the start before it is answered 503.
///
/// A new replica is in the ingress's DNS from its container's start, and
/// the ingress (HAProxy 2.6) counts it up, and favours it (leastconn: it
/// has no connections), until its first check. Answered 503 at once, a
/// request could spend all its retries on two starting replicas within a
/// millisecond and fail while another replica serves. Held, it is served as
/// soon as the replica has started (well within a second as a rule), or
/// answered 503 once the ingress's checks (every second) have taken the
/// replica out, so that its retry goes to a replica that serves.
pub const STARTING_HOLD: Duration = Duration::from_secs(2);

/// A request the service has started for: an extractor that holds a
/// request up to [`STARTING_HOLD`] for the start, then answers 503 with the
/// reason, so that a service can listen (and report its state) before it can
/// serve. Put first among a handler's extractors. An extractor rather than a
/// middleware layer, which would box the rest of the route anew for every
/// request.
pub struct Started;

impl<S: Startup + Send + Sync> FromRequestParts<Arc<S>> for Started {
    type Rejection = Response;

    async fn from_request_parts(_: &mut Parts, state: &Arc<S>) -> Result<Self, Response> {
        match state.startup().ready_within(STARTING_HOLD).await {
            Ok(()) => Ok(Started),
            Err(reason) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "detail": reason.summary() })),
            )
                .into_response()),
        }
    }
}

/// Ready when each of `readiness` is and `pool`, on the database `what`,
/// answers; else the first reason why not.
pub async fn ready_with_database(
    readiness: &[&Readiness],
    pool: &sqlx::PgPool,
    what: &str,
) -> Result<(), NotReady> {
    for one in readiness {
        one.current()?;
    }
    crate::postgres::ping(pool)
        .await
        .map_err(|error| NotReady::unreachable(what, error))
}

/// Where every service serves its healthcheck.
pub const PATH: &str = "/healthcheck";

/// Where an API replica tells a load balancer whether to send it requests:
/// 200 once it has started, 503 while it starts or stops. The backing
/// services, which every replica shares, are not asked: with one away, each
/// replica still answers its requests, with a 503 that says what is wrong
/// (or, for a create while the queue is away, with its order, the event
/// waiting in the outbox), where taking every replica out would leave the
/// ingress to refuse them all without a word.
pub const REPLICA_PATH: &str = "/healthcheck/replica";

/// Where every service answers 200 for as long as it answers at all: an
/// orchestrator's liveness check, which restarts a process that stops
/// answering. It asks no backing service, so that a database away does not
/// restart every replica; the readiness paths above say that one is away.
pub const LIVE_PATH: &str = "/healthcheck/live";

/// The answer at [`LIVE_PATH`].
pub async fn alive() -> StatusCode {
    StatusCode::OK
}

/// The healthcheck of a server that is stopping: 503 `{"status": "stopping"}`.
/// Its callers may tell it from a failure: the service is fine, this replica
/// is leaving.
pub fn stopping_response() -> Response {
    tracing::info!(
        ready = false,
        reason = "stopping",
        message = events::HEALTH_CHECKED
    );
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": STOPPING, "detail": "the service is shutting down"})),
    )
        .into_response()
}

/// The healthcheck's `status` from a replica that is stopping.
pub const STOPPING: &str = "stopping";

/// 200 `{"status": "ok"}`, or 503 `{"status": "unavailable", "detail": summary}`,
/// the whole reason going to the event log.
pub fn health_response(state: Result<(), NotReady>) -> Response {
    match &state {
        // A healthy answer is news to no one, and the ingress asks every
        // second: recorded only when RUST_LOG asks for debug.
        Ok(()) => tracing::debug!(ready = true, message = events::HEALTH_CHECKED),
        Err(reason) => {
            tracing::info!(ready = false, reason = %reason, message = events::HEALTH_CHECKED)
        }
    }
    match state {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "detail": reason.summary()})),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_request_held_while_starting_goes_on_once_started() {
        let startup = Readiness::starting("waiting for migrations");
        let held = tokio::spawn({
            let startup = startup.clone();
            async move { startup.ready_within(STARTING_HOLD).await }
        });
        tokio::time::sleep(STARTING_HOLD / 2).await;
        startup.set_ready();
        assert_eq!(held.await.expect("the held request"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_held_past_the_hold_gets_the_reason() {
        let startup = Readiness::starting("waiting for migrations");
        let answer = startup.ready_within(STARTING_HOLD).await;
        assert_eq!(answer, Err(NotReady::Starting("waiting for migrations")));
    }
}
