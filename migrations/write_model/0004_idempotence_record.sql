-- What a client's idempotence key was first used for. The primary key makes two
-- concurrent requests with one key race to a single winner.
CREATE TABLE idempotence_record (
    client_id       BIGINT NOT NULL REFERENCES client (id),
    idempotence_key UUID NOT NULL,
    currency_id     SMALLINT NOT NULL REFERENCES currency (id),
    currency_amount NUMERIC(11, 2) NOT NULL,
    buy_order_id    BIGINT NOT NULL REFERENCES buy_order (id),
    CONSTRAINT idempotence_record_pkey PRIMARY KEY (client_id, idempotence_key)
);
