//! PostgreSQL settings and pools. A database that is not there yet is waited
//! for, never a reason to crash.

mod held_connection;
mod held_connections;

pub use held_connection::HeldConnection;
pub use held_connections::{HeldConnections, LentConnection};

use crate::events;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Connection, PgExecutor};

use crate::config::{ConfigError, Env};
use crate::retry;

/// How long a pooled connection may sit idle and still be handed out
/// without a test.
const TEST_AFTER_IDLE: Duration = Duration::from_secs(1);

/// One database: `{PREFIX}_HOST`, `_PORT`, `_NAME`, `_USER`, `_PWD`,
/// `_RETRY_WAIT_S` (default 2), `_POOL_SIZE` (default 10), and the bounds on
/// a statement, `_STATEMENT_TIMEOUT_MS` (default 5000) and on waiting for a
/// lock, `_LOCK_TIMEOUT_MS` (default 2000); 0 lifts a bound.
#[derive(Clone)]
pub struct DatabaseConfig {
    /// The variable prefix, which also names the database in events.
    pub label: String,
    pub host: String,
    pub port: u16,
    pub name: String,
    pub user: String,
    password: String,
    pub retry_wait: Duration,
    pub pool_size: u32,
    /// A statement running longer is cancelled (SQLSTATE 57014), so that a
    /// slow database fails a request instead of holding it.
    pub statement_timeout: Duration,
    /// A wait for a lock longer than this fails (SQLSTATE 55P03), so that a
    /// session holding the running total cannot stall every create.
    pub lock_timeout: Duration,
    /// Whether each statement is planned once per connection, for all its
    /// runs, rather than as PostgreSQL chooses (see [`Self::planning_once`]).
    plan_once: bool,
}

impl std::fmt::Debug for DatabaseConfig {
    // Hand-written so that the password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("label", &self.label)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("name", &self.name)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl DatabaseConfig {
    /// Reads `{prefix}_*`. Fails on a missing or malformed variable.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        let var = |suffix: &str| format!("{prefix}_{suffix}");
        Ok(Self {
            label: prefix.to_lowercase(),
            host: env.required(&var("HOST"))?,
            port: env.required(&var("PORT"))?,
            name: env.required(&var("NAME"))?,
            user: env.required(&var("USER"))?,
            password: env.required(&var("PWD"))?,
            retry_wait: env.seconds(&var("RETRY_WAIT_S"), 2)?,
            pool_size: env.positive(&var("POOL_SIZE"), 10)?,
            statement_timeout: env.millis(&var("STATEMENT_TIMEOUT_MS"), 5000)?,
            lock_timeout: env.millis(&var("LOCK_TIMEOUT_MS"), 2000)?,
            plan_once: false,
        })
    }

    /// The variables that [`DatabaseConfig::from_env`] reads back as this
    /// config, for handing it to a child process.
    pub fn to_env(&self, prefix: &str) -> Vec<(String, String)> {
        [
            ("HOST", self.host.clone()),
            ("PORT", self.port.to_string()),
            ("NAME", self.name.clone()),
            ("USER", self.user.clone()),
            ("PWD", self.password.clone()),
            ("RETRY_WAIT_S", self.retry_wait.as_secs().to_string()),
            ("POOL_SIZE", self.pool_size.to_string()),
            ("STATEMENT_TIMEOUT_MS", millis(self.statement_timeout)),
            ("LOCK_TIMEOUT_MS", millis(self.lock_timeout)),
        ]
        .into_iter()
        .map(|(suffix, value)| (format!("{prefix}_{suffix}"), value))
        .collect()
    }

    /// The same server and credentials, another database.
    pub fn with_name(&self, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..self.clone()
        }
    }

    /// The same database, with each statement planned once per connection:
    /// for statements whose best plan is the same index seek whatever their
    /// values. PostgreSQL's own choice replans a statement on every run when
    /// its generic plan looks costlier than a custom one, as a `LIMIT $n`
    /// makes it look, and planning the page query cost twice its run.
    pub fn planning_once(self) -> Self {
        Self {
            plan_once: true,
            ..self
        }
    }

    /// The same database with no bound on statements or lock waits, for
    /// work that may rightly take long (migrations, a rebuild).
    pub fn without_timeouts(self) -> Self {
        Self {
            statement_timeout: Duration::ZERO,
            lock_timeout: Duration::ZERO,
            ..self
        }
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        let options = PgConnectOptions::new()
            .host(&self.host)
            .port(self.port)
            .database(&self.name)
            .username(&self.user)
            .password(&self.password)
            .application_name("rsdist")
            .options([
                ("statement_timeout", millis(self.statement_timeout)),
                ("lock_timeout", millis(self.lock_timeout)),
                // Our statements are short, but a generic plan's estimate on a
                // large table (a page's LIMIT is a parameter) passes
                // `jit_above_cost`: on a read model of 1.15 M rows compiling
                // cost 10 ms of a 27 ms run, for a page read in 0.04 ms.
                ("jit", "off".to_owned()),
            ]);
        match self.plan_once {
            true => options.options([("plan_cache_mode", "force_generic_plan")]),
            false => options,
        }
    }

    /// A pool of `pool_size` connections, opened now. Fails when the database
    /// cannot be reached within the acquire timeout.
    pub async fn connect(&self) -> Result<PgPool, sqlx::Error> {
        self.pool_options()
            .connect_with(self.connect_options())
            .await
    }

    /// The pool options every service uses: `pool_size` connections, a
    /// bounded wait for one so that an away database fails requests fast, and
    /// a connection tested before use only once it has sat idle.
    fn pool_options(&self) -> PgPoolOptions {
        PgPoolOptions::new()
            .max_connections(self.pool_size)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx tests every connection as it comes back to the pool (a
            // round trip), and by default again as it is taken out: a third
            // round trip for every query. A connection in steady use was
            // tested moments ago; one that sat idle may have been dropped by
            // a restarted server, and is tested before it is handed out.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= TEST_AFTER_IDLE {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
    }

    /// A pool that connects on first use, so a service can start (and say
    /// it is not ready) before its database is up.
    pub fn connect_lazy(&self) -> PgPool {
        self.pool_options()
            .connect_lazy_with(self.connect_options())
    }

    /// Waits until `pool` can run a query, retrying every `retry_wait`.
    pub async fn wait_until_reachable(&self, pool: &PgPool) {
        retry::until_ok(
            self.retry_wait,
            || ping(pool),
            |error| self.log_failure(error),
        )
        .await;
        tracing::info!(database = %self.label, name = %self.name, message = events::CONNECTED_TO_DATABASE);
    }

    fn log_failure(&self, error: &sqlx::Error) {
        tracing::warn!(
            database = %self.label,
            host = %self.host,
            port = self.port,
            name = %self.name,
            error = %error,
            retry_in_s = self.retry_wait.as_secs(),
            message = events::FAILED_TO_CONNECT_TO_DATABASE
        );
    }
}

/// One round trip to the database, on a pool or a connection. Fails when it
/// cannot be reached.
pub async fn ping(db: impl PgExecutor<'_>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT 1").execute(db).await.map(drop)
}

/// A duration as PostgreSQL's settings and our variables take it: whole
/// milliseconds, 0 for none.
fn millis(duration: Duration) -> String {
    duration.as_millis().to_string()
}
