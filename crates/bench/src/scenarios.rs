//! The scenarios, each a few requests shaped like a client's.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use platform::config::Env;
use platform::postgres::DatabaseConfig;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::args::Args;
use crate::cpu::CpuSample;
use crate::driver::{Measured, drive, new_histogram};
use crate::http::Client;
use crate::{footprint, loader, report, summary};

/// The published APIs, from the `.env` port names.
#[derive(Clone)]
struct Api {
    create: Client,
    fetch: Client,
}

impl Api {
    fn from_env(env: &Env) -> Result<Self, String> {
        // BENCH_HOST: another address of this machine reaches a container's
        // published port the way a client on another machine does (Docker
        // forwards it in the kernel), where 127.0.0.1 goes through
        // docker-proxy, a copying process of its own.
        let host: Ipv4Addr = env
            .optional("BENCH_HOST", Ipv4Addr::LOCALHOST)
            .map_err(|e| e.to_string())?;
        let server = |name: &str| {
            let port = env.required::<u16>(name).map_err(|e| e.to_string())?;
            Ok::<_, String>(SocketAddr::from((host, port)))
        };
        // Every request as the client of API_KEY, else of the development key.
        let key: String = env
            .optional("API_KEY", String::new())
            .and_then(|key| match key.is_empty() {
                true => env.optional("DEV_API_KEY", String::new()),
                false => Ok(key),
            })
            .map_err(|e| e.to_string())?;
        Ok(Self {
            create: Client::new(server("CREATE_BUY_ORDER_EXT_PORT")?, &key),
            fetch: Client::new(server("FETCH_BUY_ORDERS_EXT_PORT")?, &key),
        })
    }

    /// Places a 1.00 order under `key`; the status and the answer's body.
    async fn buy(&self, key: Uuid) -> (u16, Vec<u8>) {
        let body = format!(r#"{{"currency":"USD","amount":"1.00","idempotence_key":"{key}"}}"#);
        match self.create.put_json("/buy_order", &body).await {
            Ok(answer) => (answer.status, answer.body),
            Err(_) => (0, Vec::new()),
        }
    }

    /// Places an order as [`Api::buy`] does; the status and the order's id.
    async fn buy_and_read_id(&self, key: Uuid) -> (u16, Option<String>) {
        let (status, body) = self.buy(key).await;
        let body: Value = serde_json::from_slice(&body).unwrap_or_default();
        (status, body["buy_order"]["id"].as_str().map(str::to_owned))
    }

    async fn get(&self, query: &str) -> u16 {
        match self.fetch.get(&format!("/buy_orders?{query}")).await {
            Ok(answer) => answer.status,
            Err(_) => 0,
        }
    }
}

pub(crate) async fn run(args: &Args) -> Result<(), String> {
    // The one scenario that needs no cluster.
    if args.scenario == "report" {
        return summary::write(&args.json, &args.out);
    }
    let env = Env::from_process();
    let api = Api::from_env(&env)?;
    let (n, c) = (args.requests, args.concurrency);
    match args.scenario.as_str() {
        "create" => {
            let api = api.clone();
            let before = CpuSample::now(Path::new(RUN_DIR));
            let measured = drive("create", n, c, move |_| {
                let api = api.clone();
                async move { api.buy(Uuid::new_v4()).await.0 }
            })
            .await;
            let cpu = cpu_per_request("create", c, &before, measured.requests);
            report::record(args, "create", c, &measured, cpu);
        }
        "replay" => replay(&api, args).await,
        "fetch" => {
            let before = CpuSample::now(Path::new(RUN_DIR));
            let measured = fetch(&api, "fetch", "page_size=10", n, c).await;
            let cpu = cpu_per_request("fetch", c, &before, measured.requests);
            report::record(args, "fetch", c, &measured, cpu);
        }
        "load" => loader::load(&read_model(&env)?, args.rows)
            .await
            .map_err(|e| e.to_string())?,
        "depth" => depth(&api, &env, args).await?,
        "lag" => lag(&api, args).await,
        "footprint" => footprint(args),
        other => return Err(format!("unknown scenario {other}")),
    }
    Ok(())
}

/// Where scripts/local-cluster.sh keeps the services' pid files.
const RUN_DIR: &str = "target/local-cluster";

/// Prints the CPU each process spent per request since `before`, and gives
/// it as the JSON line's `cpu_us_per_request`.
fn cpu_per_request(scenario: &str, c: usize, before: &CpuSample, requests: usize) -> Value {
    // The relay and the consumer finish their share just after the last 200.
    std::thread::sleep(Duration::from_millis(500));
    let spent = CpuSample::now(Path::new(RUN_DIR)).per_request_since(before, requests);
    let row: Vec<String> = spent
        .iter()
        .map(|(group, micros)| format!("{group} {micros:.0}"))
        .collect();
    println!(
        "{scenario:<22} c={c:<4} CPU µs per request: {}",
        row.join(", ")
    );
    json!({ "cpu_us_per_request": spent })
}

fn read_model(env: &Env) -> Result<DatabaseConfig, String> {
    DatabaseConfig::from_env(env, "READ_MODEL_DB").map_err(|e| e.to_string())
}

async fn fetch(api: &Api, label: &str, query: &str, n: usize, c: usize) -> Measured {
    let (api, query) = (api.clone(), Arc::new(query.to_owned()));
    drive(label, n, c, move |_| {
        let (api, query) = (api.clone(), query.clone());
        async move { api.get(&query).await }
    })
    .await
}

/// Replays of 1,000 keys placed first.
async fn replay(api: &Api, args: &Args) {
    let keys: Vec<Uuid> = (0..1000).map(|_| Uuid::new_v4()).collect();
    for key in &keys {
        api.buy(*key).await;
    }
    let (api, keys) = (api.clone(), Arc::new(keys));
    let measured = drive("replay", args.requests, args.concurrency, move |i| {
        let (api, keys) = (api.clone(), keys.clone());
        async move { api.buy(keys[i % keys.len()]).await.0 }
    })
    .await;
    report::record(args, "replay", args.concurrency, &measured, json!({}));
}

/// The first page against a page `--depth` rows down.
async fn depth(api: &Api, env: &Env, args: &Args) -> Result<(), String> {
    let pool = read_model(env)?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM buy_order WHERE client_id = 1")
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let reference: Uuid = sqlx::query_scalar(
        "SELECT external_id FROM buy_order WHERE client_id = 1 \
         ORDER BY created_at DESC, id DESC OFFSET $1 LIMIT 1",
    )
    .bind(i64::try_from(args.depth).unwrap_or(i64::MAX))
    .fetch_optional(&pool)
    .await
    .map_err(|e| e.to_string())?
    .ok_or_else(|| {
        format!(
            "the read model has fewer than {} rows; run `bench load` first",
            args.depth
        )
    })?;
    let (n, c) = (args.requests, args.concurrency);
    let top = fetch(api, "depth top", "page_size=10", n, c).await;
    let deep_query = format!("page_size=10&last_reference={reference}");
    let deep = fetch(api, "depth deep", &deep_query, n, c).await;
    let ratio = deep.millis(0.5) / top.millis(0.5);
    report::record(args, "depth first page", c, &top, json!({"rows": rows}));
    report::record(
        args,
        &format!("depth page at {}", args.depth),
        c,
        &deep,
        json!({"rows": rows, "p50_ratio": ratio}),
    );
    println!(
        "depth: p50 at row {} is {ratio:.2}x the first page's, over {rows} rows",
        args.depth
    );
    Ok(())
}

/// From a PUT's 200 until GET /buy_orders serves the order: idle, then under
/// `-c` concurrent creates.
async fn lag(api: &Api, args: &Args) {
    let samples = args.requests.min(2000);
    let (idle, series) = lag_samples(api, samples).await;
    report::record(args, "lag idle", 1, &idle, json!({ "series": series }));
    let stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (api, stop) = (api.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    api.buy(Uuid::new_v4()).await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (loaded, series) = lag_samples(api, samples).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = task.await;
    }
    let label = format!("lag under create c={}", args.concurrency);
    report::record(args, &label, 1, &loaded, json!({ "series": series }));
}

/// `samples` lags one after the other, and each as `[seconds since the
/// first, lag in ms]`, for the plot of lag over time.
async fn lag_samples(api: &Api, samples: usize) -> (Measured, Vec<[f64; 2]>) {
    let mut series = Vec::with_capacity(samples);
    let mut measured = Measured {
        requests: samples,
        elapsed: Duration::ZERO,
        latencies: new_histogram(),
        statuses: Default::default(),
    };
    let started = Instant::now();
    for i in 0..samples {
        let (status, id) = api.buy_and_read_id(Uuid::new_v4()).await;
        let placed = Instant::now();
        let visible = match id {
            Some(id) => wait_visible(api, &id).await,
            None => status,
        };
        let micros = u64::try_from(placed.elapsed().as_micros()).unwrap_or(u64::MAX);
        measured.latencies.saturating_record(micros);
        let at = placed.duration_since(started).as_secs_f64();
        series.push([at, micros as f64 / 1000.0]);
        *measured.statuses.entry(visible).or_insert(0) += 1;
        if i % 100 == 0 {
            eprint!("\rlag: {i}/{samples}   ");
        }
    }
    measured.elapsed = started.elapsed();
    eprint!("\r{:40}\r", "");
    (measured, series)
}

/// Polls until the order is served (200), or 10 s pass (408).
async fn wait_visible(api: &Api, id: &str) -> u16 {
    let query = format!("page_size=1&last_reference={id}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if api.get(&query).await == 200 {
            return 200;
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    408
}

fn footprint(args: &Args) {
    let sizes = footprint::resident_set_sizes(Path::new("target/local-cluster"));
    for (service, mib) in &sizes {
        println!("footprint {:<10} {service:<18} {mib:>6.1} MiB", args.label);
    }
    let sizes: serde_json::Map<_, _> = sizes
        .iter()
        .map(|(s, m)| ((*s).to_owned(), json!(m)))
        .collect();
    report::append(
        &args.json,
        &json!({"scenario": "footprint", "label": args.label, "rss_mib": sizes}),
    );
}
