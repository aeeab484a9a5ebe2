//! A stdout that nobody reads (a full pipe, a stalled log collector) must
//! not hold up requests: events are written by a thread of their own and
//! dropped, counted, past a bound.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use testkit::FakeCoinbase;
use testkit::ports::free_port;

#[tokio::test]
async fn requests_are_answered_while_stdout_is_never_read() {
    let fake = FakeCoinbase::start().await;
    let port = free_port();
    let mut child = tokio::process::Command::new(Path::new(env!("CARGO_BIN_EXE_btc_price")))
        .envs(fake.env())
        .envs([
            ("CB_CACHE_TTL_MS", "0"),
            ("LOG_FORMAT", "json"),
            ("SERVICE_HOST", "127.0.0.1"),
        ])
        .env("SERVICE_PORT", port.to_string())
        .stdin(Stdio::null())
        // A pipe this test never reads: it fills after about 64 KiB.
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("starting btc_price");
    let _unread = child.stdout.take();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let url = format!("http://127.0.0.1:{port}/buy?currency=USD");
    let mut up = false;
    for _ in 0..100 {
        if http.get(&url).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(up, "btc_price started");

    // Each answer writes several event lines: far more than the pipe holds.
    let answered = futures_util::stream::iter(0..2000)
        .map(|_| http.get(&url).send())
        .buffer_unordered(8)
        // Stop at the first request that is not answered in time.
        .take_while(|reply| std::future::ready(reply.as_ref().is_ok_and(|r| r.status() == 200)))
        .count()
        .await;
    assert_eq!(answered, 2000, "every request was answered");
}

/// The event names in a service's stdout JSON lines.
fn event_names(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|event| event["message"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn under_log_format_fluentd_stdout_keeps_only_the_start_the_stop_and_the_faults() {
    let receiver = testkit::FluentReceiver::start().await;
    let fake = FakeCoinbase::start().await;
    let mut env = fake.env();
    env.extend(
        [
            ("LOG_FORMAT", "fluentd".to_owned()),
            ("LOGGING_HOST", "127.0.0.1".to_owned()),
            ("LOGGING_PORT", receiver.port().to_string()),
            ("CB_CACHE_TTL_MS", "0".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    let binary = Path::new(env!("CARGO_BIN_EXE_btc_price"));
    let mut service = testkit::ServiceProcess::start(binary, &env)
        .wait_healthy()
        .await;
    let url = format!("{}/buy?currency=EUR", service.url());
    let quoted = reqwest::get(&url).await.expect("GET /buy");
    assert_eq!(quoted.status(), 200);
    fake.set_mode(testkit::fake_coinbase::Mode::Error);
    let failed = reqwest::get(&url).await.expect("GET /buy");
    assert_eq!(failed.status(), 502);
    service.terminate().await;

    let stdout = event_names(&service.log());
    assert_eq!(
        stdout,
        [
            "service_started",
            "coinbase_client_exception_occurred",
            "service_shut_down"
        ],
        "stdout: {}",
        service.log()
    );
    // The log service has the whole stream, the requests' events included.
    let quoted =
        |event: &testkit::fluent_receiver::ReceivedEvent| event.name() == "btc_price_quoted";
    let received = receiver.wait_for(Duration::from_secs(10), quoted).await;
    assert!(received.is_some(), "fluentd got btc_price_quoted");
}
