//! A session that holds the running total (a psql left inside a
//! transaction) cannot stall creates without limit: they answer 503 once
//! the lock timeout passes, store nothing, and go through once it is let go.

use serde_json::json;
use sqlx::Connection;
use uuid::Uuid;

use crate::{Harness, count};

#[tokio::test]
async fn a_held_running_total_makes_creates_503_until_it_is_released() {
    let harness = Harness::start().await;
    let write = harness.write_pool().await;
    let options = harness.write_model.config().connect_options();
    let mut holder = sqlx::PgConnection::connect_with(&options)
        .await
        .expect("a session");
    let mut held = holder.begin().await.expect("a transaction");
    sqlx::query("SELECT btc_amount FROM btc_running_total FOR UPDATE")
        .execute(&mut *held)
        .await
        .expect("holding the running total");

    let key = Uuid::new_v4().to_string();
    let body = json!({"currency": "USD", "amount": "5.00", "idempotence_key": key});
    let stalled = harness.api.put_order(&body).await;
    assert_eq!(stalled.status, 503, "{}", stalled.text);
    let detail = stalled.json()["detail"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(detail.contains("retry"), "{detail}");
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);

    held.rollback().await.expect("letting go");
    let placed = harness.api.put_order(&body).await;
    assert_eq!(placed.status, 200, "{}", placed.text);
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}
