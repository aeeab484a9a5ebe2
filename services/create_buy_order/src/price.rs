//! The client of the internal price service: `GET {btc_price}/buy?currency=USD`.
//! A quote is kept until it is `CB_CACHE_TTL_MS` old, counted from when
//! btc_price had it from Coinbase, so keeping it here adds nothing to the age
//! a price may have; concurrent misses share one call.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::{BtcRate, Currency};
use platform::coalescing_cache::{CoalescingCache, Lookup};
use reqwest::StatusCode;
use serde::Deserialize;
use time::OffsetDateTime;

/// `{"timestamp": "...", "currency": "USD", "rate": "48478.88"}`
#[derive(Deserialize)]
struct PriceBody {
    #[serde(with = "time::serde::rfc3339")]
    timestamp: OffsetDateTime,
    rate: String,
}

/// Why no price could be had. The details (addresses, upstream bodies) are
/// for the event log, never for the client. Shared by the requests that
/// waited for the same call.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum PriceError {
    #[error("the price service could not be reached: {0}")]
    Unreachable(#[source] Arc<reqwest::Error>),
    #[error("the price service answered HTTP {status}: {body}")]
    Refused { status: StatusCode, body: String },
    #[error("the price service gave no usable price: {0}")]
    Unusable(String),
}

impl From<reqwest::Error> for PriceError {
    fn from(error: reqwest::Error) -> Self {
        Self::Unreachable(Arc::new(error))
    }
}

pub(crate) struct PriceClient {
    http: reqwest::Client,
    buy_url: String,
    healthcheck_url: String,
    /// How old a price may be when an order uses it.
    max_age: Duration,
    kept: CoalescingCache<Currency, BtcRate, PriceError>,
}

impl PriceClient {
    /// A client of the price service at `base_url`, giving up after
    /// `timeout`, using a price until it is `max_age` old (zero: never keep one).
    pub(crate) fn new(
        base_url: &str,
        timeout: Duration,
        max_age: Duration,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            buy_url: format!("{base_url}/buy"),
            healthcheck_url: format!("{base_url}/healthcheck"),
            max_age,
            kept: CoalescingCache::default(),
        })
    }

    /// A price of 1 BTC in `currency` young enough to use, if one is at hand.
    pub(crate) fn at_hand(&self, currency: Currency) -> Option<BtcRate> {
        let rate = self.kept.peek(&currency)?;
        Lookup::Hit.count_as_price_lookup();
        Some(rate)
    }

    /// The price of 1 BTC in `currency`; fails when no usable price can be had.
    pub(crate) async fn buy_price(&self, currency: Currency) -> Result<BtcRate, PriceError> {
        let (rate, lookup) = self.kept.get(&currency, || self.ask(currency)).await;
        lookup.count_as_price_lookup();
        rate
    }

    /// Asks the price service; the price, and how much longer it may be used.
    async fn ask(&self, currency: Currency) -> Result<(BtcRate, Duration), PriceError> {
        let asked = Instant::now();
        let mut request = self
            .http
            .get(&self.buy_url)
            .query(&[("currency", currency.iso3())]);
        // The same request id in btc_price's events ties the two together.
        if let Some(id) = platform::request_id::current() {
            request = request.header(platform::request_id::HEADER, id);
        }
        let response = send_retrying_unreached(request).await?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(PriceError::Refused { status, body });
        }
        let body: PriceBody = response
            .json()
            .await
            .map_err(|error| PriceError::Unusable(error.to_string()))?;
        let rate =
            BtcRate::parse(&body.rate).map_err(|error| PriceError::Unusable(error.to_string()))?;
        // Aged from btc_price's timestamp (both read the same clock in the
        // cluster), and never as less than this call took.
        let since_quoted = Duration::try_from(OffsetDateTime::now_utc() - body.timestamp);
        let age = since_quoted.unwrap_or_default().max(asked.elapsed());
        Ok((rate, self.max_age.saturating_sub(age)))
    }

    /// `Ok` when the price service reports itself healthy, else why not. A
    /// replica that answers it is stopping counts as healthy: it still serves
    /// until it leaves, and its siblings serve after, so that a rolling update
    /// of btc_price does not make every create_buy_order look unready.
    pub(crate) async fn healthy(&self) -> Result<(), PriceError> {
        let request = self.http.get(&self.healthcheck_url);
        let response = send_retrying_unreached(request).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        if is_stopping(&body) {
            return Ok(());
        }
        Err(PriceError::Refused { status, body })
    }
}

/// How many times a GET that reached no replica of btc_price is sent again.
const RESENDS: usize = 2;

/// Sends a GET, and again (up to [`RESENDS`] times) while it reaches no
/// server: a refused connection, or a kept-alive one that a stopping replica
/// closed. A GET is safe to repeat, and the next connection goes to another
/// address of the name. A timeout is not repeated: the time is spent.
async fn send_retrying_unreached(
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    let mut attempts = 0;
    loop {
        let Some(attempt) = request.try_clone() else {
            return request.send().await;
        };
        match attempt.send().await {
            Err(error) if !error.is_timeout() && attempts < RESENDS => attempts += 1,
            sent => return sent,
        }
    }
}

/// Whether a healthcheck body is that of a replica that is stopping.
fn is_stopping(body: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(body)
        .is_ok_and(|body| body["status"] == platform::health::STOPPING)
}
