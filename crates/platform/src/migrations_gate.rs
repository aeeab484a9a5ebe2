//! Services that use the schema start serving only once it is applied. Two
//! ways to know, chosen by `MIGRATIONS_GATE`:
//! - `healthcheck` (the default, as the original did): the migration
//!   service's `GET /healthcheck` answers 200;
//! - `schema`: the database's own record of applied migrations holds every
//!   migration this binary was built with. For runs where the migration is
//!   a one-off job with no healthcheck left to ask (Kubernetes), and it also
//!   holds a new version of a service back until its own schema is there.

use crate::events;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::migrate::Migrator;
use tokio_util::task::AbortOnDropHandle;

use crate::config::{ConfigError, Env, UpstreamConfig};
use crate::health::Readiness;
use crate::postgres::DatabaseConfig;

/// How a service learns that its schema is there.
#[derive(Debug, Clone)]
pub enum MigrationsGate {
    /// The migration service's healthcheck: `MIGRATION_PROTOCOL`, `_HOST`, `_PORT`.
    Healthcheck { url: String },
    /// The database's `_sqlx_migrations` rows, against `schema`'s versions.
    Schema { schema: &'static Migrator },
}

/// `MIGRATIONS_GATE`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateKind {
    Healthcheck,
    Schema,
}

impl FromStr for GateKind {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "healthcheck" => Ok(Self::Healthcheck),
            "schema" => Ok(Self::Schema),
            _ => Err("expected healthcheck or schema".to_owned()),
        }
    }
}

/// Why the schema is not there yet, as the waiting event reports it.
enum NotApplied {
    Unanswered(String),
    Behind { applied: i64, latest: i64 },
}

impl fmt::Display for NotApplied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unanswered(reason) => f.write_str(reason),
            Self::Behind { applied, latest } => {
                write!(f, "version {applied} applied, this build needs {latest}")
            }
        }
    }
}

impl MigrationsGate {
    /// `schema` is the database this service checks (the one it waits on).
    /// Fails on a missing or malformed variable.
    pub fn from_env(env: &Env, schema: &'static Migrator) -> Result<Self, ConfigError> {
        match env.optional("MIGRATIONS_GATE", GateKind::Healthcheck)? {
            GateKind::Schema => Ok(Self::Schema { schema }),
            GateKind::Healthcheck => {
                let service = UpstreamConfig::from_env(env, "MIGRATION")?;
                Ok(Self::Healthcheck {
                    url: format!("{}/healthcheck", service.base_url()),
                })
            }
        }
    }

    /// Asks every `wait`, through `pool` where the schema is checked, until
    /// the schema is applied.
    pub async fn wait_until_applied(&self, pool: &PgPool, wait: Duration) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a plain HTTP client always builds");
        let source = self.source();
        loop {
            let checked = match self {
                Self::Healthcheck { url } => healthcheck_answers(&client, url).await,
                Self::Schema { schema } => schema_applied(pool, schema).await,
            };
            match checked {
                Ok(()) => break,
                Err(reason) => {
                    tracing::info!(source, reason = %reason, message = events::WAITING_FOR_MIGRATIONS);
                }
            }
            tokio::time::sleep(wait).await;
        }
        tracing::info!(source, message = events::MIGRATIONS_APPLIED);
    }

    /// Where the gate looks, for its events.
    fn source(&self) -> &str {
        match self {
            Self::Healthcheck { url } => url,
            Self::Schema { .. } => "_sqlx_migrations",
        }
    }

    /// Waits for the schema, then for `pool` on `database` to answer (both
    /// retried every `database.retry_wait`), then marks `readiness` ready.
    pub async fn open_when_ready(
        &self,
        database: &DatabaseConfig,
        pool: &PgPool,
        readiness: &Readiness,
    ) {
        self.wait_until_applied(pool, database.retry_wait).await;
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

async fn healthcheck_answers(client: &reqwest::Client, url: &str) -> Result<(), NotApplied> {
    match client.get(url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(NotApplied::Unanswered(format!(
            "status {}",
            response.status().as_u16()
        ))),
        Err(error) => Err(NotApplied::Unanswered(error.to_string())),
    }
}

/// Whether the newest migration `schema` holds is recorded as applied. The
/// migration service records them in order, so the newest implies the rest.
async fn schema_applied(pool: &PgPool, schema: &Migrator) -> Result<(), NotApplied> {
    let latest = schema.iter().map(|m| m.version).max().unwrap_or(0);
    let applied: i64 =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(pool)
            .await
            .map_err(|error| NotApplied::Unanswered(error.to_string()))?;
    if applied >= latest {
        Ok(())
    } else {
        Err(NotApplied::Behind { applied, latest })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema;

    fn gate(pairs: &[(&str, &str)]) -> Result<MigrationsGate, ConfigError> {
        MigrationsGate::from_env(
            &Env::from_pairs(pairs.iter().copied()),
            &schema::WRITE_MODEL,
        )
    }

    #[test]
    fn the_schema_gate_needs_no_migration_service() {
        let gate = gate(&[("MIGRATIONS_GATE", "schema")]).expect("a gate");
        assert!(matches!(gate, MigrationsGate::Schema { .. }));
    }

    #[test]
    fn by_default_the_gate_asks_the_migration_services_healthcheck() {
        let missing = gate(&[]).expect_err("MIGRATION_* unset");
        assert!(missing.to_string().contains("MIGRATION_"), "{missing}");
        let set = [
            ("MIGRATION_PROTOCOL", "http"),
            ("MIGRATION_HOST", "migration"),
            ("MIGRATION_PORT", "8775"),
        ];
        let MigrationsGate::Healthcheck { url } = gate(&set).expect("a gate") else {
            panic!("not the healthcheck gate");
        };
        assert_eq!(url, "http://migration:8775/healthcheck");
    }

    #[test]
    fn an_unknown_gate_is_refused_by_name() {
        let error = gate(&[("MIGRATIONS_GATE", "sometimes")]).expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains("MIGRATIONS_GATE") && text.contains("healthcheck or schema"),
            "{text}"
        );
    }
}
