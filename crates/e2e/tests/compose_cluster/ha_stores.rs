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

/// The members of `store`, asked of any of its running nodes; empty when
/// none answers.
pub async fn members(cluster: &ComposeCluster, store: Store) -> Vec<Member> {
    let config = format!("/etc/patroni/{}.yml", store.scope());
    for node in store.nodes() {
        for id in cluster.running(node).await {
            let args = ["exec", id.as_str(), "patronictl", "-c", &config, "list"];
            let Some(json) = cluster
                .try_docker(&[&args[..], &["-f", "json"]].concat())
                .await
            else {
                continue;
            };
            let listed: Vec<Value> = serde_json::from_str(&json).unwrap_or_default();
            return listed.iter().map(member).collect();
        }
    }
    Vec::new()
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
    for node in ["queue1", "queue2", "queue3"] {
        for id in cluster.running(node).await {
            let args = [
                "exec",
                id.as_str(),
                "rabbitmqctl",
                "-q",
                "list_queues",
                "name",
                "leader",
                "online",
                "--formatter",
                "json",
            ];
            let Some(json) = cluster.try_docker(&args).await else {
                continue;
            };
            let queues: Vec<Value> = serde_json::from_str(&json).unwrap_or_default();
            let queue = queues.iter().find(|queue| queue["name"] == "buy_order")?;
            let online = queue["online"].as_array().cloned().unwrap_or_default();
            let online = online
                .iter()
                .filter_map(|node| node.as_str().map(str::to_owned));
            return Some((queue["leader"].as_str()?.to_owned(), online.collect()));
        }
    }
    None
}

async fn queue_is_not_whole(cluster: &ComposeCluster) -> Option<String> {
    match queue_leader_and_members(cluster).await {
        Some((_, online)) if online.len() == 3 => None,
        seen => Some(format!(
            "queue: buy_order leader and online members {seen:?}"
        )),
    }
}

/// Waits until every container is healthy and each store is whole again:
/// both PostgreSQL clusters with every member running and one leader, and
/// the buy-order queue with all three members online. Then prints
/// `scripts/ha.sh status` for the record.
pub async fn wait_until_whole(cluster: &ComposeCluster) {
    let start = Instant::now();
    loop {
        let mut wrong = Vec::new();
        for store in [Store::WriteModel, Store::ReadModel] {
            wrong.extend(store_is_not_whole(cluster, store).await);
        }
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
    cluster.wait_healthy().await;
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
