//! The `read_model_sync` service: `consumer` takes buy-order events off the
//! queue and `storage` writes them to the read model; `GET /healthcheck`
//! reports whether both are connected.

mod consumer;
mod storage;

use std::future::Future;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use platform::config::{ConfigError, Env, ListenConfig};
use platform::health::{Readiness, health_response, ready_with_database};
use platform::http;
use platform::migrations_gate::MigrationsGate;
use platform::postgres::DatabaseConfig;
use platform::rabbitmq::QueueConfig;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::consumer::Consumer;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub read_model: DatabaseConfig,
    pub queue: QueueConfig,
    pub migrations: MigrationsGate,
    /// `Q_PREFETCH` (default 256): unacknowledged messages held at once.
    pub prefetch: u16,
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            read_model: DatabaseConfig::from_env(env, "READ_MODEL_DB")?,
            queue: QueueConfig::from_env(env)?,
            migrations: MigrationsGate::from_env(env)?,
            prefetch: env.optional("Q_PREFETCH", 256)?,
        })
    }
}

/// The service, bound to its port and ready to run.
pub struct App {
    config: Config,
    listener: TcpListener,
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
            pool: self.pool.clone(),
            queue: self.config.queue.clone(),
            prefetch: self.config.prefetch,
            database_retry_wait: self.config.read_model.retry_wait,
            consuming: self.consuming.clone(),
        };
        let health = Health {
            pool: self.pool,
            consuming: self.consuming,
        };
        let router = Router::new()
            .route("/healthcheck", get(healthcheck))
            .with_state(health);
        let config = self.config;
        http::serve_with_background(self.listener, router, shutdown, "consumer", |cancel| {
            consume(config, consumer, cancel)
        })
        .await
    }
}

async fn consume(config: Config, consumer: Consumer, cancel: CancellationToken) {
    tokio::select! {
        _ = cancel.cancelled() => return,
        _ = config.migrations.wait_until_applied(config.read_model.retry_wait) => {}
    }
    consumer.run(cancel).await;
}

async fn healthcheck(State(health): State<Health>) -> Response {
    health_response(ready_with_database(&[&health.consuming], &health.pool, "read model").await)
}
