//! The compose cluster as the tests drive it: compose commands with the fake
//! Coinbase profile (as `FAKE_COINBASE=1 ./run.sh` runs it), the containers
//! of a service, their health, and the published APIs.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use serde_json::Value;
use std::process::Output;
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
pub const PROFILES: &str = "fake_coinbase";

/// The compose project of this repository, with the fake Coinbase.
pub struct ComposeCluster {
    variables: BTreeMap<String, String>,
    http: reqwest::Client,
}

impl ComposeCluster {
    /// The cluster `./test.sh --compose` brought up; waits until it is healthy.
    pub async fn attach() -> Self {
        let cluster = Self::attach_as_it_is();
        cluster.wait_healthy().await;
        cluster
    }

    /// The cluster as it is, healthy or not.
    pub fn attach_as_it_is() -> Self {
        Self {
            variables: dotenv(),
            http: reqwest::Client::new(),
        }
    }

    /// The two public APIs on their published ports.
    pub fn api(&self) -> Api {
        Api::published().with_timeout(REQUEST_TIMEOUT)
    }

    /// The repository's root, where compose runs.
    pub fn root(&self) -> &'static str {
        ROOT
    }

    pub fn var(&self, name: &str) -> &str {
        self.variables
            .get(name)
            .unwrap_or_else(|| panic!("{name} in .env"))
    }

    /// Runs `compose <args>` in the repository, as run.sh with FAKE_COINBASE=1
    /// would, and returns its stdout; panics with its stderr if it fails.
    pub async fn compose(&self, args: &[&str]) -> String {
        let words = std::env::var("RSDIST_COMPOSE").unwrap_or_else(|_| "docker-compose".into());
        let mut words = words.split_whitespace();
        let mut command = Command::new(words.next().expect("a compose command"));
        command.args(words).args(args).current_dir(ROOT);
        self.as_run_sh_would(&mut command);
        stdout_of(command).await
    }

    /// The environment `FAKE_COINBASE=1 ./run.sh` gives compose.
    fn as_run_sh_would(&self, command: &mut Command) {
        command
            .env("COMPOSE_PROFILES", PROFILES)
            .env("CB_PROTOCOL", "http")
            .env("CB_HOST", "fake_coinbase")
            .env("CB_PORT", self.var("FAKE_COINBASE_PORT"));
    }

    /// Runs a script of the repository (e.g. `scripts/rolling-update.sh`)
    /// with `FAKE_COINBASE=1` and `env`, and returns its output, failed or not.
    pub async fn script(&self, path: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(format!("{ROOT}/{path}"));
        command
            .args(args)
            .current_dir(ROOT)
            .env("FAKE_COINBASE", "1")
            .envs(env.iter().copied());
        if let Ok(words) = std::env::var("RSDIST_COMPOSE") {
            command.env("RSDIST_COMPOSE", words);
        }
        command.output().await.expect("starting the script")
    }

    /// Runs `docker <args>` and returns its stdout; panics if it fails.
    pub async fn docker(&self, args: &[&str]) -> String {
        let mut command = Command::new("docker");
        command.args(args);
        stdout_of(command).await
    }

    /// Runs `docker <args>`: its stdout, or `None` if it fails or takes more
    /// than 20 s (a command run in a node that is going away, or cut off the
    /// network, where a client may retry for minutes).
    pub async fn try_docker(&self, args: &[&str]) -> Option<String> {
        let mut command = Command::new("docker");
        command.args(args).kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(20), command.output());
        let output = output.await.ok()?.ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The ids of the containers of `service` (all of them, running or not).
    pub async fn containers(&self, service: &str) -> Vec<String> {
        let ids = self.compose(&["ps", "-q", service]).await;
        ids.split_whitespace().map(str::to_owned).collect()
    }

    /// `up -d` for the default services (the fake Coinbase included), one
    /// replica each, then waits until every container is healthy.
    pub async fn up(&self) {
        self.compose(&["up", "-d", "--remove-orphans"]).await;
        self.wait_healthy().await;
    }

    /// Runs `count` replicas of `service`, as `--scale` does (a scale-down
    /// stops the extra ones as `docker stop` does), and returns once every
    /// replica's own healthcheck answers 200 and, for an API, the ingress
    /// sends to each. (The engine's view of their health lags by up to its
    /// check interval, 30 s.)
    pub async fn scale(&self, service: &str, count: usize) {
        let scale = format!("{service}={count}");
        let args = [
            "up",
            "-d",
            "--no-deps",
            "--no-recreate",
            "--scale",
            &scale,
            service,
        ];
        self.compose(&args).await;
        self.wait_until_every_replica_answers_healthy(service).await;
        self.wait_until_the_ingress_sends_to_every(service).await;
    }

    /// Waits until `GET /healthcheck` of every running replica of `service`
    /// answers 200.
    async fn wait_until_every_replica_answers_healthy(&self, service: &str) {
        wait_until_nothing_is_wrong(move || async move {
            let mut unhealthy = Vec::new();
            for url in self.replica_urls(service).await {
                let request = self.http.get(format!("{url}/healthcheck"));
                let answer = request.timeout(Duration::from_secs(2)).send().await;
                if !answer.is_ok_and(|answer| answer.status().is_success()) {
                    unhealthy.push(url);
                }
            }
            (!unhealthy.is_empty())
                .then(|| format!("{service} replicas not healthy: {unhealthy:?}"))
        })
        .await;
    }

    /// The base URL of each running replica of `service`, at its address on
    /// the compose network (which the host reaches).
    pub async fn replica_urls(&self, service: &str) -> Vec<String> {
        let port = self
            .var(&format!("{}_PORT", service.to_uppercase()))
            .to_owned();
        let mut urls = Vec::new();
        for id in self.running(service).await {
            let address = self
                .docker(&[
                    "inspect",
                    "-f",
                    "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
                    &id,
                ])
                .await;
            urls.push(format!("http://{}:{port}", address.trim()));
        }
        urls
    }

    /// The ids of the running containers of `service`.
    pub async fn running(&self, service: &str) -> Vec<String> {
        let mut running = Vec::new();
        for id in self.containers(service).await {
            let state = self
                .docker(&["inspect", "-f", "{{.State.Running}}", &id])
                .await;
            if state.trim() == "true" {
                running.push(id);
            }
        }
        running
    }

    /// For an API, waits until the ingress has as many servers up in its
    /// backend as `service` has running replicas; for other services, returns.
    pub async fn wait_until_the_ingress_sends_to_every(&self, service: &str) {
        if !["create_buy_order", "fetch_buy_orders"].contains(&service) {
            return;
        }
        wait_until_nothing_is_wrong(move || async move {
            let (replicas, up) = (
                self.running(service).await.len(),
                self.ingress_up(service).await,
            );
            (up != replicas)
                .then(|| format!("the ingress has {up} of {replicas} {service} replicas up"))
        })
        .await;
    }

    /// How many servers of the ingress's backend `backend` are up, from its
    /// stats CSV.
    async fn ingress_up(&self, backend: &str) -> usize {
        let servers = self.ingress_servers(backend, "status").await;
        servers.iter().filter(|status| *status == "UP").count()
    }

    /// How many times the ingress has taken a server of `backend` out (its
    /// checks or its watch of requests found it down), over all its slots.
    pub async fn ingress_servers_taken_out(&self, backend: &str) -> usize {
        let servers = self.ingress_servers(backend, "chkdown").await;
        servers
            .iter()
            .filter_map(|count| count.parse::<usize>().ok())
            .sum()
    }

    /// The column `column` of each server of the ingress's backend
    /// `backend`, from its stats CSV (none if it does not answer).
    async fn ingress_servers(&self, backend: &str, column: &str) -> Vec<String> {
        let url = format!(
            "http://127.0.0.1:{}/;csv",
            self.var("INGRESS_STATS_EXT_PORT")
        );
        let Ok(answer) = self.http.get(url).send().await else {
            return Vec::new();
        };
        let csv = answer.text().await.unwrap_or_default();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let Some(column) = header.iter().position(|name| *name == column) else {
            return Vec::new();
        };
        lines
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|fields| fields[0] == backend && fields[1] != "BACKEND")
            .filter_map(|fields| fields.get(column).map(|value| (*value).to_owned()))
            .collect()
    }

    /// Waits until every container of the project is healthy.
    pub async fn wait_healthy(&self) {
        wait_until_nothing_is_wrong(move || async move {
            let unhealthy = self.unhealthy().await;
            (!unhealthy.is_empty()).then(|| format!("not healthy: {unhealthy:?}"))
        })
        .await;
    }

    /// Containers of the project that are not healthy, with their state. A
    /// container counts as healthy when the engine says so or when its own
    /// healthcheck passes now (as `wait_until_healthy` of scripts/docker.sh
    /// counts it).
    async fn unhealthy(&self) -> Vec<String> {
        let ids = self.compose(&["ps", "-q"]).await;
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if ids.is_empty() {
            return vec!["no containers".into()];
        }
        let format = "{{.Id}} {{.Name}} {{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}";
        let mut args = vec!["inspect", "-f", format];
        args.extend(ids);
        let states = self.docker(&args).await;
        let mut unhealthy = Vec::new();
        for line in states.lines() {
            let mut words = line.split_whitespace();
            let (id, name, state) = (
                words.next().unwrap_or_default(),
                words.next().unwrap_or_default(),
                words.next().unwrap_or_default(),
            );
            let checkable = matches!(state, "starting" | "unhealthy");
            if state != "healthy" && !(checkable && self.healthcheck_passes_now(id).await) {
                unhealthy.push(format!("{name} {state}"));
            }
        }
        unhealthy
    }

    /// Whether the container's healthcheck, run now as the engine runs it,
    /// passes. The engine runs it only every interval (30 s for most of
    /// ours), so a container that has just started or recovered would count
    /// as unhealthy for up to that long after it serves.
    pub async fn healthcheck_passes_now(&self, id: &str) -> bool {
        let test = self
            .try_docker(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", id])
            .await
            .unwrap_or_default();
        let test: Vec<String> = serde_json::from_str(test.trim()).unwrap_or_default();
        let command: Vec<&str> = match test.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["CMD", ref command @ ..] => command.to_vec(),
            ["CMD-SHELL", shell_command] => vec!["/bin/sh", "-c", shell_command],
            _ => return false,
        };
        let mut args = vec!["exec", id];
        args.extend(command);
        self.try_docker(&args).await.is_some()
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

/// Asks `what_is_wrong` every half second until it answers `None`; panics
/// with its last answer once HEALTHY_WITHIN has passed.
async fn wait_until_nothing_is_wrong<Check, Answer>(what_is_wrong: Check)
where
    Check: Fn() -> Answer,
    Answer: Future<Output = Option<String>>,
{
    let start = Instant::now();
    while let Some(wrong) = what_is_wrong().await {
        assert!(
            start.elapsed() < HEALTHY_WITHIN,
            "after {HEALTHY_WITHIN:?}, {wrong}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `command` and returns its stdout; panics with its stderr if it fails.
async fn stdout_of(mut command: Command) -> String {
    let output = command.output().await.expect("starting the command");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{command:?}: {stderr}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
