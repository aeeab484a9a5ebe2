-- Who is calling: each client's API keys, and an optional BTC limit per client.

-- btc_total is the client's own running total, kept by the trigger below in the
-- same statement as each insert, as the global one is; the CHECK is the last
-- guard of the client's limit. NULL btc_limit: no limit but the global one.
ALTER TABLE client
    ADD COLUMN created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN btc_limit  NUMERIC(11, 8),
    ADD COLUMN btc_total  NUMERIC(30, 8) NOT NULL DEFAULT 0,
    ADD CONSTRAINT client_btc_limit_positive CHECK (btc_limit > 0),
    ADD CONSTRAINT client_within_its_btc_limit CHECK (btc_limit IS NULL OR btc_total <= btc_limit);

UPDATE client
   SET btc_total = (SELECT coalesce(sum(btc_amount), 0) FROM buy_order WHERE client_id = client.id);

-- A key is shown once, when it is issued; only its SHA-256 is kept. Keys carry
-- 244 random bits, so a fast hash is enough: there is nothing to guess.
-- prefix (the key's first characters) tells keys apart in listings.
CREATE TABLE api_key (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    BIGINT NOT NULL REFERENCES client (id),
    key_hash     BYTEA NOT NULL CHECK (length(key_hash) = 32),
    prefix       TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    CONSTRAINT api_key_hash_key UNIQUE (key_hash)
);

CREATE INDEX api_key_client ON api_key (client_id);

-- The trigger now keeps both totals. CREATE OR REPLACE resets the function's
-- attributes, so SECURITY DEFINER is stated again.
CREATE OR REPLACE FUNCTION add_to_btc_running_total() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    UPDATE btc_running_total
       SET btc_amount = btc_amount + (SELECT coalesce(sum(btc_amount), 0) FROM inserted);
    UPDATE client
       SET btc_total = client.btc_total + added.btc_amount
      FROM (SELECT client_id, sum(btc_amount) AS btc_amount FROM inserted GROUP BY client_id) AS added
     WHERE client.id = added.client_id;
    RETURN NULL;
END;
$$;

-- Checking a key: its client, if it is not revoked, and the time of its use,
-- in one statement. fetch_buy_orders reaches the write model for this alone.
DO $$
BEGIN
    CREATE ROLE rsdist_key_checker NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

GRANT SELECT (client_id, key_hash, revoked_at), UPDATE (last_used_at) ON api_key
    TO rsdist_key_checker;
GRANT rsdist_key_checker TO rsdist_order_writer;
