//! Each order's event is published once in normal operation: the outbox
//! sweep, which exists for what a crash or an outage left behind, never
//! publishes an event that the relay's fresh path publishes too. With
//! read_model_sync stopped, every message stays on the queue, so the queue
//! itself shows whether an event went out twice.

use std::time::Duration;

use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use testkit::Cluster;

use crate::{
    all_placed, broker_channel, count_settling_at, metric_sum, place_many, sorted, stored_ids,
};

#[tokio::test]
async fn orders_placed_while_the_broker_is_away_are_each_published_once_when_it_returns() {
    let mut cluster = Cluster::start().await;
    cluster.stop_service("read_model_sync").await;
    cluster.queue_proxy.cut();
    // More than one publish batch (256), so that some are still waiting in
    // the relay when its first sweep after the outage runs.
    let placed = all_placed(&place_many(&cluster, 600, "1.00", 16).await);
    // Older than the sweep's minimum age (2 x OUTBOX_SWEEP_MS) by far.
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.queue_proxy.restore();

    assert_published_once(&mut cluster, placed).await;
}

#[tokio::test]
async fn with_a_sweep_every_millisecond_each_order_is_published_once() {
    // Any event that waits 2 ms in the relay is old enough for the sweep.
    let mut cluster = Cluster::start_with(&[("OUTBOX_SWEEP_MS", "1")]).await;
    cluster.stop_service("read_model_sync").await;
    let placed = all_placed(&place_many(&cluster, 1000, "1.00", 32).await);

    assert_published_once(&mut cluster, placed).await;
}

/// Once the outbox is empty, the queue holds one message per placed order,
/// create_buy_order counts as many publishes, and the read model, synced
/// afterwards, holds exactly the placed orders.
async fn assert_published_once(cluster: &mut Cluster, placed: Vec<String>) {
    let created = placed.len();
    let write = cluster.write_pool().await;
    let outbox = "SELECT count(*) FROM buy_order_outbox";
    assert_eq!(
        count_settling_at(&write, outbox, 0).await,
        0,
        "the outbox drained"
    );
    assert_eq!(
        messages_on_the_queue(cluster).await,
        created,
        "one message per order on the queue"
    );
    assert_eq!(
        metric_sum(cluster, "create_buy_order", |line| {
            line.starts_with("outbox_events_published_total ")
        })
        .await,
        created as f64,
        "create_buy_order's outbox_events_published_total"
    );
    cluster.start_service("read_model_sync").await;
    assert_eq!(
        cluster.wait_for_read_model(created as i64).await,
        created as i64
    );
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(placed));
}

/// The messages ready on the cluster's buy-order queue.
async fn messages_on_the_queue(cluster: &Cluster) -> usize {
    let (connection, channel) = broker_channel(cluster).await;
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let queue = channel
        .queue_declare(
            cluster.queue.queue.as_str().into(),
            passive,
            FieldTable::default(),
        )
        .await
        .expect("the buy-order queue");
    let _ = connection.close(200, "counted".into()).await;
    queue.message_count() as usize
}
