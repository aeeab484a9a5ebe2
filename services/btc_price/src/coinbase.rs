//! The client of Coinbase's price API: `GET {base}/buy?currency=USD`.

use std::time::Duration;

use domain::{BtcRate, Currency};
use serde::Deserialize;

/// Why Coinbase gave no usable price. Cloned to every request that shared
/// the call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CoinbaseError {
    #[error("Coinbase did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Coinbase could not be reached: {0}")]
    Unreachable(String),
    #[error("Coinbase answered HTTP {0}")]
    ErrorStatus(u16),
    #[error("Coinbase answered with an unusable price: {0}")]
    Unusable(String),
}

impl CoinbaseError {
    /// The kind, as a metric label.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Timeout(_) => "timeout",
            Self::Unreachable(_) => "unreachable",
            Self::ErrorStatus(_) => "error_status",
            Self::Unusable(_) => "unusable",
        }
    }
}

/// Coinbase's answer: `{"data": {"base": "BTC", "currency": "USD", "amount": "48478.88"}}`.
#[derive(Deserialize)]
struct PriceResponse {
    data: Price,
}

#[derive(Deserialize)]
struct Price {
    base: String,
    currency: String,
    amount: String,
}

pub(crate) struct CoinbaseClient {
    http: reqwest::Client,
    base_url: String,
    timeout: Duration,
}

impl CoinbaseClient {
    /// A client for prices under `base_url` (e.g. `https://api.coinbase.com:443/v2/prices`).
    pub(crate) fn new(base_url: String, timeout: Duration) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(Self {
            http,
            base_url,
            timeout,
        })
    }

    /// The buy price of 1 BTC in `currency`.
    pub(crate) async fn buy_price(&self, currency: Currency) -> Result<BtcRate, CoinbaseError> {
        let url = format!("{}/buy", self.base_url);
        let response = self
            .http
            .get(url)
            .query(&[("currency", currency.iso3())])
            .send()
            .await
            .map_err(|error| self.transport_error(error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(CoinbaseError::ErrorStatus(status.as_u16()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| self.transport_error(error))?;
        parse_price(&body, currency)
    }

    fn transport_error(&self, error: reqwest::Error) -> CoinbaseError {
        if error.is_timeout() {
            CoinbaseError::Timeout(self.timeout)
        } else {
            CoinbaseError::Unreachable(error.to_string())
        }
    }
}

/// Accepts only a price of BTC in the currency asked for, as a positive decimal.
fn parse_price(body: &[u8], currency: Currency) -> Result<BtcRate, CoinbaseError> {
    let unusable = |why: String| CoinbaseError::Unusable(why);
    let PriceResponse { data } = serde_json::from_slice(body)
        .map_err(|error| unusable(format!("not a price document ({error})")))?;
    if data.base != "BTC" || data.currency != currency.iso3() {
        return Err(unusable(format!(
            "a price of {} in {}",
            data.base, data.currency
        )));
    }
    BtcRate::parse(&data.amount).map_err(|error| unusable(error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_price_exactly_as_quoted() {
        let body = br#"{"data": {"base": "BTC", "currency": "USD", "amount": "48478.880"}}"#;
        let rate = parse_price(body, Currency::Usd).expect("a price");
        assert_eq!(rate.to_string(), "48478.880");
    }

    #[test]
    fn refuses_anything_but_a_positive_btc_price_in_the_currency_asked_for() {
        for body in [
            r#"{"data": {"base": "BTC", "currency": "USD", "amount": "0"}}"#,
            r#"{"data": {"base": "BTC", "currency": "USD", "amount": "-48478.88"}}"#,
            r#"{"data": {"base": "BTC", "currency": "USD", "amount": "lots"}}"#,
            r#"{"data": {"base": "BTC", "currency": "USD", "amount": 48478.88}}"#,
            r#"{"data": {"base": "BTC", "currency": "EUR", "amount": "48478.88"}}"#,
            r#"{"data": {"base": "ETH", "currency": "USD", "amount": "3000.00"}}"#,
            r#"{"errors": [{"id": "not_found"}]}"#,
            "<html>",
        ] {
            let outcome = parse_price(body.as_bytes(), Currency::Usd);
            assert!(
                matches!(outcome, Err(CoinbaseError::Unusable(_))),
                "{body} gave {outcome:?}"
            );
        }
    }
}
