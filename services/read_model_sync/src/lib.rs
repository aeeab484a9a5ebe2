//! The `read_model_sync` service: `consumer` takes buy-order events off the
//! queue and `storage` writes them to the read model; `GET /healthcheck`
//! reports whether both are connected. Two operator commands repair what a
//! fault left behind: `rebuild` re-derives the read model from the write
//! model, and `dead_letters` moves parked messages back onto the queue.

mod consumer;
mod dead_letters;
mod rebuild;
mod storage;

pub use dead_letters::ReplayError;
pub use rebuild::Rebuilt;

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use platform::config::{ConfigError, Env};
use platform::health::{Readiness, health_response, ready_with_database};
use platform::http::{self, ListenConfig};
use platform::migrations_gate::MigrationsGate;
use platform::postgres::{DatabaseConfig, HeldConnection};
use platform::rabbitmq::QueueConfig;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::consumer::Consumer;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub read_model: DatabaseConfig,
    pub queue: QueueConfig,
    pub migrations: MigrationsGate,
    /// `Q_PREFETCH` (default 256, not 0): unacknowledged messages held at once.
    pub prefetch: u16,
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            read_model: DatabaseConfig::from_env(env, "READ_MODEL_DB")?,
            queue: QueueConfig::from_env(env)?,
            migrations: MigrationsGate::from_env(env, &platform::schema::READ_MODEL)?,
            prefetch: env.positive("Q_PREFETCH", 256)?,
        })
    }
}

impl Config {
    /// The broker settings alone, for `replay-dead-letters`.
    pub fn queue_from_env(env: &Env) -> Result<QueueConfig, ConfigError> {
        QueueConfig::from_env(env)
    }
}

/// What `read_model_sync rebuild` reads: both databases.
#[derive(Debug, Clone)]
pub struct RebuildConfig {
    pub write_model: DatabaseConfig,
    pub read_model: DatabaseConfig,
}

impl RebuildConfig {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            write_model: DatabaseConfig::from_env(env, "WRITE_MODEL_DB")?,
            read_model: DatabaseConfig::from_env(env, "READ_MODEL_DB")?,
        })
    }
}

/// Inserts into the read model every order of the write model it lacks,
/// waiting for both databases first; says how many. Idempotent.
pub async fn rebuild_read_model(config: RebuildConfig) -> Result<String, sqlx::Error> {
    let write_model = config.write_model.connect_lazy();
    let read_model = config.read_model.connect_lazy();
    config.write_model.wait_until_reachable(&write_model).await;
    config.read_model.wait_until_reachable(&read_model).await;
    let done = rebuild::rebuild(&write_model, &read_model).await?;
    Ok(format!(
        "rebuild: {} orders in the write model, {} of them were missing from the read model and are now there",
        done.scanned, done.inserted
    ))
}

/// Moves the messages parked on the dead-letter queue back onto the
/// exchange; says how many.
pub async fn replay_dead_letters(queue: QueueConfig) -> Result<String, ReplayError> {
    let replayed = dead_letters::replay(&queue).await?;
    Ok(format!(
        "replay-dead-letters: {replayed} messages moved from {} back to the exchange {}",
        queue.dead_letter_queue(),
        queue.exchange
    ))
}

/// The service, bound to its port and ready to run.
pub struct App {
    config: Config,
    listener: http::Listener,
    pool: PgPool,
    consuming: Readiness,
}

#[derive(Clone)]
struct Health {
    pool: PgPool,
    consuming: Readiness,
}

impl App {
    /// Binds the listener; connects to nothing yet. Fails when the port
    /// cannot be bound.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let listener = http::bind(&config.listen).await?;
        let pool = config.read_model.connect_lazy();
        let consuming = Readiness::starting("waiting for migrations");
        Ok(Self {
            config,
            listener,
            pool,
            consuming,
        })
    }

    /// Consumes once the schema is there, serves the healthcheck, and stops
    /// both on `shutdown`, leaving unacknowledged messages to the broker.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let consumer = Consumer {
            read_model: HeldConnection::new(self.pool.clone()).into(),
            queue: self.config.queue.clone(),
            prefetch: self.config.prefetch,
            database_retry_wait: self.config.read_model.retry_wait,
            consuming: self.consuming.clone(),
        };
        let health = Health {
            pool: self.pool.clone(),
            consuming: self.consuming,
        };
        let router = Router::new()
            .route(platform::health::PATH, get(healthcheck))
            .with_state(health);
        let config = self.config;
        let pool = self.pool;
        http::serve_with_background(self.listener, router, shutdown, "consumer", |cancel| {
            consume(config, pool, consumer, cancel)
        })
        .await
    }
}

async fn consume(config: Config, pool: PgPool, consumer: Consumer, cancel: CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = config.migrations.wait_until_applied(&pool, config.read_model.retry_wait) => {}
    }
    consumer.run(cancel).await;
}

async fn healthcheck(State(health): State<Health>) -> Response {
    health_response(ready_with_database(&[&health.consuming], &health.pool, "read model").await)
}
