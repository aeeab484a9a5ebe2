//! The bounds that keep a slow or greedy client from holding a service, read
//! from the environment, and the per-request ones as each request's envelope
//! applies them. Every refusal is a 503 with a FastAPI-shaped body.

use crate::events;
use std::future::Future;
use std::time::Duration;

use axum::http::HeaderValue;
use axum::http::header::RETRY_AFTER;
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::api_error::ApiError;
use crate::config::{ConfigError, Env};

/// How long connections and requests may take, and how many may run at once.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `HTTP_HEADER_TIMEOUT_MS` (default 10000): a whole request header must
    /// arrive within this, on a fresh connection or between keep-alive
    /// requests (so it is also the idle limit); else the connection closes.
    pub header_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT_MS` (default 15000): a request not answered
    /// within this is answered 503.
    pub request_timeout: Duration,
    /// `HTTP_MAX_CONCURRENT_REQUESTS` (default 512): beyond this many
    /// requests in progress, a request is answered 503 with `Retry-After`.
    pub max_concurrent_requests: usize,
    /// `SHUTDOWN_NOTICE_MS` (default 0): how long a stopping service goes on
    /// serving, its healthcheck answering 503, before it stops accepting, so
    /// that a load balancer in front of it sends it no new requests by then.
    pub shutdown_notice: Duration,
    /// `SHUTDOWN_DEADLINE_MS` (default 8000): how long requests in flight may
    /// take to finish once the service stops accepting.
    pub shutdown_deadline: Duration,
}

/// What a client that is turned away for capacity is told to wait, in seconds.
const RETRY_AFTER_S: &str = "1";

impl HttpLimits {
    /// Fails when a variable is malformed, or zero where zero would refuse
    /// every request.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            header_timeout: env.positive_millis("HTTP_HEADER_TIMEOUT_MS", 10_000)?,
            request_timeout: env.positive_millis("HTTP_REQUEST_TIMEOUT_MS", 15_000)?,
            max_concurrent_requests: env.positive("HTTP_MAX_CONCURRENT_REQUESTS", 512)?,
            shutdown_notice: env.millis("SHUTDOWN_NOTICE_MS", 0)?,
            shutdown_deadline: env.millis("SHUTDOWN_DEADLINE_MS", 8_000)?,
        })
    }

    /// The per-request bounds, with their own count of requests in progress.
    pub(super) fn request_bounds(&self) -> RequestBounds {
        RequestBounds {
            permits: Semaphore::new(self.max_concurrent_requests),
            timeout: self.request_timeout,
        }
    }
}

/// How many requests may be in progress at once, and how long each may take.
pub(super) struct RequestBounds {
    permits: Semaphore,
    timeout: Duration,
}

impl RequestBounds {
    /// A place for one more request, held until it is answered; `None` when
    /// the service is full, and the request should be [`shed`] at once
    /// rather than queued.
    pub(super) fn admit(&self) -> Option<SemaphorePermit<'_>> {
        self.permits.try_acquire().ok()
    }

    /// `answering`, or a 503 if it takes longer than the request timeout.
    /// What it had started (a stored order) stands; a retry with the same key
    /// finds it.
    pub(super) async fn within_time(&self, answering: impl Future<Output = Response>) -> Response {
        match tokio::time::timeout(self.timeout, answering).await {
            Ok(response) => response,
            Err(_) => {
                let limit_ms = self.timeout.as_millis() as u64;
                tracing::warn!(limit_ms, message = events::REQUEST_TIMED_OUT);
                metrics::counter!("http_requests_timed_out_total").increment(1);
                ApiError::Unavailable(format!(
                    "the request was not answered within {limit_ms} ms; please retry"
                ))
                .into_response()
            }
        }
    }
}

/// The answer to a request that finds the service full: 503, with when to retry.
pub(super) fn shed() -> Response {
    tracing::warn!(message = events::REQUEST_SHED);
    metrics::counter!("http_requests_shed_total").increment(1);
    let busy = ApiError::Unavailable("the service is at capacity; please retry".into());
    let mut response = busy.into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_S));
    response
}
