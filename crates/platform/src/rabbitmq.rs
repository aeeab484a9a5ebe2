//! RabbitMQ settings and connections, waited for when the broker is away.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use crate::config::{ConfigError, Env};
use crate::retry;

/// The broker: `Q_HOST`, `Q_PORT`, `Q_EXCHANGE`, `Q_CLIENT_CONNECT_RETRY_S`
/// (default 3), and `Q_USER`, `Q_PWD`, `Q_VHOST` (default guest, guest, /).
#[derive(Clone)]
pub struct QueueConfig {
    pub host: String,
    pub port: u16,
    pub exchange: String,
    pub retry_wait: Duration,
    pub user: String,
    password: String,
    pub vhost: String,
}

impl std::fmt::Debug for QueueConfig {
    // Hand-written so that the password never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("exchange", &self.exchange)
            .field("vhost", &self.vhost)
            .finish_non_exhaustive()
    }
}

impl QueueConfig {
    /// Reads `Q_*`. Fails on a missing or malformed variable.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            host: env.required("Q_HOST")?,
            port: env.required("Q_PORT")?,
            exchange: env.required("Q_EXCHANGE")?,
            retry_wait: env.seconds("Q_CLIENT_CONNECT_RETRY_S", 3)?,
            user: env.optional("Q_USER", "guest".to_owned())?,
            password: env.optional("Q_PWD", "guest".to_owned())?,
            vhost: env.optional("Q_VHOST", "/".to_owned())?,
        })
    }

    /// The variables that [`QueueConfig::from_env`] reads back as this config.
    pub fn to_env(&self) -> Vec<(String, String)> {
        [
            ("Q_HOST", self.host.clone()),
            ("Q_PORT", self.port.to_string()),
            ("Q_EXCHANGE", self.exchange.clone()),
            (
                "Q_CLIENT_CONNECT_RETRY_S",
                self.retry_wait.as_secs().to_string(),
            ),
            ("Q_USER", self.user.clone()),
            ("Q_PWD", self.password.clone()),
            ("Q_VHOST", self.vhost.clone()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect()
    }

    /// The AMQP URI, with the vhost percent-encoded (`/` is `%2f`).
    pub fn uri(&self) -> String {
        let vhost = self.vhost.replace('%', "%25").replace('/', "%2f");
        format!(
            "amqp://{}:{}@{}:{}/{}?heartbeat=10",
            self.user, self.password, self.host, self.port, vhost
        )
    }

    /// Connects, waiting `retry_wait` between attempts for as long as it takes.
    pub async fn connect_with_retry(&self) -> Connection {
        let uri = self.uri();
        let connect = || Connection::connect(&uri, ConnectionProperties::default());
        let connection = retry::until_ok(self.retry_wait, connect, |error| {
            tracing::warn!(
                host = %self.host,
                port = self.port,
                error = %error,
                retry_in_s = self.retry_wait.as_secs(),
                "failed_to_connect_to_queue"
            );
        })
        .await;
        tracing::info!(host = %self.host, port = self.port, "connected_to_queue");
        connection
    }
}
