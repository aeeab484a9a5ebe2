//! The queue's edges: an event the broker cannot route, a dead-letter queue
//! that is gone, and an event from a newer producer.

use std::time::Duration;

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel};
use serde_json::json;
use testkit::Cluster;
use uuid::Uuid;

use crate::{all_placed, broker_channel, count, count_settling_at, place_many, sorted, stored_ids};

async fn publish(channel: &Channel, exchange: &str, routing_key: &str, body: &[u8]) {
    channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publishing")
        .await
        .expect("sent");
}

#[tokio::test]
async fn events_the_broker_cannot_route_stay_in_the_outbox_until_they_can_be() {
    let cluster = Cluster::start().await;
    let (_connection, channel) = broker_channel(&cluster).await;
    let (queue, exchange) = (
        cluster.queue.queue.as_str(),
        cluster.queue.exchange.as_str(),
    );
    channel
        .queue_unbind(
            queue.into(),
            exchange.into(),
            "buy_order".into(),
            FieldTable::default(),
        )
        .await
        .expect("unbinding the queue");

    let placed = all_placed(&place_many(&cluster, 20, "1.00", 5).await);
    // Several sweeps find every event returned as unroutable.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let write = cluster.write_pool().await;
    let outbox = "SELECT count(*) FROM buy_order_outbox";
    assert_eq!(count(&write, outbox).await, 20, "none forgotten");
    let read = cluster.read_pool().await;
    assert_eq!(count(&read, "SELECT count(*) FROM buy_order").await, 0);

    let options = QueueBindOptions::default();
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            "buy_order".into(),
            options,
            FieldTable::default(),
        )
        .await
        .expect("binding the queue again");
    assert_eq!(cluster.wait_for_read_model(20).await, 20);
    assert_eq!(stored_ids(&read).await, sorted(placed));
    assert_eq!(count_settling_at(&write, outbox, 0).await, 0);
}

#[tokio::test]
async fn with_the_dead_letter_queue_gone_a_bad_message_is_kept_not_dropped() {
    let cluster = Cluster::start().await;
    let (connection, channel) = broker_channel(&cluster).await;
    let dead_letter_queue = cluster.queue.dead_letter_queue();
    channel
        .queue_delete(dead_letter_queue.as_str().into(), Default::default())
        .await
        .expect("deleting the dead-letter queue");

    publish(
        &channel,
        &cluster.queue.exchange,
        "buy_order",
        b"not an event",
    )
    .await;

    // The consumer may not drop it: it keeps it until the dead-letter
    // queue is back (it declares it again when it resubscribes).
    let mut parked = None;
    for _ in 0..200 {
        // Asking for a queue that is not there closes the channel: a fresh one each time.
        let Ok(channel) = connection.create_channel().await else {
            continue;
        };
        let got = channel
            .basic_get(
                dead_letter_queue.as_str().into(),
                BasicGetOptions { no_ack: true },
            )
            .await;
        if let Ok(Some(message)) = got {
            parked = Some(message.delivery.data);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let parked = parked.unwrap_or_else(|| {
        panic!(
            "the message was lost; read_model_sync's log:\n{}",
            cluster.log("read_model_sync")
        )
    });
    assert_eq!(parked, b"not an event");

    let placed = all_placed(&place_many(&cluster, 3, "1.00", 3).await);
    assert_eq!(cluster.wait_for_read_model(3).await, 3, "syncing goes on");
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(placed));
}

#[tokio::test]
async fn an_event_from_a_newer_producer_of_the_same_major_version_is_synced() {
    let cluster = Cluster::start().await;
    let (_connection, channel) = broker_channel(&cluster).await;
    let external_id = Uuid::new_v4();
    let newer = json!({
        "schema_version": 1, "id": 800_001, "client_id": 1, "external_id": external_id,
        "created_at": "2026-11-28T04:40:00.123456Z", "currency_id": 1, "currency_iso3": "USD",
        "currency_amount": "10.00", "btc_rate": "50000.00", "btc_amount": "0.00020000",
        "fee": "0.10", "channel": {"name": "mobile", "version": 3}
    });
    let body = serde_json::to_vec(&newer).expect("json");
    publish(&channel, &cluster.queue.exchange, "buy_order", &body).await;

    assert_eq!(cluster.wait_for_read_model(1).await, 1);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, vec![external_id.to_string()]);
    let parked = channel
        .basic_get(
            cluster.queue.dead_letter_queue().as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("reading the dead-letter queue");
    assert!(parked.is_none(), "nothing dead-lettered");
}

#[tokio::test]
async fn with_q_queue_type_quorum_both_queues_are_quorum_queues_and_orders_flow() {
    let cluster = Cluster::start_with(&[("Q_QUEUE_TYPE", "quorum")]).await;
    let placed = all_placed(&place_many(&cluster, 20, "1.00", 5).await);
    let read = cluster.read_pool().await;
    let synced = "SELECT count(*) FROM buy_order";
    assert_eq!(count_settling_at(&read, synced, 20).await, 20);
    assert_eq!(stored_ids(&read).await, sorted(placed));

    // The broker refuses to declare a quorum queue as a classic one: a
    // PRECONDITION_FAILED for each, on a channel of its own, proves its type.
    let classic = {
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("classic".into()),
        );
        arguments
    };
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    for queue in [
        cluster.queue.queue.clone(),
        cluster.queue.dead_letter_queue(),
    ] {
        let (_connection, channel) = broker_channel(&cluster).await;
        let declared = channel
            .queue_declare(queue.as_str().into(), durable, classic.clone())
            .await;
        let error = declared.expect_err("a quorum queue is not redeclared as classic");
        assert!(
            error.to_string().contains("PRECONDITION_FAILED"),
            "{queue}: {error}"
        );
    }
}

#[tokio::test]
async fn a_queue_of_the_other_type_on_the_broker_is_named_in_an_error_and_retried() {
    let cluster = Cluster::start_with(&[("Q_QUEUE_TYPE", "quorum")]).await;
    let classic = cluster.launch_replica_with("read_model_sync", &[("Q_QUEUE_TYPE", "classic")]);
    let queue = &cluster.queue.queue;
    let mut mismatches = 0;
    for _ in 0..100 {
        let log = classic.log();
        let of_the_queue =
            |line: &&str| line.contains("queue_type_mismatch") && line.contains(queue.as_str());
        mismatches = log.lines().filter(of_the_queue).count();
        if mismatches >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Named once per attempt, and attempted again.
    assert!(mismatches >= 2, "{}", classic.log());
    let line = classic
        .log()
        .lines()
        .find(|l| l.contains("queue_type_mismatch"))
        .map(str::to_owned);
    let line = line.unwrap_or_default();
    assert!(
        line.contains("\"ERROR\"") || line.contains("ERROR"),
        "{line}"
    );
    assert!(
        line.contains("classic") && line.contains("x-queue-type"),
        "{line}"
    );
}
