//! Every service exports Prometheus metrics on its own port: a real
//! Prometheus scrapes the cluster while it takes orders and pages, and its
//! query API shows the counters moved by what was done.

use std::time::Duration;

use serde_json::Value;
use testkit::Cluster;
use testkit::cluster::SERVICES;
use testkit::ports::free_port;
use testkit::tools::system_tool;

use super::order;

/// A Prometheus of the test's own, scraping every service each half second.
struct Prometheus {
    process: tokio::process::Child,
    url: String,
    folder: std::path::PathBuf,
}

impl Prometheus {
    async fn scraping(cluster: &Cluster) -> Self {
        let folder = std::env::temp_dir().join(format!("prometheus-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&folder).expect("a folder for Prometheus");
        let jobs: String = SERVICES
            .iter()
            .map(|service| {
                let target = cluster.service_url(service).replace("http://", "");
                format!(
                    "  - job_name: {service}\n    static_configs:\n      - targets: ['{target}']\n"
                )
            })
            .collect();
        let config = format!("global:\n  scrape_interval: 500ms\nscrape_configs:\n{jobs}");
        std::fs::write(folder.join("prometheus.yml"), config).expect("writing the config");
        let address = format!("127.0.0.1:{}", free_port());
        let process = tokio::process::Command::new(system_tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                folder.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                folder.join("data").display()
            ))
            .arg(format!("--web.listen-address={address}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(folder.join("log")).expect("a log file"))
            .kill_on_drop(true)
            .spawn()
            .expect("starting prometheus");
        Self {
            process,
            url: format!("http://{address}"),
            folder,
        }
    }

    /// The value of a query that yields one number, once Prometheus answers it.
    async fn value(&self, query: &str) -> Option<f64> {
        let url = format!("{}/api/v1/query", self.url);
        let answer = reqwest::Client::new()
            .get(&url)
            .query(&[("query", query)])
            .send()
            .await
            .ok()?;
        let body: Value = answer.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits (up to 30 s) until `query` is `expected`; returns what it last was.
    async fn await_value(&self, query: &str, expected: f64) -> Option<f64> {
        let mut last = None;
        for _ in 0..60 {
            last = self.value(query).await;
            if last == Some(expected) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        last
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

#[tokio::test]
async fn prometheus_sees_the_orders_pages_and_events_of_the_cluster() {
    let cluster = Cluster::start().await;
    let prometheus = Prometheus::scraping(&cluster).await;
    for _ in 0..5 {
        assert_eq!(cluster.api.buy("USD", "10.00").await.status, 200);
    }
    let key = uuid::Uuid::new_v4().to_string();
    let first = order("EUR", "20.00".into(), &key);
    for _ in 0..2 {
        assert_eq!(cluster.api.put_order(&first).await.status, 200);
    }
    let reused = order("EUR", "21.00".into(), &key);
    assert_eq!(cluster.api.put_order(&reused).await.status, 409);
    assert_eq!(cluster.wait_for_read_model(6).await, 6);
    for _ in 0..3 {
        assert_eq!(cluster.api.get_orders("page_size=2").await.status, 200);
    }
    assert_eq!(cluster.api.get_orders("page_size=0").await.status, 422);

    let expected = [
        ("sum(up)", 5.0),
        ("sum(buy_orders_created_total)", 6.0),
        ("sum(buy_order_replays_total)", 1.0),
        (
            r#"sum(buy_order_conflicts_total{code="idempotence_key_reused"})"#,
            1.0,
        ),
        (
            r#"sum(http_requests_total{job="create_buy_order",route="/buy_order",method="PUT"})"#,
            8.0,
        ),
        (
            r#"sum(http_requests_total{job="fetch_buy_orders",route="/buy_orders",status="200"})"#,
            3.0,
        ),
        (
            r#"sum(http_requests_total{job="fetch_buy_orders",route="/buy_orders",status="422"})"#,
            1.0,
        ),
        ("sum(batch_writer_batch_size_count)", 6.0),
        // The three pages, each read on its own: nothing else was waiting.
        ("sum(page_reader_batch_size_sum)", 3.0),
        ("sum(page_reader_batch_size_count)", 3.0),
        (r#"sum(outbox_publish_confirms_total{outcome="ack"})"#, 6.0),
        ("sum(outbox_depth)", 0.0),
        ("sum(messages_consumed_total)", 6.0),
        ("sum(sync_lag_seconds_count)", 6.0),
        ("sum(messages_dead_lettered_total or vector(0))", 0.0),
        // Every price the orders needed was a hit, a miss or a shared wait.
        (
            "sum(price_cache_hits_total or vector(0)) + sum(price_cache_misses_total or vector(0)) \
          + sum(price_cache_coalesced_waits_total or vector(0)) >= bool 7",
            1.0,
        ),
        (
            "sum(coinbase_request_duration_seconds_count) >= bool 1",
            1.0,
        ),
        (r#"sum(log_events_dropped_total{sink="stdout"})"#, 0.0),
    ];
    let mut wrong = Vec::new();
    for (query, value) in expected {
        let seen = prometheus.await_value(query, value).await;
        if seen != Some(value) {
            wrong.push(format!("{query}: {seen:?}, expected {value}"));
        }
    }
    assert!(wrong.is_empty(), "Prometheus saw:\n{}", wrong.join("\n"));
}

/// The scrape configuration shipped for the compose cluster is valid and
/// names each service at its port from `.env`.
#[tokio::test]
async fn the_compose_scrape_configuration_is_valid_and_names_every_service_port() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docker/prometheus/prometheus.yml"
    );
    let checked = tokio::process::Command::new(system_tool("promtool"))
        .args(["check", "config", path])
        .output()
        .await
        .expect("running promtool");
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stdout)
    );
    let config = std::fs::read_to_string(path).expect("reading the scrape configuration");
    let config = &yaml_rust2::YamlLoader::load_from_str(&config).expect("YAML")[0];
    let variables = testkit::settings::variables();
    for service in SERVICES {
        let port = &variables[&format!("{}_PORT", service.to_uppercase())];
        let targets = scrape_targets(config, service);
        let target = format!("{service}:{port}");
        assert!(
            targets.contains(&target),
            "{service}: {targets:?} in {path}"
        );
    }
}

/// The `host:port` targets of a job: its static ones, and the names its DNS
/// discovery resolves, with their port.
fn scrape_targets(config: &yaml_rust2::Yaml, job: &str) -> Vec<String> {
    let jobs = config["scrape_configs"]
        .as_vec()
        .cloned()
        .unwrap_or_default();
    let Some(job) = jobs.iter().find(|j| j["job_name"].as_str() == Some(job)) else {
        return Vec::new();
    };
    let listed = |key: &str, field: &str| -> Vec<(String, Option<i64>)> {
        let configs = job[key].as_vec().cloned().unwrap_or_default();
        configs
            .iter()
            .flat_map(|c| {
                let names = c[field].as_vec().cloned().unwrap_or_default();
                let port = c["port"].as_i64();
                names
                    .into_iter()
                    .filter_map(move |n| Some((n.as_str()?.to_owned(), port)))
            })
            .collect()
    };
    let statics = listed("static_configs", "targets")
        .into_iter()
        .map(|(t, _)| t);
    let discovered = listed("dns_sd_configs", "names")
        .into_iter()
        .filter_map(|(name, port)| Some(format!("{name}:{}", port?)));
    statics.chain(discovered).collect()
}
