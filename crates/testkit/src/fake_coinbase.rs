//! A stand-in for Coinbase's price API, served over real HTTP so that the
//! price service is tested through its real client. Tests set its rates and
//! failure modes and count the calls it received, in-process or through its
//! control API:
//!
//! - `GET {path}/buy?currency=USD` and `GET {path}/BTC-USD/buy`: Coinbase's
//!   `{"data": {"base": "BTC", "currency": "USD", "amount": "48478.88"}}`;
//! - `PUT /control` with `{"rates": {"USD": "48000.00"}, "mode": "ok" |
//!   "error" | "slow" | "garbage", "delay_ms": 3000}`, every field optional;
//! - `GET /control/stats`: `{"requests": N, "by_currency": {"USD": N}}`;
//! - `GET /healthcheck`: 200, so scripts can wait for it like any service.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::net::TcpListener;

/// How the fake answers price requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The configured rate.
    Ok,
    /// HTTP 500.
    Error,
    /// The configured rate, after `delay_ms`.
    Slow,
    /// HTTP 200 with a body that is not Coinbase's JSON.
    Garbage,
}

/// A change to the fake's behaviour; absent fields are left as they are.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Control {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
}

/// The calls received so far.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub requests: u64,
    pub by_currency: BTreeMap<String, u64>,
}

struct Behaviour {
    rates: BTreeMap<String, String>,
    mode: Mode,
    delay: Duration,
    stats: Stats,
}

type Shared = Arc<Mutex<Behaviour>>;

/// A running fake Coinbase; it stops when dropped.
pub struct FakeCoinbase {
    addr: SocketAddr,
    path: String,
    behaviour: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl FakeCoinbase {
    /// Rates it quotes until told otherwise.
    pub const DEFAULT_RATES: [(&str, &str); 3] = [
        ("EUR", "44031.50"),
        ("GBP", "38022.17"),
        ("USD", "48478.88"),
    ];

    /// Starts on a free loopback port under Coinbase's path, `/v2/prices`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the fake");
        Self::serve(listener, "/v2/prices").await
    }

    /// Serves on `listener` with prices under `path` (e.g. `/v2/prices`).
    pub async fn serve(listener: TcpListener, path: &str) -> Self {
        let addr = listener.local_addr().expect("the fake's address");
        let behaviour = Arc::new(Mutex::new(Behaviour {
            rates: Self::DEFAULT_RATES
                .iter()
                .map(|(c, r)| ((*c).into(), (*r).into()))
                .collect(),
            mode: Mode::Ok,
            delay: Duration::from_millis(3000),
            stats: Stats::default(),
        }));
        let app = router(path, behaviour.clone());
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("fake_coinbase stopped: {error}");
            }
        });
        Self {
            addr,
            path: path.to_owned(),
            behaviour,
            server,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The price path it serves under, e.g. `/v2/prices`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The `CB_*` variables that point a price service at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("CB_PROTOCOL", "http".to_owned()),
            ("CB_HOST", self.addr.ip().to_string()),
            ("CB_PORT", self.addr.port().to_string()),
            ("CB_PATH", self.path.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// Applies a change, as `PUT /control` does.
    pub fn control(&self, control: Control) {
        apply(&mut lock(&self.behaviour), control);
    }

    pub fn set_rate(&self, currency: &str, rate: &str) {
        lock(&self.behaviour)
            .rates
            .insert(currency.to_owned(), rate.to_owned());
    }

    pub fn set_mode(&self, mode: Mode) {
        lock(&self.behaviour).mode = mode;
    }

    /// Answers with the configured rates, each after `delay_ms`.
    pub fn set_slow(&self, delay_ms: u64) {
        self.control(Control {
            mode: Some(Mode::Slow),
            delay_ms: Some(delay_ms),
            ..Control::default()
        });
    }

    /// The calls received so far, as `GET /control/stats` reports them.
    pub fn stats(&self) -> Stats {
        lock(&self.behaviour).stats.clone()
    }

    /// Calls received for one currency.
    pub fn requests_for(&self, currency: &str) -> u64 {
        self.stats().by_currency.get(currency).copied().unwrap_or(0)
    }
}

impl Drop for FakeCoinbase {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(behaviour: &Shared) -> MutexGuard<'_, Behaviour> {
    // A panicking test thread must not hide the fake from the other tests.
    behaviour
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn apply(behaviour: &mut Behaviour, control: Control) {
    if let Some(rates) = control.rates {
        behaviour.rates.extend(rates);
    }
    if let Some(mode) = control.mode {
        behaviour.mode = mode;
    }
    if let Some(delay_ms) = control.delay_ms {
        behaviour.delay = Duration::from_millis(delay_ms);
    }
}

fn router(path: &str, behaviour: Shared) -> Router {
    let prices = Router::new()
        .route("/buy", get(buy_by_query))
        .route("/{pair}/buy", get(buy_by_pair));
    let prices = if path.is_empty() || path == "/" {
        prices
    } else {
        Router::new().nest(path, prices)
    };
    prices
        .route("/control", put(control))
        .route("/control/stats", get(stats))
        .route(
            "/healthcheck",
            get(|| async { Json(json!({"status": "ok"})) }),
        )
        .with_state(behaviour)
}

#[derive(Deserialize)]
struct CurrencyQuery {
    currency: Option<String>,
}

async fn buy_by_query(State(b): State<Shared>, Query(query): Query<CurrencyQuery>) -> Response {
    quote(b, query.currency.unwrap_or_default()).await
}

async fn buy_by_pair(State(b): State<Shared>, Path(pair): Path<String>) -> Response {
    let currency = pair.strip_prefix("BTC-").unwrap_or(&pair).to_owned();
    quote(b, currency).await
}

async fn quote(behaviour: Shared, currency: String) -> Response {
    let (mode, delay, rate) = {
        let mut behaviour = lock(&behaviour);
        behaviour.stats.requests += 1;
        *behaviour
            .stats
            .by_currency
            .entry(currency.clone())
            .or_default() += 1;
        (
            behaviour.mode,
            behaviour.delay,
            behaviour.rates.get(&currency).cloned(),
        )
    };
    match mode {
        Mode::Error => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response();
        }
        Mode::Garbage => return "<html>this is not a price</html>".into_response(),
        Mode::Slow => tokio::time::sleep(delay).await,
        Mode::Ok => {}
    }
    match rate {
        Some(amount) => Json(json!({
            "data": {"base": "BTC", "currency": currency, "amount": amount}
        }))
        .into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            Json(json!({"errors": [{"id": "invalid_request", "message": "Currency is invalid"}]})),
        )
            .into_response(),
    }
}

async fn control(State(behaviour): State<Shared>, Json(control): Json<Control>) -> StatusCode {
    apply(&mut lock(&behaviour), control);
    StatusCode::NO_CONTENT
}

async fn stats(State(behaviour): State<Shared>) -> Json<Stats> {
    Json(lock(&behaviour).stats.clone())
}
