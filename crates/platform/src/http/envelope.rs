//! What every request goes through before its route's own handling, in this
//! order: its id and span, the concurrency bound, the time bound, its
//! metrics, the healthcheck's 503 once the server is stopping, and a 500 for
//! a handler that panics. One layer rather than one per concern, since every
//! `from_fn` layer boxes the rest of the stack anew for each request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::limits::{self, RequestBounds};
use super::request_metrics::RequestLabels;
use crate::api_error::ApiError;
use crate::health;
use crate::request_id;

/// What the envelope holds for the server: the bounds on its requests, and
/// whether it is stopping.
pub(super) struct Envelope {
    bounds: RequestBounds,
    stopping: AtomicBool,
}

impl Envelope {
    pub(super) fn new(bounds: RequestBounds) -> Self {
        Self {
            bounds,
            stopping: AtomicBool::new(false),
        }
    }

    /// From now on `GET /healthcheck` and `/healthcheck/replica` answer 503,
    /// whatever the service's own checks would say, while every other
    /// request is served as before.
    pub(super) fn withdraw_readiness(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }

    fn withdrawn(&self, request: &Request) -> bool {
        self.stopping.load(Ordering::Relaxed)
            && matches!(request.uri().path(), health::PATH | health::REPLICA_PATH)
    }
}

/// Axum middleware, with the server's [`Envelope`] as its state.
pub(super) async fn envelope(
    State(envelope): State<Arc<Envelope>>,
    request: Request,
    next: Next,
) -> Response {
    let id = request_id::of(&request);
    let span = request_id::span(&id, &request);
    let answering = async {
        let bounds = &envelope.bounds;
        let Some(_permit) = bounds.admit() else {
            return limits::shed();
        };
        let labels = RequestLabels::of(&request);
        let handled = answer_panics(async {
            if envelope.withdrawn(&request) {
                return health::stopping_response();
            }
            next.run(request).await
        });
        bounds.within_time(labels.track(handled)).await
    };
    request_id::answer_as(id, span, answering).await
}

/// A handler that panics is a bug: its request still gets the 500 with a
/// reference (and the `request_failed` event), rather than a connection
/// closed without an answer.
async fn answer_panics(handling: impl Future<Output = Response>) -> Response {
    match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            ApiError::internal(format!("the handler panicked: {what}")).into_response()
        }
    }
}
