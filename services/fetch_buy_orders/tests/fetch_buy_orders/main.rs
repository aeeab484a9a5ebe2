//! fetch_buy_orders' HTTP face, run inside this process beside the migration
//! service it waits for, on fresh databases: the page parameters are checked
//! (422, 404), an empty read model gives an empty page, pages asked for at
//! the same moment (read together) each get their own rows, and a read model
//! gone silent fails pages with 503 until it is back. Paging through synced
//! orders is `crates/e2e`'s.

use platform::schema;
use serde_json::json;
use std::time::{Duration, Instant};
use testkit::in_process::{listening, upstream};
use testkit::settings::database_vars;
use testkit::tcp_proxy::TcpProxy;
use testkit::{Api, InProcess, TestDatabase};

/// The service and what it needs, all dropped together.
struct Harness {
    api: Api,
    /// The write model and the read model.
    databases: [TestDatabase; 2],
    /// The service's way to the read model.
    read_model_link: TcpProxy,
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

        let mut through_link = read_model.config().clone();
        let read_model_link = TcpProxy::start(&through_link.host, through_link.port).await;
        (through_link.host, through_link.port) = ("127.0.0.1".into(), read_model_link.port());
        let mut vars = database_vars("READ_MODEL_DB", &through_link);
        // API keys are checked against the write model.
        vars.extend(database_vars("WRITE_MODEL_DB", write_model.config()));
        vars.extend(upstream("MIGRATION", &migration));
        let config = fetch_buy_orders::Config::from_env(&listening(vars)).expect("config");
        let app = fetch_buy_orders::App::build(config).await.expect("binding");
        let service = InProcess::spawn(app.local_addr().expect("bound"), |s| app.run(s));
        let service = service.wait_healthy().await;
        Self {
            api: Api::new(String::new(), service.url()),
            databases: [write_model, read_model],
            read_model_link,
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

#[tokio::test]
async fn pages_asked_for_at_once_each_get_their_own_rows() {
    let harness = Harness::start().await;
    let read_model = harness.databases[1].pool().await;
    // 40 orders, every fourth of client 2, two to a second (ties broken by id).
    sqlx::query(
        "INSERT INTO buy_order (id, external_id, client_id, created_at, currency_id, \
         currency_iso3, currency_amount, btc_rate, btc_amount) \
         SELECT n, gen_random_uuid(), CASE WHEN n % 4 = 0 THEN 2 ELSE 1 END, \
                timestamptz '2026-01-01' + (n / 2) * interval '1 second', \
                1, 'USD', 1.00, 48478.88, 0.00002063 \
         FROM generate_series(1, 40) AS n",
    )
    .execute(&read_model)
    .await
    .expect("orders inserted");
    let newest_first = |client: i64| {
        sqlx::query_scalar::<_, uuid::Uuid>(
            "SELECT external_id FROM buy_order WHERE client_id = $1 ORDER BY id DESC",
        )
        .bind(client)
        .fetch_all(&read_model)
    };
    let ours = newest_first(1).await.expect("client 1's orders");
    let theirs = newest_first(2).await.expect("client 2's orders");

    // Every page of client 1 at once: from the top and after each order, in
    // three sizes; and cursors that name no order of client 1.
    let mut pages = tokio::task::JoinSet::new();
    for size in [1, 3, 7] {
        for start in 0..=ours.len() {
            let after = start.checked_sub(1).map(|i| ours[i]);
            let query = match after {
                Some(id) => format!("page_size={size}&last_reference={id}"),
                None => format!("page_size={size}"),
            };
            let expected = ours[start..].iter().take(size).copied().collect::<Vec<_>>();
            let has_more = start + size < ours.len();
            let api = harness.api.clone();
            pages.spawn(async move {
                (
                    api.get_orders(&query).await,
                    query,
                    Some((expected, has_more)),
                )
            });
        }
    }
    for stranger in [theirs[0], uuid::Uuid::new_v4()] {
        let api = harness.api.clone();
        let query = format!("last_reference={stranger}");
        pages.spawn(async move { (api.get_orders(&query).await, query, None) });
    }
    while let Some(page) = pages.join_next().await {
        let (reply, query, expected) = page.expect("a request ran");
        let Some((expected, has_more)) = expected else {
            assert_eq!(reply.status, 404, "{query}: {}", reply.text);
            continue;
        };
        assert_eq!(reply.status, 200, "{query}: {}", reply.text);
        let body = reply.json();
        let ids: Vec<uuid::Uuid> = body["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|row| row["id"].as_str().expect("an id").parse().expect("a uuid"))
            .collect();
        assert_eq!(ids, expected, "{query}");
        assert_eq!(body["has_more"], has_more, "{query}");
    }
}

#[tokio::test]
async fn a_read_model_gone_silent_fails_pages_with_503_until_it_is_back() {
    let harness = Harness::start().await;
    // Pages at once, so that both readers hold connections of their own.
    let mut pages = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let api = harness.api.clone();
        pages.spawn(async move { api.get_orders("").await.status });
    }
    while let Some(status) = pages.join_next().await {
        assert_eq!(status.expect("a request ran"), 200);
    }

    // Packets dropped, connections left open: only the service's own bound
    // on a read (10 s) ends it, before the request's own (15 s). A page for
    // each reader, one after the other.
    harness.read_model_link.silence();
    let mut pages = tokio::task::JoinSet::new();
    for pause in [0, 300] {
        let api = harness.api.clone();
        pages.spawn(async move {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let asked = Instant::now();
            let status = api.get_orders("page_size=5").await.status;
            (status, asked.elapsed())
        });
    }
    let mut answered = Vec::new();
    while let Some(page) = pages.join_next().await {
        answered.push(page.expect("a request ran"));
    }
    for (status, waited) in answered {
        assert_eq!(status, 503);
        assert!(waited < Duration::from_secs(14), "{waited:?}");
    }

    // Back: connections that went silent are closed as they are found out,
    // and pages are served again, each answer a 200 or a 503 meanwhile.
    harness.read_model_link.restore();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let reply = harness.api.get_orders("").await;
        if reply.status == 200 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.text);
        assert!(Instant::now() < deadline, "pages did not come back");
    }
}
