//! RabbitMQ settings and connections, waited for when the broker is away.

use crate::events;
use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use crate::config::{ConfigError, Env};
use crate::retry;

/// The routing key of buy-order events.
pub const ROUTING_KEY: &str = "buy_order";

/// The broker: `Q_HOST`, `Q_PORT`, `Q_EXCHANGE`, `Q_CLIENT_CONNECT_RETRY_S`
/// (default 3), `Q_USER`, `Q_PWD`, `Q_VHOST` (default guest, guest, /),
/// `Q_QUEUE` (default `buy_order`; tests give each run its own) and
/// `Q_QUEUE_TYPE` (default `classic`).
#[derive(Clone)]
pub struct QueueConfig {
    pub host: String,
    pub port: u16,
    pub exchange: String,
    pub queue: String,
    pub queue_type: QueueType,
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
            .field("queue", &self.queue)
            .field("queue_type", &self.queue_type)
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
            queue: env.optional("Q_QUEUE", ROUTING_KEY.to_owned())?,
            queue_type: env.optional("Q_QUEUE_TYPE", QueueType::Classic)?,
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
            ("Q_QUEUE", self.queue.clone()),
            ("Q_QUEUE_TYPE", self.queue_type.to_string()),
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
                message = events::FAILED_TO_CONNECT_TO_QUEUE
            );
        })
        .await;
        tracing::info!(host = %self.host, port = self.port, message = events::CONNECTED_TO_QUEUE);
        connection
    }
}

impl QueueConfig {
    /// Where messages that cannot be read are parked: `{queue}.dead`.
    pub fn dead_letter_queue(&self) -> String {
        format!("{}.dead", self.queue)
    }

    /// Declares the durable direct exchange, the durable event queue bound to
    /// it by [`ROUTING_KEY`], and the dead-letter queue. Publisher and consumer
    /// both declare them, so no event is unroutable whichever starts first.
    pub async fn declare_topology(&self, channel: &Channel) -> lapin::Result<()> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let exchange = self.exchange.as_str();
        channel
            .exchange_declare(
                exchange.into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        for queue in [self.queue.clone(), self.dead_letter_queue()] {
            let declared = channel
                .queue_declare(queue.as_str().into(), durable, self.queue_type.arguments())
                .await;
            if let Err(error) = &declared
                && error
                    .to_string()
                    .contains("inequivalent arg 'x-queue-type'")
            {
                tracing::error!(
                    queue,
                    q_queue_type = %self.queue_type,
                    %error,
                    message = events::QUEUE_TYPE_MISMATCH
                );
            }
            declared?;
        }
        let (queue, options) = (self.queue.as_str(), QueueBindOptions::default());
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                ROUTING_KEY.into(),
                options,
                FieldTable::default(),
            )
            .await
    }
}

/// The kind of queue the event queue and its dead-letter queue are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueType {
    /// One broker node holds each message (the default, as the original had).
    Classic,
    /// Raft-replicated over the broker's cluster: a publisher confirm means a
    /// majority of the nodes has the message (RabbitMQ 3.8 and later).
    Quorum,
}

impl QueueType {
    /// The declaration's arguments. A classic queue is declared with none, as
    /// before this setting existed, so that the queues already on a broker
    /// keep matching their declaration.
    fn arguments(self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if self == Self::Quorum {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        arguments
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "classic" => Ok(Self::Classic),
            "quorum" => Ok(Self::Quorum),
            other => Err(format!("{other:?} is not one of classic, quorum")),
        }
    }
}

impl std::fmt::Display for QueueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        })
    }
}

/// Resolves once `connection` is no longer usable. lapin does not always end
/// a consumer's stream or fail a pending confirm when the socket dies, so
/// long-lived work races itself against this.
pub async fn connection_lost(connection: &Connection) {
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        if !connection.status().connected() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(queue_type: Option<&str>) -> Result<QueueConfig, ConfigError> {
        let mut pairs = vec![("Q_HOST", "queue"), ("Q_PORT", "5672"), ("Q_EXCHANGE", "x")];
        pairs.extend(queue_type.map(|value| ("Q_QUEUE_TYPE", value)));
        QueueConfig::from_env(&Env::from_pairs(pairs))
    }

    #[test]
    fn the_queue_type_is_classic_unless_quorum_is_asked_for() {
        let classic = broker(None).expect("a config");
        assert_eq!(classic.queue_type, QueueType::Classic);
        assert!(classic.queue_type.arguments().inner().is_empty());
        let quorum = broker(Some("quorum")).expect("a config");
        assert_eq!(quorum.queue_type, QueueType::Quorum);
        assert_eq!(
            quorum
                .to_env()
                .iter()
                .find(|(k, _)| k == "Q_QUEUE_TYPE")
                .map(|(_, v)| v.as_str()),
            Some("quorum")
        );
    }

    #[test]
    fn an_unknown_queue_type_is_refused_by_name() {
        let error = broker(Some("mirrored")).expect_err("refused").to_string();
        assert!(error.contains("Q_QUEUE_TYPE"), "{error}");
        assert!(error.contains("classic, quorum"), "{error}");
    }
}
