//! The dev overlay's settings, run: each service's image started under
//! docker with exactly the environment the overlay renders for its pod
//! (ConfigMap, Secret and its own `env`), the pod's security settings and
//! limits, and the overlay's host names mapped to the compose cluster's
//! stores. `migration apply` (the Job) exits 0, every service turns healthy,
//! and an order placed through them is paged back through them: the
//! manifests' configuration is complete, not only well-formed.

use std::time::Duration;

use testkit::Api;
use testkit::kubernetes::{Rendered, Workload};
use testkit::yaml::scalar;
use uuid::Uuid;

use crate::compose::ComposeCluster;

/// The overlay's Services of the stores, and the compose services they are
/// here.
const STORES: [(&str, &str); 5] = [
    ("write-model", "write_model"),
    ("read-model", "read_model"),
    ("queue", "queue"),
    ("log", "log"),
    ("fake-coinbase", "fake_coinbase"),
];

/// The services, in the order they must start (the others find btc-price).
const SERVICES: [&str; 4] = [
    "btc-price",
    "create-buy-order",
    "read-model-sync",
    "fetch-buy-orders",
];

/// A container this test started, removed when dropped.
struct Pod {
    id: String,
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", &self.id])
            .output();
    }
}

/// Kubernetes' CPU quantity (`200m`, `1`) as docker's `--cpus`.
fn cpus(quantity: &str) -> String {
    match quantity.strip_suffix('m') {
        Some(millis) => format!("{:.3}", millis.parse::<f64>().expect("millicores") / 1000.0),
        None => quantity.to_owned(),
    }
}

/// `docker run` arguments that give a container what the pod has: its
/// environment, user, read-only root, no capabilities, its limits, and the
/// overlay's store names (`hosts`, as `--add-host` values).
fn pod_arguments(rendered: &Rendered, workload: &Workload, hosts: &[String]) -> Vec<String> {
    let secrets = rendered.secrets().expect("the dev overlay's Secret");
    let env = workload.env(&rendered.config(), &secrets);
    let limits = &workload.container()["resources"]["limits"];
    let user = workload.pod["securityContext"]["runAsUser"]
        .as_i64()
        .expect("a user");
    let mut args: Vec<String> = vec![
        format!("--user={user}:{user}"),
        "--read-only".into(),
        "--cap-drop=ALL".into(),
        "--security-opt=no-new-privileges".into(),
        format!("--memory={}", scalar(&limits["memory"]).replace("Mi", "m")),
        format!("--cpus={}", cpus(&scalar(&limits["cpu"]))),
    ];
    args.extend(hosts.iter().map(|host| format!("--add-host={host}")));
    args.extend(
        env.iter()
            .map(|(name, value)| format!("--env={name}={value}")),
    );
    args
}

/// `name:address` of each store on the compose network.
async fn store_hosts(cluster: &ComposeCluster, network: &str) -> Vec<String> {
    let mut hosts = Vec::new();
    for (name, service) in STORES {
        let id = cluster.containers(service).await.remove(0);
        let format = format!("{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}");
        let address = cluster.docker(&["inspect", "-f", &format, &id]).await;
        hosts.push(format!("{name}:{}", address.trim()));
    }
    hosts
}

/// Starts `app`'s image as its pod would run, on the compose network under
/// its Service's name, its port published on a loopback port.
async fn start_pod(
    cluster: &ComposeCluster,
    rendered: &Rendered,
    app: &str,
    network: &str,
    hosts: &[String],
) -> Pod {
    let workload = rendered.workload(app);
    let port = workload.port("http").expect("an http port");
    let name = format!(
        "rsdist-k8s-{app}-{}",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let mut args: Vec<String> = ["run", "-d", "--name", &name, "--network", network]
        .map(str::to_owned)
        .into();
    args.extend([
        format!("--network-alias={app}"),
        format!("--publish=127.0.0.1::{port}"),
    ]);
    args.extend(pod_arguments(rendered, &workload, hosts));
    args.push(scalar(&workload.container()["image"]));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let id = cluster.docker(&args).await.trim().to_owned();
    Pod { id }
}

/// Waits until the container's own healthcheck says healthy; panics with
/// its log after two minutes.
async fn wait_healthy(cluster: &ComposeCluster, app: &str, pod: &Pod) {
    for _ in 0..240 {
        let status = cluster
            .docker(&["inspect", "-f", "{{.State.Health.Status}}", &pod.id])
            .await;
        if status.trim() == "healthy" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let log = cluster.try_docker(&["logs", &pod.id]).await;
    panic!("{app} with the dev overlay's settings was not healthy: {log:?}");
}

/// `http://127.0.0.1:PORT` where the pod's port is published.
async fn published_url(
    cluster: &ComposeCluster,
    rendered: &Rendered,
    app: &str,
    pod: &Pod,
) -> String {
    let port = rendered.workload(app).port("http").expect("a port");
    let address = cluster
        .docker(&["port", &pod.id, &format!("{port}/tcp")])
        .await;
    let address = address
        .lines()
        .next()
        .expect("a published address")
        .trim()
        .to_owned();
    format!("http://{address}")
}

#[tokio::test]
#[ignore = "needs the compose cluster: ./test.sh --compose"]
async fn the_dev_overlay_settings_run_every_service_healthy_on_the_compose_stores() {
    let cluster = ComposeCluster::attach().await;
    let rendered = Rendered::overlay("dev");
    let network = cluster.network().await;
    let hosts = store_hosts(&cluster, &network).await;

    let job = rendered.workload("migration");
    let mut args: Vec<String> = ["run", "--rm", "--network", &network]
        .map(str::to_owned)
        .into();
    args.extend(pod_arguments(&rendered, &job, &hosts));
    args.push(scalar(&job.container()["image"]));
    args.extend(
        job.container()["args"]
            .as_vec()
            .expect("args")
            .iter()
            .map(scalar),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let applied = cluster.docker(&args).await;
    assert!(
        applied.contains("both schemas applied"),
        "migration apply: {applied}"
    );

    let mut pods = Vec::new();
    for app in SERVICES {
        pods.push(start_pod(&cluster, &rendered, app, &network, &hosts).await);
    }
    for (app, pod) in SERVICES.iter().zip(&pods) {
        wait_healthy(&cluster, app, pod).await;
    }

    let create = published_url(&cluster, &rendered, "create-buy-order", &pods[1]).await;
    let fetch = published_url(&cluster, &rendered, "fetch-buy-orders", &pods[3]).await;
    let api = Api::new(create, fetch);
    let created = api.buy("GBP", "12.34").await;
    assert_eq!(created.status, 200, "{}", created.text);
    let placed = created.json();
    let id = placed["buy_order"]["id"].as_str().expect("an order id");
    for _ in 0..100 {
        let page = api.get_orders("page_size=50").await;
        if page.text.contains(id) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("order {id} was not paged back within 10 s");
}
