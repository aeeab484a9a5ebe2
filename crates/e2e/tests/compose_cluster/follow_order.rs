//! `scripts/follow_order.sh` on the compose cluster: the journey of an order
//! placed through the published ports, read from what the log service
//! collected.

use std::time::Duration;

use tokio::process::Command;

use crate::compose::ComposeCluster;

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn follow_order_reads_an_orders_journey_from_the_log_service() {
    let cluster = ComposeCluster::attach().await;
    let placed = cluster.api().buy("EUR", "42.00").await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    let order = placed.json()["buy_order"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let script = format!("{}/scripts/follow_order.sh", cluster.root());
    // fluentd writes its files every 5 s; the project's receiver at once.
    let mut journey = String::new();
    for _ in 0..30 {
        let output = Command::new(&script)
            .arg(&order)
            .output()
            .await
            .expect("running it");
        journey = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && journey.contains("buy_order_read_model_synced") {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(journey.contains("the compose log service"), "{journey}");
    let position = |event: &str| {
        journey
            .lines()
            .position(|line| line.contains(event))
            .unwrap_or_else(|| panic!("no {event} in:\n{journey}"))
    };
    let created = position("buy_order_created");
    let synced = position("buy_order_read_model_synced");
    assert!(
        position("create_buy_order_request_received") < created,
        "{journey}"
    );
    assert!(created < synced, "{journey}");
    let line = journey.lines().nth(synced).expect("the synced line");
    assert!(
        line.contains("read_model_sync") && line.contains("lag_ms="),
        "{line}"
    );
}
