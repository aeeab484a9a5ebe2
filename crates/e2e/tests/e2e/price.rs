//! The price service away or slow, seen through `PUT /buy_order`: a 503
//! that names no internal address, no order, and a retry with the same key
//! that is served once the price is back.

use serde_json::json;
use testkit::Cluster;
use testkit::fake_coinbase::Mode;
use uuid::Uuid;

use crate::{count, order};

/// A 503 whose detail speaks of the price and names nothing internal.
fn assert_no_price(reply: &testkit::Reply) {
    assert_eq!(reply.status, 503, "{}", reply.text);
    let detail = reply.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("price"), "{detail}");
    assert!(
        !detail.contains("127.0.0.1") && !detail.contains("http"),
        "{detail}"
    );
}

#[tokio::test]
async fn with_btc_price_down_creates_are_503_and_a_retry_after_it_is_back_is_served_once() {
    let mut cluster = Cluster::start().await;
    cluster.stop_service("btc_price").await;
    let body = order("GBP", json!("25.00"), &Uuid::new_v4().to_string());

    assert_no_price(&cluster.api.put_order(&body).await);
    let health_url = format!("{}/healthcheck", cluster.service_url("create_buy_order"));
    let health = reqwest::get(&health_url).await.expect("GET /healthcheck");
    assert_eq!(health.status().as_u16(), 503);
    let health = health.text().await.expect("a body");
    assert!(
        health.contains("btc_price") && !health.contains("127.0.0.1"),
        "{health}"
    );
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);

    cluster.start_service("btc_price").await;
    let placed = cluster.api.put_order(&body).await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    let replayed = cluster.api.put_order(&body).await;
    assert!(replayed.replayed && replayed.text == placed.text);
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}

#[tokio::test]
async fn with_btc_price_slower_than_the_timeout_creates_are_503_and_store_nothing() {
    let cluster = Cluster::start_with(&[("BTC_PRICE_TIMEOUT_MS", "300")]).await;
    cluster.coinbase.set_slow(1000);
    let body = order("EUR", json!("10.00"), &Uuid::new_v4().to_string());

    assert_no_price(&cluster.api.put_order(&body).await);
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);

    cluster.coinbase.set_mode(Mode::Ok);
    let placed = cluster.api.put_order(&body).await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}
