-- Orders whose event RabbitMQ has not yet confirmed. A row is written in the
-- order's own transaction and deleted once the publish is confirmed, so the
-- table holds only the backlog and a crash at any point loses no event.
CREATE TABLE buy_order_outbox (
    buy_order_id BIGINT PRIMARY KEY REFERENCES buy_order (id),
    enqueued_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
