//! A request id for every HTTP request: taken from the `x-request-id` header
//! when the caller sent a sensible one (so one id follows a request from
//! create_buy_order into btc_price), else a fresh UUID. It is a field of the
//! request's span, so every event of the request carries it, it is returned
//! in the response's `x-request-id` header, and [`current`] gives it to
//! outbound calls.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use uuid::Uuid;

/// The header that carries the id, in and out.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Axum middleware: assigns the id, runs the request in its span, and
/// returns the id in the response.
pub async fn assign(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sensible(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned);
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        client_id = tracing::field::Empty
    );
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request).instrument(span))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

/// Short, printable, and no spaces: safe to log and to echo back.
fn is_sensible(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}
