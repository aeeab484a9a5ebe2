//! Stopping a service (a scale-down, a deploy): what it had begun it
//! finishes, and nothing it accepted is lost or left waiting.

use std::time::Duration;

use futures_util::StreamExt;
use testkit::Cluster;
use testkit::fake_coinbase::Mode;
use uuid::Uuid;

use crate::{count, order, sorted, stored_ids};

#[tokio::test]
async fn a_terminated_create_buy_order_finishes_its_requests_and_publishes_their_orders() {
    let mut cluster = Cluster::start().await;
    // Slow prices keep requests in flight when the signal comes.
    cluster.coinbase.set_slow(200);
    let keys: Vec<String> = (0..120).map(|_| Uuid::new_v4().to_string()).collect();
    let api = cluster.api.clone();
    let requests = keys.clone();
    let placing = tokio::spawn(async move {
        futures_util::stream::iter(requests)
            .map(|key| {
                let api = api.clone();
                async move {
                    let reply = api.try_put_order(&order("USD", "1.00".into(), &key)).await;
                    (key, reply)
                }
            })
            .buffer_unordered(24)
            .collect::<Vec<_>>()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.stop_service("create_buy_order").await;
    let replies = placing.await.expect("the requests ran");

    // Orders committed before the exit were published before it.
    let write = cluster.write_pool().await;
    let outbox = "SELECT count(*) FROM buy_order_outbox";
    assert_eq!(
        count(&write, outbox).await,
        0,
        "nothing left waiting in the outbox"
    );
    let mut answered = Vec::new();
    for (key, reply) in &replies {
        // A refused connection (after the listener closed) is no answer.
        let Ok(reply) = reply else { continue };
        assert!(
            reply.status == 200 || reply.status == 503,
            "{key}: {} {}",
            reply.status,
            reply.text
        );
        if reply.status == 200 {
            answered.push(
                reply.json()["buy_order"]["id"]
                    .as_str()
                    .expect("id")
                    .to_owned(),
            );
        }
    }
    assert!(!answered.is_empty(), "requests in flight were finished");
    let stored = stored_ids(&write).await;
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order").await as usize,
        stored.len()
    );
    assert!(
        answered.iter().all(|id| stored.contains(id)),
        "every 200 is stored"
    );

    // Every client retries what got no 200: one order per key in the end.
    cluster.coinbase.set_mode(Mode::Ok);
    cluster.start_service("create_buy_order").await;
    let mut all = Vec::new();
    for key in &keys {
        let reply = cluster
            .api
            .put_order(&order("USD", "1.00".into(), key))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        all.push(
            reply.json()["buy_order"]["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 120);
    assert_eq!(cluster.wait_for_read_model(120).await, 120);
    let read = cluster.read_pool().await;
    assert_eq!(stored_ids(&read).await, sorted(all));
}

#[tokio::test]
async fn a_clean_stop_after_work_logs_no_error() {
    let mut cluster = Cluster::start().await;
    let reply = cluster.api.buy("USD", "10.00").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
    let page = cluster.api.get_orders("page_size=1").await;
    assert_eq!(page.status, 200, "{}", page.text);

    // An operator's alerts watch for errors: a deploy must not raise one.
    for service in [
        "create_buy_order",
        "read_model_sync",
        "fetch_buy_orders",
        "btc_price",
    ] {
        let log = cluster.stop_service(service).await;
        assert!(
            log.contains("\"message\":\"service_shut_down\""),
            "{service} logged its stop:\n{log}"
        );
        let errors: Vec<&str> = log
            .lines()
            .filter(|line| line.contains("\"level\":\"ERROR\""))
            .collect();
        assert!(
            errors.is_empty(),
            "{service} logged errors:\n{}",
            errors.join("\n")
        );
    }
}
