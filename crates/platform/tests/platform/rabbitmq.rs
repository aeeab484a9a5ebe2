use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
    ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use testkit::names::unique;

#[tokio::test]
async fn connect_with_retry_gives_a_connection_that_publishes_with_confirms() {
    let config = testkit::settings::rabbitmq();
    let connection = config.connect_with_retry().await;
    let channel = connection.create_channel().await.expect("a channel");
    let (exchange, queue) = (unique("test_exchange"), unique("test_queue"));
    let kind = lapin::ExchangeKind::Direct;
    channel
        .exchange_declare(
            exchange.as_str().into(),
            kind,
            ExchangeDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("declaring the exchange");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("declaring the queue");
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            "key".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("binding");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");

    let confirm = channel
        .basic_publish(
            exchange.as_str().into(),
            "key".into(),
            BasicPublishOptions::default(),
            b"hello",
            BasicProperties::default(),
        )
        .await
        .expect("publishing")
        .await
        .expect("a confirmation");
    assert!(confirm.is_ack());
    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .expect("getting")
        .expect("the message arrived");
    assert_eq!(message.delivery.data, b"hello");

    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("cleanup");
    channel
        .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
        .await
        .expect("cleanup");
}

#[tokio::test]
async fn connect_with_retry_keeps_waiting_while_no_broker_answers() {
    let mut config = testkit::settings::rabbitmq();
    config.port = testkit::ports::free_port();
    config.retry_wait = Duration::from_millis(100);
    let waited = tokio::time::timeout(Duration::from_secs(1), config.connect_with_retry()).await;
    assert!(waited.is_err(), "it gave up or connected to nothing");
}
