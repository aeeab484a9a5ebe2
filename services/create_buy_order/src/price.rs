//! The client of the internal price service: `GET {btc_price}/buy?currency=USD`.

use std::time::Duration;

use domain::{BtcRate, Currency};
use serde::Deserialize;

/// `{"timestamp": "...", "currency": "USD", "rate": "48478.88"}`
#[derive(Deserialize)]
struct PriceBody {
    rate: String,
}

pub(crate) struct PriceClient {
    http: reqwest::Client,
    buy_url: String,
}

impl PriceClient {
    /// A client of the price service at `base_url`, giving up after `timeout`.
    pub(crate) fn new(base_url: &str, timeout: Duration) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            buy_url: format!("{base_url}/buy"),
        })
    }

    /// The price of 1 BTC in `currency`. Fails, with a reason fit for the
    /// client, when no usable price can be had.
    pub(crate) async fn buy_price(&self, currency: Currency) -> Result<BtcRate, String> {
        let mut request = self
            .http
            .get(&self.buy_url)
            .query(&[("currency", currency.iso3())]);
        // The same request id in btc_price's events ties the two together.
        if let Some(id) = platform::request_id::current() {
            request = request.header(platform::request_id::HEADER, id);
        }
        let response = request
            .send()
            .await
            .map_err(|error| format!("the price service could not be reached: {error}"))?;
        let status = response.status();
        if !status.is_success() {
            let detail = response.text().await.unwrap_or_default();
            return Err(format!(
                "the price service answered HTTP {status}: {detail}"
            ));
        }
        let body: PriceBody = response
            .json()
            .await
            .map_err(|error| format!("the price service gave no price: {error}"))?;
        BtcRate::parse(&body.rate).map_err(|error| error.to_string())
    }

    /// Whether the price service reports itself healthy.
    pub(crate) async fn healthy(&self, base_healthcheck: &str) -> Result<(), String> {
        match self.http.get(base_healthcheck).send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!(
                "btc_price is unhealthy (HTTP {})",
                response.status()
            )),
            Err(error) => Err(format!("btc_price is unreachable: {error}")),
        }
    }
}
