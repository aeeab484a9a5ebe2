use std::time::Duration;

use testkit::TestDatabase;

#[tokio::test]
async fn connect_with_retry_waits_for_a_database_that_does_not_exist_yet() {
    let database = TestDatabase::not_yet_created();
    let mut config = database.config().clone();
    config.retry_wait = Duration::from_millis(100);

    let connecting = tokio::spawn(async move { config.connect_with_retry().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !connecting.is_finished(),
        "it connected to a database that does not exist"
    );

    database.create().await;
    let pool = tokio::time::timeout(Duration::from_secs(10), connecting)
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
