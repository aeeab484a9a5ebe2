//! Where the migration runs once as a job and exits (Kubernetes), the APIs
//! wait for the schema itself (`MIGRATIONS_GATE=schema`): unready, but alive,
//! until `migration apply` has run on their databases, then serving.

use std::time::Duration;

use reqwest::StatusCode;
use testkit::settings::database_vars;
use testkit::{Api, Cluster, TestDatabase};

async fn status(url: String) -> StatusCode {
    reqwest::get(url).await.expect("an answer").status()
}

#[tokio::test]
async fn with_the_schema_gate_the_apis_wait_for_migration_apply_then_serve() {
    let cluster = Cluster::start().await;
    let (write, read) = (TestDatabase::empty().await, TestDatabase::empty().await);
    let mut vars = database_vars("WRITE_MODEL_DB", write.config());
    vars.extend(database_vars("READ_MODEL_DB", read.config()));
    vars.push(("MIGRATIONS_GATE".into(), "schema".into()));
    let extra: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let create = cluster.launch_replica_with("create_buy_order", &extra);
    let fetch = cluster.launch_replica_with("fetch_buy_orders", &extra);

    tokio::time::sleep(Duration::from_secs(3)).await;
    for api in [&create, &fetch] {
        let unready = status(format!("{}/healthcheck/replica", api.url())).await;
        assert_eq!(
            unready,
            StatusCode::SERVICE_UNAVAILABLE,
            "ready before the schema"
        );
        let alive = status(format!("{}/healthcheck/live", api.url())).await;
        assert_eq!(alive, StatusCode::OK, "not alive while it waits");
    }

    let applied = cluster
        .run_command_with("migration", &["apply"], &extra)
        .await;
    let stdout = String::from_utf8_lossy(&applied.stdout);
    assert!(applied.status.success(), "migration apply: {applied:?}");
    assert!(stdout.contains("both schemas applied"), "{stdout}");

    let (create, fetch) = (create.wait_healthy().await, fetch.wait_healthy().await);
    let api = Api::new(create.url(), fetch.url());
    let created = api.buy("EUR", "10.00").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let page = api.get_orders("").await;
    assert_eq!(page.status, 200, "{}", page.text);
}
