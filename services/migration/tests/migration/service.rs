use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use testkit::settings::database_vars;
use testkit::{ServiceProcess, TestDatabase};

fn start(write: &TestDatabase, read: &TestDatabase) -> ServiceProcess {
    start_with(write, read, &[])
}

/// The migration service on `write` and `read`, with `extra` variables.
pub(crate) fn start_with(
    write: &TestDatabase,
    read: &TestDatabase,
    extra: &[(&str, &str)],
) -> ServiceProcess {
    let mut env = database_vars("WRITE_MODEL_DB", write.config());
    env.extend(database_vars("READ_MODEL_DB", read.config()));
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    ServiceProcess::start(std::path::Path::new(env!("CARGO_BIN_EXE_migration")), &env)
}

async fn applied_migrations(pool: &PgPool) -> Vec<(i64, String)> {
    sqlx::query_as("SELECT version, installed_on::text FROM _sqlx_migrations ORDER BY version")
        .fetch_all(pool)
        .await
        .expect("reading _sqlx_migrations")
}

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("counting rows")
}

async fn healthcheck(service: &ServiceProcess) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{}/healthcheck", service.url()))
        .await
        .expect("GET");
    (
        response.status(),
        response.json().await.expect("a JSON body"),
    )
}

#[tokio::test]
async fn applies_both_schemas_to_empty_databases() {
    let (write, read) = (TestDatabase::empty().await, TestDatabase::empty().await);
    let mut service = start(&write, &read).wait_healthy().await;

    let (write_pool, read_pool) = (write.pool().await, read.pool().await);
    let write_files = std::fs::read_dir("../../migrations/write_model")
        .expect("dir")
        .count();
    let read_files = std::fs::read_dir("../../migrations/read_model")
        .expect("dir")
        .count();
    assert_eq!(applied_migrations(&write_pool).await.len(), write_files);
    assert_eq!(applied_migrations(&read_pool).await.len(), read_files);
    for table in [
        "client",
        "currency",
        "buy_order",
        "btc_running_total",
        "idempotence_record",
        "buy_order_outbox",
    ] {
        count(&write_pool, table).await;
    }
    assert_eq!(count(&read_pool, "buy_order").await, 0);
    let currencies: Vec<(i16, String, i16)> =
        sqlx::query_as("SELECT id, iso3::text, dp FROM currency ORDER BY id")
            .fetch_all(&write_pool)
            .await
            .expect("currencies");
    let expected = [(1, "USD", 2), (2, "GBP", 2), (3, "EUR", 2)];
    assert_eq!(
        currencies,
        expected.map(|(id, iso3, dp)| (id, iso3.to_owned(), dp))
    );
    let client: i64 = sqlx::query_scalar("SELECT id FROM client")
        .fetch_one(&write_pool)
        .await
        .expect("client 1");
    assert_eq!(client, 1);
    assert!(
        service.terminate().await.success(),
        "exits cleanly on SIGTERM"
    );
}

#[tokio::test]
async fn a_restart_applies_nothing_twice() {
    let (write, read) = (TestDatabase::empty().await, TestDatabase::empty().await);
    let mut first = start(&write, &read).wait_healthy().await;
    assert!(first.terminate().await.success());
    let write_pool = write.pool().await;
    let before = applied_migrations(&write_pool).await;

    let mut second = start(&write, &read).wait_healthy().await;
    assert_eq!(
        applied_migrations(&write_pool).await,
        before,
        "nothing re-applied"
    );
    assert_eq!(count(&write_pool, "client").await, 1, "seed not repeated");
    assert_eq!(count(&write_pool, "currency").await, 3, "seed not repeated");
    assert_eq!(
        count(&write_pool, "btc_running_total").await,
        1,
        "one running total"
    );
    assert!(second.terminate().await.success());
}

#[tokio::test]
async fn healthcheck_is_503_until_both_databases_exist_and_are_migrated() {
    let write = TestDatabase::not_yet_created();
    let read = TestDatabase::not_yet_created();
    let service = start(&write, &read);

    let reason = wait_for_503_reason(&service).await;
    assert!(
        reason.contains("write_model_db"),
        "the reason names the database: {reason}"
    );

    write.create().await;
    let reason = wait_for_reason_containing(&service, "read_model_db").await;
    assert!(reason.contains("read_model_db"), "{reason}");

    read.create().await;
    let service = service.wait_healthy().await;
    let (status, body) = healthcheck(&service).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"status": "ok"}))
    );
    let read_files = std::fs::read_dir("../../migrations/read_model")
        .expect("dir")
        .count();
    assert_eq!(
        applied_migrations(&read.pool().await).await.len(),
        read_files
    );
}

async fn wait_for_503_reason(service: &ServiceProcess) -> String {
    wait_for_reason_containing(service, "").await
}

/// Polls the healthcheck until it is 503 with a reason containing `needle`.
async fn wait_for_reason_containing(service: &ServiceProcess, needle: &str) -> String {
    for _ in 0..200 {
        if let Ok(response) = reqwest::get(format!("{}/healthcheck", service.url())).await {
            assert_ne!(
                response.status(),
                StatusCode::OK,
                "healthy before its databases exist"
            );
            let body: Value = response.json().await.expect("a JSON body");
            let reason = body["detail"].as_str().unwrap_or_default().to_owned();
            if reason.contains(needle) && reason.starts_with("waiting") {
                return reason;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no 503 mentioning {needle:?}:\n{}", service.log());
}
