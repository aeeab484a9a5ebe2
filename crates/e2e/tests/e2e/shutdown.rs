//! Stopping a service (a scale-down, a deploy): what it had begun it
//! finishes, and nothing it accepted is lost or left waiting.

use std::time::Duration;

use futures_util::StreamExt;
use testkit::Cluster;
use testkit::fake_coinbase::Mode;
use uuid::Uuid;

use crate::{count, order, sorted, stored_ids};

/// Long enough to see the notice from outside on a slow machine.
const NOTICE_MS: &str = "3000";

/// `GET /healthcheck` of a process: its status and `status` field.
async fn healthcheck(url: &str) -> (u16, String) {
    let answer = reqwest::get(format!("{url}/healthcheck"))
        .await
        .expect("the healthcheck answers");
    let status = answer.status().as_u16();
    let body: serde_json::Value = answer.json().await.expect("a JSON body");
    (
        status,
        body["status"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Waits until `url`'s healthcheck says the process is stopping.
async fn wait_until_stopping(url: &str) {
    for _ in 0..100 {
        if healthcheck(url).await == (503, "stopping".to_owned()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{url} never reported that it is stopping");
}

#[tokio::test]
async fn a_stopping_replica_reports_unhealthy_first_and_serves_through_its_notice() {
    let cluster = Cluster::start().await;
    let notice = [("SHUTDOWN_NOTICE_MS", NOTICE_MS)];
    let mut replica = cluster
        .start_replica_with("fetch_buy_orders", &notice)
        .await;
    let api = cluster.api.clone();
    let replica_api = testkit::Api::new(cluster.service_url("create_buy_order"), replica.url());
    assert_eq!(api.buy("USD", "5.00").await.status, 200);

    replica.send_sigterm();
    wait_until_stopping(&replica.url()).await;
    let replica_check = format!("{}/healthcheck/replica", replica.url());
    let answer = reqwest::get(replica_check).await.expect("an answer");
    assert_eq!(
        answer.status(),
        503,
        "the ingress's check says stopping too"
    );
    // What a load balancer still sends during the notice is served.
    for _ in 0..5 {
        let page = replica_api.get_orders("page_size=1").await;
        assert_eq!(page.status, 200, "{}", page.text);
    }
    let exited = replica.exited().await;
    assert!(exited.success(), "{exited}");
    assert!(
        replica_api.try_get_orders("page_size=1").await.is_err(),
        "nothing listens after the exit"
    );
    let log = replica.log();
    assert!(log.contains("\"message\":\"readiness_withdrawn\""), "{log}");
}

#[tokio::test]
async fn while_a_btc_price_replica_stops_create_buy_order_stays_ready_and_takes_orders() {
    let mut cluster = Cluster::start_with(&[("SHUTDOWN_NOTICE_MS", NOTICE_MS)]).await;
    let btc_price = cluster.service_url("btc_price");
    cluster.send_sigterm("btc_price");
    wait_until_stopping(&btc_price).await;
    // btc_price's other replicas take over; this one is leaving, not failing.
    let create_buy_order = cluster.service_url("create_buy_order");
    assert_eq!(healthcheck(&create_buy_order).await, (200, "ok".to_owned()));
    let reply = cluster.api.buy("USD", "5.00").await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

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
