use futures_util::future::join_all;
use serde_json::json;
use testkit::Cluster;
use uuid::Uuid;

use crate::{count, order, placed_ids, sorted, stored_ids};

#[tokio::test]
async fn fifty_concurrent_identical_requests_create_exactly_one_order() {
    let cluster = Cluster::start().await;
    let body = order("USD", json!("42.00"), &Uuid::new_v4().to_string());

    let replies = join_all((0..50).map(|_| cluster.api.put_order(&body))).await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(
            reply.text, replies[0].text,
            "every request gets the one order"
        );
    }
    assert_eq!(
        replies.iter().filter(|r| !r.replayed).count(),
        1,
        "one of them created it"
    );
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
}

#[tokio::test]
async fn concurrent_orders_never_take_the_total_past_100_btc() {
    let cluster = Cluster::start().await;
    // 1000.00 USD at 100.00 USD per BTC is exactly 10 BTC an order.
    cluster.coinbase.set_rate("USD", "100.00");

    let replies = join_all((0..30).map(|_| cluster.api.buy("USD", "1000.00"))).await;
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 409).collect();
    assert_eq!(placed_ids(&replies).len(), 10, "exactly ten fit");
    assert_eq!(refused.len(), 20);
    for reply in refused {
        let body = reply.json();
        assert_eq!(body["code"], "btc_limit_exceeded");
        let detail = body["detail"].as_str().expect("a message");
        assert!(
            detail.contains("0.00000000 BTC of capacity is left"),
            "{detail}"
        );
    }
    let write = cluster.write_pool().await;
    let total: String = sqlx::query_scalar("SELECT btc_amount::text FROM btc_running_total")
        .fetch_one(&write)
        .await
        .expect("the total");
    assert_eq!(total, "100.00000000");
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 10);

    assert_eq!(cluster.wait_for_read_model(10).await, 10);
    let read = cluster.read_pool().await;
    assert_eq!(
        stored_ids(&read).await,
        sorted(placed_ids(&replies)),
        "the read model holds those ten"
    );
}

#[tokio::test]
async fn the_limit_message_says_how_much_capacity_is_left() {
    let cluster = Cluster::start().await;
    cluster.coinbase.set_rate("USD", "100.00");
    assert_eq!(
        cluster.api.buy("USD", "9950.00").await.status,
        200,
        "99.5 BTC"
    );

    let reply = cluster.api.buy("USD", "100.00").await;
    assert_eq!(reply.status, 409, "1 BTC does not fit");
    let detail = reply.json()["detail"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(
        detail.contains("0.50000000 BTC of capacity is left"),
        "{detail}"
    );
    assert_eq!(
        cluster.api.buy("USD", "50.00").await.status,
        200,
        "0.5 BTC still fits"
    );
}

#[tokio::test]
async fn concurrent_requests_with_one_key_and_different_bodies_make_one_order_and_409s() {
    let cluster = Cluster::start().await;
    let key = Uuid::new_v4().to_string();
    let bodies: Vec<_> = (0..30)
        .map(|i| order("USD", json!(if i % 2 == 0 { "1.00" } else { "2.00" }), &key))
        .collect();

    let replies = join_all(bodies.iter().map(|body| cluster.api.put_order(body))).await;
    let placed: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    let winner = placed.first().expect("one body won").json()["buy_order"].clone();
    for (body, reply) in bodies.iter().zip(&replies) {
        if body["amount"] == winner["currency_amount"] {
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert_eq!(reply.json()["buy_order"], winner, "the one order");
        } else {
            assert_eq!(reply.status, 409, "{}", reply.text);
            assert_eq!(reply.json()["code"], "idempotence_key_reused");
        }
    }
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
}

#[tokio::test]
async fn two_create_buy_order_processes_on_the_same_databases_make_one_order_per_key() {
    let cluster = Cluster::start().await;
    let replica = cluster.start_replica("create_buy_order").await;
    let other = testkit::Api::new(replica.url(), cluster.service_url("fetch_buy_orders"));
    let keys: Vec<String> = (0..100).map(|_| Uuid::new_v4().to_string()).collect();

    // Each key goes to both processes at once, and again to each afterwards.
    let send = |api: &testkit::Api, key: &String| {
        let (api, body) = (api.clone(), order("USD", json!("1.00"), key));
        async move { api.put_order(&body).await }
    };
    let first = join_all(
        keys.iter()
            .flat_map(|key| [send(&cluster.api, key), send(&other, key)]),
    )
    .await;
    let again = join_all(
        keys.iter()
            .flat_map(|key| [send(&other, key), send(&cluster.api, key)]),
    )
    .await;
    let mut ids = Vec::new();
    for (pair, replay) in first.chunks(2).zip(again.chunks(2)) {
        let id = |reply: &testkit::Reply| {
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.json()["buy_order"]["id"].clone()
        };
        let one = id(&pair[0]);
        assert!(
            [&pair[1], &replay[0], &replay[1]]
                .iter()
                .all(|r| id(r) == one)
        );
        ids.push(one.as_str().expect("an id").to_owned());
    }
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 100);
    assert_eq!(cluster.wait_for_read_model(100).await, 100);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(ids));
    let outbox = "SELECT count(*) FROM buy_order_outbox";
    assert_eq!(
        count(&write, outbox).await,
        0,
        "both relays drained the outbox"
    );
}
