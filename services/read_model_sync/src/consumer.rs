//! Consumes buy-order events and writes them to the read model. Messages are
//! acknowledged only after their rows are committed; a message that is not an
//! event (or whose data the database refuses) is parked on the dead-letter
//! queue with the reason. While the read model is away, the consumer holds
//! its current batch and takes no more (the prefetch bounds what RabbitMQ
//! hands over), then resumes.

use platform::events;
use std::time::Duration;

use domain::BuyOrderEvent;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Confirmation};
use platform::health::{NotReady, Readiness};
use platform::postgres::HeldConnection;
use platform::queue_session::{QueueWork, SessionEvents, keep_session};
use platform::rabbitmq::QueueConfig;
use platform::retry;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use crate::storage;

/// Why consumption stopped, short of being cancelled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConsumeError {
    #[error(transparent)]
    Queue(#[from] lapin::Error),
    #[error(
        "the broker did not take a message onto the dead-letter queue (refused, or returned as unroutable)"
    )]
    DeadLetterRefused,
    #[error("the broker ended the subscription or the connection was lost")]
    Ended,
}

pub(crate) struct Consumer {
    /// The read model, through one connection kept for every batch (see
    /// `HeldConnection`); only the consumer's own task takes this lock.
    pub read_model: Mutex<HeldConnection>,
    pub queue: QueueConfig,
    /// How many unacknowledged messages RabbitMQ may hand over at once.
    pub prefetch: u16,
    pub database_retry_wait: Duration,
    /// Whether the consumer is subscribed and the read model writable.
    pub consuming: Readiness,
}

const SESSION_EVENTS: SessionEvents = SessionEvents {
    ready: events::QUEUE_LISTENER_STARTING_CONSUMPTION,
    setup_failed: events::QUEUE_LISTENER_SETUP_FAILED,
    disconnected: events::QUEUE_LISTENER_DISCONNECTED,
};

impl QueueWork for Consumer {
    type Prepared = (Channel, lapin::Consumer);
    type Error = ConsumeError;

    /// The topology, publisher confirms (for dead letters), the prefetch, and
    /// the subscription.
    async fn prepare(&self, channel: Channel) -> lapin::Result<Self::Prepared> {
        self.queue.declare_topology(&channel).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let queue = self.queue.queue.as_str();
        let options = BasicConsumeOptions::default();
        let deliveries = channel
            .basic_consume(
                queue.into(),
                "read_model_sync".into(),
                options,
                FieldTable::default(),
            )
            .await?;
        Ok((channel, deliveries))
    }

    async fn work(
        &mut self,
        (channel, deliveries): Self::Prepared,
        cancel: &CancellationToken,
    ) -> Result<(), ConsumeError> {
        self.consume(&channel, deliveries, cancel).await
    }
}

impl Consumer {
    /// Consumes until `cancel`, resubscribing whenever the broker goes away.
    /// Unacknowledged messages go back to the queue when it stops.
    pub(crate) async fn run(mut self, cancel: CancellationToken) {
        let (queue, consuming) = (self.queue.clone(), self.consuming.clone());
        keep_session(&queue, &consuming, &SESSION_EVENTS, &mut self, &cancel).await;
    }

    /// Handles what is ready, batch by batch, until cancelled (`Ok`) or the
    /// channel fails (`Err`).
    async fn consume(
        &self,
        channel: &Channel,
        deliveries: lapin::Consumer,
        cancel: &CancellationToken,
    ) -> Result<(), ConsumeError> {
        let mut batches = deliveries.ready_chunks(usize::from(self.prefetch));
        loop {
            let batch = tokio::select! {
                _ = cancel.cancelled() => return Ok(()),
                batch = batches.next() => batch,
            };
            let Some(batch) = batch else {
                return Err(ConsumeError::Ended);
            };
            let batch = batch.into_iter().collect::<lapin::Result<Vec<_>>>()?;
            if !self.handle(channel, batch, cancel).await? {
                return Ok(());
            }
        }
    }

    /// Syncs one batch; `false` if cancelled before it was stored.
    async fn handle(
        &self,
        channel: &Channel,
        batch: Vec<Delivery>,
        cancel: &CancellationToken,
    ) -> Result<bool, ConsumeError> {
        metrics::counter!("messages_consumed_total").increment(batch.len() as u64);
        metrics::histogram!("consumer_batch_size").record(batch.len() as f64);
        let mut events = Vec::with_capacity(batch.len());
        for delivery in batch {
            match BuyOrderEvent::from_json(&delivery.data) {
                Ok(event) => events.push((delivery, event)),
                Err(error) => {
                    self.dead_letter(channel, &delivery, &error.to_string())
                        .await?
                }
            }
        }
        let refused = tokio::select! {
            _ = cancel.cancelled() => return Ok(false),
            refused = self.store(&events) => refused,
        };
        let committed = OffsetDateTime::now_utc();
        let is_refused = |event: &BuyOrderEvent| refused.iter().find(|(id, _)| *id == event.id);
        for (delivery, event) in &events {
            if let Some((_, reason)) = is_refused(event) {
                self.dead_letter(channel, delivery, reason).await?;
            }
        }
        let synced: Vec<_> = events
            .iter()
            .filter(|(_, e)| is_refused(e).is_none())
            .collect();
        // One acknowledgement for the batch: every delivery up to its last
        // synced one is either synced or already parked and acknowledged.
        if let Some((last, _)) = synced.last() {
            last.ack(BasicAckOptions { multiple: true }).await?;
        }
        for (delivery, event) in synced {
            // From the order's commit in the write model to its row's here.
            let lag = (committed - event.created_at).as_seconds_f64().max(0.0);
            metrics::histogram!("sync_lag_seconds").record(lag);
            let request_id = delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(|id| id.to_string());
            tracing::info!(
                order_id = event.id,
                external_id = %event.external_id,
                client_id = event.client_id,
                request_id,
                lag_ms = (lag * 1000.0).round() as u64,
                queue = %self.queue.queue,
                message = events::BUY_ORDER_READ_MODEL_SYNCED
            );
        }
        Ok(true)
    }

    /// Stores the batch, retrying while the read model is away. Returns the
    /// events the database refuses for good, with the reason.
    async fn store(&self, events: &[(Delivery, BuyOrderEvent)]) -> Vec<(i64, String)> {
        let all: Vec<&BuyOrderEvent> = events.iter().map(|(_, event)| event).collect();
        match self.insert_with_retry(&all).await {
            Ok(()) => Vec::new(),
            // One event spoils the batch: find it by storing them one by one.
            Err(_) => {
                let mut refused = Vec::new();
                for event in all {
                    if let Err(error) = self.insert_with_retry(&[event]).await {
                        refused.push((
                            event.id,
                            format!("the read model refused the event: {error}"),
                        ));
                    }
                }
                refused
            }
        }
    }

    /// Retries transient failures until they pass; fails only on a permanent one.
    async fn insert_with_retry(&self, events: &[&BuyOrderEvent]) -> Result<(), sqlx::Error> {
        let attempt = || async {
            let mut read_model = self.read_model.lock().await;
            let inserted = match read_model.get().await {
                Ok(connection) => storage::insert_orders(connection, events).await,
                Err(error) => Err(error),
            };
            match inserted {
                Ok(_) => Ok(Ok(())),
                Err(error) if storage::is_permanent(&error) => Ok(Err(error)),
                Err(error) => {
                    read_model.discard();
                    Err(error)
                }
            }
        };
        let outcome = retry::until_ok(self.database_retry_wait, attempt, |error| {
            self.consuming
                .set_not_ready(NotReady::unreachable("read model", error));
            tracing::warn!(error = %error, count = events.len(), message = events::FAILED_TO_SYNC_BUY_ORDER_READ_MODEL);
        })
        .await;
        self.consuming.set_ready();
        outcome
    }

    /// Parks a message on the dead-letter queue with the reason in its
    /// headers, waits for the broker's confirm, then acknowledges it. Fails,
    /// leaving the message unacknowledged, if the broker does not confirm.
    async fn dead_letter(
        &self,
        channel: &Channel,
        delivery: &Delivery,
        reason: &str,
    ) -> Result<(), ConsumeError> {
        let mut headers = delivery.properties.headers().clone().unwrap_or_default();
        headers.insert(
            "x-dead-letter-reason".into(),
            AMQPValue::LongString(reason.into()),
        );
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_headers(headers)
            .with_content_type(
                delivery
                    .properties
                    .content_type()
                    .clone()
                    .unwrap_or_else(|| "application/octet-stream".into()),
            );
        let properties = match delivery.properties.message_id() {
            Some(id) => properties.with_message_id(id.clone()),
            None => properties,
        };
        let dead_letter_queue = self.queue.dead_letter_queue();
        // Mandatory: with the dead-letter queue gone, the broker returns the
        // message rather than confirm and drop it.
        let options = BasicPublishOptions {
            mandatory: true,
            ..Default::default()
        };
        let confirmation = channel
            .basic_publish(
                "".into(),
                dead_letter_queue.as_str().into(),
                options,
                &delivery.data,
                properties,
            )
            .await?
            .await?;
        // Only a parked message may leave the queue; otherwise it is
        // redelivered once the session is made again (which declares the
        // dead-letter queue anew).
        if !matches!(confirmation, Confirmation::Ack(None)) {
            return Err(ConsumeError::DeadLetterRefused);
        }
        delivery.ack(BasicAckOptions::default()).await?;
        metrics::counter!("messages_dead_lettered_total").increment(1);
        tracing::warn!(queue = %dead_letter_queue, reason, message = events::BUY_ORDER_EVENT_DEAD_LETTERED);
        Ok(())
    }
}
