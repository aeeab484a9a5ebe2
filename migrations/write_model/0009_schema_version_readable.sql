-- The services may read which migrations were applied, so that where no
-- migration service stays up to ask (a Kubernetes Job), each waits until the
-- schema it was built for is there (MIGRATIONS_GATE=schema).
GRANT SELECT ON _sqlx_migrations TO rsdist_order_writer, rsdist_order_reader, rsdist_key_checker;
