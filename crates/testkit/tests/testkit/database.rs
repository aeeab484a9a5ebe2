use platform::schema;
use testkit::TestDatabase;

async fn exists(name: &str) -> bool {
    let admin = testkit::settings::postgres()
        .with_name("postgres")
        .connect()
        .await
        .expect("admin");
    sqlx::query_scalar::<_, bool>("SELECT exists (SELECT FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(&admin)
        .await
        .expect("looking up the database")
}

#[tokio::test]
async fn each_test_database_is_fresh_migrated_and_dropped_afterwards() {
    let database = TestDatabase::migrated(&schema::READ_MODEL).await;
    let name = database.name().to_owned();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM buy_order")
        .fetch_one(&database.pool().await)
        .await
        .expect("the read model's table exists");
    assert_eq!(rows, 0);
    assert!(exists(&name).await);

    drop(database);
    assert!(!exists(&name).await, "{name} was dropped");
}
