//! Publishes each committed order's event to RabbitMQ with a publisher
//! confirm, then forgets its outbox row. New orders arrive through an
//! in-process channel, so they are published at once; a sweep finds rows
//! that no request handed over (a crash, a broker outage, a full channel).
//! Both paths claim a row with `FOR UPDATE SKIP LOCKED` before publishing
//! its event and delete it in the same transaction, so the sweep of this or
//! any other replica never publishes what the fresh path does: an event goes
//! out twice only when a crash or a lost connection falls between its
//! confirm and that commit, and the consumer ignores the repeat.

use platform::events;
use std::time::{Duration, Instant};

use domain::BuyOrderEvent;
use futures_util::future::join_all;
use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel};
use platform::health::Readiness;
use platform::queue_session::{QueueWork, SessionEvents, keep_session};
use platform::rabbitmq::{QueueConfig, ROUTING_KEY};
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::storage;

/// How many events are published before their confirms are awaited.
const BATCH: usize = 256;
/// Fresh orders the channel holds before the sweep has to pick them up:
/// about three seconds of the most a replica takes (5,500 orders/s), since
/// under a CPU hog RabbitMQ's confirms were seen to stall twice for 0.4 s
/// in a row, which overflowed 4,096 (some 200 bytes an order, when full).
const CHANNEL_CAPACITY: usize = 16_384;

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
                // At shutdown, once the requests are done: a scale-down
                // leaves no order waiting for another replica's sweep.
                _ = cancel.cancelled() => return self.publish_waiting(channel).await,
                received = self.receiver.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return Ok(());
                    }
                    self.publish_fresh(channel, &mut batch).await?;
                }
                _ = sweep.tick() => {
                    // What requests handed over goes first, by the fresh
                    // path, so that the sweep finds only what none did.
                    self.publish_waiting(channel).await?;
                    // On start, take everything a previous run left behind.
                    let min_age = if self.first_sweep { Duration::ZERO } else { self.sweep_min_age };
                    self.sweep(channel, min_age).await?;
                    self.first_sweep = false;
                    self.measure_backlog().await;
                }
            }
        }
    }

    /// Publishes the events waiting in the channel now; those that arrive
    /// meanwhile wait for the next turn, or a steady load would never let
    /// this end.
    async fn publish_waiting(&mut self, channel: &Channel) -> lapin::Result<()> {
        let mut batch = Vec::with_capacity(BATCH);
        for _ in 0..self.receiver.len() {
            let Ok(event) = self.receiver.try_recv() else {
                break;
            };
            batch.push(event);
            if batch.len() == BATCH {
                self.publish_fresh(channel, &mut batch).await?;
            }
        }
        self.publish_fresh(channel, &mut batch).await
    }

    /// Publishes events handed over by requests, each only if its outbox row
    /// can still be claimed (no sweep took it), and empties `batch` for the
    /// next ones. If the write model fails, the events stay in the outbox
    /// for a later sweep.
    async fn publish_fresh(
        &self,
        channel: &Channel,
        batch: &mut Vec<Outgoing>,
    ) -> lapin::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let published = self.claim_and_publish(channel, batch).await;
        batch.clear();
        match published {
            Ok(_) => Ok(()),
            Err(RelayError::Queue(error)) => Err(error),
            Err(RelayError::Database(error)) => {
                tracing::warn!(error = %error, message = events::OUTBOX_CLAIM_FAILED);
                Ok(())
            }
        }
    }

    /// Claims the outbox rows of `batch`, then publishes the events of those
    /// it could claim: a row the sweep holds or already published is skipped.
    async fn claim_and_publish(
        &self,
        channel: &Channel,
        batch: &mut Vec<Outgoing>,
    ) -> Result<usize, RelayError> {
        let started = Instant::now();
        let mut tx = self.pool.begin().await?;
        let order_ids: Vec<i64> = batch.iter().map(|(event, _)| event.id).collect();
        let mut claimed = storage::claim_outbox_rows(&mut tx, &order_ids).await?;
        claimed.sort_unstable();
        batch.retain(|(event, _)| claimed.binary_search(&event.id).is_ok());
        let claim_ms = started.elapsed().as_millis() as u64;
        tracing::debug!(
            claim_ms,
            claimed = batch.len(),
            message = events::OUTBOX_ROWS_CLAIMED
        );
        self.publish_claimed(channel, tx, batch).await
    }

    /// Publishes claimed outbox rows until none are left.
    async fn sweep(&self, channel: &Channel, min_age: Duration) -> lapin::Result<()> {
        let mut swept = 0;
        loop {
            match self.sweep_batch(channel, min_age).await {
                // A full batch, all confirmed: there may be more behind it.
                Ok(confirmed) if confirmed == BATCH => swept += confirmed,
                Ok(confirmed) => {
                    swept += confirmed;
                    if swept > 0 {
                        tracing::info!(swept, message = events::OUTBOX_SWEPT);
                    }
                    return Ok(());
                }
                Err(RelayError::Queue(error)) => return Err(error),
                Err(RelayError::Database(error)) => {
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

    async fn sweep_batch(&self, channel: &Channel, min_age: Duration) -> Result<usize, RelayError> {
        let mut tx = self.pool.begin().await?;
        let min_age_ms = i64::try_from(min_age.as_millis()).unwrap_or(i64::MAX);
        let events = storage::claim_outbox(&mut tx, min_age_ms, BATCH as i64).await?;
        let events: Vec<Outgoing> = events.into_iter().map(|event| (event, None)).collect();
        self.publish_claimed(channel, tx, &events).await
    }

    /// Publishes the events whose rows `tx` holds, forgets those RabbitMQ
    /// confirmed and commits, which lets go of the rest; returns how many
    /// were confirmed. Should the commit fail, the confirmed events are
    /// published again later, which the consumer ignores.
    async fn publish_claimed(
        &self,
        channel: &Channel,
        mut tx: Transaction<'_, Postgres>,
        events: &[Outgoing],
    ) -> Result<usize, RelayError> {
        if events.is_empty() {
            return Ok(0);
        }
        let started = Instant::now();
        let published = publish(channel, &self.queue.exchange, events).await?;
        let confirm_ms = started.elapsed().as_millis() as u64;
        storage::delete_from_outbox(&mut *tx, &published).await?;
        tx.commit().await?;
        // Which orders, so that one order's journey can be followed; a few
        // bytes an order, in one event a batch.
        let order_ids = published
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        tracing::info!(
            count = published.len(),
            order_ids,
            confirm_ms,
            forget_ms = started.elapsed().as_millis() as u64 - confirm_ms,
            message = events::BUY_ORDER_EVENTS_PUBLISHED
        );
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
enum RelayError {
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
