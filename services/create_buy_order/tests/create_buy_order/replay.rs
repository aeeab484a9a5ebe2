//! Idempotence as a client sees it (a replay is the first answer again, a
//! reused key is 409) and a missing price (503, retryable with the same key).

use serde_json::{Value, json};
use testkit::fake_coinbase::Mode;
use uuid::Uuid;

use crate::{Harness, count};

/// A create body.
fn order(currency: &str, amount: Value, key: &str) -> Value {
    json!({"currency": currency, "amount": amount, "idempotence_key": key})
}

#[tokio::test]
async fn a_replay_returns_the_identical_body_without_a_price_call_or_a_new_order() {
    let cluster = Harness::start().await;
    let key = Uuid::new_v4().to_string();
    let first = cluster
        .api
        .put_order(&order("GBP", json!("250.00"), &key))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let calls = cluster.coinbase.requests_for("GBP");

    cluster.coinbase.set_rate("GBP", "1.00");
    for amount in [json!("250.00"), json!("250"), json!(250.0)] {
        let again = cluster.api.put_order(&order("GBP", amount, &key)).await;
        assert_eq!(again.status, 200);
        assert!(again.replayed, "the replay header is set");
        assert_eq!(again.text, first.text, "byte for byte the same");
    }
    assert_eq!(
        cluster.coinbase.requests_for("GBP"),
        calls,
        "no price was asked for"
    );
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}

#[tokio::test]
async fn a_key_reused_for_another_order_is_409_and_changes_nothing() {
    let cluster = Harness::start().await;
    let key = Uuid::new_v4().to_string();
    let first = cluster
        .api
        .put_order(&order("USD", json!("10.00"), &key))
        .await;
    assert_eq!(first.status, 200, "{}", first.text);

    for other in [
        order("USD", json!("10.01"), &key),
        order("EUR", json!("10.00"), &key),
    ] {
        let reply = cluster.api.put_order(&other).await;
        assert_eq!(reply.status, 409, "{}", reply.text);
        assert_eq!(reply.json()["code"], "idempotence_key_reused");
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains(&key))
        );
    }
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}

#[tokio::test]
async fn without_a_price_the_order_is_503_and_may_be_retried_with_the_same_key() {
    let cluster = Harness::start().await;
    let key = Uuid::new_v4().to_string();
    let body = order("EUR", json!("99.99"), &key);
    for mode in [Mode::Error, Mode::Garbage] {
        cluster.coinbase.set_mode(mode);
        let reply = cluster.api.put_order(&body).await;
        assert_eq!(reply.status, 503, "{mode:?}: {}", reply.text);
        let detail = reply.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("price"), "{}", reply.text);
        // Addresses and upstream bodies go to the event log, not to clients.
        assert!(
            !detail.contains("127.0.0.1") && !detail.contains("HTTP"),
            "{detail}"
        );
    }
    let write = cluster.write_pool().await;
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order").await,
        0,
        "no order without a price"
    );
    assert_eq!(
        count(&write, "SELECT count(*) FROM idempotence_record").await,
        0
    );

    cluster.coinbase.set_mode(Mode::Ok);
    let retried = cluster.api.put_order(&body).await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert!(!retried.replayed);
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}
