use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions};
use lapin::types::AMQPValue;
use testkit::Cluster;

use crate::{all_placed, count, place_many, sorted, stored_ids};

#[tokio::test]
async fn orders_created_while_the_sync_is_stopped_all_arrive_once_it_is_back() {
    let mut cluster = Cluster::start().await;
    cluster.stop_service("read_model_sync").await;

    let placed = all_placed(&place_many(&cluster, 200, "1.00", 8).await);
    assert_eq!(placed.len(), 200);
    let read = cluster.read_pool().await;
    assert_eq!(
        count(&read, "SELECT count(*) FROM buy_order").await,
        0,
        "nothing synced while stopped"
    );

    cluster.start_service("read_model_sync").await;
    assert_eq!(
        cluster.wait_for_read_model(200).await,
        200,
        "read_model_sync's log:\n{}\ncreate_buy_order's log:\n{}",
        cluster.log("read_model_sync"),
        cluster.log("create_buy_order")
    );
    assert_eq!(stored_ids(&read).await, sorted(placed));
}

#[tokio::test]
async fn cutting_the_queue_connections_mid_stream_loses_and_invents_nothing() {
    let cluster = Cluster::start().await;
    let placing = place_many(&cluster, 300, "1.00", 8);
    let cutting = async {
        for _ in 0..3 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            cluster.queue_proxy.cut();
            tokio::time::sleep(Duration::from_millis(500)).await;
            cluster.queue_proxy.restore();
        }
    };
    let (replies, ()) = tokio::join!(placing, cutting);
    let placed = all_placed(&replies);
    assert_eq!(
        placed.len(),
        300,
        "creating does not depend on the queue being there"
    );

    assert_eq!(cluster.wait_for_read_model(300).await, 300);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let read = cluster.read_pool().await;
    assert_eq!(
        stored_ids(&read).await,
        sorted(placed),
        "every order once, no other"
    );
    let write = cluster.write_pool().await;
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order_outbox").await,
        0,
        "the outbox drained"
    );
}

#[tokio::test]
async fn events_left_in_the_outbox_by_a_killed_service_are_published_on_restart() {
    let mut cluster = Cluster::start().await;
    cluster.queue_proxy.cut();
    let placed = all_placed(&place_many(&cluster, 50, "1.00", 8).await);
    assert_eq!(placed.len(), 50);
    let write = cluster.write_pool().await;
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order_outbox").await,
        50,
        "none could be sent"
    );

    cluster.kill_service("create_buy_order").await;
    cluster.queue_proxy.restore();
    cluster.start_service("create_buy_order").await;

    assert_eq!(cluster.wait_for_read_model(50).await, 50);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(placed));
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order_outbox").await,
        0
    );
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_and_later_events_still_sync() {
    let cluster = Cluster::start().await;
    let connection = lapin::Connection::connect(&cluster.queue.uri(), Default::default())
        .await
        .expect("connecting to RabbitMQ");
    let channel = connection.create_channel().await.expect("a channel");
    let exchange = cluster.queue.exchange.as_str();
    channel
        .basic_publish(
            exchange.into(),
            "buy_order".into(),
            BasicPublishOptions::default(),
            b"{\"id\": \"oops\"}",
            BasicProperties::default(),
        )
        .await
        .expect("publishing garbage")
        .await
        .expect("sent");

    let placed = all_placed(&place_many(&cluster, 5, "3.00", 5).await);
    assert_eq!(cluster.wait_for_read_model(5).await, 5);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(placed));

    let dead_letter_queue = cluster.queue.dead_letter_queue();
    let mut parked = None;
    for _ in 0..100 {
        parked = channel
            .basic_get(
                dead_letter_queue.as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .expect("reading the dead-letter queue");
        if parked.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let parked = parked
        .expect("the malformed message was dead-lettered")
        .delivery;
    assert_eq!(parked.data, b"{\"id\": \"oops\"}");
    let headers = parked.properties.headers().clone().expect("headers");
    let reason = headers
        .inner()
        .get("x-dead-letter-reason")
        .expect("a reason");
    let AMQPValue::LongString(reason) = reason else {
        panic!("a text reason: {reason:?}")
    };
    assert!(
        reason.to_string().contains("not a buy-order event"),
        "{reason}"
    );
}

#[tokio::test]
async fn while_the_read_model_is_away_the_sync_waits_and_then_catches_up() {
    let cluster = Cluster::start().await;
    let before = all_placed(&place_many(&cluster, 5, "1.00", 5).await);
    assert_eq!(cluster.wait_for_read_model(5).await, 5);

    cluster.read_model_proxy.cut();
    let during = all_placed(&place_many(&cluster, 100, "1.00", 8).await);
    assert_eq!(
        during.len(),
        100,
        "creating does not depend on the read model"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let read = cluster.read_pool().await;
    assert_eq!(
        count(&read, "SELECT count(*) FROM buy_order").await,
        5,
        "nothing synced while away"
    );
    let health_url = format!("{}/healthcheck", cluster.service_url("read_model_sync"));
    let health = reqwest::get(health_url).await.expect("GET");
    assert_eq!(
        health.status().as_u16(),
        503,
        "the sync reports the read model away"
    );

    cluster.read_model_proxy.restore();
    assert_eq!(cluster.wait_for_read_model(105).await, 105);
    assert_eq!(stored_ids(&read).await, sorted([before, during].concat()));
    assert!(
        cluster
            .log("read_model_sync")
            .contains("failed_to_sync_buy_order_read_model")
    );
}

#[tokio::test]
async fn with_the_queue_away_a_replica_stays_in_the_ingress_and_takes_orders() {
    let cluster = Cluster::start().await;
    let url = cluster.service_url("create_buy_order");
    let status = |path: &'static str| {
        let url = format!("{url}{path}");
        async move {
            reqwest::get(url)
                .await
                .expect("an answer")
                .status()
                .as_u16()
        }
    };
    cluster.queue_proxy.cut();
    let mut full = status("/healthcheck").await;
    for _ in 0..100 {
        if full == 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        full = status("/healthcheck").await;
    }
    assert_eq!(full, 503, "the full healthcheck reports the queue away");
    // The ingress's check leaves out what every replica shares: the order
    // is taken, its event waits in the outbox.
    assert_eq!(status("/healthcheck/replica").await, 200);
    let reply = cluster.api.buy("USD", "2.00").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    cluster.queue_proxy.restore();
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
}
