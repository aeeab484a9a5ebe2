//! The `migration` service: waits for both databases, applies the embedded
//! schema of each (`platform::schema`) with sqlx's migrator, which records
//! what it applied and never applies it twice, gives each service its own
//! login with only the grants it needs (`logins`), installs the development
//! API key if `DEV_API_KEY` is set, then reports healthy. The other services
//! wait for that healthcheck before they serve, or, where it runs once as a
//! job (`migration apply`), for the schema itself (`MIGRATIONS_GATE`).
//! `clients` holds the operator's commands for clients and their API keys.

pub mod clients;
mod logins;

pub use logins::ServiceLogins;

use platform::events;
use std::future::Future;
use std::net::SocketAddr;

use platform::config::{ConfigError, Env};
use platform::health::{NotReady, Readiness};
use platform::http::ListenConfig;
use platform::postgres::DatabaseConfig;
use platform::{http, retry, schema};
use sqlx::migrate::Migrator;

/// Everything the service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: ListenConfig,
    pub schemas: Schemas,
}

/// What is applied, and where: all that `migration apply` reads.
#[derive(Debug, Clone)]
pub struct Schemas {
    pub write_model: DatabaseConfig,
    pub read_model: DatabaseConfig,
    pub logins: ServiceLogins,
    /// `DEV_API_KEY`: a key made a key of client 1, for development only.
    pub dev_api_key: Option<DevApiKey>,
}

/// The development key; never printed.
#[derive(Clone)]
pub struct DevApiKey(String);

impl std::fmt::Debug for DevApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DevApiKey(..)")
    }
}

impl Config {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            listen: ListenConfig::from_env(env)?,
            schemas: Schemas::from_env(env)?,
        })
    }
}

impl Schemas {
    /// Fails on the first missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            write_model: DatabaseConfig::from_env(env, "WRITE_MODEL_DB")?.without_timeouts(),
            read_model: DatabaseConfig::from_env(env, "READ_MODEL_DB")?.without_timeouts(),
            logins: ServiceLogins::from_env(env)?,
            dev_api_key: Some(env.optional("DEV_API_KEY", String::new())?)
                .filter(|key| !key.is_empty())
                .map(DevApiKey),
        })
    }
}

/// The service, bound to its port and ready to run.
pub struct App {
    config: Config,
    listener: http::Listener,
    readiness: Readiness,
}

impl App {
    /// Binds the listener. Fails when the port cannot be bound.
    pub async fn build(config: Config) -> std::io::Result<Self> {
        let listener = http::bind(&config.listen).await?;
        let readiness = Readiness::starting("migrations have not been applied yet");
        Ok(Self {
            config,
            listener,
            readiness,
        })
    }

    /// Where it listens (the port the OS chose for port 0), for in-process tests.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves the healthcheck while migrating, and goes on serving it until
    /// `shutdown` resolves.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let router = self.readiness.route();
        let migrating = tokio::spawn(migrate(self.config.schemas, self.readiness));
        let served = http::serve(self.listener, router, shutdown).await;
        migrating.abort();
        served
    }
}

/// `migration apply`: all that the service does before it reports healthy,
/// then exits, for a one-off job (Kubernetes). Unreachable databases are
/// waited for, as by the service.
pub async fn apply_once(schemas: Schemas) -> Result<String, std::convert::Infallible> {
    let readiness = Readiness::starting("migrations have not been applied yet");
    migrate(schemas, readiness).await;
    Ok("migration: both schemas applied, the services' logins granted".to_owned())
}

/// Applies both schemas, one database at a time, then marks the service ready.
async fn migrate(config: Schemas, readiness: Readiness) {
    let write_logins = config.logins.write_model();
    let dev_key = config.dev_api_key.as_ref().map(|key| key.0.as_str());
    apply(
        &config.write_model,
        &schema::WRITE_MODEL,
        &write_logins,
        dev_key,
        &readiness,
    )
    .await;
    let read_logins = config.logins.read_model();
    apply(
        &config.read_model,
        &schema::READ_MODEL,
        &read_logins,
        None,
        &readiness,
    )
    .await;
    readiness.set_ready();
}

/// Connects, migrates, grants the logins their groups and installs the
/// development key (if any), retrying every `retry_wait` until all of it
/// succeeds.
async fn apply(
    database: &DatabaseConfig,
    migrator: &Migrator,
    logins: &[(&logins::Login, &str)],
    dev_key: Option<&str>,
    readiness: &Readiness,
) {
    let attempt = || async {
        let pool = database.connect().await?;
        let migrated = match migrator.run(&pool).await {
            Ok(()) => match logins::provision(&pool, logins).await {
                Ok(()) => match dev_key {
                    Some(key) => clients::install_dev_key(&pool, key).await,
                    None => Ok(()),
                },
                Err(error) => Err(error),
            },
            Err(error) => Err(error.into()),
        };
        pool.close().await;
        migrated
    };
    retry::until_ok(database.retry_wait, attempt, |error| {
        readiness.set_not_ready(NotReady::WaitingFor {
            what: format!("{} database", database.label),
            reason: error.to_string(),
        });
        tracing::warn!(
            database = %database.label,
            name = %database.name,
            error = %error,
            retry_in_s = database.retry_wait.as_secs(),
            message = events::FAILED_TO_MIGRATE_DATABASE
        );
    })
    .await;
    let latest_version = migrator.iter().map(|migration| migration.version).max();
    tracing::info!(database = %database.label, name = %database.name, latest_version, message = events::DATABASE_MIGRATED);
}
