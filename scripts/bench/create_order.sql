-- pgbench: the write-model transaction of one create, as create_buy_order
-- would run it for a single order: lock the running total, look up the key,
-- insert the order, its idempotence record and its outbox row, commit.
BEGIN;
SELECT btc_amount FROM btc_running_total FOR UPDATE;
SELECT 1 FROM idempotence_record WHERE client_id = 1 AND idempotence_key = gen_random_uuid();
WITH o AS (
    INSERT INTO buy_order (external_id, client_id, currency_id, currency_amount, btc_rate, btc_amount)
    VALUES (gen_random_uuid(), 1, 1, 1.00, 48478.88, 0.00000001)
    RETURNING id, client_id, currency_id, currency_amount
), r AS (
    INSERT INTO idempotence_record (client_id, idempotence_key, currency_id, currency_amount, buy_order_id)
    SELECT client_id, gen_random_uuid(), currency_id, currency_amount, id FROM o
)
INSERT INTO buy_order_outbox (buy_order_id) SELECT id FROM o;
COMMIT;
