//! A price at hand: create_buy_order uses btc_price's quote until it is
//! `CB_CACHE_TTL_MS` old, and idempotence holds as when every order asks.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::{Harness, count};

/// Long enough that two requests in a row fall within it on a loaded machine.
const MAX_AGE: Duration = Duration::from_secs(3);

fn usd(amount: &str, key: &Uuid) -> serde_json::Value {
    json!({"currency": "USD", "amount": amount, "idempotence_key": key})
}

#[tokio::test]
async fn a_price_is_used_until_it_is_as_old_as_the_price_service_may_keep_it() {
    let cluster = Harness::keeping_prices_for(MAX_AGE).await;
    cluster.coinbase.set_rate("USD", "50000.00");
    let first = cluster.api.put_order(&usd("100.00", &Uuid::new_v4())).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let asked = cluster.coinbase.requests_for("USD");

    cluster.coinbase.set_rate("USD", "40000.00");
    let second = cluster.api.put_order(&usd("100.00", &Uuid::new_v4())).await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json()["buy_order"]["btc_rate"], "50000.00");
    assert_eq!(
        cluster.coinbase.requests_for("USD"),
        asked,
        "no new price was asked for"
    );

    tokio::time::sleep(MAX_AGE).await;
    let third = cluster.api.put_order(&usd("100.00", &Uuid::new_v4())).await;
    assert_eq!(third.status, 200, "{}", third.text);
    assert_eq!(
        third.json()["buy_order"]["btc_rate"],
        "40000.00",
        "a price too old is not used"
    );
    assert_eq!(cluster.coinbase.requests_for("USD"), asked + 1);
}

#[tokio::test]
async fn with_a_price_at_hand_a_replay_is_the_first_answer_and_a_reused_key_is_409() {
    let cluster = Harness::keeping_prices_for(MAX_AGE).await;
    let key = Uuid::new_v4();
    let first = cluster.api.put_order(&usd("250.00", &key)).await;
    assert_eq!(first.status, 200, "{}", first.text);

    let again = cluster.api.put_order(&usd("250.00", &key)).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert!(again.replayed, "the replay header is set");
    assert_eq!(again.text, first.text, "byte for byte the same");

    let reused = cluster.api.put_order(&usd("250.01", &key)).await;
    assert_eq!(reused.status, 409, "{}", reused.text);
    assert_eq!(reused.json()["code"], "idempotence_key_reused");

    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}
