//! The HTTP face: `PUT /buy_order` and `GET /healthcheck`.

use platform::events;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use domain::BuyOrder;
use platform::api_docs;
use platform::api_error::{
    ApiError, ConflictBody, ConflictCode, DetailBody, FieldError, ValidationErrorBody,
};
use platform::auth::{Authenticator, BearerKey, ClientId, KeyCheck};
use platform::health::{
    NotReady, Readiness, Started, Startup, health_response, ready_with_database,
};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::batch_writer::WriteError;
use crate::place_order::{PlaceError, PlaceOrder};
use crate::request::{self, OrderBody};
use crate::rules::{Placed, Refusal};

/// Set on the answer to a request that repeated an earlier one's key.
const REPLAYED: &str = "idempotent-replayed";

/// Bodies larger than this are refused with 413.
const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) struct Service {
    pub place: PlaceOrder,
    pub authenticator: Arc<Authenticator>,
    pub startup: Readiness,
    pub publisher: Readiness,
}

impl Startup for Service {
    fn startup(&self) -> &Readiness {
        &self.startup
    }
}

impl KeyCheck for Service {
    fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// `{"idempotence_key": "...", "buy_order": {...}}`
#[derive(Serialize, ToSchema)]
struct CreatedBody {
    /// The key the order was placed with.
    idempotence_key: Uuid,
    buy_order: BuyOrder,
}

/// The API's description, generated from the handler and the types it answers with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "create_buy_order",
        description = "Places orders to buy BTC for EUR, GBP or USD at the Coinbase buy price. \
            Orders are immutable; the sum of all orders never exceeds 100 BTC."
    ),
    paths(put_buy_order),
    tags((name = "placing orders", description = "Buy BTC at the Coinbase price, once per idempotence key")),
    modifiers(&BearerKey),
    security(("api_key" = []))
)]
struct ApiDoc;

pub(crate) fn router(service: Arc<Service>) -> Router {
    Router::new()
        .route("/buy_order", put(put_buy_order))
        .route(platform::health::PATH, get(healthcheck))
        .merge(service.startup.replica_route())
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(service)
        .merge(api_docs::router(ApiDoc::openapi()))
}

/// Places an order, or replays the one placed earlier with the same key.
///
/// A request that repeats an earlier one's idempotence key, currency and
/// amount gets that order again, with `Idempotent-Replayed: true`, and
/// creates nothing. The amount may also be sent as a JSON number; it is read
/// from its text, never through a float.
#[utoipa::path(
    put,
    path = "/buy_order",
    tag = "placing orders",
    request_body(content = OrderBody, content_type = "application/json"),
    responses(
        (status = 200, description = "The order, new or replayed", body = CreatedBody,
            headers(("Idempotent-Replayed" = String,
                description = "`true` when the order was placed by an earlier request with this key"))),
        (status = 401, description = "No API key, a malformed `Authorization` header, or an unknown \
            or revoked key; nothing was done", body = DetailBody,
            headers(("WWW-Authenticate" = String, description = "`Bearer`"))),
        (status = 409, description = "Refused: `btc_limit_exceeded` (the detail says how much BTC is left), \
            `client_btc_limit_exceeded` (the same, of the client's own limit) or \
            `idempotence_key_reused` (the key was used with another currency or amount)", body = ConflictBody),
        (status = 413, description = "The body is over 64 KiB", body = DetailBody),
        (status = 422, description = "The request is invalid: every fault, at its location", body = ValidationErrorBody),
        (status = 503, description = "No price can be had, the database is busy, or the service \
            is at capacity or starting; nothing was stored, so the same request may be retried", body = DetailBody),
        (status = 500, description = "An unexpected error; the detail quotes a reference", body = DetailBody),
    )
)]

async fn put_buy_order(
    _: Started,
    client: ClientId,
    State(service): State<Arc<Service>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let response = create(&service, client, &headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    tracing::info!(
        status = response.status().as_u16(),
        replayed = response.headers().contains_key(REPLAYED),
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        message = events::CREATE_BUY_ORDER_RESPONSE_RETURNED
    );
    response
}

async fn create(
    service: &Service,
    client: ClientId,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(body_error)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let request = request::parse(content_type, &body).map_err(|faults| {
        tracing::info!(
            bytes = body.len(),
            valid = false,
            faults = faults.len(),
            message = events::CREATE_BUY_ORDER_REQUEST_RECEIVED
        );
        ApiError::Invalid(faults)
    })?;
    let key = request.idempotence_key;
    tracing::info!(
        bytes = body.len(),
        valid = true,
        idempotence_key = %key,
        currency = %request.amount.currency(),
        amount = %request.amount,
        message = events::CREATE_BUY_ORDER_REQUEST_RECEIVED
    );
    let placed = service
        .place
        .place(client, &request)
        .await
        .map_err(|error| place_error(error, key))?;
    let (event, batch) = match placed {
        Placed::Created(event, batch) => (event, Some(batch)),
        Placed::Replayed(event) => (event, None),
    };
    let replayed = batch.is_none();
    if replayed {
        metrics::counter!("buy_order_replays_total").increment(1);
        tracing::info!(idempotence_key = %key, order_id = event.id, external_id = %event.external_id, message = events::BUY_ORDER_REQUEST_IDEMPOTENCE_CACHE_HIT);
    } else {
        metrics::counter!("buy_orders_created_total", "currency" => event.currency_iso3.iso3())
            .increment(1);
        tracing::info!(
            idempotence_key = %key,
            order_id = event.id,
            external_id = %event.external_id,
            currency = %event.currency_iso3,
            currency_amount = %event.currency_amount,
            btc_rate = %event.btc_rate,
            btc_amount = %event.btc_amount,
            batch = batch.map(|b| b.number),
            batch_orders = batch.map(|b| b.orders),
            message = events::BUY_ORDER_CREATED
        );
    }
    let body = CreatedBody {
        idempotence_key: key,
        buy_order: event.buy_order(),
    };
    let mut response = Json(body).into_response();
    if replayed {
        response
            .headers_mut()
            .insert(REPLAYED, HeaderValue::from_static("true"));
    }
    Ok(response)
}

fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!("the body must be at most {MAX_BODY_BYTES} bytes"))
    } else {
        ApiError::Invalid(vec![FieldError::new(
            &["body"],
            rejection.body_text(),
            "body_unreadable",
        )])
    }
}

fn place_error(error: PlaceError, key: Uuid) -> ApiError {
    match error {
        PlaceError::Refused(refusal) => refused(refusal, key),
        PlaceError::PriceUnavailable(error) => {
            // The cause names internal addresses and upstream bodies: it goes
            // to the event log under the request id, not to the client.
            tracing::warn!(idempotence_key = %key, reason = %error, message = events::BTC_PRICE_UNAVAILABLE);
            ApiError::Unavailable("no BTC price can be had right now; please retry".into())
        }
        PlaceError::Write(WriteError::Stopped) => {
            ApiError::Unavailable("the service is shutting down; please retry".into())
        }
        PlaceError::Write(WriteError::Database(error)) | PlaceError::Database(error) => {
            ApiError::database(error)
        }
        PlaceError::Write(error @ WriteError::OrderMissing(_)) => ApiError::internal(error),
    }
}

fn refused(refusal: Refusal, key: Uuid) -> ApiError {
    let code = match &refusal {
        Refusal::KeyReused(_) => {
            tracing::info!(idempotence_key = %key, message = events::IDEMPOTENCE_KEY_REUSED);
            ConflictCode::IdempotenceKeyReused
        }
        Refusal::LimitExceeded { remaining } => {
            tracing::info!(idempotence_key = %key, remaining_btc = %remaining, message = events::BTC_LIMIT_EXCEEDED);
            ConflictCode::BtcLimitExceeded
        }
        Refusal::ClientLimitExceeded { limit, remaining } => {
            tracing::info!(idempotence_key = %key, limit_btc = %limit, remaining_btc = %remaining, message = events::CLIENT_BTC_LIMIT_EXCEEDED);
            ConflictCode::ClientBtcLimitExceeded
        }
    };
    metrics::counter!("buy_order_conflicts_total", "code" => code.as_str()).increment(1);
    ApiError::Conflict {
        detail: refusal.to_string(),
        code,
    }
}

/// Ready when started, connected to RabbitMQ, and both the write model and
/// the price service answer.
async fn healthcheck(State(service): State<Arc<Service>>) -> Response {
    let state = async {
        let gates = [&service.startup, &service.publisher];
        ready_with_database(&gates, service.place.pool(), "write model").await?;
        let prices = service.place.prices().healthy().await;
        prices.map_err(|error| NotReady::unhealthy("btc_price", error))
    };
    health_response(state.await)
}
