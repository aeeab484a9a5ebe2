-- The sum of btc_amount over all orders, in a single row. The CHECK is the last
-- guard of the 100 BTC limit: no transaction can commit an order that crosses it.
-- The column is wider than any order so that crossing it trips the CHECK, not an overflow.
CREATE TABLE btc_running_total (
    singleton  BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    btc_amount NUMERIC(30, 8) NOT NULL DEFAULT 0,
    CONSTRAINT btc_running_total_not_negative CHECK (btc_amount >= 0),
    CONSTRAINT btc_running_total_within_limit CHECK (btc_amount <= 100)
);

INSERT INTO btc_running_total DEFAULT VALUES;

-- Every insert into buy_order adds to the total in the same statement, so no
-- code path can store an order without it counting against the limit. One
-- update per statement (not per row) keeps a batched insert to one row lock.
CREATE FUNCTION add_to_btc_running_total() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE btc_running_total
       SET btc_amount = btc_amount + (SELECT coalesce(sum(btc_amount), 0) FROM inserted);
    RETURN NULL;
END;
$$;

CREATE TRIGGER buy_order_counts_against_limit
    AFTER INSERT ON buy_order
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION add_to_btc_running_total();
