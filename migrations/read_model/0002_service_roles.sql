-- What each service may do in the read model, as a group role (NOLOGIN); the
-- migration service grants each service's login role its group. Created only
-- if no other migration on this server made it first (see the write model's).
DO $$
BEGIN
    CREATE ROLE rsdist_read_model_writer NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE rsdist_read_model_reader NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

-- read_model_sync inserts rows (ON CONFLICT DO NOTHING) and reads them.
GRANT SELECT, INSERT ON buy_order TO rsdist_read_model_writer;
-- fetch_buy_orders only reads.
GRANT SELECT ON buy_order TO rsdist_read_model_reader;
