-- What each service may do in the write model, as a group role (NOLOGIN).
-- The migration service, which owns the schema, grants each service's login
-- role membership of its group (MIGRATION_GRANTS in docs/operations.md).
-- Roles belong to the whole server, and several databases may be migrated at
-- once (tests), so each is created only if no other migration made it first.
DO $$
BEGIN
    CREATE ROLE rsdist_order_writer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE rsdist_order_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- create_buy_order: reads what it needs, inserts orders, their idempotence
-- records and outbox rows, and empties the outbox. It cannot update or delete
-- an order or an idempotence record, nor touch the running total but through
-- the two functions below.
GRANT SELECT ON client, currency, buy_order, idempotence_record, btc_running_total
    TO rsdist_order_writer;
GRANT INSERT ON buy_order, idempotence_record, buy_order_outbox TO rsdist_order_writer;
-- UPDATE only because claiming rows with FOR UPDATE SKIP LOCKED requires it.
GRANT SELECT, UPDATE, DELETE ON buy_order_outbox TO rsdist_order_writer;

-- read_model_sync's rebuild: reads the orders, nothing else.
GRANT SELECT ON currency, buy_order TO rsdist_order_reader;

-- The running total is kept by the trigger on buy_order, which must update it
-- with its owner's rights, since no service may update it directly.
ALTER FUNCTION add_to_btc_running_total() SECURITY DEFINER SET search_path = public;

-- Taking the running total's row lock would need UPDATE on the table; this
-- function takes it with its owner's rights, and changes nothing.
CREATE FUNCTION lock_btc_running_total() RETURNS NUMERIC
LANGUAGE sql SECURITY DEFINER SET search_path = public AS $$
    SELECT btc_amount FROM btc_running_total FOR UPDATE;
$$;

REVOKE ALL ON FUNCTION lock_btc_running_total() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lock_btc_running_total() TO rsdist_order_writer;
