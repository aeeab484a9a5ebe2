//! The operator's repairs (docs/operations.md): `read_model_sync rebuild`
//! and `read_model_sync replay-dead-letters`, run while the cluster runs.

use lapin::BasicProperties;
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::json;
use testkit::Cluster;
use uuid::Uuid;

use crate::{all_placed, broker_channel, count, place_many, sorted, stored_ids};

/// The command's summary: the line of its stdout that is not a JSON event.
fn summary(output: &std::process::Output) -> String {
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = stdout.lines().find(|line| !line.starts_with('{'));
    summary.unwrap_or_default().to_owned()
}

#[tokio::test]
async fn rebuild_restores_every_missing_order_from_the_write_model_and_is_idempotent() {
    let cluster = Cluster::start().await;
    let placed = all_placed(&place_many(&cluster, 30, "1.00", 6).await);
    assert_eq!(cluster.wait_for_read_model(30).await, 30);
    let read = cluster.read_pool().await;
    let lost = sqlx::query("DELETE FROM buy_order WHERE id % 3 = 0")
        .execute(&read)
        .await
        .expect("losing a third of the read model");
    let lost = lost.rows_affected();
    assert!(lost > 0);

    let first = summary(&cluster.run_command("read_model_sync", &["rebuild"]).await);
    assert!(
        first.contains("30 orders") && first.contains(&format!("{lost} of them were missing")),
        "{first}"
    );
    assert_eq!(stored_ids(&read).await, sorted(placed.clone()));
    let write = cluster.write_pool().await;
    let same = "SELECT count(*) FROM buy_order";
    assert_eq!(count(&read, same).await, count(&write, same).await);

    let again = summary(&cluster.run_command("read_model_sync", &["rebuild"]).await);
    assert!(again.contains("0 of them were missing"), "{again}");
    assert_eq!(stored_ids(&read).await, sorted(placed));
}

#[tokio::test]
async fn replayed_dead_letters_are_synced_and_leave_the_dead_letter_queue() {
    let cluster = Cluster::start().await;
    let (_connection, channel) = broker_channel(&cluster).await;
    let dead_letter_queue = cluster.queue.dead_letter_queue();
    // An event parked by an earlier fault, now readable again.
    let external_id = Uuid::new_v4();
    let event = json!({
        "schema_version": 1, "id": 900_001, "client_id": 1, "external_id": external_id,
        "created_at": "2026-11-28T04:40:00.123456Z", "currency_id": 1, "currency_iso3": "USD",
        "currency_amount": "10.00", "btc_rate": "50000.00", "btc_amount": "0.00020000"
    });
    channel
        .basic_publish(
            "".into(),
            dead_letter_queue.as_str().into(),
            BasicPublishOptions::default(),
            &serde_json::to_vec(&event).expect("json"),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("parking an event")
        .await
        .expect("confirmed");

    let output = cluster
        .run_command("read_model_sync", &["replay-dead-letters"])
        .await;
    let replayed = summary(&output);
    assert!(replayed.contains("1 messages moved"), "{replayed}");

    assert_eq!(cluster.wait_for_read_model(1).await, 1);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, vec![external_id.to_string()]);
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let parked = channel
        .queue_declare(
            dead_letter_queue.as_str().into(),
            passive,
            FieldTable::default(),
        )
        .await
        .expect("the dead-letter queue");
    assert_eq!(parked.message_count(), 0, "nothing left parked");
    let left = channel
        .basic_get(
            dead_letter_queue.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .expect("reading the dead-letter queue");
    assert!(left.is_none());
}
