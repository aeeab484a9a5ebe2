//! The price service as a process, against the fake Coinbase over real HTTP.

mod caching;
mod config;
mod quotes;
mod stdout;

use std::path::Path;

use serde_json::Value;
use testkit::{FakeCoinbase, ServiceProcess};

/// Starts btc_price against `fake` with the given cache TTL and timeout.
async fn start(fake: &FakeCoinbase, cache_ttl_ms: u64, timeout_ms: u64) -> ServiceProcess {
    let mut env = fake.env();
    env.push(("CB_CACHE_TTL_MS".into(), cache_ttl_ms.to_string()));
    env.push(("CB_TIMEOUT_MS".into(), timeout_ms.to_string()));
    ServiceProcess::start(Path::new(env!("CARGO_BIN_EXE_btc_price")), &env)
        .wait_healthy()
        .await
}

/// `GET /buy?currency={code}`: the status and the JSON body.
async fn buy(service: &ServiceProcess, code: &str) -> (u16, Value) {
    let url = format!("{}/buy?currency={code}", service.url());
    let response = reqwest::get(url).await.expect("GET /buy");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}
