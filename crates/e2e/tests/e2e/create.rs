use serde_json::json;
use testkit::Cluster;
use uuid::Uuid;

use crate::order;

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
