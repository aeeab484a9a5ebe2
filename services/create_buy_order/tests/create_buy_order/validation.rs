//! Every invalid request is refused before any work: 422 at the faulty field,
//! 413 for a body too large, and nothing stored or priced.

use serde_json::{Value, json};

use crate::{Harness, count};

const KEY: &str = "5fa733ae-82b4-4ac0-8478-35ff30dae879";

/// A create body.
fn order(currency: &str, amount: Value, key: &str) -> Value {
    json!({"currency": currency, "amount": amount, "idempotence_key": key})
}

/// The `loc` of each entry of a 422 body.
fn locations(body: &Value) -> Vec<Vec<String>> {
    let detail = body["detail"].as_array().expect("a list of faults");
    detail
        .iter()
        .map(|fault| {
            assert!(
                fault["msg"].as_str().is_some_and(|m| !m.is_empty()),
                "{fault}"
            );
            assert!(fault["type"].as_str().is_some(), "{fault}");
            let loc = fault["loc"].as_array().expect("a loc");
            loc.iter()
                .map(|part| part.as_str().expect("text").to_owned())
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn each_invalid_request_is_422_at_the_faulty_field_and_stores_nothing() {
    let cluster = Harness::start().await;
    let price_calls = cluster.coinbase.stats().requests;
    let body_at = |field: &str| vec![vec!["body".to_owned(), field.to_owned()]];
    let cases = [
        (order("XXX", json!("1.00"), KEY), body_at("currency")),
        (order("usd", json!("1.00"), KEY), body_at("currency")),
        (order("USD", json!("0"), KEY), body_at("amount")),
        (order("USD", json!("-5.00"), KEY), body_at("amount")),
        (order("USD", json!("1000000000"), KEY), body_at("amount")),
        (order("USD", json!("123.456"), KEY), body_at("amount")),
        (order("USD", json!(123.456), KEY), body_at("amount")),
        // Too large for a decimal at all (it once panicked, found by schemathesis).
        (order("USD", json!(1e30), KEY), body_at("amount")),
        (order("USD", json!("abc"), KEY), body_at("amount")),
        (
            json!({"currency": "USD", "amount": "1.00"}),
            body_at("idempotence_key"),
        ),
        (
            order("USD", json!("1.00"), "not-a-uuid"),
            body_at("idempotence_key"),
        ),
    ];
    for (body, expected) in cases {
        let reply = cluster.api.put_order(&body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text);
        assert_eq!(locations(&reply.json()), expected, "{body}");
    }
    for (content_type, raw) in [
        (
            Some("application/json"),
            b"{\"currency\": \"USD\",".to_vec(),
        ),
        (Some("application/json"), Vec::new()),
        (
            Some("text/plain"),
            order("USD", json!("1.00"), KEY).to_string().into_bytes(),
        ),
        (None, Vec::new()),
    ] {
        let reply = cluster.api.put_raw(content_type, raw).await;
        assert_eq!(reply.status, 422, "{content_type:?}: {}", reply.text);
        assert_eq!(locations(&reply.json()), vec![vec!["body".to_owned()]]);
    }
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);
    assert_eq!(
        cluster.coinbase.stats().requests,
        price_calls,
        "no price was asked for"
    );
}

#[tokio::test]
async fn a_json_number_amount_is_read_exactly() {
    let cluster = Harness::start().await;
    let reply = cluster
        .api
        .put_order(&order("EUR", json!(123.45), KEY))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["buy_order"]["currency_amount"], "123.45");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let cluster = Harness::start().await;
    let padding = "x".repeat(70 * 1024);
    let body =
        json!({"currency": "USD", "amount": "1.00", "idempotence_key": KEY, "padding": padding});
    let reply = cluster.api.put_order(&body).await;
    assert_eq!(reply.status, 413, "{}", reply.text);
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);
}
