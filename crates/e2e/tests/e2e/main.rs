//! The cluster end to end: what a client of `PUT /buy_order` and
//! `GET /buy_orders` sees, and what survives faults.

mod blackbox;
mod clients;
mod concurrency;
mod create;
mod faults;
mod follow_order;
mod limits;
mod logging;
mod metrics;
mod migrations_gate;
mod paging;
mod price;
mod publishing;
mod queue;
mod repair;
mod self_description;
mod settings;
mod shutdown;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::Cluster;
use testkit::Reply;

/// A create body with the given key.
fn order(currency: &str, amount: Value, key: &str) -> Value {
    json!({"currency": currency, "amount": amount, "idempotence_key": key})
}

/// Places `count` orders of `amount` USD, `concurrency` at a time.
async fn place_many(
    cluster: &Cluster,
    count: usize,
    amount: &str,
    concurrency: usize,
) -> Vec<Reply> {
    futures_util::stream::iter(0..count)
        .map(|_| cluster.api.buy("USD", amount))
        .buffer_unordered(concurrency)
        .collect()
        .await
}

/// The external ids of the orders, all of which must have been answered 200.
fn all_placed(replies: &[Reply]) -> Vec<String> {
    if let Some(failed) = replies.iter().find(|reply| reply.status != 200) {
        panic!("an order was not placed: {} {}", failed.status, failed.text);
    }
    placed_ids(replies)
}

/// The external id of the order of a reply, which must be a 200.
fn placed_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["buy_order"]["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

/// The external ids of the orders that were answered 200.
fn placed_ids(replies: &[Reply]) -> Vec<String> {
    replies
        .iter()
        .filter(|reply| reply.status == 200)
        .map(|reply| {
            reply.json()["buy_order"]["id"]
                .as_str()
                .expect("an id")
                .to_owned()
        })
        .collect()
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql)
}

/// Counts until the count is `expected` (for up to ten seconds), and returns
/// the last count: for what settles after the read model has caught up, such
/// as the outbox, whose rows go once their publish is confirmed.
async fn count_settling_at(pool: &PgPool, sql: &str, expected: i64) -> i64 {
    let mut last = count(pool, sql).await;
    for _ in 0..100 {
        if last == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        last = count(pool, sql).await;
    }
    last
}

/// The external ids in a model's buy_order table, sorted.
async fn stored_ids(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("SELECT external_id::text FROM buy_order ORDER BY external_id")
        .fetch_all(pool)
        .await
        .expect("listing orders")
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The sum of the samples on a service's `/metrics` whose lines `matches`
/// picks (0 when there are none).
async fn metric_sum(cluster: &Cluster, service: &str, matches: impl Fn(&str) -> bool) -> f64 {
    testkit::metrics::metric_sum(&cluster.service_url(service), matches).await
}

/// A connection and a channel of its own on the cluster's broker.
async fn broker_channel(cluster: &Cluster) -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(&cluster.queue.uri(), Default::default())
        .await
        .expect("connecting to RabbitMQ");
    let channel = connection.create_channel().await.expect("a channel");
    (connection, channel)
}
