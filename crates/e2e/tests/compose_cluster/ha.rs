//! The HA cluster (docker-compose.ha.yml) under faults of its replicated
//! stores: `./test.sh --ha` brings it up from nothing with the fake
//! Coinbase and runs these one at a time. Each runs a stream of creates from
//! several clients, makes the fault mid-stream, waits until every store is
//! whole again (`ha_stores::wait_until_whole`), retries each create that got
//! no 200 with its own key, and checks that every acknowledged order is
//! listed exactly once. Each prints what clients saw: the 503s and other
//! failures, for how long, and when creates succeeded again.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;
use testkit::Api;
use uuid::Uuid;

use crate::compose::ComposeCluster;
use crate::ha_stores::{
    Store, kill_leader, leader, members, queue_leader_and_members, wait_until_whole,
};
use crate::ledger::{
    CreateStream, assert_listed_exactly, listed_exactly_within, listed_ids, listed_rows,
};

/// Concurrent clients in a stream of creates.
const CLIENTS: usize = 4;

/// How long a failover may take before creates succeed again.
const FAILOVER_WITHIN: Duration = Duration::from_secs(120);

/// A stream of creates around one fault of the HA cluster.
struct HaRun {
    cluster: ComposeCluster,
    api: Api,
    before: Vec<String>,
    stream: CreateStream,
    fault: Instant,
}

impl HaRun {
    /// Waits until the cluster is whole, starts the stream, and returns once
    /// it is well under way.
    async fn start() -> Self {
        let cluster = ComposeCluster::attach_as_it_is();
        wait_until_whole(&cluster).await;
        let api = cluster.api();
        let before = listed_ids(&api).await;
        let stream = CreateStream::start(&api, CLIENTS, "1.00");
        stream.wait_for_more(50).await;
        Self {
            cluster,
            api,
            before,
            stream,
            fault: Instant::now(),
        }
    }

    /// Marks the moment of the fault, which the report counts from.
    fn fault_now(&mut self) {
        self.fault = Instant::now();
    }

    /// Once creates flow again and every store is whole: stops the stream,
    /// reports, checks that no create failed unless `may_fail`, and settles
    /// the ledger (each create without a 200 retried with its own key).
    async fn settle(self, what: &str, may_fail: bool) -> Settled {
        self.stream.wait_for_more(50).await;
        wait_until_whole(&self.cluster).await;
        self.stream.wait_for_more(20).await;
        let mut ledger = self.stream.stop().await;
        let outage = ledger.outage_since(self.fault);
        eprintln!(
            "{what}: {} answers 503 and {} other failures over {:?}; creates succeeded again {:?} after the fault",
            outage.unavailable,
            outage.other_failures,
            outage.failing_for,
            outage.creates_back_after
        );
        if !may_fail {
            assert!(
                ledger.failures.is_empty(),
                "{what}: creates failed: {:?}",
                ledger.failures
            );
        }
        ledger.settle(&self.api).await;
        Settled {
            cluster: self.cluster,
            api: self.api,
            before: self.before,
            placed: ledger.placed(),
        }
    }

    /// `settle`, then every acknowledged order must be listed exactly once.
    async fn finish(self, what: &str, may_fail: bool) -> ComposeCluster {
        let Settled {
            cluster,
            api,
            before,
            placed,
        } = self.settle(what, may_fail).await;
        let accounting = assert_listed_exactly(&api, &before, &placed).await;
        eprintln!(
            "{what}: created {}, found {}, lost {}, duplicated {}",
            accounting.created, accounting.found, accounting.lost, accounting.duplicated
        );
        cluster
    }
}

/// A fault run after its stream: the orders listed before it, and those it
/// placed (every create answered 200 in the end).
struct Settled {
    cluster: ComposeCluster,
    api: Api,
    before: Vec<String>,
    placed: Vec<String>,
}

/// SIGKILL to the first process of `service`'s container, from the host, as
/// `scripts/ha.sh kill-leader` sends it: the restart policy brings it back.
async fn sigkill(cluster: &ComposeCluster, service: &str) {
    let id = cluster.containers(service).await.remove(0);
    let pid = cluster
        .docker(&["inspect", "-f", "{{.State.Pid}}", &id])
        .await;
    let status = tokio::process::Command::new("kill")
        .args(["-KILL", pid.trim()])
        .status()
        .await
        .expect("running kill");
    assert!(status.success(), "kill -KILL {pid} ({service})");
    eprintln!("killed {service}");
}

/// A container cut off the compose network, put back under its service's
/// name (which the other nodes and the routers resolve) by `reconnect`, or
/// when dropped: a test that fails midway must not leave the next ones a
/// cluster with a node away.
struct CutOff {
    network: String,
    id: String,
    service: String,
    connected: bool,
}

async fn cut_off(cluster: &ComposeCluster, service: &str) -> CutOff {
    let (network, id) = (
        cluster.network().await,
        cluster.containers(service).await.remove(0),
    );
    cluster
        .docker(&["network", "disconnect", &network, &id])
        .await;
    eprintln!("cut {service} off the network");
    CutOff {
        network,
        id,
        service: service.to_owned(),
        connected: false,
    }
}

impl CutOff {
    fn reconnect(&mut self) {
        assert!(self.try_reconnect(), "reconnecting {}", self.service);
    }

    fn try_reconnect(&mut self) -> bool {
        let args = [
            "network",
            "connect",
            "--alias",
            &self.service,
            &self.network,
            &self.id,
        ];
        let status = std::process::Command::new("docker").args(args).status();
        self.connected = status.is_ok_and(|status| status.success());
        eprintln!("reconnected {}: {}", self.service, self.connected);
        self.connected
    }
}

impl Drop for CutOff {
    fn drop(&mut self) {
        if !self.connected {
            self.try_reconnect();
        }
    }
}

/// Asks `attempt` every half second until it gives a value; panics with
/// `what` once FAILOVER_WITHIN has passed.
async fn within_failover<T, Attempt, Answer>(what: &str, attempt: Attempt) -> T
where
    Attempt: Fn() -> Answer,
    Answer: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = attempt().await {
            return value;
        }
        assert!(
            start.elapsed() < FAILOVER_WITHIN,
            "{what} after {FAILOVER_WITHIN:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Waits until `store` has a leader other than `old`, and returns it.
async fn new_leader(cluster: &ComposeCluster, store: Store, old: &str) -> String {
    let other = || async move {
        let leader = leader(cluster, store).await;
        leader.filter(|l| l.name != old).map(|l| l.name)
    };
    within_failover(&format!("{store:?}: no leader other than {old}"), other).await
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_write_models_leader_sigkilled_mid_stream_loses_nothing_and_the_cap_stays_exact() {
    let mut run = HaRun::start().await;
    let before = leader(&run.cluster, Store::WriteModel)
        .await
        .expect("a leader");
    run.fault_now();
    let killed = kill_leader(&run.cluster, "write_model").await;
    assert_eq!(killed, before.name, "kill-leader killed the leader");
    let cluster = run.finish("the write model's leader SIGKILLed", true).await;
    let after = leader(&cluster, Store::WriteModel).await.expect("a leader");
    // A leader restarted at once may win the election again (it has every
    // commit); either way there was one, on a new timeline, and the killed
    // node is a running member again (wait_until_whole).
    eprintln!(
        "leader before: {} (timeline {:?}); after: {} (timeline {:?})",
        before.name, before.timeline, after.name, after.timeline
    );
    assert!(after.timeline > before.timeline, "a new leader was elected");
    the_cap_stays_exact(&cluster).await;
    // The cap is for good once reached: the next tests get a new cluster.
    cluster.compose(&["down", "-v"]).await;
    cluster.up().await;
}

/// The 100 BTC race on what is left of the cap: 1 BTC orders, each key sent
/// twice at once, 30 keys more than fit. Exactly as many orders as whole
/// BTC fit under 100 are placed; every other answer is 409.
async fn the_cap_stays_exact(cluster: &ComposeCluster) {
    const SATOSHIS_PER_BTC: u64 = 100_000_000;
    let api = cluster.api();
    let stored: u64 = listed_rows(&api)
        .await
        .iter()
        .map(|row| satoshis(row["btc_amount"].as_str().expect("btc_amount")))
        .sum();
    let fit = (100 * SATOSHIS_PER_BTC - stored) / SATOSHIS_PER_BTC;
    cluster
        .control_coinbase(json!({"rates": {"USD": "1000.00"}}))
        .await;
    let keys: Vec<String> = (0..fit + 30).map(|_| Uuid::new_v4().to_string()).collect();
    let requests = keys.iter().flat_map(|key| {
        let body = json!({"currency": "USD", "amount": "1000.00", "idempotence_key": key});
        [body.clone(), body]
    });
    let replies = futures_util::future::join_all(requests.map(|body| {
        let api = api.clone();
        async move { api.put_order(&body).await }
    }))
    .await;
    let mut placed = HashSet::new();
    for reply in &replies {
        match reply.status.as_u16() {
            200 => {
                placed.insert(reply.json()["buy_order"]["id"].to_string());
            }
            409 => assert_eq!(reply.json()["code"], "btc_limit_exceeded", "{}", reply.text),
            status => panic!("unexpected {status}: {}", reply.text),
        }
    }
    eprintln!(
        "the cap after the failover: {stored} satoshis stored, room for {fit} orders of 1 BTC, {} placed of {} keys",
        placed.len(),
        keys.len()
    );
    assert_eq!(
        placed.len() as u64,
        fit,
        "exactly as many as fit under 100 BTC"
    );
}

/// "0.00254647" as 254647.
fn satoshis(btc: &str) -> u64 {
    let (whole, fraction) = btc.split_once('.').unwrap_or((btc, ""));
    let fraction = format!("{fraction:0<8}");
    whole.parse::<u64>().expect("whole BTC") * 100_000_000
        + fraction.parse::<u64>().expect("satoshis")
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_write_models_synchronous_standby_sigkilled_fails_no_request() {
    let mut run = HaRun::start().await;
    let members = members(&run.cluster, Store::WriteModel).await;
    let standby = members.iter().find(|m| m.role == "Sync Standby");
    let standby = standby.expect("a synchronous standby").name.clone();
    run.fault_now();
    sigkill(&run.cluster, &standby).await;
    run.finish("the write model's synchronous standby SIGKILLed", false)
        .await;
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_etcd_leader_sigkilled_fails_no_request() {
    let mut run = HaRun::start().await;
    let leader = etcd_leader(&run.cluster).await;
    run.fault_now();
    sigkill(&run.cluster, &leader).await;
    run.finish("etcd's leader SIGKILLed", false).await;
}

/// The etcd member that leads the etcd cluster now (`etcd2`, say).
async fn etcd_leader(cluster: &ComposeCluster) -> String {
    let id = cluster.running("etcd1").await.remove(0);
    let endpoints = "--endpoints=etcd1:2379,etcd2:2379,etcd3:2379";
    let args = [
        "exec", &id, "etcdctl", endpoints, "endpoint", "status", "-w", "json",
    ];
    let statuses: Vec<serde_json::Value> =
        serde_json::from_str(&cluster.docker(&args).await).expect("etcdctl's JSON");
    let leads = |status: &&serde_json::Value| {
        status["Status"]["header"]["member_id"] == status["Status"]["leader"]
    };
    let endpoint = statuses.iter().find(leads).expect("a leader")["Endpoint"]
        .as_str()
        .expect("an endpoint");
    endpoint.split(':').next().expect("a host").to_owned()
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_write_models_leader_cut_off_never_acknowledges_a_write_after_losing_the_lock() {
    let mut run = HaRun::start().await;
    let old = leader(&run.cluster, Store::WriteModel)
        .await
        .expect("a leader")
        .name;
    run.fault_now();
    let mut old_leader = cut_off(&run.cluster, &old).await;
    let new = new_leader(&run.cluster, Store::WriteModel, &old).await;
    run.stream.wait_for_more(50).await;

    // Both sides, while the old leader is still cut off: every order
    // acknowledged so far is on the new leader, and what only the old one
    // has (commits that no standby confirmed) was never acknowledged.
    let acknowledged = run.stream.acknowledged();
    let on_new = order_ids_on(&run.cluster, &new).await;
    let on_old = order_ids_on(&run.cluster, &old).await;
    let old_only: Vec<&String> = on_old.difference(&on_new).collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !on_new.contains(*id))
        .collect();
    eprintln!(
        "cut off: the old leader {old} holds {} orders, the new leader {new} {}; {} only on the old one; {} acknowledged",
        on_old.len(),
        on_new.len(),
        old_only.len(),
        acknowledged.len()
    );
    old_leader.reconnect();
    assert!(
        missing.is_empty(),
        "acknowledged but not on the new leader: {missing:?}"
    );

    let settled = run
        .settle("the write model's leader cut off, then reconnected", true)
        .await;
    let acknowledged: HashSet<&String> = settled.placed.iter().collect();
    let split_brain: Vec<&&String> = old_only
        .iter()
        .filter(|id| acknowledged.contains(*id))
        .collect();
    assert!(
        split_brain.is_empty(),
        "acknowledged by the old leader after it lost the lock: {split_brain:?}"
    );
    let accounting = assert_listed_exactly(&settled.api, &settled.before, &settled.placed).await;
    eprintln!(
        "cut off: created {}, found {}, lost {}, duplicated {}",
        accounting.created, accounting.found, accounting.lost, accounting.duplicated
    );
}

/// The ids of the orders in the write model of node `service`, read on the
/// node itself (its local socket needs no network).
async fn order_ids_on(cluster: &ComposeCluster, service: &str) -> HashSet<String> {
    let id = cluster.containers(service).await.remove(0);
    let (user, database) = (
        cluster.var("WRITE_MODEL_DB_USER"),
        cluster.var("WRITE_MODEL_DB_NAME"),
    );
    let query = "SELECT external_id FROM buy_order";
    let args = [
        "exec",
        &id,
        "psql",
        "-h",
        "/var/run/postgresql",
        "-U",
        user,
        "-d",
        database,
    ];
    let command = [&args[..], &["-Atc", query]].concat();
    // A node being demoted restarts PostgreSQL: asked again until it answers.
    let ids = within_failover(&format!("{service} never answered"), || {
        cluster.try_docker(&command)
    })
    .await;
    ids.lines().map(str::to_owned).collect()
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_read_models_leader_sigkilled_loses_no_order_from_the_read_model() {
    let mut run = HaRun::start().await;
    run.fault_now();
    kill_leader(&run.cluster, "read_model").await;
    // Creates never need the read model.
    let Settled {
        cluster,
        api,
        before,
        placed,
    } = run.settle("the read model's leader SIGKILLed", false).await;
    // Asynchronous replication: a failover may drop the last rows synced.
    let (exact, accounting) =
        listed_exactly_within(&api, &before, &placed, Duration::from_secs(30)).await;
    eprintln!(
        "read model leader SIGKILLed: lost {} before any rebuild",
        accounting.lost
    );
    if !exact {
        rebuild(&cluster).await;
    }
    assert_listed_exactly(&api, &before, &placed).await;
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn a_read_model_failover_with_rows_not_yet_replicated_is_repaired_by_rebuild() {
    let mut run = HaRun::start().await;
    let old = leader(&run.cluster, Store::ReadModel)
        .await
        .expect("a leader")
        .name;
    let replica = Store::ReadModel.nodes().iter().find(|node| **node != old);
    let replica = replica.expect("a replica").to_string();
    // Orders synced while the replica is away exist on the leader alone...
    let mut away = cut_off(&run.cluster, &replica).await;
    run.stream.wait_for_more(100).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    // ...when the leader goes, and the replica takes over without them.
    run.fault_now();
    let mut old_leader = cut_off(&run.cluster, &old).await;
    away.reconnect();
    new_leader(&run.cluster, Store::ReadModel, &old).await;
    old_leader.reconnect();

    let Settled {
        cluster,
        api,
        before,
        placed,
    } = run
        .settle("a read model failover with rows not yet replicated", false)
        .await;
    let (_, gap) = listed_exactly_within(&api, &before, &placed, Duration::from_secs(10)).await;
    eprintln!("the failover lost {} orders from the read model", gap.lost);
    assert!(gap.lost > 0, "the failover left a gap to repair");
    rebuild(&cluster).await;
    assert_listed_exactly(&api, &before, &placed).await;
}

/// `read_model_sync rebuild`, as docs/operations.md runs it under compose.
async fn rebuild(cluster: &ComposeCluster) {
    let printed = cluster
        .compose(&["exec", "-T", "read_model_sync", "service", "rebuild"])
        .await;
    eprintln!("rebuild: {}", printed.trim());
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn the_node_leading_the_queue_sigkilled_loses_and_duplicates_nothing() {
    let mut run = HaRun::start().await;
    run.fault_now();
    kill_leader(&run.cluster, "queue").await;
    // Creates need no queue: the outbox holds their events meanwhile.
    run.finish("the node leading the buy-order queue SIGKILLed", false)
        .await;
}

#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn a_queue_node_cut_off_and_reconnected_loses_and_duplicates_nothing() {
    let mut run = HaRun::start().await;
    let (leader, _) = queue_leader_and_members(&run.cluster)
        .await
        .expect("the queue's leader");
    let node = leader.trim_start_matches("rabbit@").to_owned();
    run.fault_now();
    let mut away = cut_off(&run.cluster, &node).await;
    run.stream.wait_for_more(100).await;
    away.reconnect();
    run.finish("the queue's leading node cut off, then reconnected", false)
        .await;
}

/// A store node started without its secret exits at once, naming it (the
/// compose file's own check is `compose`'s test of the HA layer).
#[tokio::test]
#[ignore = "needs the HA cluster: ./test.sh --ha"]
async fn a_store_node_without_its_secret_exits_naming_it() {
    let cluster = ComposeCluster::attach_as_it_is();
    let node_sh = std::fs::canonicalize(format!("{}/services/ha/queue/node.sh", cluster.root()))
        .expect("services/ha/queue/node.sh");
    let node_sh = node_sh.display();
    let cases: [(&str, Vec<String>); 2] = [
        (
            "PATRONI_REPLICATION_PASSWORD",
            [
                "-e=PATRONI_CONFIG=write_model.yml",
                "-e=PATRONI_NAME=write_model9",
                "-e=PATRONI_ETCD3_HOSTS=etcd1:2379",
                "-e=POSTGRES_DB=write_model",
                "-e=PATRONI_SUPERUSER_USERNAME=rsdist",
                "-e=PATRONI_SUPERUSER_PASSWORD=rsdist",
                "-e=PATRONI_REPLICATION_USERNAME=rsdist_replicator",
                "rsdist/patroni:latest",
            ]
            .map(str::to_owned)
            .to_vec(),
        ),
        (
            "RABBITMQ_ERLANG_COOKIE",
            vec![
                format!("--volume={node_sh}:/usr/local/bin/ha-queue-node.sh:ro"),
                "--entrypoint=/usr/local/bin/ha-queue-node.sh".to_owned(),
                "-e=Q_CLUSTER_NODES=queue1".to_owned(),
                "rsdist/queue:latest".to_owned(),
            ],
        ),
    ];
    for (variable, args) in cases {
        let output = tokio::process::Command::new("docker")
            .args(["run", "--rm"])
            .args(&args)
            .output()
            .await
            .expect("docker run");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{variable}: {stderr}");
        assert!(
            stderr.contains(&format!("{variable} must be set")),
            "{stderr}"
        );
    }
}
