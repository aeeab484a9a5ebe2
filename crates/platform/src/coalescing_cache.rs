//! A cache of short-lived values whose concurrent misses for one key share a
//! single fetch, so that a burst of requests becomes one upstream call. Each
//! fetched value says how long it may be kept; a value that may not be kept
//! (a zero lifetime) still answers every request that waited for it.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::OnceCell;
use tokio::time::Instant;

/// How a value was had, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// Kept from an earlier fetch.
    Hit,
    /// Fetched for this request.
    Miss,
    /// Fetched for another request that missed at the same moment.
    Coalesced,
}

impl Lookup {
    /// Counts the lookup as `price_cache_{hits,misses,coalesced_waits}_total`.
    pub fn count_as_price_lookup(self) {
        let counter = match self {
            Self::Hit => metrics::counter!("price_cache_hits_total"),
            Self::Miss => metrics::counter!("price_cache_misses_total"),
            Self::Coalesced => metrics::counter!("price_cache_coalesced_waits_total"),
        };
        counter.increment(1);
    }
}

/// One fetch; every request that missed while it ran awaits it.
type Flight<V, E> = Arc<OnceCell<Result<V, E>>>;

struct Slot<V, E> {
    kept: Option<(Instant, V)>,
    in_flight: Option<Flight<V, E>>,
}

impl<V, E> Default for Slot<V, E> {
    fn default() -> Self {
        Self {
            kept: None,
            in_flight: None,
        }
    }
}

/// Values by key, each kept until the deadline its fetch gave it.
pub struct CoalescingCache<K, V, E> {
    slots: Mutex<HashMap<K, Slot<V, E>>>,
    /// Keys held at most; a new key past it makes the cache start afresh.
    capacity: usize,
}

impl<K, V, E> Default for CoalescingCache<K, V, E> {
    /// A cache of as many keys as are asked for (for a small, fixed set).
    fn default() -> Self {
        Self::with_capacity(usize::MAX)
    }
}

impl<K, V, E> CoalescingCache<K, V, E> {
    /// A cache of at most `capacity` keys: when a new key would pass it,
    /// everything kept is forgotten (fetches in flight still answer their
    /// waiters), so keys chosen by clients cannot grow it without bound.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            slots: Mutex::default(),
            capacity,
        }
    }
}

impl<K, V, E> CoalescingCache<K, V, E>
where
    K: Hash + Eq + Clone,
    V: Clone,
    E: Clone,
{
    /// The value of `key`: a kept one if it is still good, else the outcome
    /// of the fetch in flight, else of `fetch`, which gives the value and how
    /// long from now it may be kept. Fails as the fetch failed; a failure is
    /// never kept.
    pub async fn get<F, Fut>(&self, key: &K, fetch: F) -> (Result<V, E>, Lookup)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Duration), E>>,
    {
        let (flight, lookup) = {
            let mut slots = self.slots();
            if slots.len() >= self.capacity && !slots.contains_key(key) {
                slots.clear();
            }
            let slot = slots.entry(key.clone()).or_default();
            match (&slot.kept, &slot.in_flight) {
                (Some((deadline, value)), _) if Instant::now() < *deadline => {
                    return (Ok(value.clone()), Lookup::Hit);
                }
                (_, Some(flight)) => (flight.clone(), Lookup::Coalesced),
                (_, None) => (
                    slot.in_flight.insert(Flight::default()).clone(),
                    Lookup::Miss,
                ),
            }
        };
        // If the request running the fetch is dropped, the next waiter runs it.
        let outcome = flight
            .get_or_init(|| async {
                let fetched = fetch().await;
                self.settle(key, &fetched);
                fetched.map(|(value, _)| value)
            })
            .await;
        (outcome.clone(), lookup)
    }

    /// The kept value of `key`, if it is still good; never fetches.
    pub fn peek(&self, key: &K) -> Option<V> {
        let slots = self.slots();
        let (deadline, value) = slots.get(key)?.kept.as_ref()?;
        (Instant::now() < *deadline).then(|| value.clone())
    }

    /// Ends the flight of `key`, keeping its value if it may be kept.
    fn settle(&self, key: &K, fetched: &Result<(V, Duration), E>) {
        let mut slots = self.slots();
        let slot = slots.entry(key.clone()).or_default();
        slot.in_flight = None;
        if let Ok((value, lifetime)) = fetched
            && !lifetime.is_zero()
        {
            slot.kept = Some((Instant::now() + *lifetime, value.clone()));
        }
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<K, Slot<V, E>>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    type Cache = CoalescingCache<&'static str, u32, String>;

    async fn fetch_counted(
        calls: &AtomicU32,
        lifetime: Duration,
    ) -> Result<(u32, Duration), String> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok((calls.fetch_add(1, Ordering::SeqCst) + 1, lifetime))
    }

    #[tokio::test(start_paused = true)]
    async fn a_value_is_kept_for_the_lifetime_its_fetch_gave_it() {
        let (cache, calls) = (Cache::default(), AtomicU32::new(0));
        let lifetime = Duration::from_millis(100);
        let first = cache.get(&"USD", || fetch_counted(&calls, lifetime)).await;
        assert_eq!(first, (Ok(1), Lookup::Miss));
        tokio::time::advance(Duration::from_millis(99)).await;
        let kept = cache.get(&"USD", || fetch_counted(&calls, lifetime)).await;
        assert_eq!(kept, (Ok(1), Lookup::Hit));
        assert_eq!(cache.peek(&"USD"), Some(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(cache.peek(&"USD"), None, "past its lifetime");
        let renewed = cache.get(&"USD", || fetch_counted(&calls, lifetime)).await;
        assert_eq!(renewed, (Ok(2), Lookup::Miss));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_misses_share_one_fetch_even_when_nothing_is_kept() {
        let (cache, calls) = (Cache::default(), AtomicU32::new(0));
        let get = || cache.get(&"EUR", || fetch_counted(&calls, Duration::ZERO));
        let (a, b, c) = tokio::join!(get(), get(), get());
        assert_eq!([a.0, b.0, c.0], [Ok(1), Ok(1), Ok(1)]);
        assert_eq!(a.1, Lookup::Miss);
        assert_eq!([b.1, c.1], [Lookup::Coalesced, Lookup::Coalesced]);
        let later = cache
            .get(&"EUR", || fetch_counted(&calls, Duration::ZERO))
            .await;
        assert_eq!(
            later,
            (Ok(2), Lookup::Miss),
            "a zero lifetime keeps nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failure_is_shared_by_its_waiters_but_never_kept() {
        let cache = Cache::default();
        let failing = || async { Err::<(u32, Duration), _>("down".to_string()) };
        let failed = cache.get(&"GBP", failing).await;
        assert_eq!(failed, (Err("down".to_string()), Lookup::Miss));
        let calls = AtomicU32::new(0);
        let next = cache
            .get(&"GBP", || fetch_counted(&calls, Duration::from_secs(1)))
            .await;
        assert_eq!(next, (Ok(1), Lookup::Miss));
        let other_key = cache
            .get(&"USD", || fetch_counted(&calls, Duration::from_secs(1)))
            .await;
        assert_eq!(other_key, (Ok(2), Lookup::Miss), "keys are kept apart");
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_key_past_the_capacity_makes_the_cache_start_afresh() {
        let (cache, calls) = (Cache::with_capacity(2), AtomicU32::new(0));
        let kept = Duration::from_secs(60);
        for key in ["EUR", "GBP"] {
            let _ = cache.get(&key, || fetch_counted(&calls, kept)).await;
        }
        assert_eq!(cache.peek(&"EUR"), Some(1), "within the capacity");
        let _ = cache.get(&"USD", || fetch_counted(&calls, kept)).await;
        assert_eq!([cache.peek(&"EUR"), cache.peek(&"GBP")], [None, None]);
        assert_eq!(cache.peek(&"USD"), Some(3));
    }
}
