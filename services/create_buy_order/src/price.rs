//! The client of the internal price service: `GET {btc_price}/buy?currency=USD`.

use std::time::Duration;

use domain::{BtcRate, Currency};
use reqwest::StatusCode;
use serde::Deserialize;

/// `{"timestamp": "...", "currency": "USD", "rate": "48478.88"}`
#[derive(Deserialize)]
struct PriceBody {
    rate: String,
}

/// Why no price could be had. The details (addresses, upstream bodies) are
/// for the event log, never for the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PriceError {
    #[error("the price service could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("the price service answered HTTP {status}: {body}")]
    Refused { status: StatusCode, body: String },
    #[error("the price service gave no usable price: {0}")]
    Unusable(String),
}

pub(crate) struct PriceClient {
    http: reqwest::Client,
    buy_url: String,
    healthcheck_url: String,
}

impl PriceClient {
    /// A client of the price service at `base_url`, giving up after `timeout`.
    pub(crate) fn new(base_url: &str, timeout: Duration) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            buy_url: format!("{base_url}/buy"),
            healthcheck_url: format!("{base_url}/healthcheck"),
        })
    }

    /// The price of 1 BTC in `currency`; fails when no usable price can be had.
    pub(crate) async fn buy_price(&self, currency: Currency) -> Result<BtcRate, PriceError> {
        let mut request = self
            .http
            .get(&self.buy_url)
            .query(&[("currency", currency.iso3())]);
        // The same request id in btc_price's events ties the two together.
        if let Some(id) = platform::request_id::current() {
            request = request.header(platform::request_id::HEADER, id);
        }
        let response = request.send().await.map_err(PriceError::Unreachable)?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PriceError::Refused { status, body });
        }
        let body: PriceBody = response
            .json()
            .await
            .map_err(|error| PriceError::Unusable(error.to_string()))?;
        BtcRate::parse(&body.rate).map_err(|error| PriceError::Unusable(error.to_string()))
    }

    /// `Ok` when the price service reports itself healthy, else why not.
    pub(crate) async fn healthy(&self) -> Result<(), PriceError> {
        let response = self
            .http
            .get(&self.healthcheck_url)
            .send()
            .await
            .map_err(PriceError::Unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        Err(PriceError::Refused { status, body })
    }
}
