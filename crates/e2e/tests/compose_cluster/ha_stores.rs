//! The replicated stores of the HA cluster (docker-compose.ha.yml) as the
//! tests see them: Patroni's members of each PostgreSQL cluster, the
//! RabbitMQ queue's leader and members, and the wait until all of it is
//! whole again after a fault.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::compose::ComposeCluster;

/// How long the stores may take to be whole again after a fault: a lapsed
/// leader lock (20 s), a restarted node's recovery and rejoin.
const WHOLE_WITHIN: Duration = Duration::from_secs(240);

/// A Patroni-managed PostgreSQL cluster, by its scope.
#[derive(Clone, Copy, Debug)]
pub enum Store {
    WriteModel,
    ReadModel,
}

impl Store {
    pub fn scope(self) -> &'static str {
        match self {
            Self::WriteModel => "write_model",
            Self::ReadModel => "read_model",
        }
    }

    /// The compose services of its nodes.
    pub fn nodes(self) -> &'static [&'static str] {
        match self {
            Self::WriteModel => &["write_model1", "write_model2", "write_model3"],
            Self::ReadModel => &["read_model1", "read_model2"],
        }
    }
}

/// One member as `patronictl list` shows it.
#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// Leader, Sync Standby or Replica.
    pub role: String,
    /// running, streaming, starting, stopped, ...
    pub state: String,
    pub timeline: Option<u64>,
}

/// Runs `command` in the first running container of `nodes` where it
/// succeeds: its stdout, or `None` if it succeeds in none.
async fn in_any_node(cluster: &ComposeCluster, nodes: &[&str], command: &[&str]) -> Option<String> {
    for node in nodes {
        for id in cluster.running(node).await {
            let args = [&["exec", id.as_str()], command].concat();
            if let Some(output) = cluster.try_docker(&args).await {
                return Some(output);
            }
        }
    }
    None
}

/// The members of `store`, asked of any of its running nodes; empty when
/// none answers.
pub async fn members(cluster: &ComposeCluster, store: Store) -> Vec<Member> {
    let config = format!("/etc/patroni/{}.yml", store.scope());
    // A node cut off the network cannot reach etcd, and its patronictl
    // would retry for minutes: another node is asked after 8 s.
    let list = [
        "timeout",
        "8",
        "patronictl",
        "-c",
        &config,
        "list",
        "-f",
        "json",
    ];
    let json = in_any_node(cluster, store.nodes(), &list).await;
    let listed: Vec<Value> = json
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    listed.iter().map(member).collect()
}

fn member(listed: &Value) -> Member {
    let text = |field: &str| listed[field].as_str().unwrap_or_default().to_owned();
    Member {
        name: text("Member"),
        role: text("Role"),
        state: text("State"),
        timeline: listed["TL"].as_u64(),
    }
}

/// The member that holds `store`'s leader lock, if one does.
pub async fn leader(cluster: &ComposeCluster, store: Store) -> Option<Member> {
    let members = members(cluster, store).await;
    members.into_iter().find(|member| member.role == "Leader")
}

/// What keeps `store` from being whole: every node a running member, one
/// leader, and for the write model a synchronous standby.
async fn store_is_not_whole(cluster: &ComposeCluster, store: Store) -> Option<String> {
    let members = members(cluster, store).await;
    let running = |member: &&Member| ["running", "streaming"].contains(&member.state.as_str());
    let role = |name: &str| members.iter().filter(|m| m.role == name).count();
    let whole = members.iter().filter(running).count() == store.nodes().len()
        && role("Leader") == 1
        && (matches!(store, Store::ReadModel) || role("Sync Standby") == 1);
    (!whole).then(|| format!("{}: {members:?}", store.scope()))
}

/// The buy-order queue's leader node and its online members (e.g.
/// `rabbit@queue2`), asked of any running node.
pub async fn queue_leader_and_members(cluster: &ComposeCluster) -> Option<(String, Vec<String>)> {
    let list = [
        "rabbitmqctl",
        "-q",
        "list_queues",
        "name",
        "leader",
        "online",
        "--formatter",
        "json",
    ];
    let json = in_any_node(cluster, &["queue1", "queue2", "queue3"], &list).await?;
    let queues: Vec<Value> = serde_json::from_str(&json).ok()?;
    let queue = queues.iter().find(|queue| queue["name"] == "buy_order")?;
    let online = queue["online"].as_array().cloned().unwrap_or_default();
    let online = online
        .iter()
        .filter_map(|node| node.as_str().map(str::to_owned));
    Some((queue["leader"].as_str()?.to_owned(), online.collect()))
}

async fn queue_is_not_whole(cluster: &ComposeCluster) -> Option<String> {
    match queue_leader_and_members(cluster).await {
        Some((_, online)) if online.len() == 3 => None,
        seen => Some(format!(
            "queue: buy_order leader and online members {seen:?}"
        )),
    }
}

/// What keeps etcd from being whole: a member that does not answer healthy.
async fn etcd_is_not_whole(cluster: &ComposeCluster) -> Option<String> {
    let endpoints = "--endpoints=etcd1:2379,etcd2:2379,etcd3:2379";
    let health = ["etcdctl", endpoints, "endpoint", "health"];
    let answered = in_any_node(cluster, &["etcd1", "etcd2", "etcd3"], &health).await;
    answered
        .is_none()
        .then(|| "etcd: not every member is healthy".into())
}

/// Waits until each store is whole again, as `scripts/ha.sh status` shows
/// it: both PostgreSQL clusters with every member running and one leader
/// (and the write model a synchronous standby), every etcd member healthy,
/// and the buy-order queue with all three members online. Then prints that
/// status for the record. (Docker's own health of a restarted node follows
/// at its next check, up to 30 s later; the stores' word is the one that
/// counts here.)
pub async fn wait_until_whole(cluster: &ComposeCluster) {
    let start = Instant::now();
    loop {
        let mut wrong = Vec::new();
        for store in [Store::WriteModel, Store::ReadModel] {
            wrong.extend(store_is_not_whole(cluster, store).await);
        }
        wrong.extend(etcd_is_not_whole(cluster).await);
        wrong.extend(queue_is_not_whole(cluster).await);
        if wrong.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < WHOLE_WITHIN,
            "not whole after {WHOLE_WITHIN:?}: {wrong:?}"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let status = cluster.script("scripts/ha.sh", &["status"], &[]).await;
    assert!(status.status.success(), "scripts/ha.sh status: {status:?}");
    eprintln!(
        "whole again {:?} after the wait began:\n{}",
        start.elapsed(),
        String::from_utf8_lossy(&status.stdout)
    );
}

/// `scripts/ha.sh kill-leader <store>`: the service it killed, from what it
/// printed (`killed write_model2 (...)`).
pub async fn kill_leader(cluster: &ComposeCluster, store: &str) -> String {
    let output = cluster
        .script("scripts/ha.sh", &["kill-leader", store], &[])
        .await;
    let printed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "kill-leader {store}: {output:?}");
    eprintln!("{}", printed.trim());
    let killed = printed.split_whitespace().nth(1).expect("the killed node");
    killed.to_owned()
}
