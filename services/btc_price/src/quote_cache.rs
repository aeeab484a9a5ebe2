//! Quotes from Coinbase, kept for a short TTL, with concurrent misses for one
//! currency sharing a single upstream call, so that load on the cluster does
//! not become load on Coinbase.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use domain::{BtcRate, Currency};
use time::OffsetDateTime;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::coinbase::{CoinbaseClient, CoinbaseError};

/// A price as Coinbase quoted it, and when.
#[derive(Debug, Clone)]
pub(crate) struct Quote {
    pub rate: BtcRate,
    pub quoted_at: OffsetDateTime,
}

/// One upstream call; every request that missed while it ran awaits it.
type Flight = Arc<OnceCell<Result<Quote, CoinbaseError>>>;

#[derive(Default)]
struct Slot {
    fresh: Option<(Instant, Quote)>,
    in_flight: Option<Flight>,
}

pub(crate) struct QuoteCache {
    coinbase: CoinbaseClient,
    ttl: Duration,
    slots: HashMap<Currency, Mutex<Slot>>,
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
        let slots = Currency::ALL
            .into_iter()
            .map(|c| (c, Mutex::default()))
            .collect();
        Self {
            coinbase,
            ttl,
            slots,
        }
    }

    /// The current price of 1 BTC in `currency`. Fails as Coinbase failed.
    pub(crate) async fn quote(&self, currency: Currency) -> Result<(Quote, Source), CoinbaseError> {
        let flight = {
            let mut slot = self.slot(currency);
            if let Some(quote) = self.fresh(&slot) {
                metrics::counter!("price_cache_hits_total").increment(1);
                return Ok((quote, Source::Cache));
            }
            match &slot.in_flight {
                Some(flight) => {
                    metrics::counter!("price_cache_coalesced_waits_total").increment(1);
                    flight.clone()
                }
                None => {
                    metrics::counter!("price_cache_misses_total").increment(1);
                    slot.in_flight.insert(Flight::default()).clone()
                }
            }
        };
        // If the request running the call is dropped, the next waiter runs it.
        let outcome = flight.get_or_init(|| self.fetch(currency)).await.clone();
        outcome.map(|quote| (quote, Source::Coinbase))
    }

    async fn fetch(&self, currency: Currency) -> Result<Quote, CoinbaseError> {
        let started = std::time::Instant::now();
        let outcome = self.coinbase.buy_price(currency).await;
        metrics::histogram!("coinbase_request_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        if let Err(error) = &outcome {
            metrics::counter!("coinbase_errors_total", "kind" => error.kind()).increment(1);
        }
        let outcome = outcome.map(|rate| Quote {
            rate,
            quoted_at: OffsetDateTime::now_utc(),
        });
        let mut slot = self.slot(currency);
        slot.in_flight = None;
        if let (Ok(quote), false) = (&outcome, self.ttl.is_zero()) {
            slot.fresh = Some((Instant::now(), quote.clone()));
        }
        outcome
    }

    fn fresh(&self, slot: &Slot) -> Option<Quote> {
        let (fetched, quote) = slot.fresh.as_ref()?;
        (fetched.elapsed() < self.ttl).then(|| quote.clone())
    }

    fn slot(&self, currency: Currency) -> MutexGuard<'_, Slot> {
        self.slots[&currency]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
