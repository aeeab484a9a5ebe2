//! Readiness as `GET /healthcheck` reports it: 200 when the service can do its
//! work, 503 with the reason while it cannot.

use crate::events;
use axum::http::StatusCode;
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

    /// The healthcheck response for the current state.
    pub fn response(&self) -> Response {
        health_response(self.current())
    }

    /// Middleware that answers 503 with the reason while not ready, so that a
    /// service can listen (and report its state) before it can serve.
    pub async fn gate(
        axum::extract::State(readiness): axum::extract::State<Readiness>,
        request: axum::extract::Request,
        next: axum::middleware::Next,
    ) -> Response {
        match readiness.current() {
            Ok(()) => next.run(request).await,
            Err(reason) => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "detail": reason.summary() })),
            )
                .into_response(),
        }
    }

    /// A router serving `GET /healthcheck` from this readiness.
    pub fn route<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let readiness = self.clone();
        Router::new().route(
            "/healthcheck",
            get(move || async move { readiness.response() }),
        )
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
    crate::postgres::reachable(pool, what).await
}

/// 200 `{"status": "ok"}`, or 503 `{"status": "unavailable", "detail": summary}`,
/// the whole reason going to the event log.
pub fn health_response(state: Result<(), NotReady>) -> Response {
    match &state {
        Ok(()) => tracing::info!(ready = true, message = events::HEALTH_CHECKED),
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
