use serde_json::{Value, json};
use testkit::FakeCoinbase;

async fn get(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.expect("GET");
    (
        response.status().as_u16(),
        response.text().await.expect("a body"),
    )
}

#[tokio::test]
async fn answers_both_coinbase_url_shapes_with_coinbase_json() {
    let fake = FakeCoinbase::start().await;
    let base = format!("http://{}/v2/prices", fake.addr());
    let expected = json!({"data": {"base": "BTC", "currency": "USD", "amount": "48478.88"}});

    for url in [
        format!("{base}/buy?currency=USD"),
        format!("{base}/BTC-USD/buy"),
    ] {
        let (status, body) = get(url).await;
        assert_eq!(status, 200);
        assert_eq!(
            serde_json::from_str::<Value>(&body).expect("JSON"),
            expected
        );
    }
    let (status, _) = get(format!("{base}/buy?currency=XXX")).await;
    assert_eq!(
        status, 400,
        "an unknown currency is refused as Coinbase does"
    );
}

#[tokio::test]
async fn the_control_api_sets_rates_and_faults_and_counts_calls() {
    let fake = FakeCoinbase::start().await;
    let base = format!("http://{}", fake.addr());
    let client = reqwest::Client::new();
    let control = |body: Value| client.put(format!("{base}/control")).json(&body).send();

    let set = control(json!({"rates": {"GBP": "1.23"}}))
        .await
        .expect("PUT");
    assert_eq!(set.status().as_u16(), 204);
    let (_, body) = get(format!("{base}/v2/prices/buy?currency=GBP")).await;
    assert!(body.contains(r#""amount":"1.23""#), "{body}");

    control(json!({"mode": "error"})).await.expect("PUT");
    assert_eq!(get(format!("{base}/v2/prices/BTC-GBP/buy")).await.0, 500);
    control(json!({"mode": "garbage"})).await.expect("PUT");
    let (status, body) = get(format!("{base}/v2/prices/buy?currency=EUR")).await;
    assert_eq!(status, 200);
    assert!(
        serde_json::from_str::<Value>(&body).is_err(),
        "garbage is not JSON: {body}"
    );

    let (_, stats) = get(format!("{base}/control/stats")).await;
    let stats: Value = serde_json::from_str(&stats).expect("JSON stats");
    assert_eq!(
        stats,
        json!({"requests": 3, "by_currency": {"EUR": 1, "GBP": 2}})
    );
}
