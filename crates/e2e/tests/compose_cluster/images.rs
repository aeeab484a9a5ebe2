//! What the cluster runs on: our images are distroless (no shell to break
//! into, an unprivileged user) and healthy, and the log service, the one sink
//! of every request's events under compose, gets each of them.

use std::collections::BTreeSet;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::process::Command;

use crate::compose::ComposeCluster;

/// The images built from our own binaries (the log service's is ours where
/// fluentd's image cannot be had).
const OUR_IMAGES: [&str; 7] = [
    "migration",
    "btc_price",
    "create_buy_order",
    "read_model_sync",
    "fetch_buy_orders",
    "fake_coinbase",
    "log",
];

/// The user every one of our images runs as.
const USER: &str = "10001";

/// Whether `image` was built from our binary: its entrypoint is the binary.
/// (Where a registry is reached, `log` is fluentd's image instead.)
async fn is_ours(cluster: &ComposeCluster, image: &str) -> bool {
    let entrypoint = cluster
        .docker(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Entrypoint}}",
            image,
        ])
        .await;
    entrypoint.trim() == r#"["/usr/local/bin/service"]"#
}

/// Whether `docker run --entrypoint PROGRAM IMAGE` starts anything.
async fn runs(image: &str, program: &str) -> bool {
    let output = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", program, image, "-c", "true"])
        .output()
        .await
        .expect("starting docker");
    output.status.success()
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn our_images_have_no_shell_run_as_user_10001_and_are_healthy() {
    let cluster = ComposeCluster::attach().await;
    for service in OUR_IMAGES {
        let image = format!("rsdist/{service}:latest");
        if !is_ours(&cluster, &image).await {
            eprintln!("{image} is not built from our binary here: skipped");
            continue;
        }
        for shell in ["sh", "/bin/sh", "bash", "/bin/bash", "busybox"] {
            assert!(!runs(&image, shell).await, "{image} runs {shell}");
        }
        let user = cluster
            .docker(&["image", "inspect", "-f", "{{.Config.User}}", &image])
            .await;
        assert_eq!(user.trim(), format!("{USER}:{USER}"), "{image}'s user");
        for id in cluster.containers(service).await {
            // The processes as the host sees them: their real uid.
            let table = cluster.docker(&["top", &id, "-o", "pid,uid"]).await;
            let uids: BTreeSet<&str> = table
                .lines()
                .skip(1)
                .filter_map(|row| row.split_whitespace().nth(1))
                .collect();
            assert_eq!(uids, BTreeSet::from([USER]), "{service}'s processes");
            assert!(
                cluster.healthcheck_passes_now(&id).await,
                "{service}'s own healthcheck, as the engine runs it"
            );
        }
    }
}

/// The request ids of `count` creates, sent `concurrency` at a time; every
/// one must succeed.
async fn create_burst(cluster: &ComposeCluster, count: usize, concurrency: usize) -> Vec<String> {
    let api = cluster.api();
    let replies: Vec<_> = futures_util::stream::iter(0..count)
        .map(|_| api.buy("EUR", "1.00"))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    replies
        .into_iter()
        .map(|reply| {
            assert_eq!(reply.status, 200, "{}", reply.text);
            reply.request_id.expect("an x-request-id")
        })
        .collect()
}

/// The request ids of the `create_buy_order_response_returned` events the log
/// service holds (`receiver`: our receiver, which prints its events file;
/// else fluentd, whose image keeps one file per tag and day).
async fn logged_response_ids(cluster: &ComposeCluster, receiver: bool) -> BTreeSet<String> {
    let lines = if receiver {
        cluster
            .compose(&["exec", "-T", "log", "/usr/local/bin/service", "events"])
            .await
    } else {
        let files = "cat /fluentd/log/*.create_buy_order/* 2>/dev/null || true";
        cluster
            .compose(&["exec", "-T", "log", "sh", "-c", files])
            .await
    };
    lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|line| match line.get("record") {
            Some(record) => record.clone(),
            None => line,
        })
        .filter(|record| record["event"] == "create_buy_order_response_returned")
        .filter_map(|record| record["request_id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn the_log_service_gets_the_response_event_of_every_create_in_a_burst() {
    let cluster = ComposeCluster::attach().await;
    let sent = create_burst(&cluster, 1000, 32).await;
    let receiver = is_ours(&cluster, "rsdist/log:latest").await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let logged = logged_response_ids(&cluster, receiver).await;
        let missing: Vec<_> = sent.iter().filter(|id| !logged.contains(*id)).collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {} response events never reached the log service, e.g. {:?}",
            missing.len(),
            sent.len(),
            &missing[..missing.len().min(3)]
        );
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}
