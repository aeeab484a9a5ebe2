use std::collections::HashSet;

use serde_json::Value;
use testkit::Cluster;

use crate::{all_placed, place_many, sorted, stored_ids};

/// Follows `last_reference` from the first page until a page is empty.
async fn all_pages(cluster: &Cluster, page_size: usize) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut query = format!("page_size={page_size}");
    loop {
        let reply = cluster.api.get_orders(&query).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let page = reply.json();
        let rows = page["rows"].as_array().expect("rows").clone();
        if rows.is_empty() {
            assert_eq!(page["last_reference"], Value::Null);
            assert_eq!(page["has_more"], false);
            return pages;
        }
        assert_eq!(
            page["last_reference"],
            rows[rows.len() - 1]["id"],
            "the last row's id"
        );
        let reference = page["last_reference"]
            .as_str()
            .expect("a reference")
            .to_owned();
        let has_more = page["has_more"].as_bool().expect("has_more");
        pages.push(rows);
        assert_eq!(has_more, pages.iter().map(Vec::len).sum::<usize>() < 1000);
        query = format!("page_size={page_size}&last_reference={reference}");
    }
}

#[tokio::test]
async fn a_thousand_orders_sync_once_and_page_back_newest_first() {
    let cluster = Cluster::start().await;
    let replies = place_many(&cluster, 1000, "1.00", 16).await;
    let placed = all_placed(&replies);
    assert_eq!(placed.len(), 1000, "every order was placed");

    assert_eq!(cluster.wait_for_read_model(1000).await, 1000);
    let read = cluster.read_pool().await;
    assert_eq!(
        stored_ids(&read).await,
        sorted(placed.clone()),
        "each order synced exactly once"
    );

    let pages = all_pages(&cluster, 7).await;
    assert_eq!(pages.len(), 143, "1000 rows at 7 a page");
    assert!(pages[..142].iter().all(|page| page.len() == 7));
    assert_eq!(pages[142].len(), 6);
    let rows: Vec<&Value> = pages.iter().flatten().collect();
    let ids: Vec<String> = rows
        .iter()
        .map(|row| row["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1000,
        "no order twice"
    );
    assert_eq!(sorted(ids.clone()), sorted(placed));
    let times: Vec<&str> = rows
        .iter()
        .map(|row| row["created_at"].as_str().expect("time"))
        .collect();
    // The expected order and contents come from the write model, the golden
    // source, not from the read model that served the pages.
    let write = cluster.write_pool().await;
    let written: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT o.external_id::text, c.iso3::text, o.currency_amount::text, \
                o.btc_rate::text, o.btc_amount::text \
         FROM buy_order o JOIN currency c ON c.id = o.currency_id \
         ORDER BY o.created_at DESC, o.id DESC",
    )
    .fetch_all(&write)
    .await
    .expect("the write model's orders");
    let served: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|row| {
            let text = |field: &str| row[field].as_str().expect(field).to_owned();
            let fields = [
                "id",
                "currency",
                "currency_amount",
                "btc_rate",
                "btc_amount",
            ];
            let [id, currency, amount, rate, btc] = fields.map(text);
            (id, currency, amount, rate, btc)
        })
        .collect();
    assert_eq!(
        served, written,
        "newest first, ties by the write model's id, each as the write model holds it"
    );
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "created_at never rises"
    );
}

#[tokio::test]
async fn the_default_page_is_ten_and_has_more_says_whether_another_follows() {
    let cluster = Cluster::start().await;
    let placed = all_placed(&place_many(&cluster, 12, "2.00", 4).await);
    assert_eq!(cluster.wait_for_read_model(12).await, 12);

    let first = cluster.api.get_orders("").await.json();
    assert_eq!(first["rows"].as_array().map(Vec::len), Some(10));
    assert_eq!(first["has_more"], true);
    let reference = first["last_reference"].as_str().expect("a reference");
    let second = cluster
        .api
        .get_orders(&format!("last_reference={reference}"))
        .await
        .json();
    assert_eq!(second["rows"].as_array().map(Vec::len), Some(2));
    assert_eq!(second["has_more"], false);
    let row = &second["rows"][0];
    assert_eq!(row["currency_amount"], "2.00");
    assert!(placed.contains(&row["id"].as_str().expect("id").to_owned()));
}
