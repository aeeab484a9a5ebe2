//! The `fetch_buy_orders` service: `GET /buy_orders` pages through the
//! calling client's orders in the read model. `routes` holds the HTTP shapes,
//! `page_reader` reads the pages asked for at once with one statement, and
//! `storage` holds the keyset queries. The client is named by its API key,
//! checked against the write model's `api_key` table (through a cache).

mod page_reader;
mod routes;
mod storage;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use platform::auth::{AuthConfig, Authenticator};
use platform::config::{ConfigError, Env};
use platform::health::Readiness;
use platform::http::{self, ListenConfig};
use platform::migrations_gate::MigrationsGate;
use platform::postgres::{DatabaseConfig, HeldConnections};
use sqlx::PgPool;

use crate::page_reader::PageReader;
use crate::routes::Service;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub read_model: DatabaseConfig,
    pub migrations: MigrationsGate,
    /// `AUTH_REQUIRED`, `AUTH_CACHE_TTL_MS`.
    pub auth: AuthConfig,
    /// Where the API keys are: the write model (`WRITE_MODEL_DB_*`), read
    /// only when keys are checked.
    pub key_store: Option<DatabaseConfig>,
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let auth = AuthConfig::from_env(env)?;
        let key_store = match auth.required {
            true => Some(DatabaseConfig::from_env(env, "WRITE_MODEL_DB")?),
            false => None,
        };
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            // Its statements are index seeks whatever the values: see `planning_once`.
            read_model: DatabaseConfig::from_env(env, "READ_MODEL_DB")?.planning_once(),
            migrations: MigrationsGate::from_env(env, &platform::schema::READ_MODEL)?,
            auth,
            key_store,
        })
    }
}

/// The service, bound to its port and ready to run.
pub struct App {
    config: Config,
    listener: http::Listener,
    /// The read model's pool, which the held connections come from; the
    /// migrations gate uses it directly while the service starts.
    pool: PgPool,
    service: Arc<Service>,
    /// The page readers, run beside the server.
    reading: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl App {
    /// Binds the listener; connects to nothing yet. Fails when the port
    /// cannot be bound.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let listener = http::bind(&config.listen).await?;
        let pool = config.read_model.connect_lazy();
        let startup = Readiness::starting("waiting for migrations");
        let read_model = Arc::new(HeldConnections::new(&pool));
        let deadline = page_reader::batch_deadline(
            config.read_model.statement_timeout,
            config.listen.limits.request_timeout,
        );
        let (pages, reading) = PageReader::new(read_model.clone(), deadline);
        let authenticator = match &config.key_store {
            Some(keys) => Authenticator::new(config.auth.clone(), keys.connect_lazy()),
            None => Authenticator::open(),
        };
        Ok(Self {
            config,
            listener,
            pool,
            service: Arc::new(Service {
                pages,
                read_model,
                startup,
                authenticator,
            }),
            reading: Box::pin(reading),
        })
    }

    /// Where it listens (the port the OS chose for port 0), for in-process tests.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves at once (503 until the schema is there) until `shutdown`.
    /// Fails when the page readers stop on their own.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (config, service) = (self.config, &self.service);
        let _startup =
            config
                .migrations
                .spawn_open(config.read_model, self.pool, service.startup.clone());
        // The readers end once the server, and every request that could ask
        // them for a page, is gone.
        let reading = self.reading;
        let router = routes::router(self.service);
        http::serve_with_background(self.listener, router, shutdown, "page_reader", |_| reading)
            .await
    }
}
