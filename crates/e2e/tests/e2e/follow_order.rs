//! `scripts/follow_order.sh`: one order's journey, read back from the
//! services' own logs (the native cluster's source), in time order.

use std::process::{Command, Output};

use testkit::Cluster;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/follow_order.sh");

fn follow(args: &[&str], logs: &[std::path::PathBuf]) -> Output {
    Command::new(SCRIPT)
        .args(args)
        .args(logs)
        .output()
        .expect("running follow_order.sh")
}

/// Where in `journey` the first line naming `event` is.
fn line_of(journey: &str, event: &str) -> usize {
    journey
        .lines()
        .position(|line| line.contains(&format!(" {event} ")) || line.ends_with(event))
        .unwrap_or_else(|| panic!("no {event} in:\n{journey}"))
}

#[tokio::test]
async fn it_shows_an_orders_events_across_the_services_in_time_order_with_the_lag() {
    let cluster = Cluster::start().await;
    let placed = cluster.api.buy("GBP", "250.00").await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    let order = placed.json()["buy_order"]["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
    assert_eq!(cluster.api.get_orders("page_size=5").await.status, 200);

    let output = follow(&[&order], &cluster.log_files());
    let journey = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{journey}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps = [
        "create_buy_order_request_received",
        "btc_price_quoted",
        "buy_order_created",
        "create_buy_order_response_returned",
        "buy_order_events_published",
        "buy_order_read_model_synced",
        "buy_orders_page_returned",
    ];
    let lines: Vec<usize> = steps.iter().map(|step| line_of(&journey, step)).collect();
    // The request's own steps come in order. The relay logs its publish
    // after its commit, which the consumer may beat, and the consumer logs
    // after its commit, which the page may beat: the rest come after the
    // order's creation, in whichever order the processes logged them.
    assert!(lines[..4].is_sorted(), "not in time order:\n{journey}");
    assert!(lines[4..].iter().all(|line| *line > lines[2]), "{journey}");
    let synced = journey.lines().nth(lines[5]).expect("the synced line");
    assert!(
        synced.contains("read_model_sync") && synced.contains("lag_ms="),
        "{synced}"
    );
    let created = journey.lines().nth(lines[2]).expect("the created line");
    assert!(
        created.contains("batch=") && created.contains("batch_orders="),
        "{created}"
    );
    let quoted = journey.lines().nth(lines[1]).expect("the price line");
    assert!(
        quoted.contains("btc_price") && quoted.contains("cached="),
        "{quoted}"
    );
}

#[tokio::test]
async fn it_refuses_an_id_that_is_no_uuid_and_says_where_it_looked_for_an_unknown_one() {
    let cluster = Cluster::start().await;
    let refused = follow(&["not-an-order"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("usage"));

    let unknown = uuid::Uuid::new_v4().to_string();
    let missing = follow(&[&unknown], &cluster.log_files());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("no event names order {unknown}"))
            && stderr.contains("the files given"),
        "{stderr}"
    );
}
