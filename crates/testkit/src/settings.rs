//! Where the backing services are: the process environment, falling back to
//! the repository's `.env`, so `cargo test` works without `./test.sh` too.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use platform::config::Env;
use platform::postgres::DatabaseConfig;
use platform::rabbitmq::QueueConfig;

/// The repository's `.env`: `NAME=value` lines, comments skipped (empty if
/// the file cannot be read).
pub fn dotenv() -> BTreeMap<String, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.env");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

/// The development API key of `.env`, which the migration service makes a key
/// of client 1 (empty if unset).
pub fn dev_api_key() -> String {
    variables().get("DEV_API_KEY").cloned().unwrap_or_default()
}

/// The `.env` defaults overlaid with the process environment.
pub fn variables() -> &'static HashMap<String, String> {
    static VARIABLES: OnceLock<HashMap<String, String>> = OnceLock::new();
    VARIABLES.get_or_init(|| {
        let mut variables: HashMap<String, String> = dotenv().into_iter().collect();
        variables.extend(std::env::vars());
        variables
    })
}

/// The variables as a config source.
pub fn env() -> Env {
    Env::from_pairs(variables().iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The write model's server, as the role that may create test databases.
pub fn postgres() -> DatabaseConfig {
    let mut config = DatabaseConfig::from_env(&env(), "WRITE_MODEL_DB")
        .expect("WRITE_MODEL_DB_* are set in .env or the environment");
    config.pool_size = 4;
    config
}

/// The RabbitMQ broker.
pub fn rabbitmq() -> QueueConfig {
    QueueConfig::from_env(&env()).expect("Q_* are set in .env or the environment")
}

/// The variables a service needs to reach `database` as `{prefix}_*`,
/// retrying every second.
pub fn database_vars(prefix: &str, database: &DatabaseConfig) -> Vec<(String, String)> {
    let mut database = database.clone();
    database.retry_wait = std::time::Duration::from_secs(1);
    database.to_env(prefix)
}
