//! The `create_buy_order` service: `PUT /buy_order`. A request flows through
//! `routes` (HTTP shapes) -> `request` (validation) -> `place_order` (the use
//! case: replay a known key, else price the order with `price`, the client
//! of btc_price, which keeps a price as long as btc_price may) -> `batch_writer` (which stores the orders waiting at that
//! moment in one short transaction, judged by `rules`, with the SQL of
//! `storage`). After commit, `outbox_relay` publishes each order's event to
//! RabbitMQ, and sweeps up any that a crash left in the outbox.

mod batch_writer;
mod outbox_relay;
mod place_order;
mod price;
mod request;
mod routes;
mod rules;
mod storage;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use platform::auth::{AuthConfig, Authenticator};
use platform::config::{ConfigError, Env, UpstreamConfig};
use platform::health::Readiness;
use platform::http::{self, ListenConfig};
use platform::migrations_gate::MigrationsGate;
use platform::postgres::DatabaseConfig;
use platform::rabbitmq::QueueConfig;
use tokio_util::sync::CancellationToken;

use crate::outbox_relay::OutboxRelay;
use crate::place_order::PlaceOrder;
use crate::price::PriceClient;
use crate::routes::Service;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub write_model: DatabaseConfig,
    pub queue: QueueConfig,
    pub migrations: MigrationsGate,
    /// `BTC_PRICE_PROTOCOL`, `_HOST`, `_PORT`.
    pub btc_price: UpstreamConfig,
    /// `BTC_PRICE_TIMEOUT_MS` (default 5000).
    pub btc_price_timeout: Duration,
    /// `CB_CACHE_TTL_MS` (default 1000; 0: ask btc_price for every order):
    /// the oldest price an order may use, as btc_price keeps them.
    pub price_max_age: Duration,
    /// `OUTBOX_SWEEP_MS` (default 1000, not 0): how often left-behind events are sought.
    pub outbox_sweep: Duration,
    /// `AUTH_REQUIRED`, `AUTH_CACHE_TTL_MS`.
    pub auth: AuthConfig,
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            write_model: DatabaseConfig::from_env(env, "WRITE_MODEL_DB")?,
            queue: QueueConfig::from_env(env)?,
            migrations: MigrationsGate::from_env(env, &platform::schema::WRITE_MODEL)?,
            btc_price: UpstreamConfig::from_env(env, "BTC_PRICE")?,
            btc_price_timeout: env.positive_millis("BTC_PRICE_TIMEOUT_MS", 5000)?,
            price_max_age: env.millis("CB_CACHE_TTL_MS", 1000)?,
            outbox_sweep: env.positive_millis("OUTBOX_SWEEP_MS", 1000)?,
            auth: AuthConfig::from_env(env)?,
        })
    }
}

/// The service, bound to its port and ready to run.
pub struct App {
    config: Config,
    listener: http::Listener,
    service: Arc<Service>,
    relay: OutboxRelay,
    /// The batch writer's task, run beside the server.
    writing: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl App {
    /// Binds the listener and builds the clients; connects to nothing yet.
    /// Fails when the port cannot be bound.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let listener = http::bind(&config.listen).await?;
        let pool = config.write_model.connect_lazy();
        let base_url = config.btc_price.base_url();
        let prices = PriceClient::new(&base_url, config.btc_price_timeout, config.price_max_age)
            .map_err(std::io::Error::other)?;
        let (relay, handle) =
            OutboxRelay::new(pool.clone(), config.queue.clone(), config.outbox_sweep);
        let authenticator = Authenticator::new(config.auth.clone(), pool.clone());
        let (place, writing) = PlaceOrder::new(pool, prices, handle);
        let service = Arc::new(Service {
            place,
            authenticator,
            startup: Readiness::starting("waiting for migrations"),
            publisher: relay.connected.clone(),
        });
        Ok(Self {
            config,
            listener,
            service,
            relay,
            writing: Box::pin(writing),
        })
    }

    /// Where it listens (the port the OS chose for port 0), for in-process tests.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves at once (503 until the schema is there and the write model
    /// answers), writes and relays orders, and on `shutdown` drains: the
    /// requests in flight finish, their events are published, then it stops.
    /// Fails when the writer or the relay stops on its own.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        // The API answers 503 until the schema is there and the write model answers.
        let (config, service) = (self.config, &self.service);
        let pool = service.place.pool().clone();
        let _startup =
            config
                .migrations
                .spawn_open(config.write_model, pool, service.startup.clone());
        let router = routes::router(self.service);
        let (relay, writing) = (self.relay, self.writing);
        // Each its own task, as before they were watched, so that they can
        // run on two cores at once. The writer returns (rather than panics) only once the server is gone
        // and with it every request that could hand it an order; the relay
        // then goes on until cancelled, and publishes what those requests
        // committed before it stops.
        let background = |cancel: CancellationToken| async move {
            let mut writer = tokio::spawn(writing);
            let mut relaying = tokio::spawn(relay.run(cancel));
            tokio::select! {
                ended = &mut relaying => {
                    writer.abort();
                    pass_on_panic(ended);
                }
                ended = &mut writer => {
                    pass_on_panic(ended);
                    pass_on_panic(relaying.await);
                }
            }
        };
        let name = "batch_writer and outbox_relay";
        http::serve_with_background(self.listener, router, shutdown, name, background).await
    }
}

/// Panics with a task's panic, so that the task awaiting it reports it.
fn pass_on_panic(joined: Result<(), tokio::task::JoinError>) {
    if let Err(error) = joined
        && error.is_panic()
    {
        std::panic::resume_unwind(error.into_panic());
    }
}
