//! Prometheus metrics: one recorder per process, rendered in the text format
//! by `GET /metrics` on the service's own port (the HTTP bootstrap adds the
//! route to every router). The services record their own with the `metrics`
//! macros; the catalogue of names is in docs/operations.md.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latencies, in seconds: from a cached price (sub-millisecond) to a request
/// timeout (seconds).
const SECONDS_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Batch sizes, in items: the writer's and the consumer's batches.
const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
/// How often histogram samples are folded into their buckets between scrapes,
/// so that an unscraped service does not hold every sample.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder on first use; later calls return it.
/// Metrics recorded before it is installed are lost, so services install it
/// when they bind their listener.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|builder| {
                builder.set_buckets_for_metric(Matcher::Suffix("_size".into()), SIZE_BUCKETS)
            })
            .expect("the bucket lists are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            eprintln!("metrics: another recorder was installed first; /metrics will be empty");
        }
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(error) = spawned {
            eprintln!("metrics: cannot start the upkeep thread: {error}");
        }
        handle
    })
}

/// `GET /metrics`: every metric of the process, in Prometheus's text format.
pub async fn render() -> Response {
    crate::telemetry::record_stdout_drops();
    let text = install().render();
    ([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
