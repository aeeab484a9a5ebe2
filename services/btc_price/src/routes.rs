//! The HTTP face: `GET /buy?currency=USD` and `GET /healthcheck`.

use platform::events;
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use domain::{BtcRate, Currency};
use platform::api_docs;
use platform::api_error::{ApiError, DetailBody};
use platform::health::{NotReady, health_response};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::coinbase::CoinbaseError;
use crate::quote_cache::{QuoteCache, Source};

/// `{"timestamp": "...", "currency": "USD", "rate": "48478.88"}`
#[derive(Serialize, ToSchema)]
struct PriceBody {
    /// When Coinbase quoted the price.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    timestamp: OffsetDateTime,
    currency: Currency,
    /// The buy price of 1 BTC in the currency, exactly as quoted.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]+)?$", example = "48478.88")]
    rate: BtcRate,
}

/// The query of `GET /buy`, as the API's description shows it.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // only described, never built: the handler reads the query
struct PriceQuery {
    currency: Currency,
}

/// The API's description, generated from the handler and the types it answers with.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "btc_price",
        description = "Quotes the Coinbase buy price of 1 BTC in EUR, GBP or USD. Internal: \
            create_buy_order asks it. Quotes are cached briefly and concurrent misses share \
            one call to Coinbase."
    ),
    paths(buy),
    tags((name = "prices", description = "The Coinbase buy price of 1 BTC, for create_buy_order"))
)]
struct ApiDoc;

pub(crate) fn router(quotes: Arc<QuoteCache>) -> Router {
    Router::new()
        .route("/buy", get(buy))
        .route(platform::health::PATH, get(healthcheck))
        .with_state(quotes)
        .merge(api_docs::router(ApiDoc::openapi()))
}

/// The current buy price of 1 BTC in a currency.
#[utoipa::path(
    get,
    path = "/buy",
    tag = "prices",
    params(PriceQuery),
    responses(
        (status = 200, description = "The price", body = PriceBody),
        (status = 400, description = "The currency is not one of EUR, GBP, USD", body = DetailBody),
        (status = 502, description = "Coinbase answered with an error or an unusable price", body = DetailBody),
        (status = 504, description = "Coinbase did not answer in time", body = DetailBody),
        (status = 503, description = "The service is at capacity; retry", body = DetailBody),
        (status = 500, description = "An unexpected error; the detail quotes a reference", body = DetailBody),
    )
)]

async fn buy(
    State(quotes): State<Arc<QuoteCache>>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Json<PriceBody>, ApiError> {
    let Query(query) = query.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let code = query
        .get("currency")
        .map(String::as_str)
        .unwrap_or_default();
    tracing::info!(currency = code, message = events::BTC_PRICE_REQUESTED);
    let currency: Currency = code
        .parse()
        .map_err(|e: domain::UnknownCurrency| ApiError::BadRequest(e.to_string()))?;
    let started = std::time::Instant::now();
    let (quote, source) = quotes.quote(currency).await.map_err(|error| {
        tracing::warn!(currency = %currency, error = %error, message = events::COINBASE_CLIENT_EXCEPTION_OCCURRED);
        upstream_error(error)
    })?;
    tracing::info!(
        currency = %currency,
        rate = %quote.rate,
        cached = source == Source::Cache,
        duration_ms = started.elapsed().as_secs_f64() * 1000.0,
        message = events::BTC_PRICE_QUOTED
    );
    Ok(Json(PriceBody {
        timestamp: quote.quoted_at,
        currency,
        rate: quote.rate,
    }))
}

fn upstream_error(error: CoinbaseError) -> ApiError {
    match error {
        CoinbaseError::Timeout(_) => ApiError::GatewayTimeout(error.to_string()),
        CoinbaseError::Unreachable(_)
        | CoinbaseError::ErrorStatus(_)
        | CoinbaseError::Unusable(_) => ApiError::BadGateway(error.to_string()),
    }
}

/// Ready when Coinbase gives a usable price (through the cache, so checks do
/// not add upstream load).
async fn healthcheck(State(quotes): State<Arc<QuoteCache>>) -> Response {
    let state = quotes
        .quote(Currency::Usd)
        .await
        .map(drop)
        .map_err(|error| NotReady::unreachable("Coinbase price API", error));
    health_response(state).into_response()
}
