use std::time::Duration;

use futures_util::future::join_all;
use testkit::FakeCoinbase;
use testkit::fake_coinbase::{Control, Mode};

use crate::{buy, start};

#[tokio::test]
async fn fifty_concurrent_requests_with_the_cache_on_make_one_upstream_call() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 60_000, 2000).await;

    let answers = join_all((0..50).map(|_| buy(&service, "GBP"))).await;
    for (status, body) in &answers {
        assert_eq!(
            (*status, body["rate"].as_str()),
            (200, Some("38022.17")),
            "{body}"
        );
    }
    assert_eq!(fake.requests_for("GBP"), 1);
}

#[tokio::test]
async fn concurrent_misses_share_one_upstream_call_even_with_the_cache_off() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 10_000).await;
    // A slow answer keeps the one call open while all fifty requests arrive.
    fake.control(Control {
        mode: Some(Mode::Slow),
        delay_ms: Some(3000),
        ..Default::default()
    });

    let answers = join_all((0..50).map(|_| buy(&service, "EUR"))).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(fake.requests_for("EUR"), 1);
}

#[tokio::test]
async fn with_the_cache_off_a_rate_change_shows_in_the_next_quote() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 0, 2000).await;

    assert_eq!(buy(&service, "GBP").await.1["rate"], "38022.17");
    fake.set_rate("GBP", "39000.01");
    assert_eq!(buy(&service, "GBP").await.1["rate"], "39000.01");
    assert_eq!(fake.requests_for("GBP"), 2);
}

#[tokio::test]
async fn with_the_cache_on_a_rate_change_shows_once_the_ttl_has_passed() {
    let fake = FakeCoinbase::start().await;
    let service = start(&fake, 1000, 2000).await;

    assert_eq!(buy(&service, "EUR").await.1["rate"], "44031.50");
    fake.set_rate("EUR", "45000.00");
    assert_eq!(
        buy(&service, "EUR").await.1["rate"],
        "44031.50",
        "still cached"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        buy(&service, "EUR").await.1["rate"],
        "45000.00",
        "refreshed after the TTL"
    );
    assert_eq!(fake.requests_for("EUR"), 2);
}
