//! What a client sees through the two public APIs alone, with no access to
//! processes or databases. These also run against a cluster that is already
//! up (`./test.sh --cluster`, e.g. under docker compose), where other
//! clients' orders may interleave with ours, so they only assert what holds
//! whatever else is in the cluster. `./test.sh` also runs them against a
//! cluster with `AUTH_REQUIRED=false`, sending no key, as the original's
//! clients do.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use domain::{BtcRate, Currency, FiatAmount, btc_for};
use serde_json::{Value, json};
use testkit::{Api, Cluster};
use uuid::Uuid;

use crate::placed_id;

/// The API under test, and the cluster behind it if this test started one.
/// With `RSDIST_E2E_AUTH_REQUIRED=false` the cluster runs with
/// `AUTH_REQUIRED=false` and the requests carry no key, as the original's
/// clients send none.
async fn target() -> (Api, Option<Cluster>) {
    if std::env::var("RSDIST_E2E_TARGET").as_deref() == Ok("published") {
        return (Api::published(), None);
    }
    if std::env::var("RSDIST_E2E_AUTH_REQUIRED").as_deref() == Ok("false") {
        let cluster = Cluster::start_with(&[("AUTH_REQUIRED", "false")]).await;
        return (cluster.api.clone().with_key(None), Some(cluster));
    }
    let cluster = Cluster::start().await;
    (cluster.api.clone(), Some(cluster))
}

/// Pages from the newest order until every id in `wanted` was seen; returns
/// the rows in the order served. The orders were just placed, so they are
/// near the top: each look reads at most 20 pages, however long the list.
async fn rows_until_found(api: &Api, wanted: &HashSet<String>, page_size: usize) -> Vec<Value> {
    for _ in 0..100 {
        let mut rows = Vec::new();
        let mut query = format!("page_size={page_size}");
        for _ in 0..20 {
            let page = api.get_orders(&query).await;
            assert_eq!(page.status, 200, "{}", page.text);
            let page = page.json();
            let served = page["rows"].as_array().cloned().unwrap_or_default();
            if served.is_empty() {
                break;
            }
            rows.extend(served);
            let seen: HashSet<_> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
            if wanted.iter().all(|id| seen.contains(id.as_str())) {
                return rows;
            }
            let reference = page["last_reference"].as_str().expect("a reference");
            query = format!("page_size={page_size}&last_reference={reference}");
        }
        // The read model is eventually consistent: look again shortly.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("orders {wanted:?} never appeared in GET /buy_orders");
}

#[tokio::test]
async fn orders_are_priced_exactly_and_listed_newest_first() {
    let (api, _cluster) = target().await;
    let mut ids = Vec::new();
    for (currency, amount) in [("EUR", "12.34"), ("GBP", "0.01"), ("USD", "999.99")] {
        let reply = api.buy(currency, amount).await;
        let placed = reply.json()["buy_order"].clone();
        ids.push(placed_id(&reply));
        let currency = Currency::from_str(currency).expect("a currency");
        let rate = BtcRate::parse(placed["btc_rate"].as_str().expect("a rate")).expect("positive");
        let expected =
            btc_for(FiatAmount::parse(amount, currency).expect("valid"), rate).expect("fits");
        assert_eq!(
            placed["btc_amount"],
            expected.to_string(),
            "amount / rate rounded up"
        );
        assert_eq!(placed["currency_amount"], amount);
        assert_eq!(
            placed["created_at"].as_str().map(str::len),
            Some(27),
            "{placed}"
        );
    }
    let rows = rows_until_found(&api, &ids.iter().cloned().collect(), 10).await;
    let positions: Vec<usize> = ids
        .iter()
        .map(|id| {
            rows.iter()
                .position(|r| r["id"] == id.as_str())
                .expect("listed")
        })
        .collect();
    assert!(
        positions.windows(2).all(|p| p[0] > p[1]),
        "newest first: {positions:?}"
    );
    let listed = &rows[positions[0]];
    for field in [
        "id",
        "created_at",
        "currency",
        "currency_amount",
        "btc_rate",
        "btc_amount",
    ] {
        assert!(listed.get(field).is_some(), "{field} in {listed}");
    }
}

#[tokio::test]
async fn a_replay_is_identical_and_a_reused_key_is_refused() {
    let (api, _cluster) = target().await;
    let key = Uuid::new_v4().to_string();
    let body = json!({"currency": "USD", "amount": "3.21", "idempotence_key": key});
    let first = api.put_order(&body).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let again = api.put_order(&body).await;
    assert_eq!(
        (again.status, again.replayed, &again.text),
        (first.status, true, &first.text)
    );
    let other = json!({"currency": "USD", "amount": "3.22", "idempotence_key": key});
    let refused = api.put_order(&other).await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.json()["code"], "idempotence_key_reused");
}

#[tokio::test]
async fn invalid_requests_are_422_with_the_faulty_field() {
    let (api, _cluster) = target().await;
    let key = Uuid::new_v4().to_string();
    for (body, field) in [
        (
            json!({"currency": "usd", "amount": "1.00", "idempotence_key": key}),
            "currency",
        ),
        (
            json!({"currency": "USD", "amount": "123.456", "idempotence_key": key}),
            "amount",
        ),
        (
            json!({"currency": "USD", "amount": "0", "idempotence_key": key}),
            "amount",
        ),
        (
            json!({"currency": "USD", "amount": "1.00"}),
            "idempotence_key",
        ),
    ] {
        let reply = api.put_order(&body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        assert_eq!(
            reply.json()["detail"][0]["loc"],
            json!(["body", field]),
            "{body}"
        );
    }
    let malformed = api.put_raw(Some("application/json"), b"{".to_vec()).await;
    assert_eq!(malformed.status, 422);
    for query in ["page_size=0", "page_size=101", "last_reference=nope"] {
        assert_eq!(api.get_orders(query).await.status, 422, "{query}");
    }
    let unknown = api
        .get_orders(&format!("last_reference={}", Uuid::new_v4()))
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn paging_walks_every_order_once_newest_first() {
    let (api, _cluster) = target().await;
    let mut ids = HashSet::new();
    for _ in 0..12 {
        ids.insert(placed_id(&api.buy("GBP", "1.50").await));
    }
    let rows = rows_until_found(&api, &ids, 5).await;
    let served: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        served.iter().collect::<HashSet<_>>().len(),
        served.len(),
        "no order twice"
    );
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["created_at"].as_str())
        .collect();
    assert!(
        times.windows(2).all(|t| t[0] >= t[1]),
        "created_at never rises"
    );
}

#[tokio::test]
async fn each_public_api_serves_its_document_its_docs_page_and_its_metrics() {
    let (api, _cluster) = target().await;
    // A request first, so that the request counters have something to show.
    assert_eq!(api.get_orders("page_size=1").await.status, 200);
    let http = reqwest::Client::new();
    for (base, operation) in api
        .base_urls()
        .into_iter()
        .zip(["/buy_order", "/buy_orders"])
    {
        let get = |path: &str| http.get(format!("{base}{path}")).send();
        let document: Value = get("/openapi.json")
            .await
            .expect("openapi.json")
            .json()
            .await
            .expect("JSON");
        assert!(
            document["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{base}"
        );
        assert!(
            document["paths"][operation].is_object(),
            "{base}: no {operation}"
        );
        for (path, expected) in [
            ("/docs/", "swagger-ui-bundle.js"),
            ("/metrics", "http_requests_total{"),
        ] {
            let response = get(path).await.expect(path);
            assert_eq!(response.status(), 200, "{base}{path}");
            let text = response.text().await.expect("the body");
            assert!(text.contains(expected), "{base}{path}: {text}");
        }
    }
}
