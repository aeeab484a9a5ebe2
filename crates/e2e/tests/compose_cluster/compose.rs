//! The compose cluster as the tests drive it: compose commands with the fake
//! Coinbase profile (as `FAKE_COINBASE=1 ./run.sh` runs it), the containers
//! of a service, their health, and the published APIs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::Api;
use testkit::settings::dotenv;
use tokio::process::Command;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// How long a cluster may take to become healthy after `up` or a fault.
const HEALTHY_WITHIN: Duration = Duration::from_secs(240);

/// A client gives up on one request after this long: an answer that takes
/// longer counts as a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The profiles of the cluster under test: the fake Coinbase, as
/// `FAKE_COINBASE=1 ./run.sh` runs it.
pub const DEFAULT_PROFILES: &str = "fake_coinbase";

/// Every profile: the default ones and the second create_buy_order.
pub const ALL_PROFILES: &str = "fake_coinbase,scale_out";

/// The compose project of this repository, with the fake Coinbase.
pub struct ComposeCluster {
    variables: BTreeMap<String, String>,
    http: reqwest::Client,
}

impl ComposeCluster {
    /// The cluster `./test.sh --compose` brought up; waits until it is healthy.
    pub async fn attach() -> Self {
        let cluster = Self {
            variables: dotenv(),
            http: reqwest::Client::new(),
        };
        cluster.wait_healthy().await;
        cluster
    }

    /// The two public APIs on their published ports.
    pub fn api(&self) -> Api {
        Api::published().with_timeout(REQUEST_TIMEOUT)
    }

    /// The second create_buy_order (profile scale_out) with the published fetch API.
    pub fn replica_api(&self) -> Api {
        Api::new(
            format!(
                "http://127.0.0.1:{}",
                self.var("CREATE_BUY_ORDER_REPLICA_EXT_PORT")
            ),
            format!("http://127.0.0.1:{}", self.var("FETCH_BUY_ORDERS_EXT_PORT")),
        )
        .with_timeout(REQUEST_TIMEOUT)
    }

    fn var(&self, name: &str) -> &str {
        self.variables
            .get(name)
            .unwrap_or_else(|| panic!("{name} in .env"))
    }

    /// Runs `compose <args>` in the repository, as run.sh with FAKE_COINBASE=1
    /// would, and returns its stdout; panics with its stderr if it fails.
    /// Every profile is on, so that `ps` and `down` see every container.
    pub async fn compose(&self, args: &[&str]) -> String {
        self.compose_with(ALL_PROFILES, args).await
    }

    /// As [`Self::compose`], with only the given compose profiles on.
    pub async fn compose_with(&self, profiles: &str, args: &[&str]) -> String {
        let words = std::env::var("RSDIST_COMPOSE").unwrap_or_else(|_| "docker-compose".into());
        let mut words = words.split_whitespace();
        let mut command = Command::new(words.next().expect("a compose command"));
        command
            .args(words)
            .args(args)
            .current_dir(ROOT)
            .env("COMPOSE_PROFILES", profiles)
            .env("CB_PROTOCOL", "http")
            .env("CB_HOST", "fake_coinbase")
            .env("CB_PORT", self.var("FAKE_COINBASE_PORT"));
        stdout_of(command).await
    }

    /// Runs `docker <args>` and returns its stdout; panics if it fails.
    pub async fn docker(&self, args: &[&str]) -> String {
        let mut command = Command::new("docker");
        command.args(args);
        stdout_of(command).await
    }

    /// The ids of the containers of `service` (all of them, running or not).
    pub async fn containers(&self, service: &str) -> Vec<String> {
        let ids = self.compose(&["ps", "-q", service]).await;
        ids.split_whitespace().map(str::to_owned).collect()
    }

    /// `up -d` for the default services (the fake Coinbase included), then
    /// waits until every container is healthy.
    pub async fn up(&self) {
        self.compose_with(DEFAULT_PROFILES, &["up", "-d", "--remove-orphans"])
            .await;
        self.wait_healthy().await;
    }

    /// Waits until every container of the project is healthy.
    pub async fn wait_healthy(&self) {
        let start = Instant::now();
        loop {
            let unhealthy = self.unhealthy().await;
            if unhealthy.is_empty() {
                return;
            }
            assert!(
                start.elapsed() < HEALTHY_WITHIN,
                "not healthy after {HEALTHY_WITHIN:?}: {unhealthy:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Containers of the project that are not healthy, with their state.
    async fn unhealthy(&self) -> Vec<String> {
        let ids = self.compose(&["ps", "-q"]).await;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return vec!["no containers".into()];
        }
        let format = "{{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}";
        let mut args = vec!["inspect", "-f", format];
        args.extend(ids);
        let states = self.docker(&args).await;
        states
            .lines()
            .filter(|line| !line.ends_with(" healthy"))
            .map(str::to_owned)
            .collect()
    }

    /// When the container of `service` last started (to tell a restart).
    pub async fn started_at(&self, service: &str) -> String {
        let id = self.containers(service).await.remove(0);
        self.docker(&["inspect", "-f", "{{.State.StartedAt}}", &id])
            .await
            .trim()
            .to_owned()
    }

    /// The compose network every service is on.
    pub async fn network(&self) -> String {
        let id = self.containers("read_model").await.remove(0);
        let networks = self
            .docker(&[
                "inspect",
                "-f",
                "{{range $name, $_ := .NetworkSettings.Networks}}{{$name}} {{end}}",
                &id,
            ])
            .await;
        networks
            .split_whitespace()
            .find(|name| name.ends_with("_internal"))
            .expect("the internal network")
            .to_owned()
    }

    /// Sets the fake Coinbase's behaviour through its control API, and
    /// returns once btc_price can no longer serve a quote from before.
    pub async fn control_coinbase(&self, control: Value) {
        let url = format!(
            "http://127.0.0.1:{}/control",
            self.var("FAKE_COINBASE_EXT_PORT")
        );
        let response = self
            .http
            .put(url)
            .json(&control)
            .send()
            .await
            .expect("the fake Coinbase answers");
        assert!(
            response.status().is_success(),
            "PUT /control: {}",
            response.status()
        );
        // btc_price may hold a quote from before (its healthcheck keeps one
        // fresh), and create_buy_order a quote of btc_price's, each until the
        // quote is CB_CACHE_TTL_MS old: past that, every price is new.
        let ttl_ms: u64 = self.var("CB_CACHE_TTL_MS").parse().unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ttl_ms + 250)).await;
    }
}

/// Runs `command` and returns its stdout; panics with its stderr if it fails.
async fn stdout_of(mut command: Command) -> String {
    let output = command.output().await.expect("starting the command");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{command:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
