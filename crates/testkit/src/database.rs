//! A database of its own for each test, dropped when the test ends.

use platform::postgres::DatabaseConfig;
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection, PgPool};

use crate::names::unique;
use crate::settings;

/// A database that exists for the life of this value.
pub struct TestDatabase {
    config: DatabaseConfig,
}

impl TestDatabase {
    /// A new, empty database.
    pub async fn empty() -> Self {
        let config = settings::postgres();
        let name = unique("test");
        admin_execute(&config, &format!(r#"CREATE DATABASE "{name}""#)).await;
        Self {
            config: config.with_name(&name),
        }
    }

    /// A new database with `migrator`'s schema applied.
    pub async fn migrated(migrator: &Migrator) -> Self {
        let database = Self::empty().await;
        // As the migration service does: no bound on statements or lock waits.
        let pool = database.config.clone().without_timeouts().connect().await;
        let pool = pool.expect("connecting to the test database");
        migrator.run(&pool).await.expect("applying the migrations");
        pool.close().await;
        database
    }

    /// A name that no database has yet, for tests of waiting on a database.
    pub fn not_yet_created() -> Self {
        Self {
            config: settings::postgres().with_name(&unique("test")),
        }
    }

    /// Creates the database this value names.
    pub async fn create(&self) {
        admin_execute(
            &self.config,
            &format!(r#"CREATE DATABASE "{}""#, self.config.name),
        )
        .await;
    }

    pub fn config(&self) -> &DatabaseConfig {
        &self.config
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// A small pool on this database.
    pub async fn pool(&self) -> PgPool {
        self.config
            .connect()
            .await
            .expect("connecting to the test database")
    }
}

impl Drop for TestDatabase {
    // Drop cannot await, and the test's runtime may be gone: drop the
    // database from a runtime of our own on another thread.
    fn drop(&mut self) {
        let config = self.config.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, config.name);
            runtime.block_on(async { try_admin_execute(&config, &statement).await })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}", self.config.name);
        }
    }
}

async fn admin_execute(config: &DatabaseConfig, statement: &str) {
    try_admin_execute(config, statement)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

async fn try_admin_execute(config: &DatabaseConfig, statement: &str) -> std::io::Result<()> {
    let admin = config.clone().without_timeouts().with_name("postgres");
    let admin = admin.connect_options();
    let mut connection = PgConnection::connect_with(&admin)
        .await
        .map_err(std::io::Error::other)?;
    connection
        .execute(statement)
        .await
        .map_err(std::io::Error::other)?;
    connection.close().await.map_err(std::io::Error::other)
}
