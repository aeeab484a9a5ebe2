//! Container faults under a stream of creates, each with exact accounting
//! (see `ledger`): SIGKILLed services and read model, a restarted queue, a
//! stopped write model, a read model cut off the network, down and up.
//! Replicas and their faults are `replicas`'.

use std::time::{Duration, Instant};

use serde_json::json;
use testkit::Api;
use uuid::Uuid;

use crate::compose::{ComposeCluster, REQUEST_TIMEOUT};
use crate::ledger::{CreateStream, assert_listed_exactly, listed_ids};

/// Concurrent clients in a stream of creates.
const CLIENTS: usize = 4;

/// Failures a fault may cause: none, a create cut off with its connection,
/// or a 503 while a backing service is away.
const NONE: &[&str] = &[];
const CUT_OFF_OR_503: &[&str] = &["no answer", "503 Service Unavailable"];
const ONLY_503: &[&str] = &["503 Service Unavailable"];

/// A stream of creates around a fault, on the cluster as the test found it.
struct FaultRun {
    cluster: ComposeCluster,
    api: Api,
    before: Vec<String>,
    stream: CreateStream,
}

impl FaultRun {
    /// Starts the stream, and returns once it is well under way.
    async fn start() -> Self {
        let cluster = ComposeCluster::attach().await;
        let api = cluster.api();
        let before = listed_ids(&api).await;
        let stream = CreateStream::start(&api, CLIENTS, "1.00");
        stream.wait_for_more(50).await;
        Self {
            cluster,
            api,
            before,
            stream,
        }
    }

    /// Once the cluster is healthy again and creates flow: stops the stream,
    /// checks that every failure was one `allowed` names, retries what failed
    /// with its own key, and checks that the read model holds exactly the
    /// orders placed.
    async fn finish(self, allowed: &[&str]) {
        self.cluster.wait_healthy().await;
        self.stream.wait_for_more(50).await;
        let mut ledger = self.stream.stop().await;
        eprintln!("failures during the fault: {:?}", ledger.failures);
        let unexpected: Vec<_> = ledger
            .failures
            .keys()
            .filter(|status| !allowed.contains(&status.as_str()))
            .collect();
        assert!(unexpected.is_empty(), "creates failed with {unexpected:?}");
        ledger.settle(&self.api).await;
        assert_listed_exactly(&self.api, &self.before, &ledger.placed()).await;
    }
}

/// Kills `service`'s container with SIGKILL mid-stream and starts it again.
async fn sigkill_mid_stream(service: &str) {
    let run = FaultRun::start().await;
    run.cluster
        .compose(&["kill", "-s", "SIGKILL", service])
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.cluster.compose(&["start", service]).await;
    run.finish(CUT_OFF_OR_503).await;
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_sigkilled_create_buy_order_loses_and_duplicates_nothing() {
    sigkill_mid_stream("create_buy_order").await;
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_sigkilled_read_model_sync_loses_and_duplicates_nothing() {
    sigkill_mid_stream("read_model_sync").await;
}

/// The read model's PostgreSQL killed outright (the whole container, its
/// postmaster first) while orders are being synced: every order whose
/// message was acknowledged must still be there after the restart, since
/// commits wait for the disk.
#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_sigkilled_read_model_keeps_every_acknowledged_order() {
    let run = FaultRun::start().await;
    run.cluster
        .compose(&["kill", "-s", "SIGKILL", "read_model"])
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.cluster.compose(&["start", "read_model"]).await;
    // Creates never need the read model.
    run.finish(NONE).await;
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_queue_restarted_mid_stream_loses_and_duplicates_nothing() {
    let run = FaultRun::start().await;
    run.cluster.compose(&["restart", "queue"]).await;
    // Creates need no queue: the outbox holds their events until it is back.
    run.finish(NONE).await;
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_stopped_write_model_gives_503s_then_creates_resume_without_restarts() {
    let run = FaultRun::start().await;
    let started = run.cluster.started_at("create_buy_order").await;
    run.cluster.compose(&["stop", "write_model"]).await;
    // While it is down, every create is refused with 503 (never a hang: the
    // client gives up after REQUEST_TIMEOUT), and the stream keeps trying.
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let body = json!({"currency": "USD", "amount": "1.00", "idempotence_key": Uuid::new_v4()});
        let sent = Instant::now();
        let reply = run
            .api
            .try_put_order(&body)
            .await
            .expect("an answer within the timeout");
        slowest = slowest.max(sent.elapsed());
        assert_eq!(reply.status, 503, "{}", reply.text);
    }
    eprintln!(
        "write model stopped: the slowest 503 took {slowest:?} (client timeout {REQUEST_TIMEOUT:?})"
    );
    run.cluster.compose(&["start", "write_model"]).await;
    let cluster = ComposeCluster::attach().await;
    run.finish(ONLY_503).await;
    assert_eq!(
        cluster.started_at("create_buy_order").await,
        started,
        "create_buy_order was not restarted"
    );
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn a_read_model_cut_off_the_network_catches_up_after_it_is_back() {
    let run = FaultRun::start().await;
    let network = run.cluster.network().await;
    let read_model = run.cluster.containers("read_model").await.remove(0);
    run.cluster
        .docker(&["network", "disconnect", &network, &read_model])
        .await;
    // Creates go on while the read model is away: the write side needs none of it.
    run.stream.wait_for_more(100).await;
    let alias = ["network", "connect", "--alias", "read_model"];
    run.cluster
        .docker(&[&alias[..], &[network.as_str(), read_model.as_str()]].concat())
        .await;
    run.finish(NONE).await;
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn down_and_up_keeps_every_order_and_down_v_empties_the_cluster() {
    let cluster = ComposeCluster::attach().await;
    let api = cluster.api();
    let earlier = listed_ids(&api).await;
    let stream = CreateStream::start(&api, CLIENTS, "1.00");
    stream.wait_for_more(20).await;
    let mut ledger = stream.stop().await;
    ledger.settle(&api).await;
    assert_listed_exactly(&api, &earlier, &ledger.placed()).await;
    let before = listed_ids(&api).await;

    cluster.compose(&["down"]).await;
    cluster.up().await;
    assert_listed_exactly(&api, &before, &[]).await;

    cluster.compose(&["down", "-v"]).await;
    cluster.up().await;
    assert_eq!(
        listed_ids(&api).await,
        Vec::<String>::new(),
        "no order after down -v"
    );
    let reply = api.buy("EUR", "10.00").await;
    assert_eq!(
        reply.status, 200,
        "a fresh cluster takes orders: {}",
        reply.text
    );
}
