use std::time::{Duration, Instant};

use testkit::FakeCoinbase;
use testkit::fake_coinbase::Mode;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::{buy, start};

#[tokio::test]
async fn each_currency_is_quoted_exactly_as_coinbase_quotes_it() {
    let fake = FakeCoinbase::start().await;
    fake.set_rate("EUR", "123456789.12345678");
    fake.set_rate("GBP", "0.01");
    fake.set_rate("USD", "48478.880");
    let service = start(&fake, 0, 2000).await;

    for (code, rate) in [
        ("EUR", "123456789.12345678"),
        ("GBP", "0.01"),
        ("USD", "48478.880"),
    ] {
        let (status, body) = buy(&service, code).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["currency"], code);
        assert_eq!(
            body["rate"], rate,
            "the rate is passed on as quoted, as a string"
        );
        let timestamp = body["timestamp"].as_str().expect("a timestamp");
        let quoted_at = OffsetDateTime::parse(timestamp, &Rfc3339).expect("RFC 3339");
        assert!((OffsetDateTime::now_utc() - quoted_at).abs() < time::Duration::minutes(1));
    }
}

#[tokio::test]
async fn unsupported_or_lower_case_currencies_are_400() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 2000).await;
    let calls_before = fake.stats().requests;

    for code in ["XXX", "usd", "", "BTC"] {
        let (status, body) = buy(&service, code).await;
        assert_eq!(status, 400, "currency {code:?}: {body}");
        let detail = body["detail"].as_str().expect("a detail message");
        assert!(detail.contains("EUR, GBP, USD"), "{detail}");
    }
    let (status, _) = buy(&service, "USD&other=1").await;
    assert_eq!(status, 200);
    assert!(
        fake.stats().requests <= calls_before + 1,
        "refused requests never reach Coinbase"
    );
}

#[tokio::test]
async fn an_upstream_error_or_an_unusable_price_is_502() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 2000).await;

    fake.set_mode(Mode::Error);
    assert_eq!(buy(&service, "GBP").await.0, 502, "HTTP 500 upstream");
    fake.set_mode(Mode::Garbage);
    assert_eq!(buy(&service, "GBP").await.0, 502, "a body that is not JSON");
    fake.set_mode(Mode::Ok);
    for nonsense in ["0", "-48000.00", "a lot", ""] {
        fake.set_rate("GBP", nonsense);
        let (status, body) = buy(&service, "GBP").await;
        assert_eq!(status, 502, "rate {nonsense:?}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("Coinbase")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_slow_upstream_is_504_once_the_timeout_has_passed() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 500).await;
    fake.control(testkit::fake_coinbase::Control {
        mode: Some(Mode::Slow),
        delay_ms: Some(5000),
        ..Default::default()
    });

    let started = Instant::now();
    let (status, body) = buy(&service, "EUR").await;
    let waited = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(
        waited >= Duration::from_millis(500),
        "answered before the timeout: {waited:?}"
    );
    assert!(
        waited < Duration::from_millis(2500),
        "waited far past the timeout: {waited:?}"
    );
}

#[tokio::test]
async fn coinbase_unreachable_is_502_and_the_service_reports_unhealthy() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 2000).await;
    drop(fake);

    let (status, body) = buy(&service, "USD").await;
    assert_eq!(status, 502, "{body}");
    let health = reqwest::get(format!("{}/healthcheck", service.url()))
        .await
        .expect("GET");
    assert_eq!(health.status().as_u16(), 503);
}
