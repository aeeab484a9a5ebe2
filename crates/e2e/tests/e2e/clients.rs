//! Who is calling: every request names its client with an API key; a
//! request without a valid key is refused before any work; each client
//! places, replays and sees only its own orders; every limit holds exactly
//! under concurrent clients; keys are kept only as hashes.

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use testkit::{Api, Cluster, Reply};
use uuid::Uuid;

use crate::{count, metric_sum, order, placed_id};

/// The TTL of checked keys in these clusters: how long a revoked key may
/// still work.
const KEY_TTL_MS: u64 = 300;

async fn cluster() -> Cluster {
    Cluster::start_with(&[("AUTH_CACHE_TTL_MS", &KEY_TTL_MS.to_string())]).await
}

/// Runs `migration clients <args>` and returns what it printed.
async fn clients(cluster: &Cluster, args: &[&str]) -> String {
    let mut words = vec!["clients"];
    words.extend_from_slice(args);
    let output = cluster.run_command("migration", &words).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "migration {words:?}: {stdout}{stderr}"
    );
    stdout
}

/// A new client (with its own BTC limit, if given) and a key of it.
async fn new_client(cluster: &Cluster, btc_limit: Option<&str>) -> (i64, String) {
    let email = format!("{}@example.com", Uuid::new_v4());
    let mut args = vec!["create", email.as_str()];
    args.extend(btc_limit);
    let created = clients(cluster, &args).await;
    let id: i64 = created
        .split_whitespace()
        .nth(1)
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("no client id in {created:?}"));
    (id, issue_key(cluster, id).await)
}

async fn issue_key(cluster: &Cluster, client: i64) -> String {
    let issued = clients(cluster, &["issue-key", &client.to_string()]).await;
    issued
        .lines()
        .next()
        .expect("the key on the first line")
        .to_owned()
}

/// The id of the newest key, as `list-keys` shows it.
async fn newest_key_id(cluster: &Cluster, client: i64) -> String {
    let listing = clients(cluster, &["list-keys", &client.to_string()]).await;
    let row = listing.lines().nth(1).expect("a key");
    row.split('\t').next().expect("its id").to_owned()
}

fn api_of(cluster: &Cluster, key: Option<&str>) -> Api {
    cluster.api.clone().with_key(key)
}

/// A create and a fetch sent with this `Authorization` header (or none).
async fn both_with_authorization(
    cluster: &Cluster,
    authorization: Option<&str>,
) -> [reqwest::Response; 2] {
    let http = reqwest::Client::new();
    let body = order("USD", "10.00".into(), &Uuid::new_v4().to_string());
    let create = http
        .put(format!(
            "{}/buy_order",
            cluster.service_url("create_buy_order")
        ))
        .json(&body);
    let fetch = http.get(format!(
        "{}/buy_orders",
        cluster.service_url("fetch_buy_orders")
    ));
    let [create, fetch] = [create, fetch].map(|request| match authorization {
        Some(value) => request.header("authorization", value),
        None => request,
    });
    [
        create.send().await.expect("create answers"),
        fetch.send().await.expect("fetch answers"),
    ]
}

/// How many `GET /buy` btc_price has answered: a create asks it for a price.
async fn prices_asked(cluster: &Cluster) -> f64 {
    metric_sum(cluster, "btc_price", |line| {
        line.starts_with("http_requests_total{") && line.contains("route=\"/buy\"")
    })
    .await
}

#[tokio::test]
async fn requests_without_a_valid_key_are_refused_before_any_work() {
    let cluster = cluster().await;
    let (client, revoked) = new_client(&cluster, None).await;
    clients(
        &cluster,
        &["revoke-key", &newest_key_id(&cluster, client).await],
    )
    .await;
    tokio::time::sleep(Duration::from_millis(KEY_TTL_MS * 2)).await;
    let unknown = format!("Bearer rsd_{}", Uuid::new_v4().simple());
    let revoked = format!("Bearer {revoked}");
    for authorization in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some(unknown.as_str()),
        Some(revoked.as_str()),
    ] {
        for response in both_with_authorization(&cluster, authorization).await {
            let url = response.url().to_string();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{url} {authorization:?}"
            );
            let challenge = response.headers().get("www-authenticate").cloned();
            assert_eq!(
                challenge.as_ref().and_then(|v| v.to_str().ok()),
                Some("Bearer")
            );
            let body: Value = response.json().await.expect("a JSON body");
            assert!(
                body["detail"].is_string(),
                "{url} {authorization:?}: {body}"
            );
        }
    }
    let write = cluster.write_pool().await;
    assert_eq!(count(&write, "SELECT count(*) FROM buy_order").await, 0);
    assert_eq!(
        prices_asked(&cluster).await,
        0.0,
        "a refused request asked for a price"
    );
}

/// `clients list`'s row of `client`, split at its tabs.
async fn listed(cluster: &Cluster, client: i64) -> Vec<String> {
    let listing = clients(cluster, &["list"]).await;
    let header = listing.lines().next().expect("a header");
    assert_eq!(header, "client\temail\tbtc limit\tbtc bought\tlive keys");
    let row = listing
        .lines()
        .find(|line| line.split('\t').next() == Some(&client.to_string()))
        .unwrap_or_else(|| panic!("client {client} not in {listing}"));
    row.split('\t').map(str::to_owned).collect()
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_ttl() {
    let cluster = cluster().await;
    let (client, key) = new_client(&cluster, Some("0.5")).await;
    let api = api_of(&cluster, Some(&key));
    let placed = api.buy("USD", "10.00").await;
    assert_eq!(placed.status, 200);
    assert_eq!(api.get_orders("page_size=1").await.status, 200);
    // `clients list` shows what it holds: its limit, what it bought, one key.
    let bought = placed.json()["buy_order"]["btc_amount"]
        .as_str()
        .expect("btc")
        .to_owned();
    let row = listed(&cluster, client).await;
    assert_eq!(
        row[2..],
        ["0.50000000".to_owned(), bought, "1".to_owned()],
        "{row:?}"
    );
    clients(
        &cluster,
        &["revoke-key", &newest_key_id(&cluster, client).await],
    )
    .await;
    assert_eq!(listed(&cluster, client).await[4], "0", "no live key");
    tokio::time::sleep(Duration::from_millis(KEY_TTL_MS + 200)).await;
    assert_eq!(api.buy("USD", "10.00").await.status, 401);
    assert_eq!(api.get_orders("page_size=1").await.status, 401);
    // The client's other keys, and other clients, are untouched.
    let second = issue_key(&cluster, client).await;
    assert_eq!(
        api_of(&cluster, Some(&second))
            .get_orders("page_size=1")
            .await
            .status,
        200
    );
    assert_eq!(cluster.api.get_orders("page_size=1").await.status, 200);
}

fn ids(page: &Reply) -> Vec<String> {
    assert_eq!(page.status, 200, "{}", page.text);
    let rows = page.json()["rows"].as_array().cloned().unwrap_or_default();
    rows.iter()
        .map(|row| row["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test]
async fn each_client_places_replays_and_sees_only_its_own_orders() {
    let cluster = cluster().await;
    let first = cluster.api.clone();
    let (_, key) = new_client(&cluster, None).await;
    let second = api_of(&cluster, Some(&key));
    // One idempotence key, used by both: two keys, two orders.
    let shared = Uuid::new_v4().to_string();
    let body = order("EUR", "25.00".into(), &shared);
    let (mine, theirs) = (first.put_order(&body).await, second.put_order(&body).await);
    assert!(!mine.replayed && !theirs.replayed);
    assert_ne!(placed_id(&mine), placed_id(&theirs));
    let replay = second.put_order(&body).await;
    assert!(replay.replayed);
    assert_eq!(placed_id(&replay), placed_id(&theirs));
    let mut second_ids = vec![placed_id(&theirs)];
    for _ in 0..3 {
        second_ids.push(placed_id(&second.buy("USD", "5.00").await));
    }
    assert_eq!(cluster.wait_for_read_model(5).await, 5);

    assert_eq!(
        ids(&first.get_orders("page_size=100").await),
        [placed_id(&mine)]
    );
    let mut seen = ids(&second.get_orders("page_size=100").await);
    seen.sort();
    second_ids.sort();
    assert_eq!(seen, second_ids);
    // A cursor of one client names no order of the other.
    for reference in &second_ids {
        let other = first
            .get_orders(&format!("last_reference={reference}"))
            .await;
        assert_eq!(other.status, 404, "{}", other.text);
    }
    let own = second
        .get_orders(&format!("last_reference={}", second_ids[0]))
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
}

/// Sends every request, 16 at a time, so that the batch writer's batches mix
/// the clients; the replies in the order of the requests.
async fn send_all(requests: &[(Api, Value)]) -> Vec<Reply> {
    futures_util::stream::iter(requests)
        .map(|(api, body)| api.put_order(body))
        .buffered(16)
        .collect()
        .await
}

fn code(reply: &Reply) -> String {
    reply.json()["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn concurrent_clients_in_shared_batches_keep_every_limit_exact() {
    let cluster = cluster().await;
    // 1 BTC = 10,000.00 USD: 2,000.00 buys 0.2 BTC, 400,000.00 buys 40 BTC.
    cluster.coinbase.set_rate("USD", "10000.00");
    let (limited, limited_key) = new_client(&cluster, Some("1")).await;
    let (_, open_key) = new_client(&cluster, None).await;
    let limited_api = api_of(&cluster, Some(&limited_key));
    let open_api = api_of(&cluster, Some(&open_key));
    // 10 × 0.2 BTC from the limited client (1 BTC of its own), and 3 × 40 BTC
    // from each of the two others, who use the same three idempotence keys.
    let mut requests: Vec<(Api, Value)> = Vec::new();
    for round in 0..10 {
        let key = Uuid::new_v4().to_string();
        requests.push((limited_api.clone(), order("USD", "2000.00".into(), &key)));
        if round < 3 {
            let body = order("USD", "400000.00".into(), &key);
            requests.push((cluster.api.clone(), body.clone()));
            requests.push((open_api.clone(), body));
        }
    }
    let replies = send_all(&requests).await;
    let placed = replies.iter().filter(|r| r.status == 200).count();
    let mut codes: Vec<String> = replies
        .iter()
        .filter(|r| r.status != 200)
        .map(code)
        .collect();
    codes.sort();
    // 5 of the limited client's ten fill its 1 BTC; 2 of the six 40 BTC orders
    // fit under 100 BTC beside it (81 in all), a third would make 121.
    assert_eq!(placed, 7, "{codes:?}");
    let mut expected = vec!["btc_limit_exceeded"; 4];
    expected.extend(vec!["client_btc_limit_exceeded"; 5]);
    assert_eq!(codes, expected);
    let refused = replies
        .iter()
        .find(|r| code(r) == "client_btc_limit_exceeded");
    let detail = refused
        .map(|r| r.json()["detail"].to_string())
        .unwrap_or_default();
    assert!(detail.contains("0.00000000 BTC of it is left"), "{detail}");

    // Again, all at once: each request sent again, and each placed one with
    // another amount. A placed order is replayed to its own client; a refused
    // one is refused again (nothing was freed); another amount is a reuse.
    let mut again: Vec<(Api, Value)> = requests.clone();
    for ((api, body), reply) in requests.iter().zip(&replies) {
        if reply.status == 200 {
            let mut other = body.clone();
            other["amount"] = "1.00".into();
            again.push((api.clone(), other));
        }
    }
    let answers = send_all(&again).await;
    for (first, answer) in replies.iter().zip(&answers) {
        if first.status == 200 {
            assert!(answer.replayed, "{}", answer.text);
            assert_eq!(placed_id(answer), placed_id(first));
        } else {
            assert_eq!((answer.status, code(answer)), (first.status, code(first)));
        }
    }
    for reuse in &answers[requests.len()..] {
        assert_eq!(
            (reuse.status.as_u16(), code(reuse)),
            (409, "idempotence_key_reused".into())
        );
    }

    let write = cluster.write_pool().await;
    for (sql, tenths) in [
        (
            "SELECT (sum(btc_amount) * 10)::bigint FROM buy_order".to_owned(),
            810,
        ),
        (
            format!(
                "SELECT (sum(btc_amount) * 10)::bigint FROM buy_order WHERE client_id = {limited}"
            ),
            10,
        ),
        // The running totals the database keeps agree with the orders.
        (
            "SELECT (btc_amount * 10)::bigint FROM btc_running_total".to_owned(),
            810,
        ),
        (
            format!("SELECT (btc_total * 10)::bigint FROM client WHERE id = {limited}"),
            10,
        ),
    ] {
        assert_eq!(count(&write, &sql).await, tenths, "{sql}");
    }
}

#[tokio::test]
async fn the_key_store_never_holds_a_key_in_clear() {
    let cluster = cluster().await;
    let (client, key) = new_client(&cluster, None).await;
    assert_eq!(
        api_of(&cluster, Some(&key))
            .get_orders("page_size=1")
            .await
            .status,
        200
    );
    let write = cluster.write_pool().await;
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(k)::text FROM api_key k")
        .fetch_all(&write)
        .await
        .expect("reading api_key");
    let dev_key = testkit::settings::dev_api_key();
    for row in &rows {
        for secret in [key.as_str(), &key[12..], dev_key.as_str(), &dev_key[12..]] {
            assert!(!row.contains(secret), "a key in clear in {row}");
        }
    }
    let (hash, used): (Vec<u8>, bool) = sqlx::query_as(
        "SELECT key_hash, last_used_at IS NOT NULL FROM api_key WHERE client_id = $1",
    )
    .bind(client)
    .fetch_one(&write)
    .await
    .expect("the client's key");
    assert_eq!(hash, platform::auth::key_hash(&key).to_vec());
    assert!(used, "the key's use was not noted");
    let listing = clients(&cluster, &["list-keys"]).await;
    assert!(!listing.contains(&key[12..]), "{listing}");
}

#[tokio::test]
async fn with_auth_off_every_request_acts_as_client_1() {
    let cluster = Cluster::start_with(&[("AUTH_REQUIRED", "false")]).await;
    let open = cluster.api.clone().with_key(None);
    let placed = placed_id(&open.buy("GBP", "12.34").await);
    let write = cluster.write_pool().await;
    let client = format!("SELECT client_id FROM buy_order WHERE external_id = '{placed}'");
    assert_eq!(count(&write, &client).await, 1);
    assert_eq!(cluster.wait_for_read_model(1).await, 1);
    assert_eq!(ids(&open.get_orders("page_size=5").await), [placed]);
}
