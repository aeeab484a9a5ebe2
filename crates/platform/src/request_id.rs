//! A request id for every HTTP request: taken from the `x-request-id` header
//! when the caller sent a sensible one (so one id follows a request from
//! create_buy_order into btc_price), else a fresh UUID. It is a field of the
//! request's span, so every event of the request carries it, it is returned
//! in the response's `x-request-id` header, and [`current`] gives it to
//! outbound calls.

use std::future::Future;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::response::Response;
use tracing::{Instrument, Span};
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

/// The id for `request`: the caller's `x-request-id`, when it is a sensible
/// one, else a fresh UUID.
pub(crate) fn of(request: &Request) -> String {
    request
        .headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_sensible(id))
        .map_or_else(|| Uuid::new_v4().to_string(), str::to_owned)
}

/// The span a request is served in; the key check fills in `client_id`.
pub(crate) fn span(id: &str, request: &Request) -> Span {
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
        client_address = forwarded_for(request),
        client_id = tracing::field::Empty
    )
}

/// The client's address as the ingress saw it: the last entry of
/// `X-Forwarded-For`, the one the ingress appended (those before it are the
/// client's own word). None without the header, as when called directly.
fn forwarded_for(request: &Request) -> Option<&str> {
    let header = request
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?;
    let last = header.to_str().ok()?.rsplit(',').next()?.trim();
    (!last.is_empty() && last.len() <= 64).then_some(last)
}

/// Serves a request as `id`: `answering` runs in `span` with [`current`]
/// giving the id, and the response carries the id back.
pub(crate) async fn answer_as(
    id: String,
    span: Span,
    answering: impl Future<Output = Response>,
) -> Response {
    let mut response = REQUEST_ID
        .scope(id.clone(), answering.instrument(span))
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
