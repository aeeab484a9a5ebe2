-- The golden record of every order. Few indexes: this table is written far more
-- often than it is read (reads go to the read model).
CREATE TABLE buy_order (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    external_id     UUID NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    client_id       BIGINT NOT NULL REFERENCES client (id),
    currency_id     SMALLINT NOT NULL REFERENCES currency (id),
    currency_amount NUMERIC(11, 2) NOT NULL CHECK (currency_amount > 0),
    -- The rate is kept exactly as Coinbase quoted it, so it has no fixed scale.
    btc_rate        NUMERIC NOT NULL CHECK (btc_rate > 0),
    btc_amount      NUMERIC(11, 8) NOT NULL CHECK (btc_amount > 0),
    CONSTRAINT buy_order_external_id_key UNIQUE (external_id)
);

-- An order, once stored, is history: it is never changed or removed.
CREATE FUNCTION refuse_buy_order_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'buy_order rows are immutable: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;

CREATE TRIGGER buy_order_is_immutable
    BEFORE UPDATE OR DELETE ON buy_order
    FOR EACH ROW EXECUTE FUNCTION refuse_buy_order_change();

CREATE TRIGGER buy_order_is_not_truncated
    BEFORE TRUNCATE ON buy_order
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_buy_order_change();
