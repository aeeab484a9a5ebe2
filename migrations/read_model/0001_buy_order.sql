-- One denormalised row per order, shaped for the paged reads of GET /buy_orders.
-- id is the write model's id: it breaks created_at ties and makes a redelivered
-- event a no-op.
CREATE TABLE buy_order (
    id              BIGINT PRIMARY KEY,
    external_id     UUID NOT NULL,
    client_id       BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    currency_id     SMALLINT NOT NULL,
    currency_iso3   CHAR(3) NOT NULL,
    currency_amount NUMERIC(11, 2) NOT NULL,
    btc_rate        NUMERIC NOT NULL,
    btc_amount      NUMERIC(11, 8) NOT NULL,
    CONSTRAINT buy_order_external_id_key UNIQUE (external_id)
);

-- Keyset paging: a client's orders newest first, so every page is one seek.
CREATE INDEX buy_order_client_newest_first
    ON buy_order (client_id, created_at DESC, id DESC);
