//! The metrics every HTTP request is counted and timed by
//! (`http_requests_total`, `http_request_duration_seconds`), as the envelope
//! records them.

use std::future::Future;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;

/// What a request's HTTP metrics are labelled with: its route template and
/// method. Unrouted paths share the route label `unmatched`, so that scanners
/// cannot blow up the number of series.
pub(crate) struct RequestLabels {
    route: String,
    method: String,
}

impl RequestLabels {
    pub(crate) fn of(request: &Request) -> Self {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
        let method = request.method().as_str().to_owned();
        Self { route, method }
    }

    /// Counts `answering` by its status and times it (`http_requests_total`,
    /// `http_request_duration_seconds`).
    pub(crate) async fn track(self, answering: impl Future<Output = Response>) -> Response {
        let Self { route, method } = self;
        let started = Instant::now();
        let response = answering.await;
        let status = response.status().as_u16().to_string();
        let elapsed = started.elapsed().as_secs_f64();
        metrics::histogram!("http_request_duration_seconds", "route" => route.clone(), "method" => method.clone())
            .record(elapsed);
        metrics::counter!("http_requests_total", "route" => route, "method" => method, "status" => status)
            .increment(1);
        response
    }
}
