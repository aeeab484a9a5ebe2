//! Quotes from Coinbase, kept for a short TTL, with concurrent misses for one
//! currency sharing a single upstream call, so that load on the cluster does
//! not become load on Coinbase.

use std::time::Duration;

use domain::{BtcRate, Currency};
use platform::coalescing_cache::{CoalescingCache, Lookup};
use time::OffsetDateTime;

use crate::coinbase::{CoinbaseClient, CoinbaseError};

/// A price as Coinbase quoted it, and when.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    pub rate: BtcRate,
    pub quoted_at: OffsetDateTime,
}

pub(crate) struct QuoteCache {
    coinbase: CoinbaseClient,
    ttl: Duration,
    quotes: CoalescingCache<Currency, Quote, CoinbaseError>,
}

/// Where a quote came from, for the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Cache,
    Coinbase,
}

impl QuoteCache {
    /// Quotes are reused for `ttl`; a zero `ttl` turns the cache off (concurrent
    /// misses still share one call).
    pub(crate) fn new(coinbase: CoinbaseClient, ttl: Duration) -> Self {
        Self {
            coinbase,
            ttl,
            quotes: CoalescingCache::default(),
        }
    }

    /// The current price of 1 BTC in `currency`. Fails as Coinbase failed.
    pub(crate) async fn quote(&self, currency: Currency) -> Result<(Quote, Source), CoinbaseError> {
        let (quote, lookup) = self.quotes.get(&currency, || self.fetch(currency)).await;
        lookup.count_as_price_lookup();
        let source = match lookup {
            Lookup::Hit => Source::Cache,
            Lookup::Miss | Lookup::Coalesced => Source::Coinbase,
        };
        quote.map(|quote| (quote, source))
    }

    async fn fetch(&self, currency: Currency) -> Result<(Quote, Duration), CoinbaseError> {
        let started = std::time::Instant::now();
        let outcome = self.coinbase.buy_price(currency).await;
        metrics::histogram!("coinbase_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(error) = &outcome {
            metrics::counter!("coinbase_errors_total", "kind" => error.kind()).increment(1);
        }
        let quote = Quote {
            rate: outcome?,
            quoted_at: OffsetDateTime::now_utc(),
        };
        Ok((quote, self.ttl))
    }
}
