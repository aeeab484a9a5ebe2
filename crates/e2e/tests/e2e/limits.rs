//! Slow, idle and greedy clients: none of them can hold the service, and
//! every refusal is a 503 in the FastAPI shape, with `Retry-After` where
//! the client should simply come back.

use std::time::Duration;

use futures_util::StreamExt;
use testkit::Cluster;
use testkit::fake_coinbase::Mode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use crate::{count, order};

/// The header-read bound these tests run the services with.
const HEADER_TIMEOUT_MS: &str = "1000";
/// Far past the header bound: a connection still open then was never cut.
const GIVE_UP: Duration = Duration::from_secs(30);

async fn connect(cluster: &Cluster, service: &str) -> TcpStream {
    let url = cluster.service_url(service);
    let addr = url.trim_start_matches("http://");
    TcpStream::connect(addr).await.expect("connecting")
}

/// Waits until the server closes `stream` (end of stream or a reset);
/// `false` if it is still open after [`GIVE_UP`].
async fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    let reading = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(GIVE_UP, reading).await.is_ok()
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off_while_others_are_served() {
    let cluster = Cluster::start_with(&[("HTTP_HEADER_TIMEOUT_MS", HEADER_TIMEOUT_MS)]).await;
    let stream = connect(&cluster, "create_buy_order").await;
    let (mut reader, mut writer) = stream.into_split();
    writer
        .write_all(b"PUT /buy_order HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .expect("the request line");
    // One header line every 200 ms, for as long as the server listens.
    let trickle = async move {
        for line in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let header = format!("x-slow-{line}: 1\r\n");
            if writer.write_all(header.as_bytes()).await.is_err() {
                return;
            }
        }
    };
    let cut = async {
        let mut buffer = [0u8; 1024];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => continue,
            }
        }
    };
    let served = async {
        let mut statuses = Vec::new();
        for _ in 0..5 {
            statuses.push(cluster.api.buy("USD", "1.00").await.status.as_u16());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        statuses
    };
    let (statuses, was_cut) = tokio::join!(served, async {
        tokio::select! {
            cut = tokio::time::timeout(GIVE_UP, cut) => cut.unwrap_or(false),
            () = trickle => true,
        }
    });
    assert_eq!(statuses, vec![200; 5], "others are served meanwhile");
    assert!(
        was_cut,
        "the slow client still held its connection after {GIVE_UP:?}"
    );
}

#[tokio::test]
async fn a_flood_of_idle_connections_is_closed_and_never_stops_normal_requests() {
    let cluster = Cluster::start_with(&[("HTTP_HEADER_TIMEOUT_MS", HEADER_TIMEOUT_MS)]).await;
    let mut idle = Vec::new();
    for service in ["create_buy_order", "fetch_buy_orders"] {
        for _ in 0..200 {
            idle.push(connect(&cluster, service).await);
        }
    }
    // Half of them send the start of a request and then nothing.
    for stream in idle.iter_mut().step_by(2) {
        stream
            .write_all(b"GET /buy_orders HTTP/1.1\r\n")
            .await
            .expect("writing");
    }

    let created = cluster.api.buy("USD", "1.00").await;
    let listed = cluster.api.get_orders("page_size=1").await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(listed.status, 200, "{}", listed.text);

    let closed = futures_util::stream::iter(idle.iter_mut())
        .map(closed_by_server)
        .buffer_unordered(400)
        .filter(|closed| std::future::ready(*closed))
        .count()
        .await;
    assert_eq!(closed, 400, "every idle connection is closed by the server");
}

#[tokio::test]
async fn beyond_the_concurrency_bound_requests_are_turned_away_with_retry_after_and_lose_nothing() {
    let cluster = Cluster::start_with(&[("HTTP_MAX_CONCURRENT_REQUESTS", "4")]).await;
    // Each price takes a while, so the first requests hold their places.
    cluster.coinbase.set_slow(500);
    let keys: Vec<String> = (0..20).map(|_| Uuid::new_v4().to_string()).collect();
    let first: Vec<_> = futures_util::stream::iter(&keys)
        .map(|key| {
            let api = &cluster.api;
            async move { api.put_order(&order("USD", "1.00".into(), key)).await }
        })
        .buffer_unordered(20)
        .collect()
        .await;
    let turned_away: Vec<_> = first.iter().filter(|reply| reply.status == 503).collect();
    assert!(!turned_away.is_empty(), "20 at once past a bound of 4");
    assert!(first.iter().all(|r| r.status == 200 || r.status == 503));
    for reply in &turned_away {
        assert_eq!(reply.retry_after.as_deref(), Some("1"), "{reply:?}");
        let detail = reply.json()["detail"].as_str().map(str::to_owned);
        assert!(detail.is_some_and(|d| d.contains("capacity")), "{reply:?}");
    }

    cluster.coinbase.set_mode(Mode::Ok);
    for key in &keys {
        let again = cluster
            .api
            .put_order(&order("USD", "1.00".into(), key))
            .await;
        assert_eq!(again.status, 200, "{}", again.text);
    }
    let write = cluster.write_pool().await;
    assert_eq!(
        count(&write, "SELECT count(*) FROM buy_order").await,
        20,
        "one order per key"
    );
}

#[tokio::test]
async fn a_request_not_answered_in_time_is_503_and_its_retry_is_served() {
    let cluster = Cluster::start_with(&[("HTTP_REQUEST_TIMEOUT_MS", "300")]).await;
    cluster.coinbase.set_slow(1500);
    let key = Uuid::new_v4().to_string();
    let body = order("USD", "1.00".into(), &key);
    let late = cluster.api.put_order(&body).await;
    assert_eq!(late.status, 503, "{}", late.text);
    let detail = late.json()["detail"].as_str().map(str::to_owned);
    assert!(
        detail.is_some_and(|d| d.contains("300 ms")),
        "{}",
        late.text
    );

    cluster.coinbase.set_mode(Mode::Ok);
    let retried = cluster.api.put_order(&body).await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 1);
}
