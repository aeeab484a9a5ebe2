//! A setting that would quietly stop a service's work (a sweep every 0 ms,
//! a prefetch of 0, a pool of 0) stops it at start instead, naming the
//! variable, before it answers a healthcheck.

use std::process::Command;

use testkit::service::binary;
use testkit::settings;

#[test]
fn a_zero_that_would_stop_the_work_is_refused_at_start_by_name() {
    for (service, name) in [
        ("create_buy_order", "OUTBOX_SWEEP_MS"),
        ("create_buy_order", "WRITE_MODEL_DB_POOL_SIZE"),
        ("read_model_sync", "Q_PREFETCH"),
        ("btc_price", "CB_TIMEOUT_MS"),
        ("fetch_buy_orders", "HTTP_MAX_CONCURRENT_REQUESTS"),
    ] {
        let output = Command::new(binary(service))
            .env_clear()
            .envs(settings::variables())
            .envs([("SERVICE_HOST", "127.0.0.1"), ("SERVICE_PORT", "0")])
            .envs([("LOG_FORMAT", "json"), (name, "0")])
            .output()
            .expect("running the service");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{service} started with {name}=0");
        assert!(
            stderr.contains(name) && stderr.contains("must be greater than 0"),
            "{service}: {stderr}"
        );
    }
}
