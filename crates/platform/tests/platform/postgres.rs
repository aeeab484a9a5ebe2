use std::time::Duration;

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
