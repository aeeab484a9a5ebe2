use platform::schema;
use sqlx::postgres::PgDatabaseError;
use sqlx::{PgPool, Row};
use testkit::TestDatabase;
use uuid::Uuid;

/// Inserts an order of `btc` BTC for client 1 in USD.
async fn insert_order(pool: &PgPool, btc: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO buy_order (external_id, client_id, currency_id, currency_amount, btc_rate, btc_amount)
         VALUES ($1, 1, 1, 100.00, 48478.88, $2::numeric) RETURNING id",
    )
    .bind(Uuid::new_v4())
    .bind(btc)
    .fetch_one(pool)
    .await
}

async fn running_total(pool: &PgPool) -> String {
    sqlx::query("SELECT btc_amount::text FROM btc_running_total")
        .fetch_one(pool)
        .await
        .expect("the running total")
        .get(0)
}

fn database_error(error: sqlx::Error) -> Box<PgDatabaseError> {
    match error {
        sqlx::Error::Database(error) => error.downcast(),
        other => panic!("expected a database error, got {other}"),
    }
}

#[tokio::test]
async fn buy_orders_cannot_be_updated_deleted_or_truncated() {
    let database = TestDatabase::migrated(&schema::WRITE_MODEL).await;
    let pool = database.pool().await;
    let id = insert_order(&pool, "0.5").await.expect("an order");

    for statement in [
        format!("UPDATE buy_order SET btc_amount = 0.1 WHERE id = {id}"),
        format!("DELETE FROM buy_order WHERE id = {id}"),
        "TRUNCATE buy_order CASCADE".to_owned(),
    ] {
        let error = database_error(
            sqlx::query(&statement)
                .execute(&pool)
                .await
                .expect_err(&statement),
        );
        assert_eq!(error.code(), "23001", "{statement}: {}", error.message());
        assert!(error.message().contains("immutable"), "{}", error.message());
    }
    let amount: String = sqlx::query_scalar("SELECT btc_amount::text FROM buy_order")
        .fetch_one(&pool)
        .await
        .expect("the order is still there");
    assert_eq!(amount, "0.50000000");
}

#[tokio::test]
async fn every_order_counts_against_the_running_total() {
    let database = TestDatabase::migrated(&schema::WRITE_MODEL).await;
    let pool = database.pool().await;
    assert_eq!(running_total(&pool).await, "0.00000000");
    insert_order(&pool, "0.00254647").await.expect("an order");
    insert_order(&pool, "1.5").await.expect("an order");
    assert_eq!(running_total(&pool).await, "1.50254647");
}

#[tokio::test]
async fn the_running_total_never_exceeds_100_btc() {
    let database = TestDatabase::migrated(&schema::WRITE_MODEL).await;
    let pool = database.pool().await;
    insert_order(&pool, "99.99999999")
        .await
        .expect("just under the limit");
    let error = database_error(
        insert_order(&pool, "0.00000002")
            .await
            .expect_err("crosses 100"),
    );
    assert_eq!(error.code(), "23514", "a check violation");
    assert_eq!(error.constraint(), Some("btc_running_total_within_limit"));
    insert_order(&pool, "0.00000001")
        .await
        .expect("exactly 100 is allowed");
    assert_eq!(running_total(&pool).await, "100.00000000");

    let direct = sqlx::query("UPDATE btc_running_total SET btc_amount = 100.00000001")
        .execute(&pool)
        .await
        .expect_err("the total itself cannot be set above 100");
    assert_eq!(
        database_error(direct).constraint(),
        Some("btc_running_total_within_limit")
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM buy_order")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(orders, 2, "the refused order left no row");
}
