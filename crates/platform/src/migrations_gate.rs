//! Services that use the schema start serving only once the migration
//! service reports healthy, as the original did.

use crate::events;
use std::time::Duration;

use sqlx::PgPool;
use tokio_util::task::AbortOnDropHandle;

use crate::config::{ConfigError, Env, UpstreamConfig};
use crate::health::Readiness;
use crate::postgres::DatabaseConfig;

/// The migration service's healthcheck: `MIGRATION_PROTOCOL`, `_HOST`, `_PORT`.
#[derive(Debug, Clone)]
pub struct MigrationsGate {
    url: String,
}

impl MigrationsGate {
    /// Fails on a missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let service = UpstreamConfig::from_env(env, "MIGRATION")?;
        Ok(Self {
            url: format!("{}/healthcheck", service.base_url()),
        })
    }

    /// Polls the healthcheck every `wait` until it answers 200.
    pub async fn wait_until_applied(&self, wait: Duration) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client always builds");
        loop {
            let status = client.get(&self.url).send().await.map(|r| r.status());
            match status {
                Ok(status) if status.is_success() => break,
                Ok(status) => {
                    tracing::info!(url = %self.url, status = status.as_u16(), message = events::WAITING_FOR_MIGRATIONS);
                }
                Err(error) => {
                    tracing::info!(url = %self.url, error = %error, message = events::WAITING_FOR_MIGRATIONS);
                }
            }
            tokio::time::sleep(wait).await;
        }
        tracing::info!(url = %self.url, message = events::MIGRATIONS_APPLIED);
    }

    /// Waits for the schema, then for `pool` on `database` to answer (both
    /// retried every `database.retry_wait`), then marks `readiness` ready.
    pub async fn open_when_ready(
        &self,
        database: &DatabaseConfig,
        pool: &PgPool,
        readiness: &Readiness,
    ) {
        self.wait_until_applied(database.retry_wait).await;
        database.wait_until_reachable(pool).await;
        readiness.set_ready();
    }

    /// [`Self::open_when_ready`] as a task of its own, so that the service
    /// serves (503) meanwhile; dropping the handle stops the wait.
    pub fn spawn_open(
        self,
        database: DatabaseConfig,
        pool: PgPool,
        readiness: Readiness,
    ) -> AbortOnDropHandle<()> {
        AbortOnDropHandle::new(tokio::spawn(async move {
            self.open_when_ready(&database, &pool, &readiness).await;
        }))
    }
}
