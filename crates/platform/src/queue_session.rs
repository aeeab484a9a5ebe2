//! A RabbitMQ client that outlives its connections, shared by the outbox
//! relay and the consumer: connect (retrying), prepare a channel (retrying
//! after a failure), report ready while working, and when the connection
//! drops or the work fails, report not ready and start over.

use crate::events;
use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use lapin::protocol::constants::REPLY_SUCCESS;
use lapin::{Channel, Connection};
use tokio_util::sync::CancellationToken;

use crate::health::{NotReady, Readiness};
use crate::rabbitmq::{QueueConfig, connection_lost};

/// The events (names from `events`) one kind of client reports as its
/// sessions come and go.
pub struct SessionEvents {
    /// A channel is prepared; work begins.
    pub ready: &'static str,
    /// Preparing a channel failed; it is tried again after the retry wait.
    pub setup_failed: &'static str,
    /// The connection or the work failed; a new session begins.
    pub disconnected: &'static str,
}

/// What a client does in each session.
pub trait QueueWork: Send {
    /// What `prepare` makes of a fresh channel, e.g. the channel and a consumer.
    type Prepared: Send;
    type Error: Display + Send;

    /// Declares what the client needs on a fresh channel.
    fn prepare(
        &self,
        channel: Channel,
    ) -> impl Future<Output = lapin::Result<Self::Prepared>> + Send;

    /// Works until cancelled (`Ok`) or until the session fails (`Err`).
    fn work(
        &mut self,
        prepared: Self::Prepared,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// How one session ended.
enum Ended {
    Cancelled,
    Failed(String),
}

/// Runs `client` in one session after another until `cancel`, keeping
/// `readiness` true to whether a session is working. On the way out it closes
/// the channel and then the connection, so that unacknowledged messages go
/// back to the queue at once.
pub async fn keep_session<W: QueueWork>(
    queue: &QueueConfig,
    readiness: &Readiness,
    names: &SessionEvents,
    client: &mut W,
    cancel: &CancellationToken,
) {
    loop {
        let (connection, channel, prepared) = tokio::select! {
            _ = cancel.cancelled() => return,
            opened = open(queue, names, client) => opened,
        };
        readiness.set_ready();
        let ended = tokio::select! {
            outcome = client.work(prepared, cancel) => match outcome {
                Ok(()) => Ended::Cancelled,
                Err(error) => Ended::Failed(error.to_string()),
            },
            () = connection_lost(&connection) => Ended::Failed("the connection was lost".into()),
        };
        readiness.set_not_ready(NotReady::Lost("RabbitMQ"));
        // Closing hands unacknowledged messages back to the queue at once.
        // The channel goes first: one still closing (dropped with the work)
        // when its connection closes is what lapin logs as an error.
        let closing = async {
            let channel_closed = channel.close(REPLY_SUCCESS, "session ended".into()).await;
            let connection_closed = connection
                .close(REPLY_SUCCESS, "session ended".into())
                .await;
            connection_closed.and(channel_closed)
        };
        match tokio::time::timeout(Duration::from_secs(2), closing).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::debug!(error = %error, message = events::QUEUE_CLOSE_FAILED),
            Err(_) => tracing::debug!(error = "timed out", message = events::QUEUE_CLOSE_FAILED),
        }
        match ended {
            Ended::Cancelled => return,
            Ended::Failed(error) => tracing::warn!(error = %error, message = names.disconnected),
        }
    }
}

/// A connection, its channel, and what the client prepared on it, however
/// many attempts that takes.
async fn open<W: QueueWork>(
    queue: &QueueConfig,
    names: &SessionEvents,
    client: &W,
) -> (Connection, Channel, W::Prepared) {
    loop {
        let connection = queue.connect_with_retry().await;
        let prepared = match connection.create_channel().await {
            Ok(channel) => client.prepare(channel.clone()).await.map(|p| (channel, p)),
            Err(error) => Err(error),
        };
        match prepared {
            Ok((channel, prepared)) => {
                tracing::info!(exchange = %queue.exchange, queue = %queue.queue, message = names.ready);
                return (connection, channel, prepared);
            }
            Err(error) => tracing::warn!(error = %error, message = names.setup_failed),
        }
        tokio::time::sleep(queue.retry_wait).await;
    }
}
