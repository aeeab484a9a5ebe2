//! fetch_buy_orders' HTTP face, run inside this process beside the migration
//! service it waits for, on fresh databases: the page parameters are checked
//! (422, 404) and an empty read model gives an empty page. Paging through
//! synced orders is `crates/e2e`'s.

use platform::schema;
use serde_json::json;
use testkit::in_process::{listening, upstream};
use testkit::settings::database_vars;
use testkit::{Api, InProcess, TestDatabase};

/// The service and what it needs, all dropped together.
struct Harness {
    api: Api,
    _databases: [TestDatabase; 2],
    _services: [InProcess; 2],
}

impl Harness {
    async fn start() -> Self {
        let write_model = TestDatabase::migrated(&schema::WRITE_MODEL).await;
        let read_model = TestDatabase::migrated(&schema::READ_MODEL).await;
        let mut databases = database_vars("WRITE_MODEL_DB", write_model.config());
        databases.extend(database_vars("READ_MODEL_DB", read_model.config()));
        let config = migration::Config::from_env(&listening(databases)).expect("config");
        let app = migration::App::build(config).await.expect("binding");
        let migration = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));

        let mut vars = database_vars("READ_MODEL_DB", read_model.config());
        // API keys are checked against the write model.
        vars.extend(database_vars("WRITE_MODEL_DB", write_model.config()));
        vars.extend(upstream("MIGRATION", &migration));
        let config = fetch_buy_orders::Config::from_env(&listening(vars)).expect("config");
        let app = fetch_buy_orders::App::build(config).await.expect("binding");
        let service = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));
        let service = service.wait_healthy().await;
        Self {
            api: Api::new(String::new(), service.url()),
            _databases: [write_model, read_model],
            _services: [service, migration],
        }
    }
}

#[tokio::test]
async fn page_parameters_are_checked() {
    let harness = Harness::start().await;
    for query in [
        "page_size=0",
        "page_size=101",
        "page_size=ten",
        "last_reference=42",
    ] {
        let reply = harness.api.get_orders(query).await;
        assert_eq!(reply.status, 422, "{query}: {}", reply.text);
        assert_eq!(reply.json()["detail"][0]["loc"][0], "query");
    }
    let unknown = uuid::Uuid::new_v4();
    let reply = harness
        .api
        .get_orders(&format!("last_reference={unknown}"))
        .await;
    assert_eq!(reply.status, 404, "{}", reply.text);

    let empty = harness.api.get_orders("").await;
    assert_eq!(empty.status, 200);
    assert_eq!(
        empty.json(),
        json!({"rows": [], "last_reference": null, "has_more": false})
    );
}
