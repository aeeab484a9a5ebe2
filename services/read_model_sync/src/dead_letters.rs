//! `read_model_sync replay-dead-letters`: after the fault that parked them
//! is fixed, moves the messages on the dead-letter queue back to the
//! exchange, where the consumer takes them like any other. Each is
//! published with a confirm (and `mandatory`, so an unroutable one is not
//! dropped) before it is acknowledged on the dead-letter queue: a crash
//! midway leaves a message in both places, never in neither, and the
//! consumer ignores a repeat. It takes only the messages there when it
//! starts, so one that is parked again is not replayed in a loop.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation};
use platform::events;
use platform::rabbitmq::{QueueConfig, ROUTING_KEY};

/// The header in which the consumer gave the reason a message was parked.
const REASON_HEADER: &str = "x-dead-letter-reason";

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Queue(#[from] lapin::Error),
    #[error("the broker did not take message {0} back onto the exchange; it stays parked")]
    NotTaken(u64),
}

/// Moves every message parked now back to the exchange; returns how many.
/// Fails when the broker fails or refuses one (that one, and those after
/// it, stay parked).
pub async fn replay(queue: &QueueConfig) -> Result<u64, ReplayError> {
    let connection = queue.connect_with_retry().await;
    let channel = connection.create_channel().await?;
    queue.declare_topology(&channel).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let parked = parked_count(&channel, queue).await?;
    let mut replayed = 0;
    for _ in 0..parked {
        if !replay_one(&channel, queue).await? {
            break;
        }
        replayed += 1;
    }
    connection.close(200, "replayed".into()).await?;
    tracing::info!(replayed, message = events::DEAD_LETTERS_REPLAYED);
    Ok(replayed)
}

async fn parked_count(channel: &Channel, queue: &QueueConfig) -> lapin::Result<u32> {
    let options = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let name = queue.dead_letter_queue();
    let declared = channel
        .queue_declare(name.as_str().into(), options, FieldTable::default())
        .await?;
    Ok(declared.message_count())
}

/// Moves one message; `false` when the dead-letter queue was already empty.
async fn replay_one(channel: &Channel, queue: &QueueConfig) -> Result<bool, ReplayError> {
    let name = queue.dead_letter_queue();
    let options = BasicGetOptions { no_ack: false };
    let Some(message) = channel.basic_get(name.as_str().into(), options).await? else {
        return Ok(false);
    };
    let delivery = message.delivery;
    let mut properties = delivery.properties.clone();
    if let Some(headers) = properties.headers().clone() {
        let mut headers = headers.inner().clone();
        headers.remove(REASON_HEADER);
        properties = properties.with_headers(FieldTable::from(headers));
    }
    let options = BasicPublishOptions {
        mandatory: true,
        ..Default::default()
    };
    let confirmation = channel
        .basic_publish(
            queue.exchange.as_str().into(),
            ROUTING_KEY.into(),
            options,
            &delivery.data,
            with_persistence(properties),
        )
        .await?
        .await?;
    if !matches!(confirmation, Confirmation::Ack(None)) {
        let requeue = BasicNackOptions {
            requeue: true,
            ..Default::default()
        };
        delivery.nack(requeue).await?;
        return Err(ReplayError::NotTaken(delivery.delivery_tag));
    }
    delivery.ack(BasicAckOptions::default()).await?;
    Ok(true)
}

fn with_persistence(properties: BasicProperties) -> BasicProperties {
    properties.with_delivery_mode(2)
}
