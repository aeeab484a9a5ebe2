//! Replicas behind the ingress's one port per API: every replica takes
//! traffic, the cap stays exact across them, and stopping, killing, scaling
//! or rolling replicas, or replicas the ingress finds before they can serve,
//! under a stream of creates and first pages fails no request (a SIGKILL may
//! fail only what was in flight on its replica), with every acknowledged
//! order listed exactly once afterwards.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use testkit::Api;
use testkit::metrics::metric_sum;
use uuid::Uuid;

use crate::compose::ComposeCluster;
use crate::ledger::{CreateStream, PageStream, assert_listed_exactly, listed_ids};

/// Concurrent clients of each kind in the stream.
const CLIENTS: usize = 4;

/// Creates and first pages around a change to the replicas.
struct Traffic {
    cluster: ComposeCluster,
    api: Api,
    before: Vec<String>,
    creates: CreateStream,
    pages: PageStream,
}

/// What a client saw, for the record: creates and pages, and every request
/// that got no 2xx, by status.
struct Seen {
    failures: BTreeMap<String, usize>,
}

impl Traffic {
    /// Starts the stream on the cluster as it is, and returns once it is well
    /// under way.
    async fn start(cluster: ComposeCluster) -> Self {
        let api = cluster.api();
        let before = listed_ids(&api).await;
        let creates = CreateStream::start(&api, CLIENTS, "1.00");
        let pages = PageStream::start(&api, CLIENTS);
        creates.wait_for_more(50).await;
        Self {
            cluster,
            api,
            before,
            creates,
            pages,
        }
    }

    /// Once creates flow again: stops the stream, retries what failed with
    /// its own key, checks that every order is listed exactly once, prints
    /// the accounting, and leaves one replica of each service, as the other
    /// tests expect the cluster.
    async fn finish(self, what: &str) -> Seen {
        self.cluster.wait_healthy().await;
        self.creates.wait_for_more(50).await;
        let (pages, mut failures) = self.pages.stop().await;
        let mut ledger = self.creates.stop().await;
        for (status, count) in &ledger.failures {
            *failures.entry(format!("PUT {status}")).or_default() += count;
        }
        ledger.settle(&self.api).await;
        let accounting = assert_listed_exactly(&self.api, &self.before, &ledger.placed()).await;
        eprintln!(
            "{what}: created {}, found {}, lost {}, duplicated {}; first pages {pages}; \
             requests without a 2xx {}: {failures:?}",
            accounting.created,
            accounting.found,
            accounting.lost,
            accounting.duplicated,
            failures.values().sum::<usize>()
        );
        one_of_each(&self.cluster).await;
        Seen { failures }
    }
}

impl Seen {
    fn assert_none_failed(&self) {
        assert!(
            self.failures.is_empty(),
            "requests failed: {:?}",
            self.failures
        );
    }
}

/// Back to one replica of each, with every stopped container removed.
async fn one_of_each(cluster: &ComposeCluster) {
    for service in ["create_buy_order", "fetch_buy_orders", "read_model_sync"] {
        for id in cluster.containers(service).await {
            if !cluster.running(service).await.contains(&id) {
                cluster.docker(&["rm", &id]).await;
            }
        }
        cluster.scale(service, 1).await;
    }
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn every_replica_behind_the_ingress_takes_traffic_and_the_cap_stays_exact() {
    let cluster = ComposeCluster::attach().await;
    // The cap is for good once reached: start from an empty cluster, and
    // leave one behind.
    cluster.compose(&["down", "-v"]).await;
    cluster.up().await;
    cluster.scale("create_buy_order", 2).await;
    cluster.scale("fetch_buy_orders", 2).await;
    cluster.scale("read_model_sync", 3).await;
    // 1 BTC per 1000.00 USD: 100 orders reach the cap.
    cluster
        .control_coinbase(json!({"rates": {"USD": "1000.00"}}))
        .await;

    let api = cluster.api();
    let keys: Vec<String> = (0..130).map(|_| Uuid::new_v4().to_string()).collect();
    // Every key is sent twice, all at once, through the one port.
    let bodies = keys.iter().flat_map(|key| {
        let body = json!({"currency": "USD", "amount": "1000.00", "idempotence_key": key});
        [body.clone(), body]
    });
    let replies = futures_util::future::join_all(bodies.map(|body| {
        let api = api.clone();
        async move {
            let reply = api.try_put_order(&body).await;
            (body, reply)
        }
    }))
    .await;
    let placed = one_order_per_key_and_100_btc(&replies);
    for _ in 0..20 {
        assert_eq!(api.get_orders("page_size=5").await.status, 200);
    }
    assert_listed_exactly(&api, &[], &placed).await;

    for (service, metric, labelled) in [
        (
            "create_buy_order",
            "http_requests_total",
            "route=\"/buy_order\"",
        ),
        (
            "fetch_buy_orders",
            "http_requests_total",
            "route=\"/buy_orders\"",
        ),
        ("read_model_sync", "messages_consumed_total", ""),
    ] {
        let urls = cluster.replica_urls(service).await;
        let mut counts = Vec::new();
        for url in &urls {
            let of_metric = |line: &str| line.starts_with(metric) && line.contains(labelled);
            counts.push(metric_sum(url, of_metric).await);
        }
        eprintln!("{service}: {metric} per replica {counts:?}");
        assert!(
            counts.iter().all(|count| *count > 0.0),
            "{service}: {counts:?}"
        );
    }

    cluster.compose(&["down", "-v"]).await;
    cluster.up().await;
}

/// Checks the answers to 260 requests for 130 keys at the cap: one order per
/// key, exactly 100 BTC of orders, and no order for a key refused at the cap.
fn one_order_per_key_and_100_btc(
    replies: &[(serde_json::Value, Result<testkit::Reply, reqwest::Error>)],
) -> Vec<String> {
    let mut order_of_key = HashMap::new();
    let mut capped_keys = HashSet::new();
    for (body, reply) in replies {
        let reply = reply.as_ref().expect("an answer");
        let key = body["idempotence_key"].as_str().expect("a key").to_owned();
        match reply.status.as_u16() {
            200 => {
                let id = reply.json()["buy_order"]["id"]
                    .as_str()
                    .expect("an id")
                    .to_owned();
                let first = order_of_key.entry(key).or_insert_with(|| id.clone());
                assert_eq!(*first, id, "one order per idempotence key");
            }
            409 => {
                assert_eq!(reply.json()["code"], "btc_limit_exceeded", "{}", reply.text);
                capped_keys.insert(key);
            }
            status => panic!("unexpected {status}: {}", reply.text),
        }
    }
    eprintln!(
        "scale-out: {} requests, {} orders, {} refused at the cap",
        replies.len(),
        order_of_key.len(),
        replies.len() - order_of_key.len() * 2
    );
    assert_eq!(order_of_key.len(), 100, "exactly 100 BTC of orders");
    assert!(
        capped_keys
            .iter()
            .all(|key| !order_of_key.contains_key(key)),
        "a key refused at the cap has an order: both requests of a key get that order"
    );
    order_of_key.into_values().collect()
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn stopping_one_of_two_replicas_of_each_api_mid_stream_fails_no_request() {
    let cluster = ComposeCluster::attach().await;
    cluster.scale("create_buy_order", 2).await;
    cluster.scale("fetch_buy_orders", 2).await;
    let traffic = Traffic::start(cluster).await;
    let cluster = &traffic.cluster;
    let create = cluster.running("create_buy_order").await.remove(0);
    let fetch = cluster.running("fetch_buy_orders").await.remove(0);
    let stopping = ["stop", create.as_str(), fetch.as_str()];
    cluster.docker(&stopping).await;
    // Gone for good, as a scale-down leaves it.
    cluster
        .docker(&["rm", create.as_str(), fetch.as_str()])
        .await;
    traffic.creates.wait_for_more(100).await;
    traffic
        .finish("docker stop of a create and a fetch replica")
        .await
        .assert_none_failed();
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_sigkilled_create_replica_loses_and_duplicates_nothing_behind_the_ingress() {
    let cluster = ComposeCluster::attach().await;
    cluster.scale("create_buy_order", 2).await;
    let traffic = Traffic::start(cluster).await;
    let killed = traffic.cluster.running("create_buy_order").await.remove(0);
    traffic
        .cluster
        .docker(&["kill", "-s", "SIGKILL", &killed])
        .await;
    // Gone for good, as a lost host is.
    traffic.cluster.docker(&["rm", "-f", &killed]).await;
    traffic.creates.wait_for_more(100).await;
    let seen = traffic.finish("SIGKILL of a create replica").await;
    // Only what was in flight on the killed replica may fail, and the
    // ingress re-sends what got no answer at all: at most one per client.
    let failed: usize = seen.failures.values().sum();
    assert!(failed <= CLIENTS, "{:?}", seen.failures);
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn rolling_updates_of_three_services_mid_stream_fail_no_request() {
    let cluster = ComposeCluster::attach().await;
    cluster.scale("create_buy_order", 2).await;
    let traffic = Traffic::start(cluster).await;
    for service in ["create_buy_order", "fetch_buy_orders", "read_model_sync"] {
        let before = traffic.cluster.running(service).await;
        let rolled = traffic
            .cluster
            .script("scripts/rolling-update.sh", &[service], &[])
            .await;
        let log = String::from_utf8_lossy(&rolled.stderr);
        assert!(
            rolled.status.success(),
            "rolling-update.sh {service}: {log}"
        );
        let after = traffic.cluster.running(service).await;
        assert_eq!(
            after.len(),
            before.len(),
            "{service}: as many replicas as before"
        );
        assert!(
            after.iter().all(|id| !before.contains(id)),
            "{service}: every replica replaced"
        );
        traffic.creates.wait_for_more(20).await;
    }
    traffic.finish("rolling updates").await.assert_none_failed();
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn scaling_create_buy_order_from_one_to_three_and_back_fails_no_request() {
    let cluster = ComposeCluster::attach().await;
    let traffic = Traffic::start(cluster).await;
    traffic.cluster.scale("create_buy_order", 3).await;
    traffic.creates.wait_for_more(100).await;
    traffic.cluster.scale("create_buy_order", 1).await;
    traffic
        .finish("scaling create_buy_order 1 -> 3 -> 1")
        .await
        .assert_none_failed();
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_replacement_that_never_becomes_healthy_leaves_the_old_replicas_serving() {
    let cluster = ComposeCluster::attach().await;
    let traffic = Traffic::start(cluster).await;
    let before = traffic.cluster.running("create_buy_order").await;
    // A replacement that cannot log in to the write model never becomes healthy.
    let broken = [
        ("CREATE_BUY_ORDER_DB_PWD", "not-the-password"),
        ("ROLLING_UPDATE_HEALTHY_WITHIN_S", "20"),
    ];
    let rolled = traffic
        .cluster
        .script("scripts/rolling-update.sh", &["create_buy_order"], &broken)
        .await;
    let log = String::from_utf8_lossy(&rolled.stderr);
    assert!(!rolled.status.success(), "{log}");
    assert!(log.contains("the old replicas go on serving"), "{log}");
    let after = traffic.cluster.running("create_buy_order").await;
    assert_eq!(
        after, before,
        "the old replica serves, the replacement is gone"
    );
    assert_eq!(traffic.cluster.containers("create_buy_order").await, before);
    traffic
        .finish("a broken rolling update")
        .await
        .assert_none_failed();
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn bad_replica_counts_and_services_are_refused_by_name_and_change_nothing() {
    let cluster = ComposeCluster::attach().await;
    let containers = cluster.compose(&["ps", "-q"]).await;
    for (variable, value) in [
        ("CREATE_BUY_ORDER_REPLICAS", "0"),
        ("FETCH_BUY_ORDERS_REPLICAS", "abc"),
        ("READ_MODEL_SYNC_REPLICAS", "11"),
    ] {
        let run = cluster.script("run.sh", &[], &[(variable, value)]).await;
        let said = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{variable}={value}: {said}");
        assert!(said.contains(variable) && said.contains(value), "{said}");
    }
    for (service, says) in [
        ("no_such_service", "unknown service 'no_such_service'"),
        ("write_model", "write_model is not rolled"),
        ("queue", "queue is not rolled"),
        ("", "usage"),
    ] {
        let rolled = cluster
            .script("scripts/rolling-update.sh", &[service], &[])
            .await;
        let said = String::from_utf8_lossy(&rolled.stderr);
        assert!(
            !rolled.status.success() && said.contains(says),
            "{service}: {said}"
        );
    }
    cluster.compose(&["stop", "read_model_sync"]).await;
    let rolled = cluster
        .script("scripts/rolling-update.sh", &["read_model_sync"], &[])
        .await;
    cluster.compose(&["start", "read_model_sync"]).await;
    let said = String::from_utf8_lossy(&rolled.stderr);
    assert!(said.contains("read_model_sync is not running"), "{said}");
    assert_eq!(
        cluster.compose(&["ps", "-q"]).await,
        containers,
        "nothing started or stopped"
    );
    cluster.wait_healthy().await;
}

/// Three create_buy_order containers on the service's DNS name that cannot
/// serve, as replicas just scaled up cannot: one whose process listens on
/// another port (as a replica does before its process has bound), and two
/// that stay starting (their write model is a host that does not exist).
/// Removed when dropped; labelled as the compose project's orphans, so that
/// `down --remove-orphans` (./test.sh's clean-up) removes any a killed test
/// left.
struct UnreadyReplicas {
    ids: Vec<String>,
}

impl UnreadyReplicas {
    async fn start(cluster: &ComposeCluster) -> Self {
        let template = cluster.running("create_buy_order").await.remove(0);
        let inspect = |format| ["inspect", "-f", format, template.as_str()];
        let image = cluster.docker(&inspect("{{.Config.Image}}")).await;
        let env = cluster.docker(&inspect("{{json .Config.Env}}")).await;
        let env: Vec<String> = serde_json::from_str(&env).expect("the replica's environment");
        let project = cluster
            .docker(&inspect(
                r#"{{index .Config.Labels "com.docker.compose.project"}}"#,
            ))
            .await;
        let labels = [
            format!("com.docker.compose.project={}", project.trim()),
            "com.docker.compose.service=unready_create_buy_order".to_owned(),
            "com.docker.compose.oneoff=False".to_owned(),
        ];
        let network = cluster.network().await;
        let port = cluster.var("CREATE_BUY_ORDER_PORT");
        let mut unready = Self { ids: Vec::new() };
        for port in ["18777", port, port] {
            let mut args = vec!["run", "-d", "--network", &network];
            args.extend(["--network-alias", "create_buy_order"]);
            for label in &labels {
                args.extend(["--label", label.as_str()]);
            }
            let overrides = [
                format!("SERVICE_PORT={port}"),
                "WRITE_MODEL_DB_HOST=no-such-host".to_owned(),
            ];
            let kept = env.iter().filter(|variable| {
                !variable.starts_with("SERVICE_PORT=")
                    && !variable.starts_with("WRITE_MODEL_DB_HOST=")
            });
            for variable in kept.chain(&overrides) {
                args.extend(["-e", variable.as_str()]);
            }
            args.push(image.trim());
            unready
                .ids
                .push(cluster.docker(&args).await.trim().to_owned());
        }
        unready
    }
}

impl Drop for UnreadyReplicas {
    fn drop(&mut self) {
        let mut remove = std::process::Command::new("docker");
        remove.args(["rm", "-f"]).args(&self.ids);
        let _ = remove.output();
    }
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn replicas_the_ingress_finds_before_they_can_serve_fail_no_request() {
    // HAProxy counts a replica it finds through DNS up until its first
    // check, and favours it then: this is every new replica's first moments.
    let cluster = ComposeCluster::attach().await;
    let taken_out_before = cluster.ingress_servers_taken_out("create_buy_order").await;
    let traffic = Traffic::start(cluster).await;
    for _ in 0..2 {
        let unready = UnreadyReplicas::start(&traffic.cluster).await;
        // Longer than the ingress's DNS period (5 s), so that it finds them.
        tokio::time::sleep(Duration::from_secs(6)).await;
        drop(unready);
        traffic.creates.wait_for_more(50).await;
    }
    let taken_out = traffic
        .cluster
        .ingress_servers_taken_out("create_buy_order")
        .await;
    assert!(
        taken_out >= taken_out_before + 3,
        "the ingress found no unready replica: taken out {taken_out_before}, then {taken_out}"
    );
    traffic
        .finish("replicas found before they can serve")
        .await
        .assert_none_failed();
}
