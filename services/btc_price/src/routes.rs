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
use platform::api_error::ApiError;
use platform::health::{NotReady, health_response};
use serde::Serialize;
use time::OffsetDateTime;

use crate::coinbase::CoinbaseError;
use crate::quote_cache::{QuoteCache, Source};

/// `{"timestamp": "...", "currency": "USD", "rate": "48478.88"}`
#[derive(Serialize)]
struct PriceBody {
    #[serde(with = "time::serde::rfc3339")]
    timestamp: OffsetDateTime,
    currency: Currency,
    rate: BtcRate,
}

pub(crate) fn router(quotes: Arc<QuoteCache>) -> Router {
    Router::new()
        .route("/buy", get(buy))
        .route("/healthcheck", get(healthcheck))
        .with_state(quotes)
}

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
