//! Publishes each committed order's event to RabbitMQ with a publisher
//! confirm, then forgets its outbox row. New orders arrive through an
//! in-process channel, so they are published at once; a sweep claims rows
//! left behind (a crash, a broker outage, a full channel) with `FOR UPDATE
//! SKIP LOCKED`, so several replicas can share the outbox. An event is
//! forgotten only once RabbitMQ confirmed it, so it may be sent twice but
//! never lost; the consumer ignores repeats.

use platform::events;
use std::time::Duration;

use domain::BuyOrderEvent;
use futures_util::future::join_all;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel};
use platform::health::Readiness;
use platform::queue_session::{QueueWork, SessionEvents, keep_session};
use platform::rabbitmq::{QueueConfig, ROUTING_KEY};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::storage;

/// How many events are published before their confirms are awaited.
const BATCH: usize = 256;
/// Fresh orders the channel holds before the sweep has to pick them up.
const CHANNEL_CAPACITY: usize = 4096;

/// An event to publish, and the id of the request that made it (sent as the
/// message's correlation id, so the consumer's events carry it too).
type Outgoing = (BuyOrderEvent, Option<String>);

/// The request side: hands a committed order's event to the relay.
#[derive(Clone)]
pub(crate) struct RelayHandle {
    sender: mpsc::Sender<Outgoing>,
}

impl RelayHandle {
    /// Never waits: if the relay is behind, the sweep publishes the event.
    pub(crate) fn publish(&self, event: BuyOrderEvent) {
        let request_id = platform::request_id::current();
        if self.sender.try_send((event, request_id)).is_err() {
            tracing::debug!(message = events::OUTBOX_RELAY_CHANNEL_FULL);
        }
    }
}

pub(crate) struct OutboxRelay {
    pool: PgPool,
    queue: QueueConfig,
    receiver: mpsc::Receiver<Outgoing>,
    /// Whether the relay holds a working channel, for the healthcheck.
    pub(crate) connected: Readiness,
    sweep_every: Duration,
    /// Rows younger than this are left to the in-process path.
    sweep_min_age: Duration,
    /// Whether the next sweep is the first of this process, which takes
    /// every row, however young, that a previous run left behind.
    first_sweep: bool,
}

const SESSION_EVENTS: SessionEvents = SessionEvents {
    ready: events::QUEUE_PUBLISHER_CONNECTED,
    setup_failed: events::QUEUE_PUBLISHER_SETUP_FAILED,
    disconnected: events::QUEUE_PUBLISHER_DISCONNECTED,
};

impl OutboxRelay {
    pub(crate) fn new(
        pool: PgPool,
        queue: QueueConfig,
        sweep_every: Duration,
    ) -> (Self, RelayHandle) {
        let (sender, receiver) = mpsc::channel(CHANNEL_CAPACITY);
        let connected = Readiness::starting("not yet connected to RabbitMQ");
        let sweep_min_age = sweep_every * 2;
        let relay = Self {
            pool,
            queue,
            receiver,
            connected,
            sweep_every,
            sweep_min_age,
            first_sweep: true,
        };
        (relay, RelayHandle { sender })
    }

    /// Relays until `cancel`, reconnecting whenever the broker goes away.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let (queue, connected) = (self.queue.clone(), self.connected.clone());
        keep_session(&queue, &connected, &SESSION_EVENTS, &mut self, &cancel).await;
    }

    /// Publishes fresh events as they come and sweeps on an interval, until
    /// cancelled (`Ok`, after draining) or the channel fails (`Err`).
    async fn relay(&mut self, channel: &Channel, cancel: &CancellationToken) -> lapin::Result<()> {
        let mut sweep = tokio::time::interval(self.sweep_every);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return self.drain(channel).await,
                received = self.receiver.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return Ok(());
                    }
                    self.publish_fresh(channel, &mut batch).await?;
                }
                _ = sweep.tick() => {
                    // On start, take everything a previous run left behind.
                    let min_age = if self.first_sweep { Duration::ZERO } else { self.sweep_min_age };
                    self.sweep(channel, min_age).await?;
                    self.first_sweep = false;
                    self.measure_backlog().await;
                }
            }
        }
    }

    /// At shutdown, once the requests are done: publishes the events they
    /// handed over and are still waiting, so that a scale-down leaves no
    /// order waiting for another replica's sweep.
    async fn drain(&mut self, channel: &Channel) -> lapin::Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        while let Ok(event) = self.receiver.try_recv() {
            batch.push(event);
            if batch.len() == BATCH || self.receiver.is_empty() {
                self.publish_fresh(channel, &mut batch).await?;
            }
        }
        Ok(())
    }

    /// Publishes events handed over by requests, forgets those confirmed,
    /// and empties `batch` for the next ones.
    async fn publish_fresh(
        &self,
        channel: &Channel,
        batch: &mut Vec<Outgoing>,
    ) -> lapin::Result<()> {
        let published = publish(channel, &self.queue.exchange, batch).await?;
        forget(&self.pool, &published).await;
        batch.clear();
        Ok(())
    }

    /// Publishes claimed outbox rows until none are left.
    async fn sweep(&self, channel: &Channel, min_age: Duration) -> lapin::Result<()> {
        loop {
            match self.sweep_batch(channel, min_age).await {
                // A full batch, all confirmed: there may be more behind it.
                Ok(swept) if swept == BATCH => continue,
                Ok(swept) => {
                    if swept > 0 {
                        tracing::info!(swept, message = events::OUTBOX_SWEPT);
                    }
                    return Ok(());
                }
                Err(SweepError::Queue(error)) => return Err(error),
                Err(SweepError::Database(error)) => {
                    // The write model is away; the rows wait for the next sweep.
                    tracing::warn!(error = %error, message = events::OUTBOX_SWEEP_FAILED);
                    return Ok(());
                }
            }
        }
    }

    /// Sets `outbox_depth` and `outbox_oldest_age_seconds`, the signs of a
    /// relay that falls behind or cannot publish.
    async fn measure_backlog(&self) {
        match storage::outbox_backlog(&self.pool).await {
            Ok((depth, oldest_age_s)) => {
                metrics::gauge!("outbox_depth").set(depth as f64);
                metrics::gauge!("outbox_oldest_age_seconds").set(oldest_age_s);
            }
            Err(error) => tracing::debug!(error = %error, message = events::OUTBOX_SWEEP_FAILED),
        }
    }

    async fn sweep_batch(&self, channel: &Channel, min_age: Duration) -> Result<usize, SweepError> {
        let mut tx = self.pool.begin().await?;
        let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let events = storage::claim_outbox(&mut tx, min_age_ms, BATCH as i64).await?;
        let events: Vec<Outgoing> = events.into_iter().map(|event| (event, None)).collect();
        let published = publish(channel, &self.queue.exchange, &events).await?;
        storage::delete_from_outbox(&mut *tx, &published).await?;
        tx.commit().await?;
        Ok(published.len())
    }
}

impl QueueWork for OutboxRelay {
    type Prepared = Channel;
    type Error = lapin::Error;

    /// The topology, and publisher confirms on the channel.
    async fn prepare(&self, channel: Channel) -> lapin::Result<Channel> {
        self.queue.declare_topology(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(channel)
    }

    async fn work(&mut self, channel: Channel, cancel: &CancellationToken) -> lapin::Result<()> {
        self.relay(&channel, cancel).await
    }
}

#[derive(Debug, thiserror::Error)]
enum SweepError {
    #[error(transparent)]
    Queue(#[from] lapin::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Publishes every event, then awaits their confirms; returns the order ids
/// RabbitMQ confirmed. Fails when the channel fails.
async fn publish(
    channel: &Channel,
    exchange: &str,
    events: &[Outgoing],
) -> lapin::Result<Vec<i64>> {
    let bodies: Vec<Vec<u8>> = events.iter().map(|(event, _)| event.to_json()).collect();
    // Every message is queued before any is awaited: lapin's I/O thread then
    // writes them at one wake-up, where awaiting each in turn cost a round
    // trip between the threads per message. They are queued, and so
    // published and confirmed, in this order.
    let queued = events
        .iter()
        .zip(&bodies)
        .map(|((event, request_id), body)| {
            let options = BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            };
            let properties = properties(event, request_id.as_deref());
            channel.basic_publish(
                exchange.into(),
                ROUTING_KEY.into(),
                options,
                body,
                properties,
            )
        });
    let confirms = join_all(queued).await;
    let mut pending = Vec::with_capacity(events.len());
    for ((event, _), confirm) in events.iter().zip(confirms) {
        pending.push((event, confirm?));
    }
    metrics::counter!("outbox_events_published_total").increment(pending.len() as u64);
    let mut confirmed = Vec::with_capacity(pending.len());
    for (event, confirm) in pending {
        match confirm.await? {
            Confirmation::Ack(None) => {
                metrics::counter!("outbox_publish_confirms_total", "outcome" => "ack").increment(1);
                confirmed.push(event.id);
            }
            refused => {
                metrics::counter!("outbox_publish_confirms_total", "outcome" => "refused")
                    .increment(1);
                tracing::warn!(
                order_id = event.id,
                external_id = %event.external_id,
                returned = refused.take_message().is_some(),
                    message = events::BUY_ORDER_EVENT_NOT_CONFIRMED
                );
            }
        }
    }
    Ok(confirmed)
}

/// A persistent JSON message named by the order's id, correlated with the
/// request that placed it, if any.
fn properties(event: &BuyOrderEvent, request_id: Option<&str>) -> BasicProperties {
    let properties = BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type("application/json".into())
        .with_message_id(event.external_id.to_string().into());
    match request_id {
        Some(request_id) => properties.with_correlation_id(request_id.into()),
        None => properties,
    }
}

/// Forgets confirmed events. If this fails they are published again later,
/// which the consumer ignores.
async fn forget(pool: &PgPool, order_ids: &[i64]) {
    if order_ids.is_empty() {
        return;
    }
    match storage::delete_from_outbox(pool, order_ids).await {
        Ok(()) => tracing::debug!(
            count = order_ids.len(),
            message = events::BUY_ORDER_EVENTS_PUBLISHED
        ),
        Err(error) => tracing::warn!(error = %error, message = events::OUTBOX_CLEANUP_FAILED),
    }
}
