//! The whole cluster as processes on loopback, on fresh databases, a fresh
//! exchange and queues, and a fake Coinbase of its own, so end-to-end tests
//! run in parallel. The services reach RabbitMQ through a [`TcpProxy`], so a
//! test can cut their connections.

use std::time::Duration;

use platform::rabbitmq::QueueConfig;
use sqlx::PgPool;

use crate::api::Api;
use crate::names::unique;
use crate::ports::free_port;
use crate::service::{ServiceProcess, binary};
use crate::settings::{self, database_vars};
use crate::tcp_proxy::TcpProxy;
use crate::{FakeCoinbase, TestDatabase};

/// A running cluster; every process is killed and every database and queue
/// removed when it is dropped.
pub struct Cluster {
    pub write_model: TestDatabase,
    pub read_model: TestDatabase,
    /// The exchange and queues of this cluster, reached directly.
    pub queue: QueueConfig,
    pub coinbase: FakeCoinbase,
    pub queue_proxy: TcpProxy,
    /// read_model_sync reaches the read model through this proxy.
    pub read_model_proxy: TcpProxy,
    env: Vec<(String, String)>,
    services: Vec<(&'static str, u16, Option<ServiceProcess>)>,
    /// The two public APIs of this cluster.
    pub api: Api,
}

/// The five service binaries, in the order they start: the Rust side of
/// `scripts/services.sh`, which a test keeps equal.
pub const SERVICES: [&str; 5] = [
    "migration",
    "btc_price",
    "create_buy_order",
    "read_model_sync",
    "fetch_buy_orders",
];

impl Cluster {
    /// Starts all five services, writing their events to stdout only, and
    /// waits until each is healthy.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Cluster::start`], with `extra` variables for every service (they
    /// win over the cluster's own), e.g. to ship events to a receiver.
    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        let (write_model, read_model) = (TestDatabase::empty().await, TestDatabase::empty().await);
        let mut queue = settings::rabbitmq();
        queue.exchange = unique("test_exchange");
        queue.queue = unique("test_queue");
        queue.retry_wait = Duration::from_secs(1);
        let queue_proxy = TcpProxy::start(&queue.host, queue.port).await;
        let read_model_proxy =
            TcpProxy::start(&read_model.config().host, read_model.config().port).await;
        let coinbase = FakeCoinbase::start().await;
        let services: Vec<_> = SERVICES
            .iter()
            .map(|name| (*name, free_port(), None))
            .collect();
        let mut env = cluster_env(
            &write_model,
            &read_model,
            &queue,
            &queue_proxy,
            &coinbase,
            &services,
        );
        env.extend(
            extra
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
        );
        let mut cluster = Self {
            write_model,
            read_model,
            queue,
            coinbase,
            queue_proxy,
            read_model_proxy,
            env,
            services,
            api: Api::new(String::new(), String::new()),
        };
        cluster.api = Api::new(
            cluster.service_url("create_buy_order"),
            cluster.service_url("fetch_buy_orders"),
        );
        for name in SERVICES {
            cluster.launch(name);
        }
        for name in SERVICES {
            cluster.wait_healthy(name).await;
        }
        cluster
    }

    fn launch(&mut self, name: &str) {
        let mut env = self.env.clone();
        if name == "read_model_sync" {
            env.push(("READ_MODEL_DB_HOST".into(), "127.0.0.1".into()));
            env.push((
                "READ_MODEL_DB_PORT".into(),
                self.read_model_proxy.port().to_string(),
            ));
        }
        let (_, port, process) = self.entry(name);
        *process = Some(ServiceProcess::start_on(&binary(name), *port, &env));
    }

    async fn wait_healthy(&mut self, name: &str) {
        let (_, _, process) = self.entry(name);
        let started = process.take().expect("the service was started");
        *process = Some(started.wait_healthy().await);
    }

    fn entry(&mut self, name: &str) -> &mut (&'static str, u16, Option<ServiceProcess>) {
        self.services
            .iter_mut()
            .find(|(n, _, _)| *n == name)
            .expect("a cluster service")
    }

    /// `http://127.0.0.1:{port}` of a service.
    pub fn service_url(&self, name: &str) -> String {
        let port = self
            .services
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, p, _)| *p);
        format!("http://127.0.0.1:{}", port.expect("a cluster service"))
    }

    /// Starts another process of `name` on a port of its own, on the same
    /// databases and queue (a scaled-out replica), and waits until it is
    /// healthy. It is killed when the returned value is dropped.
    pub async fn start_replica(&self, name: &str) -> ServiceProcess {
        self.start_replica_with(name, &[]).await
    }

    /// As [`Cluster::start_replica`], with `extra` variables for it.
    pub async fn start_replica_with(&self, name: &str, extra: &[(&str, &str)]) -> ServiceProcess {
        self.launch_replica_with(name, extra).wait_healthy().await
    }

    /// As [`Cluster::start_replica_with`], without waiting for its health.
    pub fn launch_replica_with(&self, name: &str, extra: &[(&str, &str)]) -> ServiceProcess {
        let mut env = self.env.clone();
        env.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
        );
        ServiceProcess::start_on(&binary(name), free_port(), &env)
    }

    /// Sends `name` SIGTERM and returns at once; the process is still the
    /// cluster's, killed when the cluster is dropped.
    pub fn send_sigterm(&mut self, name: &str) {
        let process = self.entry(name).2.as_ref().expect("the service is running");
        process.send_sigterm();
    }

    /// Starts a stopped service again on its port and waits until it is healthy.
    pub async fn start_service(&mut self, name: &str) {
        self.launch(name);
        self.wait_healthy(name).await;
    }

    /// Stops a service with SIGTERM, letting it finish what it is doing;
    /// returns all it logged.
    pub async fn stop_service(&mut self, name: &str) -> String {
        let mut process = self.entry(name).2.take().expect("the service is running");
        let status = process.terminate().await;
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM"
        );
        process.log()
    }

    /// Kills a service with SIGKILL: it gets no chance to clean up.
    pub async fn kill_service(&mut self, name: &str) {
        let process = self.entry(name).2.take().expect("the service is running");
        process.kill().await;
    }

    /// Runs `service`'s binary as a one-off command (e.g. `read_model_sync
    /// rebuild`) with the cluster's variables, and returns its output.
    pub async fn run_command(&self, service: &str, args: &[&str]) -> std::process::Output {
        self.run_command_with(service, args, &[]).await
    }

    /// As [`Cluster::run_command`], with `extra` variables for it.
    pub async fn run_command_with(
        &self,
        service: &str,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> std::process::Output {
        let mut command = tokio::process::Command::new(binary(service));
        command
            .args(args)
            .envs(self.env.iter().cloned())
            .envs(extra.iter().copied())
            .kill_on_drop(true);
        let output = tokio::time::timeout(Duration::from_secs(120), command.output()).await;
        let output = output.unwrap_or_else(|_| panic!("{service} {args:?} did not finish"));
        output.expect("running the command")
    }

    /// The log file of each running service, named after it.
    pub fn log_files(&self) -> Vec<std::path::PathBuf> {
        let running = self.services.iter().filter_map(|(_, _, p)| p.as_ref());
        running.map(|p| p.log_file().to_owned()).collect()
    }

    /// What a service has logged so far.
    pub fn log(&self, name: &str) -> String {
        let process = self
            .services
            .iter()
            .find(|(n, _, _)| *n == name)
            .and_then(|(_, _, p)| p.as_ref());
        process.map(ServiceProcess::log).unwrap_or_default()
    }

    /// A pool on the write model.
    pub async fn write_pool(&self) -> PgPool {
        self.write_model.pool().await
    }

    /// A pool on the read model.
    pub async fn read_pool(&self) -> PgPool {
        self.read_model.pool().await
    }

    /// Waits until the read model holds `expected` orders (or a minute has
    /// passed) and returns how many it holds.
    pub async fn wait_for_read_model(&self, expected: i64) -> i64 {
        let pool = self.read_pool().await;
        let mut count = 0;
        for _ in 0..1200 {
            count = sqlx::query_scalar("SELECT count(*) FROM buy_order")
                .fetch_one(&pool)
                .await
                .expect("counting the read model");
            if count >= expected {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pool.close().await;
        count
    }
}

fn cluster_env(
    write_model: &TestDatabase,
    read_model: &TestDatabase,
    queue: &QueueConfig,
    queue_proxy: &TcpProxy,
    coinbase: &FakeCoinbase,
    services: &[(&'static str, u16, Option<ServiceProcess>)],
) -> Vec<(String, String)> {
    let port_of = |name: &str| {
        services
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, p, _)| p.to_string())
    };
    let mut env = database_vars("WRITE_MODEL_DB", write_model.config());
    env.extend(database_vars("READ_MODEL_DB", read_model.config()));
    let mut proxied = queue.clone();
    proxied.host = "127.0.0.1".into();
    proxied.port = queue_proxy.port();
    env.extend(proxied.to_env());
    env.extend(coinbase.env());
    for (prefix, service) in [("MIGRATION", "migration"), ("BTC_PRICE", "btc_price")] {
        env.push((format!("{prefix}_PROTOCOL"), "http".into()));
        env.push((format!("{prefix}_HOST"), "127.0.0.1".into()));
        env.push((
            format!("{prefix}_PORT"),
            port_of(service).expect("a cluster service"),
        ));
    }
    for (name, value) in [
        ("CB_CACHE_TTL_MS", "0"),
        ("OUTBOX_SWEEP_MS", "200"),
        ("LOG_FORMAT", "json"),
    ] {
        env.push((name.into(), value.into()));
    }
    // The key the cluster's Api sends, made a key of client 1.
    env.push(("DEV_API_KEY".into(), settings::dev_api_key()));
    env
}

impl Drop for Cluster {
    fn drop(&mut self) {
        remove_queues(&self.queue);
    }
}

/// Removes a test's exchange and queues from the shared broker; for `Drop`,
/// so it blocks (on a thread of its own, outside the test's runtime).
pub fn remove_queues(queue: &QueueConfig) {
    let queue = queue.clone();
    let exchange = queue.exchange.clone();
    let removed = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        runtime.block_on(remove_topology(&queue)).ok()
    })
    .join();
    if !matches!(removed, Ok(Some(()))) {
        eprintln!("could not remove exchange {exchange}");
    }
}

async fn remove_topology(queue: &QueueConfig) -> lapin::Result<()> {
    use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
    let connection = lapin::Connection::connect(&queue.uri(), Default::default()).await?;
    let channel = connection.create_channel().await?;
    for name in [queue.queue.clone(), queue.dead_letter_queue()] {
        channel
            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
            .await?;
    }
    let exchange = queue.exchange.as_str();
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await?;
    connection.close(200, "test done".into()).await
}
