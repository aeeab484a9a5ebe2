use std::time::Duration;

use platform::postgres::{HeldConnection, HeldConnections};
use sqlx::postgres::PgPoolOptions;
use testkit::TestDatabase;

#[tokio::test]
async fn a_lazy_pool_waits_until_its_database_exists() {
    let database = TestDatabase::not_yet_created();
    let mut config = database.config().clone();
    config.retry_wait = Duration::from_millis(100);
    let pool = config.connect_lazy();

    let waiting = pool.clone();
    let connecting = tokio::spawn(async move {
        config.wait_until_reachable(&waiting).await;
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !connecting.is_finished(),
        "it connected to a database that does not exist"
    );

    database.create().await;
    tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .expect("connects once the database exists")
        .expect("the task");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .expect("a query");
    assert_eq!(one, 1);
    pool.close().await;
}

/// A connection as the pool hands it out: its server process, and how it
/// plans statements.
async fn backend(pool: &sqlx::PgPool) -> Result<(i32, String), sqlx::Error> {
    sqlx::query_as("SELECT pg_backend_pid(), current_setting('plan_cache_mode')")
        .fetch_one(pool)
        .await
}

/// Ends the connection served by `backend`, as a restarted server would, then
/// waits long enough for an idle connection to be tested before its next use.
async fn end_then_sit_idle(admin: &sqlx::PgPool, backend: i32) {
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(backend)
        .execute(admin)
        .await
        .expect("ending the connection");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
}

#[tokio::test]
async fn a_connection_the_server_dropped_while_it_sat_idle_is_replaced_before_use() {
    let database = TestDatabase::empty().await;
    let mut config = database.config().clone();
    config.pool_size = 1;
    let pool = config.connect().await.expect("a pool");
    let (dropped, _) = backend(&pool).await.expect("a query");

    let admin = database.pool().await;
    end_then_sit_idle(&admin, dropped).await;

    let (replacement, _) = backend(&pool)
        .await
        .expect("the next query runs, on a new connection");
    assert_ne!(replacement, dropped);
    pool.close().await;
    admin.close().await;
}

#[tokio::test]
async fn a_pool_planning_once_plans_each_statement_once_for_all_its_runs() {
    let database = TestDatabase::empty().await;
    let chosen_by_postgres = database.pool().await;
    let planning_once = database.config().clone().planning_once();
    let planning_once = planning_once.connect().await.expect("a pool");

    let (_, mode) = backend(&chosen_by_postgres).await.expect("a query");
    assert_eq!(mode, "auto");
    let (_, mode) = backend(&planning_once).await.expect("a query");
    assert_eq!(mode, "force_generic_plan");
    chosen_by_postgres.close().await;
    planning_once.close().await;
}

#[tokio::test]
async fn no_statement_is_compiled_to_machine_code_however_dear_its_plan_looks() {
    let database = TestDatabase::empty().await;
    let pool = database.config().connect().await.expect("a pool");
    let mut connection = pool.acquire().await.expect("a connection");
    // Every plan now passes the bar for compiling it, as a generic plan on a
    // table of a million rows did.
    sqlx::query("SET jit_above_cost = 0")
        .execute(&mut *connection)
        .await
        .expect("a setting");
    let plan: Vec<String> =
        sqlx::query_scalar("EXPLAIN (ANALYZE) SELECT sum(n) FROM generate_series(1, 1000) AS n")
            .fetch_all(&mut *connection)
            .await
            .expect("a plan");
    assert!(
        !plan.iter().any(|line| line.starts_with("JIT")),
        "{plan:#?}"
    );
    drop(connection);
    pool.close().await;
}

/// The backend serving `connection`.
async fn backend_of(connection: &mut sqlx::PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(connection)
        .await
        .expect("a query")
}

#[tokio::test]
async fn a_held_connection_is_kept_between_uses_and_replaced_when_the_server_dropped_it() {
    let database = TestDatabase::empty().await;
    let pool = database.config().connect().await.expect("a pool");
    let mut held = HeldConnection::new(pool.clone());
    let first = backend_of(held.get().await.expect("a connection")).await;
    assert_eq!(
        backend_of(held.get().await.expect("a connection")).await,
        first,
        "the same connection serves the next use"
    );

    let admin = database.pool().await;
    end_then_sit_idle(&admin, first).await;
    let replacement = backend_of(held.get().await.expect("a new connection")).await;
    assert_ne!(replacement, first);
    drop(held);
    pool.close().await;
    admin.close().await;
}

#[tokio::test]
async fn a_discarded_connection_is_closed_with_its_transaction_and_its_locks() {
    let database = TestDatabase::empty().await;
    let pool = database.config().connect().await.expect("a pool");
    sqlx::query("CREATE TABLE total (btc numeric)")
        .execute(&pool)
        .await
        .expect("a table");
    sqlx::query("INSERT INTO total VALUES (0)")
        .execute(&pool)
        .await
        .expect("a row");
    let mut held = HeldConnection::new(pool.clone());
    let connection = held.get().await.expect("a connection");
    // A transaction sqlx does not know of, holding a row lock, as a failed
    // `begin_with` may leave behind.
    sqlx::raw_sql("BEGIN; SELECT btc FROM total FOR UPDATE")
        .execute(&mut *connection)
        .await
        .expect("the lock");
    held.discard();

    let mut other = pool.begin().await.expect("a transaction");
    sqlx::query("SET LOCAL lock_timeout = '5s'")
        .execute(&mut *other)
        .await
        .expect("a bound on the wait");
    sqlx::query("SELECT btc FROM total FOR UPDATE")
        .execute(&mut *other)
        .await
        .expect("the lock is free: the discarded connection was closed, not pooled");
    other.rollback().await.expect("a rollback");
    pool.close().await;
}

/// A pool of one connection, whose requests wait at most `wait` for it.
async fn pool_of_one(database: &TestDatabase, wait: Duration) -> sqlx::PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(wait)
        .connect_with(database.config().connect_options())
        .await
        .expect("a pool")
}

#[tokio::test]
async fn a_lent_connection_given_back_is_lent_again_and_one_dropped_midway_is_closed() {
    let database = TestDatabase::empty().await;
    let pool = pool_of_one(&database, Duration::from_secs(5)).await;
    let held = HeldConnections::new(&pool);
    let mut lent = held.lend().await.expect("a connection");
    let first = backend_of(lent.get().await.expect("open")).await;
    lent.give_back();

    let mut lent = held.lend().await.expect("a connection");
    let again = backend_of(lent.get().await.expect("open")).await;
    assert_eq!(again, first, "given back, it serves the next request");
    // As a request dropped inside a query drops it: never given back.
    drop(lent);

    let mut lent = held.lend().await.expect("a connection");
    let next = backend_of(lent.get().await.expect("a new one")).await;
    assert_ne!(next, first, "the one not given back was closed");
    lent.give_back();
    held.ping().await.expect("the new one answers");
    drop(held);
    pool.close().await;
}

#[tokio::test]
async fn a_request_waits_for_a_lent_connection_and_fails_when_none_comes_back_in_time() {
    let database = TestDatabase::empty().await;
    let pool = pool_of_one(&database, Duration::from_secs(1)).await;
    let held = HeldConnections::new(&pool);
    let lent = held.lend().await.expect("the one connection");
    let refused = held.lend().await.err().expect("none is free");
    assert!(matches!(refused, sqlx::Error::PoolTimedOut), "{refused}");

    let give_back_soon = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        lent.give_back();
    };
    let (waited, ()) = tokio::join!(held.lend(), give_back_soon);
    let mut waited = waited.expect("the connection given back");
    waited.get().await.expect("open");
    waited.give_back();
    drop(held);
    pool.close().await;
}
