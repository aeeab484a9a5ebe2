use serde_json::json;
use testkit::Cluster;
use testkit::fake_coinbase::Mode;
use uuid::Uuid;

use crate::{count, order};

#[tokio::test]
async fn every_currency_is_accepted_and_the_order_reaches_the_read_model() {
    let cluster = Cluster::start().await;
    for (currency, rate) in [
        ("EUR", "44031.50"),
        ("GBP", "38022.17"),
        ("USD", "48478.88"),
    ] {
        let key = Uuid::new_v4().to_string();
        let reply = cluster
            .api
            .put_order(&order(currency, json!("123.45"), &key))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["idempotence_key"], key.as_str());
        let placed = &body["buy_order"];
        assert_eq!(placed["currency"], currency);
        assert_eq!(placed["currency_amount"], "123.45");
        assert_eq!(placed["btc_rate"], rate);
        assert!(!reply.replayed);
    }
    assert_eq!(cluster.wait_for_read_model(3).await, 3);
    let page = cluster.api.get_orders("").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let rows = page.json()["rows"].as_array().expect("rows").clone();
    let currencies: Vec<_> = rows
        .iter()
        .map(|row| row["currency"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(currencies, ["USD", "GBP", "EUR"], "newest first");
}

#[tokio::test]
async fn btc_amounts_are_rounded_up_to_the_satoshi_through_the_whole_stack() {
    let cluster = Cluster::start().await;
    for (rate, expected) in [
        ("3", "0.33333334"),
        ("4", "0.25000000"),
        ("48478.88", "0.00002063"),
    ] {
        cluster.coinbase.set_rate("USD", rate);
        let reply = cluster.api.buy("USD", "1.00").await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let placed = reply.json()["buy_order"].clone();
        assert_eq!(
            (placed["btc_rate"].as_str(), placed["btc_amount"].as_str()),
            (Some(rate), Some(expected))
        );
    }
    assert_eq!(cluster.wait_for_read_model(3).await, 3);
    let read = cluster.read_pool().await;
    let amounts: Vec<String> =
        sqlx::query_scalar("SELECT btc_amount::text FROM buy_order ORDER BY id")
            .fetch_all(&read)
            .await
            .expect("amounts");
    assert_eq!(amounts, ["0.33333334", "0.25000000", "0.00002063"]);
}

#[tokio::test]
async fn a_replay_returns_the_identical_body_without_a_price_call_or_a_new_order() {
    let cluster = Cluster::start().await;
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
    let cluster = Cluster::start().await;
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
    let cluster = Cluster::start().await;
    let key = Uuid::new_v4().to_string();
    let body = order("EUR", json!("99.99"), &key);
    for mode in [Mode::Error, Mode::Garbage] {
        cluster.coinbase.set_mode(mode);
        let reply = cluster.api.put_order(&body).await;
        assert_eq!(reply.status, 503, "{mode:?}: {}", reply.text);
        assert!(
            reply.json()["detail"]
                .as_str()
                .is_some_and(|d| d.contains("price")),
            "{}",
            reply.text
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
