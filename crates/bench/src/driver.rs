//! Runs a request `n` times, `c` at a time, recording each latency in an
//! HdrHistogram and each answer's status, with a progress line on stderr.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one run measured.
pub(crate) struct Measured {
    pub requests: usize,
    pub elapsed: Duration,
    /// Latencies in microseconds.
    pub latencies: Histogram<u64>,
    /// Answers by status; 0 counts requests that got no answer.
    pub statuses: BTreeMap<u16, usize>,
}

impl Measured {
    pub(crate) fn throughput(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// Answers that were not 2xx.
    pub(crate) fn errors(&self) -> BTreeMap<u16, usize> {
        self.statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| (*s, *n))
            .collect()
    }

    /// The latency at `quantile`, in milliseconds.
    pub(crate) fn millis(&self, quantile: f64) -> f64 {
        self.latencies.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// Calls `request(i)` for i in 0..n, `c` at a time; `request` answers the HTTP status.
pub(crate) async fn drive<F, Fut>(label: &str, n: usize, c: usize, request: F) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = u16> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(label.to_owned(), n, next.clone(), started));
    let workers: Vec<_> = (0..c.max(1))
        .map(|_| {
            let (request, next) = (request.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = new_histogram();
                let mut statuses = BTreeMap::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return (latencies, statuses);
                    }
                    let sent = Instant::now();
                    let status = request(i).await;
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latencies.saturating_record(micros);
                    *statuses.entry(status).or_insert(0) += 1;
                }
            })
        })
        .collect();
    let mut measured = Measured {
        requests: n,
        elapsed: Duration::ZERO,
        latencies: new_histogram(),
        statuses: BTreeMap::new(),
    };
    for worker in workers {
        let (latencies, statuses) = worker.await.expect("a worker panicked");
        measured
            .latencies
            .add(&latencies)
            .expect("histograms of one shape");
        for (status, count) in statuses {
            *measured.statuses.entry(status).or_insert(0) += count;
        }
    }
    measured.elapsed = started.elapsed();
    progress.abort();
    eprint!("\r{:80}\r", "");
    measured
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

async fn report_progress(label: String, n: usize, next: Arc<AtomicUsize>, started: Instant) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let done = next.load(Ordering::Relaxed).min(n);
        let rate = done as f64 / started.elapsed().as_secs_f64();
        eprint!("\r{label}: {done}/{n} requests, {rate:.0}/s   ");
    }
}
