//! What every request goes through before its route's own handling, in this
//! order: its id and span, the concurrency bound, the time bound, its
//! metrics, and a 500 for a handler that panics. One layer rather than one
//! per concern, since every `from_fn` layer boxes the rest of the stack anew
//! for each request.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use super::limits::{self, RequestBounds};
use crate::api_error::ApiError;
use crate::metrics::RequestLabels;
use crate::request_id;

/// Axum middleware, with the service's request bounds as its state.
pub(super) async fn envelope(
    State(bounds): State<Arc<RequestBounds>>,
    request: Request,
    next: Next,
) -> Response {
    let id = request_id::of(&request);
    let span = request_id::span(&id, &request);
    let answering = async {
        let Some(_permit) = bounds.admit() else {
            return limits::shed();
        };
        let labels = RequestLabels::of(&request);
        let handled = answer_panics(next.run(request));
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
