//! Each service's login can do its own work and nothing more: the write
//! side cannot update or delete orders, idempotence records or the running
//! total (so not lift the cap), the read side cannot touch the write model.

use platform::postgres::DatabaseConfig;
use sqlx::PgPool;
use testkit::TestDatabase;
use testkit::names::unique;
use testkit::settings::database_vars;
use uuid::Uuid;

use crate::service::start_with;

const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// The SQLSTATE `sql` fails with as `pool`'s login, or `None` if it runs.
async fn refusal(pool: &PgPool, sql: &str) -> Option<String> {
    match sqlx::query(sql).execute(pool).await {
        Ok(_) => None,
        Err(error) => Some(
            error
                .as_database_error()
                .and_then(|e| e.code())
                .map_or_else(|| error.to_string(), |code| code.into_owned()),
        ),
    }
}

async fn as_login(database: &TestDatabase, user: &str) -> PgPool {
    let mut config: DatabaseConfig = database.config().clone();
    config.user = user.to_owned();
    let mut vars = database_vars("DB", &config);
    vars.retain(|(name, _)| name != "DB_PWD");
    vars.push(("DB_PWD".into(), "test-only-password".into()));
    let env = platform::config::Env::from_pairs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let config = DatabaseConfig::from_env(&env, "DB").expect("a config");
    config.connect().await.expect("logging in as the service")
}

const INSERT_ORDER: &str = "INSERT INTO buy_order (external_id, client_id, currency_id, \
     currency_amount, btc_rate, btc_amount) VALUES (gen_random_uuid(), 1, 1, 1.00, 50000, 0.00002)";

#[tokio::test]
async fn each_service_login_may_do_its_own_work_and_nothing_more() {
    let (write, read) = (TestDatabase::empty().await, TestDatabase::empty().await);
    let [create, sync, fetch] =
        ["create", "sync", "fetch"].map(|who| unique(&format!("rsdist_{who}")));
    let mut service = start_with(
        &write,
        &read,
        &[
            ("CREATE_BUY_ORDER_DB_USER", &create),
            ("READ_MODEL_SYNC_DB_USER", &sync),
            ("FETCH_BUY_ORDERS_DB_USER", &fetch),
            ("CREATE_BUY_ORDER_DB_PWD", "test-only-password"),
            ("READ_MODEL_SYNC_DB_PWD", "test-only-password"),
            ("FETCH_BUY_ORDERS_DB_PWD", "test-only-password"),
        ],
    )
    .wait_healthy()
    .await;

    let writer = as_login(&write, &create).await;
    let mut tx = writer.begin().await.expect("a transaction");
    let locked: rust_decimal::Decimal = sqlx::query_scalar("SELECT lock_btc_running_total()")
        .fetch_one(&mut *tx)
        .await
        .expect("the writer takes the running total's lock");
    assert!(locked.is_zero());
    sqlx::query(INSERT_ORDER)
        .execute(&mut *tx)
        .await
        .expect("the writer inserts an order");
    tx.commit().await.expect("committed");
    let total: String = sqlx::query_scalar("SELECT btc_amount::text FROM btc_running_total")
        .fetch_one(&writer)
        .await
        .expect("the writer reads the total");
    assert_eq!(total, "0.00002000", "the trigger counted the order");
    for forbidden in [
        "UPDATE btc_running_total SET btc_amount = 0",
        "DELETE FROM btc_running_total",
        "UPDATE buy_order SET btc_amount = 0",
        "DELETE FROM buy_order",
        "DELETE FROM idempotence_record",
        "UPDATE idempotence_record SET currency_amount = 1",
        "TRUNCATE buy_order_outbox",
        "CREATE TABLE sneaky (id int)",
    ] {
        assert_eq!(
            refusal(&writer, forbidden).await.as_deref(),
            Some(INSUFFICIENT_PRIVILEGE),
            "create_buy_order: {forbidden}"
        );
    }

    let sync_write = as_login(&write, &sync).await;
    let sync_read = as_login(&read, &sync).await;
    assert_eq!(
        refusal(&sync_write, "SELECT count(*) FROM buy_order").await,
        None
    );
    assert_eq!(
        refusal(&sync_write, INSERT_ORDER).await.as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    let insert_read = format!(
        "INSERT INTO buy_order VALUES (1, '{}', 1, now(), 1, 'USD', 1.00, 50000, 0.00002) \
         ON CONFLICT DO NOTHING",
        Uuid::new_v4()
    );
    assert_eq!(refusal(&sync_read, &insert_read).await, None);
    assert_eq!(
        refusal(&sync_read, "DELETE FROM buy_order")
            .await
            .as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );

    let reader = as_login(&read, &fetch).await;
    assert_eq!(
        refusal(&reader, "SELECT count(*) FROM buy_order").await,
        None
    );
    assert_eq!(
        refusal(&reader, &insert_read).await.as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );
    let reader_on_write = as_login(&write, &fetch).await;
    assert_eq!(
        refusal(&reader_on_write, "SELECT count(*) FROM idempotence_record")
            .await
            .as_deref(),
        Some(INSUFFICIENT_PRIVILEGE)
    );

    // Each may see which migrations were applied (MIGRATIONS_GATE=schema).
    for pool in [&writer, &sync_write, &sync_read, &reader, &reader_on_write] {
        assert_eq!(
            refusal(pool, "SELECT max(version) FROM _sqlx_migrations").await,
            None
        );
    }
    for pool in [writer, sync_write, sync_read, reader, reader_on_write] {
        pool.close().await;
    }
    assert!(service.terminate().await.success());
    drop_logins(&write, &[&create, &sync, &fetch]).await;
}

/// Roles belong to the whole server: remove the test's.
async fn drop_logins(database: &TestDatabase, users: &[&str]) {
    let admin = database.pool().await;
    for user in users {
        let drop: String = sqlx::query_scalar("SELECT format('DROP ROLE IF EXISTS %I', $1::text)")
            .bind(user)
            .fetch_one(&admin)
            .await
            .expect("quoting");
        sqlx::raw_sql(&drop)
            .execute(&admin)
            .await
            .expect("dropping the login");
    }
}
